"""Catalog endpoints: categories, courses, degree courses, answered with the cached JSON text,
the same for every client (kept_answers.py keeps an anonymous one's whole answer)."""

from __future__ import annotations

from app.blueprints.api import api
from app.blueprints.api.envelope import JSONData
from app.blueprints.kept_answers import keep_for_everyone
from app.schemas import catalog_reads
from app.schemas.catalog import (
    CategoryOut,
    CourseListQuery,
    CourseOut,
    CoursePageOut,
    DegreeOut,
    DegreePageOut,
    PageQuery,
)

TAGS = ["catalog"]


@api.route("/categories", summary="Course categories", tags=TAGS, response=list[CategoryOut])
def list_categories():
    return keep_for_everyone(JSONData(catalog_reads.list_categories_json()))


@api.route(
    "/courses",
    summary="Online courses, filtered, searched, sorted and paginated",
    tags=TAGS,
    query=CourseListQuery,
    response=CoursePageOut,
)
def list_courses(query: CourseListQuery):
    return keep_for_everyone(JSONData(catalog_reads.list_courses_json(query.to_query())))


@api.route(
    "/courses/<int:course_id>",
    summary="A course with its detail, teachers, chapters, FAQs and price policies",
    tags=TAGS,
    response=CourseOut,
    errors=(404,),
)
def get_course(course_id: int):
    return keep_for_everyone(JSONData(catalog_reads.get_course_json(course_id)))


@api.route(
    "/degree-courses",
    summary="Online degree courses, paginated",
    tags=TAGS,
    query=PageQuery,
    response=DegreePageOut,
)
def list_degree_courses(query: PageQuery):
    return keep_for_everyone(
        JSONData(catalog_reads.list_degree_courses_json(query.page, query.per_page))
    )


@api.route(
    "/degree-courses/<int:degree_id>",
    summary="A degree course with the courses it contains",
    tags=TAGS,
    response=DegreeOut,
    errors=(404,),
)
def get_degree_course(degree_id: int):
    return keep_for_everyone(JSONData(catalog_reads.get_degree_course_json(degree_id)))
