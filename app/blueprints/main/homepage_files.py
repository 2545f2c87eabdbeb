"""`GET /` answered from the pre-rendered files before Flask sees the request.

The homepage is one file per language, the same for everyone (app/services/homepage.py). Through
Flask, each request for it also opened a session, ran the before- and after-request hooks
(CSRF, the visitor's token, Flask-Login, the security headers, CORS), read and hashed the
file: about half of a hello-world app's throughput. This WSGI layer answers it the way a web
server serving the directory would, with the very headers the Flask view gives (the security
headers, the policy without a nonce, ETag, Last-Modified, Cache-Control, Vary, 304 to a
conditional request). Anything else, and `/` when its file is missing (the view renders it live
and asks for a rebuild), goes on to Flask.

The language is chosen as everywhere else (`?lang=`, the switch's cookie, Accept-Language), and
each file is read again only when it changed on disk (a rebuild replaces it by a rename).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from flask import Flask
from werkzeug.http import http_date, parse_cookie, parse_date, parse_etags

from app.i18n import LANG_COOKIE, _browser_language
from app.services import homepage

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _File:
    """One language's file as last read, and the headers of its answer."""

    __slots__ = ("body", "etag", "headers", "last_modified", "not_modified", "stamp")

    def __init__(self, stamp: tuple[int, int, int], page: homepage.Page, fixed: list) -> None:
        self.stamp = stamp
        self.body = page.body
        self.etag = page.etag
        self.last_modified = page.last_modified
        validators = [("ETag", f'"{page.etag}"')]
        if page.last_modified is not None:
            validators.append(("Last-Modified", http_date(page.last_modified)))
        self.headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(page.body))),
            *validators,
            *fixed,
        ]
        # werkzeug's 304 leaves the entity headers out (Last-Modified among them).
        self.not_modified = [validators[0], *fixed]


class HomepageFiles:
    """WSGI middleware: `GET`/`HEAD /` from the language's pre-rendered file."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._files: dict[str, _File] = {}  # by path
        self._fixed: tuple[object, list[tuple[str, str]]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if environ.get("PATH_INFO") != "/" or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        # Read from the configuration on each request (a few lookups): it is the app's truth.
        config = self.app.config
        languages = tuple(config["LANGUAGES"])
        language = self._language(environ, languages, config["BABEL_DEFAULT_LOCALE"])
        path = os.path.join(
            config["STATIC_INDEX_DIR"], homepage.FILE_NAME.format(language=language)
        )
        found = self._file(path)
        if found is None:  # no file yet: the view renders it live and asks for a rebuild
            return self.wsgi_app(environ, start_response)
        date = ("Date", http_date())  # as werkzeug's make_conditional adds it
        if _not_modified(environ, found):
            start_response("304 NOT MODIFIED", [*found.not_modified, date])
            return []
        start_response("200 OK", [*found.headers, date])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [found.body]

    def _fixed_headers(self) -> list[tuple[str, str]]:
        """The view's fixed headers, made again whenever the app's security setup is new."""
        state = self.app.extensions["security"]
        if self._fixed is None or self._fixed[0] is not state:
            from app.blueprints.main.routes import headers_of_every_homepage

            with self.app.app_context():
                self._fixed = (state, headers_of_every_homepage())
            self._files.clear()
        return self._fixed[1]

    # --- the language, as app.i18n.select_locale chooses it ----------------------------------

    @staticmethod
    def _language(environ: dict[str, Any], choices: tuple[str, ...], default: str) -> str:
        query = environ.get("QUERY_STRING")
        if query:
            asked = parse_qs(query).get("lang")
            if asked and asked[0] in choices:
                return asked[0]
        cookie = environ.get("HTTP_COOKIE")
        if cookie and LANG_COOKIE in cookie:
            chosen = parse_cookie(cookie).get(LANG_COOKIE)
            if chosen in choices:
                return chosen
        header = environ.get("HTTP_ACCEPT_LANGUAGE")
        return _browser_language(header, choices, default) if header else default

    # --- the files ---------------------------------------------------------------------------

    def _file(self, path: str) -> _File | None:
        fixed = self._fixed_headers()
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        held = self._files.get(path)
        if held is not None and held.stamp == _stamp(stat):
            return held
        # Read from the one file opened, stamped with that file's own stat: a rebuild that
        # renames a new file in meanwhile is seen on the next request.
        try:
            with open(path, "rb") as fh:
                opened = os.fstat(fh.fileno())
                body = fh.read()
        except FileNotFoundError:
            return None
        page = homepage.Page(
            body=body,
            etag=homepage.etag_of(body),
            last_modified=datetime.fromtimestamp(int(opened.st_mtime), UTC),
        )
        if len(self._files) > 16:  # directories of earlier configurations (tests)
            self._files.clear()
        held = self._files[path] = _File(_stamp(opened), page, fixed)
        return held


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _not_modified(environ: dict[str, Any], found: _File) -> bool:
    """Werkzeug's rule (`make_conditional`): If-None-Match wins; else If-Modified-Since."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return parse_etags(if_none_match).contains_weak(found.etag)
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since and found.last_modified is not None:
        when = parse_date(since)
        return when is not None and found.last_modified <= when
    return False
