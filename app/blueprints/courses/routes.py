"""The course list with its filters, a course's page and a degree course's page.

What these pages show of the catalog is the same for every visitor of a language, so it is
rendered once per catalog version and kept (catalog_cache.cached_fragment); the layout around
it, which will show who is signed in, is rendered for each request.
"""

from __future__ import annotations

import secrets

from flask import render_template, request
from markupsafe import Markup

from app.blueprints.courses import bp
from app.i18n import current_language
from app.schemas.base import parse_input
from app.schemas.catalog import CourseListQuery
from app.services import catalog
from app.services.catalog_cache import cached_fragment

# Where a course's buy area goes in its cached content; unguessable, so that no text of the
# catalog can pass for it.
BUY_AREA = Markup("<!--buy-area-{}-->").format(secrets.token_hex(8))


@bp.get("/courses")
def list_courses():
    query = parse_input(CourseListQuery, request.args).to_query()
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
    return render_template("courses/list.html", content=content)


@bp.get("/courses/<int:course_id>")
def course_detail(course_id: int):
    course = catalog.get_course(course_id)
    around_buy = cached_fragment(
        "course",
        (current_language(), request.script_root, course_id),
        lambda: tuple(
            _html("courses/_course.html", course=course, buy_area=BUY_AREA).split(BUY_AREA)
        ),
    )
    return render_template("courses/detail.html", course=course, around_buy=around_buy)


@bp.get("/degree-courses/<int:degree_id>")
def degree_detail(degree_id: int):
    return render_template("courses/degree.html", degree=catalog.get_degree_course(degree_id))


def _html(template: str, **context) -> Markup:
    # What Jinja renders is escaped already: it goes into the page as it is.
    return Markup(render_template(template, **context))  # noqa: S704
