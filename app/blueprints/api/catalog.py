"""Catalog endpoints: categories, courses, degree courses, answered with the cached JSON text,
the same for every client (kept_answers.py keeps an anonymous one's whole answer)."""

from __future__ import annotations

from app.blueprints.api import api
from app.blueprints.api.envelope import JSONData
from app.blueprints.kept_answers import keep_for_everyone
from app.schemas.catalog import (
    CategoryOut,
    CourseListQuery,
    CourseOut,
    CoursePageOut,
    DegreeOut,
    DegreePageOut,
    PageQuery,
)
from app.services import catalog

TAGS = ["catalog"]


@api.route("/categories", summary="Course categories", tags=TAGS, response=list[CategoryOut])
def list_categories():
    answer = JSONData(catalog.list_categories_json())
    keep_for_everyone()
    return answer


@api.route(
    "/courses",
    summary="Online courses, filtered, searched, sorted and paginated",
    tags=TAGS,
    query=CourseListQuery,
    response=CoursePageOut,
)
def list_courses(query: CourseListQuery):
    answer = JSONData(catalog.list_courses_json(query.to_query()))
    keep_for_everyone()
    return answer


@api.route(
    "/courses/<int:course_id>",
    summary="A course with its detail, teachers, chapters, FAQs and price policies",
    tags=TAGS,
    response=CourseOut,
    errors=(404,),
)
def get_course(course_id: int):
    answer = JSONData(catalog.get_course_json(course_id))
    keep_for_everyone()
    return answer


@api.route(
    "/degree-courses",
    summary="Online degree courses, paginated",
    tags=TAGS,
    query=PageQuery,
    response=DegreePageOut,
)
def list_degree_courses(query: PageQuery):
    answer = JSONData(catalog.list_degree_courses_json(query.page, query.per_page))
    keep_for_everyone()
    return answer


@api.route(
    "/degree-courses/<int:degree_id>",
    summary="A degree course with the courses it contains",
    tags=TAGS,
    response=DegreeOut,
    errors=(404,),
)
def get_degree_course(degree_id: int):
    answer = JSONData(catalog.get_degree_course_json(degree_id))
    keep_for_everyone()
    return answer
