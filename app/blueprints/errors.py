"""Errors as the API's envelope under /api/v1 and as friendly pages everywhere else."""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, render_template, request
from flask_babel import ngettext
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException, InternalServerError

from app import security
from app.extensions import db
from app.i18n import say
from app.services.errors import DomainError

log = logging.getLogger(__name__)

# HTTP errors Werkzeug raises before a view runs, as the API names them.
API_HTTP_ERRORS = {
    400: (1001, "invalid_input"),
    401: (1003, "unauthorized"),
    403: (1004, "forbidden"),
    404: (1002, "not_found"),
    405: (1001, "method_not_allowed"),
    413: (1001, "too_large"),
    429: (1006, "rate_limited"),
}


def is_api_request() -> bool:
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


def api_error(status: int, code: int, slug: str, message: str, data=None):
    from app.blueprints.api.envelope import error_response

    return error_response(status=status, code=code, slug=slug, message=message, data=data)


def register(app: Flask) -> None:
    @app.before_request
    def refuse_oversized_body() -> None:
        # Werkzeug refuses a large body only when a view reads it; refuse it for every route.
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            abort(413)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if is_api_request():
            return api_error(exc.status, exc.code, exc.slug, exc.message, exc.data)
        # The refusal in the page's language; one the catalogue lacks is shown in English only.
        message = say(exc.message)
        detail = message if message != exc.message else None
        page = render_template(
            "errors/error.html", status=exc.status, message=exc.message, detail=detail
        )
        return page, exc.status

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded):
        """429: the API's envelope (code 1006) or the friendly error page, with Retry-After."""
        seconds = security.retry_after(exc)
        message = f"Too many attempts. Please try again in {seconds} seconds."
        if is_api_request():
            response = api_error(429, 1006, "rate_limited", message)
        else:
            detail = ngettext(
                "Too many attempts. Please try again in %(num)d second.",
                "Too many attempts. Please try again in %(num)d seconds.",
                seconds,
            )
            page = render_template("errors/error.html", status=429, message=message, detail=detail)
            response = Response(page, status=429, mimetype="text/html")
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if is_api_request():
            code, slug = API_HTTP_ERRORS.get(exc.code or 500, (1030, "server_error"))
            if (exc.code or 500) >= 500:
                code, slug = 1030, "server_error"
            response = api_error(exc.code or 500, code, slug, exc.description or exc.name)
            if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return render_template(
            "errors/error.html", status=exc.code, message=exc.description
        ), exc.code

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return api_error(500, 1030, "server_error", "Something went wrong on our side.")
        try:
            return render_template(
                "errors/error.html", status=500, message=InternalServerError.description
            ), 500
        except Exception:  # the error page itself failed: answer plainly
            return "Internal Server Error", 500
