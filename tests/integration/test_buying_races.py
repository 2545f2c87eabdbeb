"""Buying under concurrency on the real MariaDB: one coupon pays for one order only, and one
payment is applied once however many times it is delivered at the same moment."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.blueprints.payments.sandbox import sandbox_notification
from app.extensions import db
from app.models import CouponRecord, Enrollment, Order, PaymentEvent
from app.models.types import utcnow
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.races import run_together

# Threads (or a worker) with connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.usefixtures("mariadb")]


def test_twelve_orders_on_one_coupon_record_make_one_order(app, token_for):
    student = UserFactory()
    course = CourseFactory(policies=[(30, "99.00")])
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    headers = token_for(student)
    body = {
        "items": [
            {
                "item_type": "course",
                "item_id": course.id,
                "price_policy_id": course.price_policies[0].id,
                "coupon_record_id": record.id,
            }
        ],
        "expected_amount": "89.00",
        "payment_method": "sandbox",
    }

    def order(_):
        response = app.test_client().post("/api/v1/orders", json=body, headers=headers)
        return response.status_code, response.get_json().get("error")

    results = run_together(12, order)
    assert sorted(status for status, _ in results).count(201) == 1, results
    assert all(status == 409 for status, _ in results if status != 201), results
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) == 1
    assert db.session.get(CouponRecord, record.id).status == "reserved"


def test_eight_deliveries_of_one_notification_pay_once(app, token_for):
    student = UserFactory()
    course = CourseFactory(policies=[(30, "99.00")])
    headers = token_for(student)
    placed = (
        app.test_client()
        .post(
            "/api/v1/orders",
            json={
                "items": [
                    {
                        "item_type": "course",
                        "item_id": course.id,
                        "price_policy_id": course.price_policies[0].id,
                    }
                ],
                "expected_amount": "99.00",
                "payment_method": "sandbox",
            },
            headers=headers,
        )
        .get_json()["data"]
    )
    biz = {"out_trade_no": placed["order_no"], "total_amount": "99.00", "subject": "x"}
    form = sandbox_notification(biz, "TRADE-1", utcnow())

    def deliver(_):
        return app.test_client().post("/payments/alipay/notify", data=form).get_data(as_text=True)

    answers = run_together(8, deliver)
    assert answers == ["success"] * 8
    db.session.expire_all()
    order = db.session.scalar(select(Order))
    assert (order.status, order.trade_no, order.needs_refund) == ("paid", "TRADE-1", False)
    assert db.session.scalar(select(func.count(Enrollment.id))) == 1
    outcomes = sorted(db.session.scalars(select(PaymentEvent.outcome)))
    assert outcomes == ["applied"] + ["duplicate"] * 7
