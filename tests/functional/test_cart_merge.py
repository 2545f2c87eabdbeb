"""A visitor's cart (in the session) joins the student's cart (in Redis) at login."""

from __future__ import annotations

from decimal import Decimal

from app.services.cart import RedisCart, SessionCart, cart_contents, merge_visitor_cart
from app.services.offers import MAX_LINES
from tests.factories import CourseFactory, UserFactory


def test_the_visitors_lines_join_and_win(app):
    user = UserFactory()
    a = CourseFactory(policies=[(30, "10.00"), (60, "20.00")])
    b = CourseFactory()
    student = RedisCart(user.id)
    student.put(f"course:{a.id}", a.price_policies[0].id, new_allowed=True)
    session: dict = {}
    visitor = SessionCart(session)
    visitor.put(f"course:{a.id}", a.price_policies[1].id, new_allowed=True)
    visitor.put(f"course:{b.id}", b.price_policies[0].id, new_allowed=True)

    assert merge_visitor_cart(visitor, student) == 2
    got = cart_contents(student, user.id)
    assert {(line.offer.product.id, line.offer.policy.price) for line in got.lines} == {
        (a.id, Decimal("20.00")),
        (b.id, Decimal("99.00")),
    }
    assert visitor.lines() == {}


def test_a_merge_stops_at_50_lines(app):
    user = UserFactory()
    student = RedisCart(user.id)
    for n in range(MAX_LINES):
        student.put(f"course:{n + 1}", 1, new_allowed=True)
    visitor = SessionCart({})
    visitor.put("course:999", 1, new_allowed=True)
    assert merge_visitor_cart(visitor, student) == 0
    assert len(student.lines()) == MAX_LINES


def test_a_garbled_session_cart_is_empty(app):
    assert SessionCart({"cart": "nonsense"}).lines() == {}
    assert SessionCart({"cart": {"course:1": "x"}}).lines() == {}


def test_logging_in_on_the_page_merges_the_visitors_cart(app, client):
    user = UserFactory()
    course = CourseFactory()
    with client.session_transaction() as session:
        session["cart"] = {f"course:{course.id}": course.price_policies[0].id}
    response = client.post(
        "/login", data={"username": user.username, "password": UserFactory.password}
    )
    assert response.status_code == 302
    assert RedisCart(user.id).lines() == {f"course:{course.id}": course.price_policies[0].id}
