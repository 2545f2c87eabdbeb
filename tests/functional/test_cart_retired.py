"""A cart line whose period was retired is kept, says so and offers the current periods; the
cart's repairs never undo a change another tab made at the same moment."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.services import cart
from tests.api import ok
from tests.factories import CourseFactory
from tests.functional.test_cart import add
from tests.pages import html, sign_in


@pytest.fixture
def course():
    return CourseFactory(name="Flask 实战", policies=[(30, "99.00"), (90, "199.00")])


def retire(policy):
    policy.active = False
    db.session.commit()


def test_a_line_whose_period_was_retired_is_kept_and_marked(client, headers, course):
    ok(add(client, headers, course, 0), 201)
    ok(add(client, headers, CourseFactory(policies=[(30, "10.00")])), 201)
    retired = course.price_policies[0]
    retire(retired)
    contents = ok(client.get("/api/v1/cart", headers=headers))
    assert contents["count"] == 2
    line = next(i for i in contents["items"] if i["item_id"] == course.id)
    assert line["retired"] is True
    assert line["price_policy_id"] == retired.id
    assert line["retired_policy"]["valid_period"] == 30
    assert [p["valid_period"] for p in line["price_policies"]] == [90]
    assert contents["total_price"] == "10.00"  # only what can be bought
    # Choosing a current period repairs the line.
    response = client.patch(
        f"/api/v1/cart/course/{course.id}",
        json={"price_policy_id": course.price_policies[1].id},
        headers=headers,
    )
    assert ok(response)["retired"] is False
    assert ok(client.get("/api/v1/cart", headers=headers))["total_price"] == "209.00"


def test_the_cart_page_says_the_period_is_no_longer_sold(client, student, course):
    sign_in(client, student)
    client.post(
        "/cart/add",
        data={
            "item_type": "course",
            "item_id": course.id,
            "price_policy_id": course.price_policies[0].id,
        },
    )
    retire(course.price_policies[0])
    page = html(client.get("/cart"))
    assert "Flask 实战" in page
    assert "不再销售" in page
    assert "3个月" in page or "90天" in page
    settle = page.split('name="from_cart"', 1)[1].split("</form>", 1)[0]
    assert "disabled" in settle
    english = html(client.get("/cart?lang=en"))
    assert "is no longer sold" in english


def test_a_course_with_no_current_period_leaves_the_cart(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    ok(add(client, headers, course), 201)
    retire(course.price_policies[0])
    assert ok(client.get("/api/v1/cart", headers=headers))["count"] == 0


def test_repairing_the_cart_keeps_a_change_made_in_another_tab_meanwhile(
    app, client, headers, student, monkeypatch
):
    """The cart is read, then (while its products are looked up) another tab puts the course
    back with a period that is sold: the repair that follows must not delete that line."""
    course = CourseFactory(status="offline", policies=[(30, "99.00")])
    store = cart.RedisCart(student.id)
    store.put(f"course:{course.id}", course.price_policies[0].id, new_allowed=True)
    fresh = CourseFactory(policies=[(30, "55.00")])
    real = cart.load_products

    def meanwhile(ids):
        found = real(ids)
        # The other tab: the same cart field now holds another (valid) policy id.
        cart.RedisCart(student.id).client.hset(store.key, f"course:{course.id}", 99999)
        cart.RedisCart(student.id).client.hset(
            store.key, f"course:{fresh.id}", fresh.price_policies[0].id
        )
        return found

    monkeypatch.setattr(cart, "load_products", meanwhile)
    cart.cart_contents(store, student.id)
    monkeypatch.setattr(cart, "load_products", real)
    lines = store.lines()
    assert lines[f"course:{course.id}"] == 99999  # changed since the read: left alone
    assert lines[f"course:{fresh.id}"] == fresh.price_policies[0].id


def test_an_unchanged_stale_line_is_still_repaired(client, headers, student):
    course = CourseFactory(policies=[(30, "99.00")])
    ok(add(client, headers, course), 201)
    course.status = "offline"
    db.session.commit()
    ok(client.get("/api/v1/cart", headers=headers))
    assert cart.RedisCart(student.id).lines() == {}


def test_remove_unchanged_retries_when_the_cart_changes_during_its_transaction(
    app, student, monkeypatch
):
    """A change between WATCH and EXEC makes Redis refuse the transaction; it is tried again
    with what the cart holds then."""
    store = cart.RedisCart(student.id)
    store.put("course:1", 5, new_allowed=True)
    store.put("course:2", 6, new_allowed=True)
    calls = []
    real_hmget = type(store.client.pipeline()).hmget

    def hmget(self, *args, **kwargs):
        answer = real_hmget(self, *args, **kwargs)
        if not calls:
            calls.append(1)
            store.client.hset(store.key, "course:1", 7)  # another tab, mid-transaction
        return answer

    monkeypatch.setattr(type(store.client.pipeline()), "hmget", hmget)
    assert store.remove_unchanged({"course:1": 5, "course:2": 6}) == 1
    assert store.lines() == {"course:1": 7}
