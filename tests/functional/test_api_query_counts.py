"""The catalog API reads a page in the same number of queries for 5 courses as for 200."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.factories import (
    CategoryFactory,
    ChapterFactory,
    CourseFactory,
    DegreeCourseFactory,
    SectionFactory,
    TeacherFactory,
)


def _make_courses(count: int) -> list:
    categories = [CategoryFactory() for _ in range(3)]
    return [
        CourseFactory(category=categories[i % 3], policies=[(30, "99.00"), (0, "199.00")])
        for i in range(count)
    ]


def _queries(app, client, count_queries, url: str) -> int:
    app.extensions["redis_store"].raw.flushdb()  # a cold cache: the queries really run
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/courses?per_page=100",
        "/api/v1/courses?per_page=100&sort=price_asc",
        "/api/v1/courses?per_page=100&sort=popular&q=Course",
    ],
)
def test_course_list_queries_do_not_grow_with_the_catalog(app, client, count_queries, url):
    _make_courses(5)
    few = _queries(app, client, count_queries, url)
    _make_courses(195)
    many = _queries(app, client, count_queries, url)
    assert few == many


def test_course_detail_queries_do_not_grow_with_its_content(app, client, count_queries):
    small = CourseFactory()
    ChapterFactory(course=small)
    big = CourseFactory()
    teachers = [TeacherFactory() for _ in range(5)]
    big.teachers.extend(teachers)
    others = [CourseFactory() for _ in range(5)]
    big.recommended.extend(others)
    db.session.commit()
    for number in range(1, 6):
        chapter = ChapterFactory(course=big, number=number)
        for position in range(1, 6):
            SectionFactory(chapter=chapter, position=position)
    assert _queries(app, client, count_queries, f"/api/v1/courses/{small.id}") == _queries(
        app, client, count_queries, f"/api/v1/courses/{big.id}"
    )


def test_degree_list_queries_do_not_grow(app, client, count_queries):
    def degrees(count):
        for _ in range(count):
            degree = DegreeCourseFactory()
            courses = [CourseFactory(policies=[]) for _ in range(3)]
            degree.courses.extend(courses)
        db.session.commit()

    degrees(2)
    few = _queries(app, client, count_queries, "/api/v1/degree-courses?per_page=100")
    degrees(20)
    assert few == _queries(app, client, count_queries, "/api/v1/degree-courses?per_page=100")
