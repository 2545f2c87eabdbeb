"""The homepage, the language switch and `/healthz`."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import abort, current_app, jsonify, redirect, render_template, request
from sqlalchemy import text

from app.blueprints.main import bp
from app.extensions import db
from app.i18n import LANG_COOKIE, supported
from app.services import catalog
from app.urls import safe_next

log = logging.getLogger(__name__)

LANG_COOKIE_AGE = timedelta(days=365)


@bp.get("/")
def index():
    # Rendered live for now; the same template is what the worker will pre-render, so it
    # holds nothing personal and nothing that depends on the request.
    return render_template("main/index.html", **catalog.homepage())


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
    status = {"db": "ok", "redis": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        log.warning("health check: the database does not answer", exc_info=True)
        db.session.rollback()
        status["db"] = "unavailable"
    try:
        current_app.extensions["redis_store"].client.ping()
    except Exception:
        log.warning("health check: Redis does not answer", exc_info=True)
        status["redis"] = "unavailable"
    healthy = all(value == "ok" for value in status.values())
    response = jsonify(status)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
