"""The cart API: ids in, fresh prices out, every refusal with the contract's slug."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.extensions import db
from app.services.offers import MAX_LINES
from tests.api import ok, refused
from tests.factories import CourseFactory, DegreeCourseFactory, EnrollmentFactory, UserFactory


def add(client, headers, product, policy_index=0, item_type="course"):
    return client.post(
        "/api/v1/cart",
        json={
            "item_type": item_type,
            "item_id": product.id,
            "price_policy_id": product.price_policies[policy_index].id,
        },
        headers=headers,
    )


def test_the_cart_needs_a_token(client):
    refused(client.get("/api/v1/cart"), 401, "unauthorized")
    refused(client.post("/api/v1/cart", json={}), 401, "unauthorized")


def test_add_view_change_and_remove(client, headers):
    course = CourseFactory(policies=[(30, "99.00"), (90, "199.00")])
    line = ok(add(client, headers, course), 201)
    assert line["price"] == "99.00"
    assert [p["valid_period"] for p in line["price_policies"]] == [30, 90]

    # Adding it again changes the policy, not the count.
    ok(add(client, headers, course, 1), 201)
    got = ok(client.get("/api/v1/cart", headers=headers))
    assert got["count"] == 1
    assert got["total_price"] == "199.00"

    changed = ok(
        client.patch(
            f"/api/v1/cart/course/{course.id}",
            json={"price_policy_id": course.price_policies[0].id},
            headers=headers,
        )
    )
    assert changed["price_policy_id"] == course.price_policies[0].id
    assert ok(client.delete(f"/api/v1/cart/course/{course.id}", headers=headers)) is None
    assert ok(client.get("/api/v1/cart", headers=headers))["count"] == 0


def test_prices_are_read_fresh(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    ok(add(client, headers, course), 201)
    course.price_policies[0].price = Decimal("79.50")
    db.session.commit()
    got = ok(client.get("/api/v1/cart", headers=headers))
    assert got["items"][0]["price"] == "79.50"
    assert got["total_price"] == "79.50"


def test_degree_courses_can_be_carted(client, headers):
    degree = DegreeCourseFactory()
    line = ok(add(client, headers, degree, item_type="degree_course"), 201)
    assert line["item_type"] == "degree_course"


def test_refusals(client, headers, student):
    course = CourseFactory(policies=[(30, "99.00"), (60, "150.00")])
    other = CourseFactory()
    offline = CourseFactory(status="offline")
    body = {"item_type": "course", "item_id": course.id}

    def post(**changes):
        return client.post("/api/v1/cart", json=body | changes, headers=headers)

    refused(post(price_policy_id=other.price_policies[0].id), 400, "invalid_price_policy")
    refused(
        post(item_id=offline.id, price_policy_id=offline.price_policies[0].id), 404, "not_found"
    )
    refused(post(item_id=999999, price_policy_id=1), 404, "not_found")
    refused(
        post(item_type="degree_course", price_policy_id=course.price_policies[0].id),
        404,
        "not_found",
    )
    course.price_policies[1].active = False
    db.session.commit()
    refused(post(price_policy_id=course.price_policies[1].id), 409, "price_policy_changed")
    forever = CourseFactory(policies=[(0, "999.00")])
    EnrollmentFactory(user=student, product=forever, valid_until=None)
    refused(add(client, headers, forever), 409, "already_enrolled")
    assert ok(client.get("/api/v1/cart", headers=headers))["count"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"item_type": "course"},
        {"item_type": "book", "item_id": 1, "price_policy_id": 1},
        {"item_type": "course", "item_id": "1", "price_policy_id": 1},
        {"item_type": "course", "item_id": -1, "price_policy_id": 1},
        {"item_type": "course", "item_id": 2**40, "price_policy_id": 1},
        {"item_type": "course", "item_id": 1.5, "price_policy_id": 1},
        {"item_type": "course", "item_id": True, "price_policy_id": 1},
        {"item_type": ["course"], "item_id": 1, "price_policy_id": None},
    ],
)
def test_bad_bodies_are_400_with_fields(client, headers, body):
    body = refused(client.post("/api/v1/cart", json=body, headers=headers), 400, "invalid_input")
    assert body["data"]["fields"]


def test_non_json_bodies_are_400(client, headers):
    refused(client.post("/api/v1/cart", data="x", headers=headers), 400, "invalid_input")
    refused(
        client.post("/api/v1/cart", data="{", content_type="application/json", headers=headers),
        400,
        "invalid_input",
    )
    refused(client.post("/api/v1/cart", json=[1], headers=headers), 400, "invalid_input")


def test_lines_not_in_the_cart_are_404(client, headers, token_for):
    course = CourseFactory()
    ok(add(client, headers, course), 201)
    someone_else = token_for(UserFactory())
    refused(
        client.delete(f"/api/v1/cart/course/{course.id}", headers=someone_else), 404, "not_found"
    )
    refused(
        client.patch(
            f"/api/v1/cart/course/{course.id}",
            json={"price_policy_id": course.price_policies[0].id},
            headers=someone_else,
        ),
        404,
        "not_found",
    )
    refused(client.delete("/api/v1/cart/book/1", headers=headers), 404, "not_found")
    assert ok(client.get("/api/v1/cart", headers=headers))["count"] == 1


def test_a_cart_holds_at_most_50_lines(client, headers):
    courses = [CourseFactory() for _ in range(MAX_LINES + 1)]
    for course in courses[:MAX_LINES]:
        ok(add(client, headers, course), 201)
    refused(add(client, headers, courses[-1]), 409, "cart_full")
    # Changing the policy of a line already there is still allowed.
    ok(add(client, headers, courses[0]), 201)


def test_lines_that_can_no_longer_be_bought_leave_the_cart(client, headers):
    course = CourseFactory()
    ok(add(client, headers, course), 201)
    course.status = "offline"
    db.session.commit()
    assert ok(client.get("/api/v1/cart", headers=headers))["count"] == 0


def test_the_cart_expires_after_30_days_of_no_visit(app, client, headers, student):
    course = CourseFactory()
    ok(add(client, headers, course), 201)
    ttl = app.extensions["redis_store"].client.ttl(f"cart:{student.id}")
    assert 29 * 86400 < ttl <= 30 * 86400


def test_cart_queries_do_not_grow_with_the_cart(app, client, headers, count_queries):
    courses = [CourseFactory(policies=[(30, "9.00"), (60, "19.00")]) for _ in range(12)]
    ok(add(client, headers, courses[0]), 201)
    with count_queries() as one:
        ok(client.get("/api/v1/cart", headers=headers))
    for course in courses[1:]:
        ok(add(client, headers, course), 201)
    with count_queries() as twelve:
        ok(client.get("/api/v1/cart", headers=headers))
    assert one.count == twelve.count
