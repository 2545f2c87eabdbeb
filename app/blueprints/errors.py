"""Errors as the API's envelope under /api/v1 and as friendly pages everywhere else.

A backing service that is down or frozen (the database, Redis) is a 503 `unavailable` (code
1030) on the API and a 503 page in the visitor's language elsewhere, logged in one line per
request: never a 500, never a traceback per request while an outage lasts. The timeouts that
make "frozen" end are set where the connections are made (DB_CONNECT_TIMEOUT, DB_READ_TIMEOUT,
REDIS_SOCKET_TIMEOUT); Flask-Session's save after the view is answered the same way
(`OutageAwareSessionInterface`).
"""

from __future__ import annotations

import contextlib
import logging

import pymysql
import redis
from flask import Flask, Request, Response, abort, current_app, render_template, request
from flask_babel import ngettext
from flask_limiter import RateLimitExceeded
from flask_session.redis import RedisSessionInterface
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from app import security
from app.extensions import db
from app.i18n import say
from app.services.errors import DomainError

log = logging.getLogger(__name__)

# Set in the WSGI environ when this request has been answered 503 for an outage: nothing of
# the request is stored afterwards (the session save would only fail again).
OUTAGE = "luffy.outage"
SESSION_OUTAGE = "luffy.session_outage"
RETRY_AFTER_SECONDS = 5

# MariaDB/MySQL client and server errors that mean "not answering now", not "wrong request":
# can't connect, server gone away, lost connection, too many connections, shutting down,
# connection killed, lock wait timeout and deadlock (after any retry).
DATABASE_UNAVAILABLE = frozenset({1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013, 2055})
REDIS_UNAVAILABLE = (
    redis.ConnectionError,  # MasterNotFoundError too: no Sentinel names a master
    redis.TimeoutError,
    redis.ReadOnlyError,  # a master demoted by a failover, before the connection moves
    redis.BusyLoadingError,
)

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


class BoundedRequest(Request):
    """A request whose JSON nested too deep is malformed input (400), not a RecursionError."""

    def get_json(self, force=False, silent=False, cache=True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise BadRequest("The JSON body is nested too deeply.") from None


def outage_of(exc: BaseException | None) -> str | None:
    """ "database" or "redis" when `exc` (or what caused it) is that service not answering."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, REDIS_UNAVAILABLE):
            return "redis"
        if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError | sa_exc.InterfaceError):
            return "database"
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return "database"
        if isinstance(exc, sa_exc.OperationalError | pymysql.err.OperationalError):
            orig = getattr(exc, "orig", exc)
            number = orig.args[0] if getattr(orig, "args", None) else None
            if number in DATABASE_UNAVAILABLE or "database is locked" in str(orig):
                return "database"
        if isinstance(exc, pymysql.err.InterfaceError):
            return "database"
        exc = exc.__cause__ or exc.__context__
    return None


def one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"[:300]


def outage_response(service: str, exc: BaseException) -> Response:
    """The 503 for `service` being down: the envelope on the API, the page elsewhere. Logged
    once; touches neither the database nor Redis (they may be what is down)."""
    request.environ[OUTAGE] = service
    with contextlib.suppress(Exception):  # a dead connection is dropped all the same
        db.session.rollback()
    log.error(
        "503 %s %s: the %s is not answering (%s)",
        request.method,
        request.path,
        service,
        one_line(exc),
    )
    if is_api_request():
        response = api_error(
            503,
            1030,
            "unavailable",
            "A service this request needs is not answering; "
            "nothing was changed. Please try again in a moment.",
            {"service": service},
        )
    else:
        try:
            body = render_template("errors/unavailable.html", status=503)
        except Exception as page_exc:  # the page itself needs what is down: answer plainly
            log.error("503 page could not be rendered (%s)", one_line(page_exc))
            body = "503 Service Unavailable / 服务暂时不可用"
            response = current_app.response_class(body, status=503, mimetype="text/plain")
        else:
            response = current_app.response_class(body, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


# What an answer replaced by a 503 after the view must not keep of the view's answer.
_REPRESENTATION_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Encoding",
    "Location",
    "ETag",
    "Last-Modified",
    "Set-Cookie",
    "Cache-Control",
    "Expires",
    "Refresh",
)


def replace_with_outage(response: Response, service: str, exc: BaseException) -> None:
    """Turn the view's `response`, already finished, into the 503 (the session could not be
    stored after the view: the answer must not pretend it was). Security headers stay."""
    outage = outage_response(service, exc)
    for name in _REPRESENTATION_HEADERS:
        del response.headers[name]
    for name, value in outage.headers.items():
        if name.lower() != "content-length":
            response.headers[name] = value
    response.status_code = 503
    response.set_data(outage.get_data())


class OutageAwareSessionInterface(RedisSessionInterface):
    """Flask-Session's Redis sessions, answering a Redis outage with the 503.

    Opening a session that Redis cannot give is remembered and raised before the view (so the
    request is a 503, not a visitor suddenly signed out); saving one that Redis cannot take
    turns the finished answer into the 503 instead of a bare 500 from the server."""

    def open_session(self, app, request):
        try:
            return super().open_session(app, request)
        except REDIS_UNAVAILABLE as exc:
            request.environ[SESSION_OUTAGE] = exc
            return self.session_class(sid=self._generate_sid(self.sid_length), permanent=True)

    def save_session(self, app, session, response) -> None:
        if request.environ.get(OUTAGE) or request.environ.get(SESSION_OUTAGE):
            return  # answered 503 already: nothing of this request is stored
        try:
            super().save_session(app, session, response)
        except REDIS_UNAVAILABLE as exc:
            replace_with_outage(response, "redis", exc)


def register(app: Flask) -> None:
    if isinstance(app.session_interface, RedisSessionInterface):
        app.session_interface.__class__ = OutageAwareSessionInterface

    def raise_session_outage() -> None:
        exc = request.environ.get(SESSION_OUTAGE)
        if exc is not None:
            raise exc

    # First of all: before CSRF or login look at a session that could not be opened.
    app.before_request_funcs.setdefault(None, []).insert(0, raise_session_outage)

    @app.after_request
    def options_answer_the_envelope(response: Response) -> Response:
        # Flask answers OPTIONS itself with an empty HTML page; on the API it is the envelope,
        # with `Allow` (a CORS preflight, which carries Access-Control-* headers, stays as is).
        if (
            request.method == "OPTIONS"
            and is_api_request()
            and response.status_code == 200
            and "Access-Control-Allow-Methods" not in response.headers
            and not response.get_data()
        ):
            from app.blueprints.api.envelope import ok_response

            answer = ok_response({"allow": sorted(response.allow)})
            response.set_data(answer.get_data())
            response.mimetype = answer.mimetype
        return response

    app.request_class = BoundedRequest

    @app.before_request
    def refuse_oversized_body() -> None:
        # Werkzeug refuses a large body only when a view reads it; refuse it for every route.
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            abort(413)
        if request.content_length is None and request.is_json:
            # A chunked JSON body has no length to check: read it now (at most the limit, else
            # 413 here), before anything (the limiter's username) reads it and swallows the 413.
            request.get_data(cache=True)

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
        service = outage_of(exc)
        if service is not None:
            return outage_response(service, exc)
        with contextlib.suppress(Exception):
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
