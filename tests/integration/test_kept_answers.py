"""Anonymous catalog reads answered again before Flask, until the catalog changes (kept_answers).

Whether Flask ran is seen from a before-request hook that counts; the process keeps the
catalog's version through its watch (as in production), which needs the real Redis.
"""

from __future__ import annotations

import pytest
from flask import request

from app.extensions import db
from app.models import Course
from app.services import catalog_cache
from tests.factories import CourseFactory
from tests.integration.test_catalog_version_watch import eventually

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("real_redis")]


@pytest.fixture
def store(app_with):
    """The app with its watch connected, and how many requests reached Flask."""
    with app_with(CATALOG_VERSION_WATCH=True) as app:
        reached: list[str] = []
        app.before_request(lambda: reached.append(request.path))
        watch = app.extensions[catalog_cache.VERSION_WATCH]
        eventually(lambda: watch.current() is not None)
        yield app, reached


def test_an_anonymous_catalog_read_is_answered_again_without_flask(store):
    app, reached = store
    client = app.test_client(use_cookies=False)
    course = CourseFactory(name="Kept")
    for path in ("/api/v1/courses", f"/api/v1/courses/{course.id}", "/api/v1/categories"):
        first = client.get(path)
        reached.clear()
        again = client.get(path)
        assert reached == [], path
        assert again.status_code == 200
        assert again.get_data() == first.get_data()
        assert again.headers == first.headers


def test_a_catalog_change_is_read_at_once(store):
    app, _ = store
    client = app.test_client(use_cookies=False)
    course = CourseFactory(name="Before")
    assert client.get(f"/api/v1/courses/{course.id}").get_json()["data"]["name"] == "Before"
    db.session.get(Course, course.id).name = "After"
    db.session.commit()
    assert client.get(f"/api/v1/courses/{course.id}").get_json()["data"]["name"] == "After"
    assert [c["name"] for c in client.get("/api/v1/courses").get_json()["data"]["items"]] == [
        "After"
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"Cookie": "session=x"},
        {"Authorization": "Token x"},
        {"Origin": "https://elsewhere.example"},
        {"If-None-Match": '"x"'},
        {"Range": "bytes=0-10"},
    ],
    ids=["cookie", "token", "origin", "conditional", "range"],
)
def test_a_request_with_anything_personal_goes_to_flask(store, headers):
    app, reached = store
    client = app.test_client(use_cookies=False)
    CourseFactory()
    client.get("/api/v1/courses")
    reached.clear()
    client.get("/api/v1/courses", headers=headers)
    assert reached == ["/api/v1/courses"]


def test_each_address_and_language_is_kept_apart(store):
    app, _ = store
    client = app.test_client(use_cookies=False)
    CourseFactory(name="One")
    CourseFactory(name="Two")
    one = client.get("/api/v1/courses?per_page=1").get_json()["data"]
    two = client.get("/api/v1/courses?per_page=2").get_json()["data"]
    assert (len(one["items"]), len(two["items"])) == (1, 2)
    zh = client.get("/courses", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    en = client.get("/courses", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert zh != en
    assert client.get("/courses", headers={"Accept-Language": "en"}).get_data(as_text=True) == en


def test_the_visitor_course_list_is_kept_and_sets_no_cookie(store):
    app, reached = store
    client = app.test_client(use_cookies=False)
    CourseFactory(name="Listed")
    first = client.get("/courses")
    assert "Set-Cookie" not in first.headers
    reached.clear()
    assert client.get("/courses").get_data() == first.get_data()
    assert reached == []


def test_a_page_with_a_form_token_is_never_kept(store):
    # The course page's buy form carries each visitor's own CSRF token (and its cookie).
    app, reached = store
    client = app.test_client(use_cookies=False)
    course = CourseFactory(policies=[(30, "99.00")])
    first = client.get(f"/courses/{course.id}")
    reached.clear()
    again = client.get(f"/courses/{course.id}")
    assert reached == [f"/courses/{course.id}"]
    assert "Set-Cookie" in again.headers
    assert again.get_data() != first.get_data()  # another visitor, another token


def test_a_refusal_is_not_kept(store):
    app, reached = store
    client = app.test_client(use_cookies=False)
    assert client.get("/api/v1/courses/424242").status_code == 404
    reached.clear()
    assert client.get("/api/v1/courses/424242").status_code == 404
    assert reached == ["/api/v1/courses/424242"]


def test_without_the_watch_every_request_goes_to_flask(app, client):
    # The tests' default (CATALOG_VERSION_WATCH off): nothing is kept.
    reached: list[int] = []
    course = CourseFactory()
    client.get(f"/api/v1/courses/{course.id}")
    app.before_request_funcs.setdefault(None, []).append(lambda: reached.append(1))
    try:
        client.get(f"/api/v1/courses/{course.id}")
    finally:
        app.before_request_funcs[None].pop()
    assert reached == [1]
