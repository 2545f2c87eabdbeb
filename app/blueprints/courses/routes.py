"""The course list with its filters, a course's page and a degree course's page.

What these pages show of the catalog is the same for every visitor of a language, so it is
rendered once per catalog version and kept (catalog_cache.cached_fragment). Whatever is kept is
rendered by `_public()`: in an app and request context of its own, made from the page's address
and language alone (no cookie, no session, no user, no header), where asking for a CSRF token or
a CSP nonce fails. Nothing personal or per-request can therefore reach a kept piece, whatever a
template does: there is nothing of the kind to read while it renders.

- Anyone with a session (signed in, a cart, a message waiting) gets the layout rendered for
  their request around the kept catalog parts, and a course's buy area (CSRF token, messages)
  rendered for them.
- A visitor without a session (no session cookie, no remembered login) would get exactly what
  every such visitor of the language gets at that address, so the whole page is kept. Its buy
  form is kept without a token: `_public` renders it with `token_input` (a position) in place
  of the token's input, and the view builds that input for each request from the visitor's own
  token (security.page_csrf_token, which stores no session for them). No messages are lost:
  without a session there are none.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, render_template, request, session
from flask_babel import force_locale
from flask_login import COOKIE_NAME as REMEMBER_COOKIE
from markupsafe import Markup

from app.blueprints.courses import bp
from app.blueprints.kept_answers import keep_for_everyone
from app.i18n import current_language
from app.schemas import catalog_reads
from app.schemas.base import parse_input
from app.schemas.catalog import CourseListQuery
from app.security import NONCE_KEY, page_csrf_token
from app.services import catalog
from app.services.catalog_cache import cached_fragment
from app.services.errors import InvalidInput, NotFound

# Positions in kept pieces, never values: where a course's buy area goes in its kept content,
# and where, in a page kept whole for visitors, the view puts each one's CSRF token input.
# Unguessable, so that no text of the catalog can pass for either.
BUY_AREA = Markup("<!--buy-area-{}-->").format(secrets.token_hex(8))
TOKEN_INPUT = Markup("<!--csrf-token-input-{}-->").format(secrets.token_hex(16))
_TOKEN_INPUT_BYTES = str(TOKEN_INPUT).encode()
PAGING = ("page", "per_page")


class PersonalContentError(RuntimeError):
    """Something rendered for keeping asked for a per-request or per-visitor value."""


@bp.get("/courses")
def list_courses():
    query = _list_query().to_query()
    language = current_language()
    # Keyed by the whole query string: the page's links keep every argument, in its order.
    content = cached_fragment(
        "courses",
        (language, request.script_root, request.query_string.decode("latin-1")),
        lambda: _public(
            "courses/_list.html",
            language,
            query=query,
            page=catalog_reads.list_courses(query),
            categories=catalog_reads.list_categories(),
            levels=catalog.LEVELS,
            sorts=catalog.SORTS,
        ),
    )
    if _without_session():
        return _visitor_page("courses", language, "courses/list.html", lambda: {"content": content})
    return render_template("courses/list.html", content=content)


@bp.get("/courses/<int:course_id>")
def course_detail(course_id: int):
    language = current_language()
    if _without_session():
        return _visitor_page(
            "course", language, "courses/detail.html", lambda: _course_context(course_id, language)
        )
    context = _course_context(course_id, language)
    return render_template("courses/detail.html", csrf_token=page_csrf_token, **context)


def _course_context(course_id: int, language: str) -> dict[str, Any]:
    try:
        course, upcoming = catalog_reads.get_course(course_id), False
    except NotFound:
        # Announced, not sold: its page says it is coming and offers nothing to buy.
        course, upcoming = catalog_reads.get_upcoming_course(course_id), True
    around_buy = cached_fragment(
        "course",
        (language, request.script_root, course_id),
        lambda: tuple(
            _public(
                "courses/_course.html",
                language,
                course=course,
                upcoming=upcoming,
                buy_area=BUY_AREA,
            ).split(BUY_AREA)
        ),
    )
    return {"course": course, "upcoming": upcoming, "around_buy": around_buy}


@bp.get("/degree-courses/<int:degree_id>")
def degree_detail(degree_id: int):
    if _without_session():
        return _visitor_page(
            "degree",
            current_language(),
            "courses/degree.html",
            lambda: {"degree": catalog_reads.get_degree_course(degree_id)},
        )
    context = {"degree": catalog_reads.get_degree_course(degree_id)}
    return render_template("courses/degree.html", csrf_token=page_csrf_token, **context)


def _list_query() -> CourseListQuery:
    """The list's filters as the address gives them. On a page (unlike the API) a page number
    or size that does not read (`?page=abc`, `?page=0`) is left out rather than refused: the
    first page does. A filter that does not read stays a 400: it names nothing we have."""
    args = request.args.to_dict()
    try:
        return parse_input(CourseListQuery, args)
    except InvalidInput as exc:
        lenient = {name for name in exc.fields if name in PAGING}
        if not lenient:
            raise
        for name in lenient:
            del args[name]
        return parse_input(CourseListQuery, args)


def _visitor_page(
    name: str, language: str, template: str, context: Callable[[], dict[str, Any]]
) -> Response:
    """The kept page, and this visitor's CSRF token where its buy form takes it. `context` is
    called only when the page is not kept yet (or for its 404)."""
    pieces = _kept_page(name, language, template, context)
    if len(pieces) == 1:  # no form: the page is the same for every such visitor, bytes and all
        return keep_for_everyone(_html_response(pieces[0]))
    token = Markup('<input type="hidden" name="csrf_token" value="{}">').format(page_csrf_token())
    return _html_response(str(token).encode().join(pieces))


# --- what is kept ------------------------------------------------------------------------------


def _kept_page(
    name: str, language: str, template: str, context: Callable[[], dict[str, Any]]
) -> tuple[bytes, ...]:
    """The whole page for a visitor without a session, as bytes in pieces around TOKEN_INPUT.
    Everything it depends on besides the catalog is the language and the address (the language
    switch and the sign-in links come back to it)."""
    return cached_fragment(
        f"page:{name}",
        (
            language,
            request.script_root,
            request.path,
            request.query_string.decode("latin-1"),
        ),
        lambda: tuple(
            _public(template, language, token_input=TOKEN_INPUT, **context())
            .encode()
            .split(_TOKEN_INPUT_BYTES)
        ),
    )


KEPT_PAGE_HOST = "http://127.0.0.1:5000"


def _public(template: str, language: str, **context: Any) -> Markup:
    """`template` rendered as any visitor without a session would get it at this address, in
    an app and request context of their own: a fresh `g`, no cookie, no header, no session and
    no user. A CSRF token or a CSP nonce asked for there raises (it would be one request's value
    kept for everyone), and so does a session written or a user signed in."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Only the address: the host is the configured one (in development, where it may be unset,
    # a fixed stand-in: pages link by path), never the request's Host header.
    host = app.config.get("PUBLIC_BASE_URL") or KEPT_PAGE_HOST
    address = {
        "path": request.path,
        "base_url": host + request.script_root,
        "query_string": request.query_string.decode("latin-1"),
    }
    with app.app_context(), app.test_request_context(**address), force_locale(language):
        html = render_template(template, csrf_token=_no_token, **context)
        _refuse_anything_per_request(template)
    # What Jinja renders is escaped already: it goes into the page as it is.
    return Markup(html)  # noqa: S704


def _no_token() -> str:
    raise PersonalContentError("a kept page asked for a CSRF token: render the form per request")


def _refuse_anything_per_request(template: str) -> None:
    used = []
    if request.environ.get(NONCE_KEY) is not None:
        used.append("a CSP nonce")
    if g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")) is not None:
        used.append("a CSRF token")
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        used.append("a signed-in user")
    if session.modified:
        used.append("a session write")
    if used:
        raise PersonalContentError(f"{template} used {', '.join(used)}: it is kept for everyone")


def _without_session() -> bool:
    """No session and no remembered login: the request can only be an anonymous visitor's."""
    cookies = request.cookies
    config = current_app.config
    return (
        config["SESSION_COOKIE_NAME"] not in cookies
        and config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE) not in cookies
    )


def _html_response(body: bytes) -> Response:
    return current_app.response_class(body, mimetype="text/html")
