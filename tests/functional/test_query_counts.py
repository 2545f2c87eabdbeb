"""The course pages read the catalog in the same number of queries for 5 courses as for 200."""

from __future__ import annotations

import pytest

from tests.factories import CategoryFactory, CourseFactory


def _make_courses(count: int) -> None:
    categories = [CategoryFactory() for _ in range(3)]
    for number in range(count):
        CourseFactory(category=categories[number % 3], policies=[(30, "99.00"), (0, "199.00")])


def _queries(app, client, count_queries, url: str) -> int:
    app.extensions["redis_store"].raw.flushdb()  # a cold cache: the queries really run
    with count_queries() as counter:
        response = client.get(url)
        assert response.status_code == 200
    return counter.count


@pytest.mark.parametrize(
    "url",
    # "/" is a pre-rendered file; its live render is counted in test_homepage.py.
    ["/courses", "/courses?per_page=100", "/courses?per_page=100&sort=price_desc&q=Course"],
)
def test_the_list_queries_do_not_grow_with_the_catalog(app, client, count_queries, url):
    _make_courses(5)
    few = _queries(app, client, count_queries, url)
    _make_courses(195)
    many = _queries(app, client, count_queries, url)
    assert few > 0
    assert few == many
