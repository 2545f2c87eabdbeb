"""The homepage (served from its pre-rendered file), the language switch and `/healthz`."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Response, abort, current_app, jsonify, redirect, request, send_from_directory

from app import health
from app.blueprints.main import bp
from app.blueprints.main.homepage_files import HomepageFiles
from app.i18n import LANG_COOKIE, current_language, supported
from app.services import homepage
from app.urls import safe_next

log = logging.getLogger(__name__)

LANG_COOKIE_AGE = timedelta(days=365)
# Browsers and shared caches may keep the homepage this long before asking again (with
# If-None-Match / If-Modified-Since): a catalog change shows within a minute.
HOMEPAGE_MAX_AGE = 60
# What chooses the language besides the URL's `?lang=`: the switch's cookie, then the browser.
HOMEPAGE_VARY = ("Cookie", "Accept-Language")
NONCE_SOURCE = "'nonce-{nonce}'"


@bp.record_once
def _rebuild_homepage_on_catalog_change(state) -> None:
    homepage.init_app(state.app)
    # "/" answered from its files before Flask (homepage_files.py); this view is the fallback.
    state.app.wsgi_app = HomepageFiles(state.app, state.app.wsgi_app)


@bp.get("/")
def index():
    """The pre-rendered file of the visitor's language; when it is missing (a fresh install,
    a worker not started yet) the same page rendered live, and a rebuild is asked for."""
    language = current_language()
    page = homepage.read_page(language)
    if page is None:
        try:
            homepage.request_rebuild()  # inline (no worker), the files exist once it returns
        except Exception:
            log.exception("could not ask for a homepage rebuild")
        page = homepage.read_page(language)
    if page is None:
        body = homepage.render_page(language).encode()
        page = homepage.Page(body=body, etag=homepage.etag_of(body), last_modified=None)
    response = Response(page.body, mimetype="text/html")
    response.set_etag(page.etag)
    if page.last_modified is not None:
        response.last_modified = page.last_modified
    response.cache_control.public = True
    response.cache_control.max_age = HOMEPAGE_MAX_AGE
    response.vary.update(HOMEPAGE_VARY)
    # One answer for every visitor, kept by caches: its policy carries no per-request nonce
    # (the page has no inline script), as a web server serving the file from disk would send.
    response.headers["Content-Security-Policy"] = policy_without_nonce()
    return response.make_conditional(request)


def headers_of_every_homepage() -> list[tuple[str, str]]:
    """What every answer of "/" carries besides its body and validators: what `index` sets
    and the security headers (for homepage_files.py, which answers without this view)."""
    return [
        ("Cache-Control", f"public, max-age={HOMEPAGE_MAX_AGE}"),
        ("Vary", ", ".join(HOMEPAGE_VARY)),
        ("Content-Security-Policy", policy_without_nonce()),
        *current_app.extensions["security"].static_headers,
    ]


def policy_without_nonce() -> str:
    """The site's Content-Security-Policy for "/", with scripts from this site only."""
    directives = current_app.extensions["security"].directives
    return "; ".join(
        f"{name} {' '.join(part for part in value.split() if part != NONCE_SOURCE)}"
        for name, value in directives.items()
    )


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links to: the same file as static's."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )


@bp.get("/lang/<code>")
def switch_language(code: str):
    if code not in supported():
        abort(404)
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(
        LANG_COOKIE,
        code,
        max_age=LANG_COOKIE_AGE,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.get("/healthz")
def healthz():
    status = health.status(current_app._get_current_object())
    healthy = all(value == "ok" for value in status.values())
    response = jsonify(status)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
