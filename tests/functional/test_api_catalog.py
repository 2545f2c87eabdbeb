"""The catalog API: shapes, filters, pagination bounds, hidden courses and the error envelope."""

from __future__ import annotations

import pytest

from app.blueprints.api import bp
from tests.api import ok, refused
from tests.factories import (
    CategoryFactory,
    ChapterFactory,
    CourseDetailFactory,
    CourseFactory,
    DegreeCourseFactory,
    FAQFactory,
    SectionFactory,
    TeacherFactory,
)


def test_categories_are_a_bare_list(client):
    CategoryFactory(name="Python", name_en="Python")
    assert ok(client.get("/api/v1/categories")) == [
        {"id": pytest.approx(1, abs=10**9), "name": "Python"}
    ]


def test_course_list_shape_and_money_as_strings(client):
    course = CourseFactory(name="Flask 实战", policies=[(30, "99.00"), (0, "1299.50")])
    page = ok(client.get("/api/v1/courses"))
    assert page["total"] == 1
    assert page["page"] == 1
    assert page["per_page"] == 12
    (item,) = page["items"]
    assert item["id"] == course.id
    assert item["category"] == {"id": course.category_id, "name": course.category.name}
    assert set(item) == {"id", "name", "brief", "course_img", "level", "category", "price_policies"}
    assert item["price_policies"] == [
        {
            "id": item["price_policies"][0]["id"],
            "valid_period": 0,
            "valid_period_text": "永久有效",
            "price": "1299.50",
        },
        {
            "id": item["price_policies"][1]["id"],
            "valid_period": 30,
            "valid_period_text": "1个月",
            "price": "99.00",
        },
    ]


def test_period_text_follows_the_language(client):
    CourseFactory(policies=[(0, "1.00"), (14, "2.00"), (365, "3.00"), (10, "4.00")])
    page = ok(client.get("/api/v1/courses", headers={"Accept-Language": "en"}))
    texts = [p["valid_period_text"] for p in page["items"][0]["price_policies"]]
    assert texts == ["Forever", "10 days", "2 weeks", "1 year"]


def test_retired_policies_are_not_shown(client, db_session):
    course = CourseFactory(policies=[(30, "99.00"), (90, "199.00")])
    course.price_policies[1].active = False
    db_session.commit()
    (item,) = ok(client.get("/api/v1/courses"))["items"]
    assert [p["valid_period"] for p in item["price_policies"]] == [30]


def test_offline_and_upcoming_courses_never_appear(client):
    shown = CourseFactory(status="online")
    offline = CourseFactory(status="offline")
    upcoming = CourseFactory(status="upcoming")
    assert [c["id"] for c in ok(client.get("/api/v1/courses"))["items"]] == [shown.id]
    for hidden in (offline, upcoming):
        refused(client.get(f"/api/v1/courses/{hidden.id}"), 404, "not_found", code=1002)


@pytest.mark.parametrize("value", ["", "0", "abc", "-3", "1.5"])
def test_zero_or_non_numeric_category_means_all(client, value):
    CourseFactory()
    CourseFactory()
    assert ok(client.get(f"/api/v1/courses?category_id={value}"))["total"] == 2


# FULLTEXT sees committed rows only (InnoDB): real commits, not savepoints.
@pytest.mark.real_commits
def test_filters_by_category_level_and_keyword(client):
    python = CategoryFactory()
    a = CourseFactory(name="Python 入门", category=python, level="beginner")
    b = CourseFactory(
        name="Django 进阶", brief="web with python", category=python, level="advanced"
    )
    c = CourseFactory(name="Go 并发", level="advanced")

    def ids(query):
        return sorted(item["id"] for item in ok(client.get(f"/api/v1/courses?{query}"))["items"])

    assert ids(f"category_id={python.id}") == sorted([a.id, b.id])
    assert ids("level=advanced") == sorted([b.id, c.id])
    assert ids("q=python") == sorted([a.id, b.id])  # name or brief, any case
    assert ids("q=%25") == []  # a LIKE wildcard is matched literally
    assert ids(f"category_id={python.id}&level=advanced&q=django") == [b.id]


def test_sorting(client, db_session):
    cheap = CourseFactory(policies=[(30, "9.00")], sort_order=3)
    dear = CourseFactory(policies=[(30, "900.00")], sort_order=1)
    middle = CourseFactory(policies=[(30, "90.00"), (90, "1000.00")], sort_order=2)

    def order(sort):
        return [i["id"] for i in ok(client.get(f"/api/v1/courses?sort={sort}"))["items"]]

    assert order("default") == [dear.id, middle.id, cheap.id]
    assert order("price_asc") == [cheap.id, middle.id, dear.id]
    assert order("price_desc") == [dear.id, middle.id, cheap.id]
    assert order("newest") == [middle.id, dear.id, cheap.id]
    refused(client.get("/api/v1/courses?sort=cheapest"), 400, "invalid_input", code=1001)


def test_pagination_bounds(client):
    for _ in range(3):
        CourseFactory()
    page = ok(client.get("/api/v1/courses?page=2&per_page=2"))
    assert (len(page["items"]), page["total"], page["page"], page["per_page"]) == (1, 3, 2, 2)
    assert ok(client.get("/api/v1/courses?page=9"))["items"] == []
    assert len(ok(client.get("/api/v1/courses?per_page=100"))["items"]) == 3
    for bad in (
        "page=0",
        "page=-1",
        "page=x",
        "per_page=0",
        "per_page=101",
        "per_page=99999999999999999999",
        "page=1e3",
    ):
        body = refused(client.get(f"/api/v1/courses?{bad}"), 400, "invalid_input", code=1001)
        assert set(body["data"]["fields"]) <= {"page", "per_page"}, bad


def test_course_detail_shape(client):
    course = CourseFactory(policies=[(30, "99.00")])
    CourseDetailFactory(course=course, hours=20)
    teacher = TeacherFactory()
    course.teachers.append(teacher)
    other = CourseFactory()
    hidden = CourseFactory(status="offline")
    course.recommended.extend([other, hidden])
    chapter = ChapterFactory(course=course, number=1)
    free = SectionFactory(chapter=chapter, position=1, free_trial=True, link="https://v/1")
    paid = SectionFactory(chapter=chapter, position=2, free_trial=False, link="https://v/2")
    FAQFactory(product=course, question="Q?", answer="A.")

    got = ok(client.get(f"/api/v1/courses/{course.id}"))
    assert got["detail"]["hours"] == 20
    assert [t["id"] for t in got["teachers"]] == [teacher.id]
    assert [r["id"] for r in got["recommended"]] == [other.id]  # the offline one is hidden
    (ch,) = got["chapters"]
    sections = {s["id"]: s for s in ch["sections"]}
    assert sections[free.id]["link"] == f"/learn/{course.id}/{free.id}"  # the lesson page
    assert "link" not in sections[paid.id]  # paid sections are for enrolled students only
    assert got["faqs"] == [{"id": got["faqs"][0]["id"], "question": "Q?", "answer": "A."}]
    assert got["price_policies"][0]["price"] == "99.00"


def test_unknown_and_non_numeric_ids_are_404_in_the_envelope(client):
    refused(client.get("/api/v1/courses/999999"), 404, "not_found", code=1002)
    refused(client.get("/api/v1/courses/abc"), 404, "not_found", code=1002)
    refused(client.get("/api/v1/degree-courses/999999"), 404, "not_found", code=1002)
    refused(client.get("/api/v1/no-such-endpoint"), 404, "not_found", code=1002)


def test_degree_courses(client):
    inner = CourseFactory()
    hidden = CourseFactory(status="offline")
    degree = DegreeCourseFactory(policies=[(180, "2999.00")])
    degree.courses.extend([inner, hidden])
    from app.extensions import db

    db.session.commit()
    page = ok(client.get("/api/v1/degree-courses"))
    assert page["total"] == 1
    assert page["items"][0]["courses"] == [{"id": inner.id, "name": inner.name}]
    got = ok(client.get(f"/api/v1/degree-courses/{degree.id}"))
    assert [c["id"] for c in got["courses"]] == [inner.id]
    assert got["price_policies"][0]["valid_period_text"] == "6个月"
    DegreeCourseFactory(status="upcoming")
    assert ok(client.get("/api/v1/degree-courses"))["total"] == 1
    refused(client.get("/api/v1/degree-courses?per_page=0"), 400, "invalid_input", code=1001)


def test_method_not_allowed_is_json(client):
    response = client.delete("/api/v1/courses")
    refused(response, 405, "method_not_allowed", code=1001)
    assert "GET" in response.headers["Allow"]


def test_too_large_is_json(make_app):
    app = make_app(MAX_CONTENT_LENGTH=2048)
    response = app.test_client().post(
        "/api/v1/courses", data="x" * 5000, content_type="application/json"
    )
    refused(response, 413, "too_large", code=1001)


def test_an_unexpected_error_is_a_json_500(app, client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("app.schemas.catalog_reads.list_categories_json", explode)
    body = refused(client.get("/api/v1/categories"), 500, "server_error", code=1030)
    assert "boom" not in body["msg"]


def test_every_route_of_the_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in client.application.url_map.iter_rules():
        if not rule.endpoint.startswith(f"{bp.name}.") or rule.endpoint.endswith("openapi"):
            continue
        path = rule.rule
        for converter in ("<int:", "<"):
            path = path.replace(converter, "{")
        path = path.replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented
    course_list = spec["paths"]["/api/v1/courses"]["get"]
    assert {p["name"] for p in course_list["parameters"]} >= {
        "category_id",
        "level",
        "q",
        "sort",
        "page",
        "per_page",
    }
