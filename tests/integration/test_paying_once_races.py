"""Paying once under concurrency on the real MariaDB: two orders for one for-ever course placed
at the same moment make one order; two payments for the same access at once apply one and
flag the other; Pay pressed in two tabs at once makes one sandbox trade."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.blueprints.payments.sandbox import sandbox_notification
from app.extensions import db
from app.models import Enrollment, Order, PaymentEvent, SandboxTrade
from app.models.types import utcnow
from tests.factories import CourseFactory, UserFactory
from tests.races import run_together
from tests.shop_data import make_order

pytestmark = pytest.mark.usefixtures("mariadb")


def forever_body(course) -> dict:
    return {
        "items": [
            {
                "item_type": "course",
                "item_id": course.id,
                "price_policy_id": course.price_policies[0].id,
            }
        ],
        "expected_amount": "299.00",
        "payment_method": "sandbox",
    }


def test_two_orders_for_one_for_ever_policy_at_once_make_one_order(app, token_for):
    student = UserFactory()
    course = CourseFactory(policies=[(0, "299.00")])
    headers = token_for(student)
    body = forever_body(course)

    def order(_):
        response = app.test_client().post("/api/v1/orders", json=body, headers=headers)
        answer = response.get_json()
        return response.status_code, answer.get("error"), (answer.get("data") or {}).get("order_no")

    results = run_together(6, order)
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] + [409] * 5, results
    winner = next(number for status, _, number in results if status == 201)
    for status, slug, number in results:
        if status == 409:
            assert slug == "order_pending", results
            assert number == winner, results  # the pages offer to pay that one or cancel it
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_two_payments_for_the_same_for_ever_access_at_once_apply_one(app):
    """Two pending orders for one for-ever course (made before the one-pending-order rule, or
    through a degree course), paid at the same moment by two trades: one is applied, the other
    recorded and flagged for a refund."""
    student = UserFactory()
    course = CourseFactory(policies=[(0, "299.00")])
    first = make_order(student, lines=[(course, "299.00", "0", "0")], status="pending")
    second = make_order(student, lines=[(course, "299.00", "0", "0")], status="pending")
    forms = [
        sandbox_notification(
            {"out_trade_no": order.order_no, "total_amount": "299.00", "subject": "x"},
            f"TRADE-{i}",
            utcnow(),
        )
        for i, order in enumerate((first, second))
    ]

    def deliver(i):
        client = app.test_client()
        return client.post("/payments/alipay/notify", data=forms[i]).get_data(as_text=True)

    assert run_together(2, deliver) == ["success", "success"]
    db.session.expire_all()
    orders = {o.order_no: o for o in db.session.scalars(select(Order))}
    states = sorted((o.status, o.needs_refund) for o in orders.values())
    assert states == [("cancelled", True), ("paid", False)]
    outcomes = sorted(db.session.scalars(select(PaymentEvent.outcome)))
    assert outcomes == ["applied", "needs_refund"]
    enrollment = db.session.scalar(select(Enrollment))
    assert enrollment.valid_until is None
    assert db.session.scalar(select(func.count(Enrollment.id))) == 1


def test_pay_pressed_in_two_tabs_at_once_makes_one_trade(app, token_for):
    student = UserFactory()
    course = CourseFactory(policies=[(30, "99.00")])
    body = forever_body(course) | {"expected_amount": "99.00"}
    placed = (
        app.test_client().post("/api/v1/orders", json=body, headers=token_for(student)).get_json()
    )
    signed_request = urlsplit(placed["data"]["pay_url"]).query

    def pay(_):
        client = app.test_client()
        response = client.post(
            "/payments/sandbox/gateway/pay", data={"signed_request": signed_request}
        )
        return response.status_code

    results = run_together(4, pay)
    assert sorted(results) == [302, 409, 409, 409], results
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SandboxTrade.id))) == 1
    assert list(db.session.scalars(select(PaymentEvent.outcome))) == ["applied"]
    order = db.session.scalar(select(Order))
    assert (order.status, order.needs_refund) == ("paid", False)
