"""Catalog reads of visitors who send nothing personal, answered again before Flask.

A `GET` that carries no cookie, no credentials, no `Origin` and no conditional or range header
can only be an anonymous visitor's, and a catalog view knows when its answer is then what every
such visitor gets at that address in that language: it says so with `keep_for_everyone()` (the
API's catalog reads; the course list and other pages kept whole for visitors, when they carry no
form token). This WSGI layer keeps that whole answer (status, headers, body) in the process,
under the catalog version the view read, and gives the next such request for the same address
the same bytes without running Flask at all, for as long as the catalog keeps that version.

Only what the view vouched for is kept, only a 200 that sets no cookie and whose policy holds no
nonce; everything a kept answer depends on is its key (the address as the request gave it, the
forwarding headers, Accept-Language) or the catalog version. The version is the process's watched
copy (`catalog_cache.VersionWatch`): without the watch (or while it cannot vouch for a version)
nothing is answered here, and the catalog's own change bumps every kept answer out at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, request

from app.services import catalog_cache

A = TypeVar("A")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Set by the view: the catalog version its answer was made from.
KEEP = "luffy.keep_for_everyone"
# A request with any of these is someone's own, or asks for less than the whole answer.
PERSONAL = (
    "HTTP_COOKIE",
    "HTTP_AUTHORIZATION",
    "HTTP_ORIGIN",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)
# What an answer may depend on besides the catalog: the key of a kept one.
ADDRESS = (
    "PATH_INFO",
    "QUERY_STRING",
    "SCRIPT_NAME",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_ACCEPT_LANGUAGE",
)


def keep_for_everyone(answer: A) -> A:
    """`answer` is what any visitor sending nothing personal gets here: it may be kept and
    given to the next one, until the catalog changes. Returns `answer`."""
    version = catalog_cache.request_version()
    if version is not None:
        request.environ[KEEP] = version
    return answer


class KeptAnswers:
    """WSGI middleware: the answers views said to keep, kept per address and catalog version."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._kept = catalog_cache.LocalEntries(
            app.config["KEPT_ANSWERS_ENTRIES"],
            max_age=app.config["CATALOG_CACHE_SECONDS"],
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if environ.get("REQUEST_METHOD") != "GET" or any(environ.get(n) for n in PERSONAL):
            return self.wsgi_app(environ, start_response)
        version = catalog_cache.watched_version(self.app)
        if version is None:
            return self.wsgi_app(environ, start_response)
        key = tuple(environ.get(name) for name in ADDRESS)  # before anything below changes it
        kept = self._kept.get(version, key)
        if kept is not None:
            status, headers, body = kept
            start_response(status, list(headers))
            return [body]
        answered: list[Any] = []

        def note_answer(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, note_answer)
        if environ.get(KEEP) != version or not answered or not _for_everyone(*answered):
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self._kept.put(version, key, (answered[0], tuple(answered[1]), body))
        return [body]


def _for_everyone(status: str, headers: list[tuple[str, str]]) -> bool:
    if not status.startswith("200 "):
        return False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "set-cookie":
            return False
        if lowered == "content-security-policy" and "'nonce-" in value:
            return False
    return True


def init_app(app: Flask) -> None:
    app.wsgi_app = KeptAnswers(app, app.wsgi_app)  # type: ignore[method-assign]
