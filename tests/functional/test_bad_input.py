"""What a client can send that used to be a 500: non-ASCII digits in ids, ids too large for the
database, page numbers far past the end. Each is a 4xx or an ordinary page now."""

from __future__ import annotations

import pytest

from tests.factories import CategoryFactory, CourseFactory, DegreeCourseFactory, UserFactory
from tests.pages import html, sign_in

HUGE = "100000000000000000000"  # past 2**63 - 1: SQLite raises OverflowError on it


def test_a_superscript_item_id_in_the_cart_form_is_refused_not_a_500(client):
    course = CourseFactory()
    response = client.post(
        "/cart/add",
        data={
            "item_type": "course",
            "item_id": "²",
            "price_policy_id": course.price_policies[0].id,
        },
    )
    assert response.status_code == 302
    response = client.post(
        "/cart/add",
        data={"item_type": "course", "item_id": course.id, "price_policy_id": "³"},
    )
    assert response.status_code == 302
    assert html(client.get("/cart")).count("cart-line") == 0


@pytest.mark.parametrize("value", ["²", "١", HUGE, "-1", "abc"])
def test_a_category_id_that_is_no_ascii_number_means_all(client, value):
    CourseFactory(name="Go 入门", category=CategoryFactory())
    CourseFactory(name="Rust 入门", category=CategoryFactory())
    page = html(client.get("/courses", query_string={"category_id": value}))
    assert "Go 入门" in page
    assert "Rust 入门" in page
    body = client.get("/api/v1/courses", query_string={"category_id": value}).get_json()
    assert body["data"]["total"] == 2


@pytest.fixture
def sqlite_client(sqlite_app):
    from tests.conftest import IsolatedClient

    sqlite_app.test_client_class = IsolatedClient
    return sqlite_app.test_client()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/courses/{HUGE}"),
        ("GET", f"/degree-courses/{HUGE}"),
        ("GET", f"/learn/{HUGE}/1"),
        ("GET", f"/learn/1/{HUGE}"),
        ("POST", f"/cart/course/{HUGE}/remove"),
        ("POST", f"/cart/course/{HUGE}/policy"),
        ("GET", f"/api/v1/courses/{HUGE}"),
        ("GET", f"/api/v1/degree-courses/{HUGE}"),
        ("GET", "/courses/9223372036854775808"),
    ],
)
def test_ids_too_large_for_the_database_are_404_on_sqlite(sqlite_client, method, path):
    assert sqlite_client.open(path, method=method).status_code == 404


def test_the_largest_id_sqlite_holds_is_an_ordinary_404(sqlite_client):
    assert sqlite_client.get("/courses/9223372036854775807").status_code == 404


def test_a_page_far_past_the_end_of_my_orders_shows_the_last_page(client):
    sign_in(client, UserFactory())
    for page in ("9223372036854775807", HUGE, "²", "abc", "0", "-3"):
        assert client.get("/orders", query_string={"page": page}).status_code == 200


def test_a_degree_course_id_as_superscript_in_the_buy_form(client):
    degree = DegreeCourseFactory()
    response = client.post(
        "/cart/add",
        data={
            "item_type": "degree_course",
            "item_id": "²",
            "price_policy_id": degree.price_policies[0].id,
        },
    )
    assert response.status_code == 302
