"""The course list with its filters, a course's page and a degree course's page."""

from __future__ import annotations

from flask import render_template, request

from app.blueprints.courses import bp
from app.schemas.base import parse_input
from app.schemas.catalog import CourseListQuery
from app.services import catalog


@bp.get("/courses")
def list_courses():
    query = parse_input(CourseListQuery, request.args).to_query()
    return render_template(
        "courses/list.html",
        query=query,
        page=catalog.list_courses(query),
        categories=catalog.list_categories(),
        levels=catalog.LEVELS,
        sorts=catalog.SORTS,
    )


@bp.get("/courses/<int:course_id>")
def course_detail(course_id: int):
    return render_template("courses/detail.html", course=catalog.get_course(course_id))


@bp.get("/degree-courses/<int:degree_id>")
def degree_detail(degree_id: int):
    return render_template("courses/degree.html", degree=catalog.get_degree_course(degree_id))
