"""The course list with its filters, a course's page and a degree course's page.

What these pages show of the catalog is the same for every visitor of a language, so it is
rendered once per catalog version and kept (catalog_cache.cached_fragment); the layout around
it, which shows who is signed in, is rendered for each request.

A visitor without a session (no session cookie: nobody signed in, nothing in a cart, no
message waiting) sees exactly what every such visitor of the language sees at that address,
but for the CSRF token of a buy form: for them the whole page is kept, with a mark where the
token goes, and each request only puts its own token in (security.page_csrf_token, which
stores no session for them).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import Response, current_app, g, render_template, request, session
from flask_login import COOKIE_NAME as REMEMBER_COOKIE
from markupsafe import Markup

from app.blueprints.courses import bp
from app.i18n import current_language
from app.schemas.base import parse_input
from app.schemas.catalog import CourseListQuery
from app.security import NONCE_KEY, page_csrf_token
from app.services import catalog
from app.services.catalog_cache import cached_fragment
from app.services.errors import InvalidInput, NotFound

# Where a course's buy area goes in its cached content, and a visitor's CSRF token in a kept
# page; unguessable, so that no text of the catalog can pass for either.
BUY_AREA = Markup("<!--buy-area-{}-->").format(secrets.token_hex(8))
TOKEN_MARK = f"csrf-token-{secrets.token_hex(16)}"
_TOKEN_MARK_BYTES = TOKEN_MARK.encode()

Page = Callable[..., str]
PAGING = ("page", "per_page")


@bp.get("/courses")
def list_courses():
    return _page("courses", _course_list)


@bp.get("/courses/<int:course_id>")
def course_detail(course_id: int):
    return _page("course", lambda **context: _course_page(course_id, **context))


@bp.get("/degree-courses/<int:degree_id>")
def degree_detail(degree_id: int):
    return _page(
        "degree",
        lambda **context: render_template(
            "courses/degree.html", degree=catalog.get_degree_course(degree_id), **context
        ),
    )


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


def _course_list(**context) -> str:
    query = _list_query().to_query()
    # Keyed by the whole query string: the page's links keep every argument, in its order.
    content = cached_fragment(
        "courses",
        (current_language(), request.script_root, request.query_string.decode("latin-1")),
        lambda: _html(
            "courses/_list.html",
            query=query,
            page=catalog.list_courses(query),
            categories=catalog.list_categories(),
            levels=catalog.LEVELS,
            sorts=catalog.SORTS,
        ),
    )
    return render_template("courses/list.html", content=content, **context)


def _course_page(course_id: int, **context) -> str:
    try:
        course, upcoming = catalog.get_course(course_id), False
    except NotFound:
        # Announced, not sold: its page says it is coming and offers nothing to buy.
        course, upcoming = catalog.get_upcoming_course(course_id), True
    around_buy = cached_fragment(
        "course",
        (current_language(), request.script_root, course_id),
        lambda: tuple(
            _html(
                "courses/_course.html", course=course, upcoming=upcoming, buy_area=BUY_AREA
            ).split(BUY_AREA)
        ),
    )
    return render_template(
        "courses/detail.html", course=course, upcoming=upcoming, around_buy=around_buy, **context
    )


def _html(template: str, **context) -> Markup:
    # What Jinja renders is escaped already: it goes into the page as it is.
    return Markup(render_template(template, **context))  # noqa: S704


# --- whole pages for visitors without a session -----------------------------------------------


def _page(name: str, render: Page) -> str | Response:
    if not _without_session():
        return render(csrf_token=page_csrf_token)
    # Everything the page depends on besides the catalog: the language and the address (the
    # language switch and the sign-in links come back to it).
    pieces = cached_fragment(
        f"page:{name}",
        (
            current_language(),
            request.script_root,
            request.path,
            request.query_string.decode("latin-1"),
        ),
        lambda: tuple(render(csrf_token=_token_mark).encode().split(_TOKEN_MARK_BYTES)),
        keep_if=_nothing_personal,
    )
    body = page_csrf_token().encode().join(pieces) if len(pieces) > 1 else pieces[0]
    return current_app.response_class(body, mimetype="text/html")


def _without_session() -> bool:
    """No session and no remembered login: the request can only be an anonymous visitor's."""
    cookies = request.cookies
    config = current_app.config
    return (
        config["SESSION_COOKIE_NAME"] not in cookies
        and config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE) not in cookies
    )


def _token_mark() -> str:
    return TOKEN_MARK


def _nothing_personal() -> bool:
    """Whether the page just rendered may serve the next visitor: it used no CSP nonce, no
    CSRF token of Flask-WTF's, no signed-in user and wrote nothing in the session."""
    user = g.get("_login_user")
    return (
        request.environ.get(NONCE_KEY) is None
        and g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")) is None
        and not (user is not None and user.is_authenticated)
        and not session
        and not session.modified
    )
