"""Payments end to end through the sandbox gateway, and the notify handler's answers: applied
once, replays harmless, anything unverified or inconsistent refused or flagged, never applied."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.blueprints.payments.sandbox import sandbox_notification
from app.extensions import db
from app.models import CouponRecord, Enrollment, Order, PaymentEvent
from app.models.types import utcnow
from app.services.payments.signing import sign_notification
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory


def place(client, headers, course, record=None, amount="99.00"):
    item = {
        "item_type": "course",
        "item_id": course.id,
        "price_policy_id": course.price_policies[0].id,
    }
    if record is not None:
        item["coupon_record_id"] = record.id
    response = client.post(
        "/api/v1/orders",
        json={"items": [item], "expected_amount": amount, "payment_method": "sandbox"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def stored(order_no: str) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.order_no == order_no))


def notification_for(order: dict, **changes) -> dict[str, str]:
    biz = {"out_trade_no": order["order_no"], "total_amount": order["amount"], "subject": "x"}
    notification = sandbox_notification(biz, changes.pop("trade_no", "T1"), utcnow())
    if changes:
        notification = sign_notification({**notification, **changes}, _gateway_key())
    return notification


def _gateway_key():
    from flask import current_app

    from app.services.payments.keys import sandbox_gateway_private_key

    return sandbox_gateway_private_key(current_app)


def notify(client, form) -> str:
    response = client.post("/payments/alipay/notify", data=form)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def events() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(PaymentEvent.outcome).order_by(PaymentEvent.id)))


def test_the_sandbox_flow_end_to_end(client, headers, student):
    course = CourseFactory(policies=[(30, "99.00")])
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    client.post(
        "/api/v1/cart",
        json={
            "item_type": "course",
            "item_id": course.id,
            "price_policy_id": course.price_policies[0].id,
        },
        headers=headers,
    )
    order = place(client, headers, course, record, amount="89.00")

    page = client.get(relative(order["pay_url"]))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert order["order_no"] in html
    assert "89.00" in html

    signed_request = urlsplit(order["pay_url"]).query
    paid = client.post("/payments/sandbox/gateway/pay", data={"signed_request": signed_request})
    assert paid.status_code == 302
    back = paid.headers["Location"]
    assert urlsplit(back).path == "/payments/alipay/return"
    assert dict(parse_qsl(urlsplit(back).query))["out_trade_no"] == order["order_no"]

    got = stored(order["order_no"])
    assert got.status == "paid"
    assert got.trade_no
    assert db.session.get(CouponRecord, record.id).status == "used"
    enrollment = db.session.scalar(select(Enrollment))
    assert (enrollment.user_id, enrollment.product_id) == (student.id, course.id)
    assert events() == ["applied"]
    assert client.get("/api/v1/cart", headers=headers).get_json()["data"]["count"] == 0

    shown = client.get(relative(back))
    assert shown.status_code == 200
    assert order["order_no"] in shown.get_data(as_text=True)
    api_view = client.get(f"/api/v1/orders/{order['order_no']}", headers=headers).get_json()
    assert api_view["data"]["status"] == "paid"
    assert api_view["data"]["pay_url"] is None


def test_a_replayed_notification_changes_nothing(client, headers):
    order = place(client, headers, CourseFactory())
    form = notification_for(order)
    assert notify(client, form) == "success"
    paid_at = stored(order["order_no"]).paid_at
    assert notify(client, form) == "success"
    got = stored(order["order_no"])
    assert (got.status, got.paid_at, got.needs_refund) == ("paid", paid_at, False)
    assert db.session.scalar(select(func.count(Enrollment.id))) == 1
    assert events() == ["applied", "duplicate"]


@pytest.mark.parametrize(
    ("tamper", "outcome"),
    [
        (lambda form: {**form, "total_amount": "0.01"}, "bad_signature"),
        (lambda form: {k: v for k, v in form.items() if k != "sign"}, "bad_signature"),
        (lambda form: {**form, "sign": "bm90IGEgc2lnbmF0dXJl"}, "bad_signature"),
        (lambda form: {**form, "sign": "%%%"}, "bad_signature"),
        (lambda form: {**form, "sign_type": "RSA"}, "bad_signature"),
        (lambda form: {**form, "app_id": "someone-else"}, "unknown_app_id"),
    ],
)
def test_tampered_or_unsigned_notifications_change_nothing(client, headers, tamper, outcome):
    order = place(client, headers, CourseFactory())
    assert notify(client, tamper(notification_for(order))) == "failure"
    assert stored(order["order_no"]).status == "pending"
    assert events() == [outcome]


def test_a_notification_signed_with_another_key_changes_nothing(client, headers):
    order = place(client, headers, CourseFactory())
    form = notification_for(order)
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert notify(client, sign_notification(form, wrong)) == "failure"
    assert stored(order["order_no"]).status == "pending"


def test_a_repeated_parameter_is_refused(client, headers):
    order = place(client, headers, CourseFactory())
    form = MultiDict(notification_for(order))
    form.add("trade_status", "TRADE_CLOSED")
    assert notify(client, form) == "failure"
    assert events() == ["repeated_parameter"]


def test_wrong_amount_or_seller_or_unknown_order(client, headers):
    order = place(client, headers, CourseFactory())
    assert notify(client, notification_for(order, total_amount="98.99")) == "failure"
    got = stored(order["order_no"])
    assert (got.status, got.needs_refund) == ("pending", True)  # recorded and flagged for staff
    assert notify(client, notification_for(order, total_amount="99.000")) == "failure"
    assert notify(client, notification_for(order, seller_id="2088999")) == "failure"
    assert notify(client, notification_for(order, out_trade_no="20260101000000000000")) == (
        "failure"
    )
    assert stored(order["order_no"]).status == "pending"
    assert events() == ["amount_mismatch", "amount_mismatch", "wrong_seller", "unknown_order"]


def test_an_amount_written_differently_but_equal_is_accepted(client, headers):
    order = place(client, headers, CourseFactory(policies=[(30, "99.00")]))
    assert notify(client, notification_for(order, total_amount="99.0")) == "success"
    assert stored(order["order_no"]).status == "paid"


def test_other_statuses_are_recorded_only(client, headers):
    order = place(client, headers, CourseFactory())
    assert notify(client, notification_for(order, trade_status="WAIT_BUYER_PAY")) == "success"
    assert stored(order["order_no"]).status == "pending"
    assert events() == ["recorded"]


def test_a_payment_for_a_closed_order_is_flagged_never_applied(client, headers, student):
    course = CourseFactory()
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    order = place(client, headers, course, record, amount="89.00")
    client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers)
    assert notify(client, notification_for(order)) == "success"
    got = stored(order["order_no"])
    assert (got.status, got.needs_refund) == ("cancelled", True)
    assert db.session.get(CouponRecord, record.id).status == "unused"
    assert db.session.scalar(select(func.count(Enrollment.id))) == 0
    assert events() == ["needs_refund"]


def test_a_second_trade_for_a_paid_order_is_flagged(client, headers):
    order = place(client, headers, CourseFactory())
    assert notify(client, notification_for(order, trade_no="T1")) == "success"
    assert notify(client, notification_for(order, trade_no="T2")) == "success"
    got = stored(order["order_no"])
    assert (got.status, got.trade_no, got.needs_refund) == ("paid", "T1", True)
    assert events() == ["applied", "needs_refund"]


def test_a_tampered_pay_request_is_refused_by_the_sandbox(client, headers):
    order = place(client, headers, CourseFactory())
    query = urlsplit(order["pay_url"]).query.replace("99.00", "0.01")
    assert client.get(f"/payments/sandbox/gateway?{query}").status_code == 400
    assert (
        client.post("/payments/sandbox/gateway/pay", data={"signed_request": query}).status_code
        == 400
    )
    assert client.get("/payments/sandbox/gateway").status_code == 400
    assert stored(order["order_no"]).status == "pending"


def test_a_pay_request_with_a_repeated_parameter_is_refused_by_the_sandbox(client, headers):
    order = place(client, headers, CourseFactory())
    query = urlsplit(order["pay_url"]).query
    assert client.get(f"/payments/sandbox/gateway?{query}").status_code == 200
    # The same value again: the signature still checks out for either copy, yet which copy
    # was signed and which is read must never be a question.
    repeated = f"{query}&charset=utf-8"
    assert client.get(f"/payments/sandbox/gateway?{repeated}").status_code == 400
    paying = client.post("/payments/sandbox/gateway/pay", data={"signed_request": repeated})
    assert paying.status_code == 400
    assert stored(order["order_no"]).status == "pending"


def test_the_sandbox_is_absent_when_turned_off(make_app):
    app = make_app(PAYMENT_SANDBOX=False)
    assert app.test_client().get("/payments/sandbox/gateway").status_code == 404


def test_a_failed_delivery_is_retried_by_a_job(app, client, headers, monkeypatch):
    from app.blueprints.payments import sandbox
    from app.services.payments import notifications

    order = place(client, headers, CourseFactory())
    real = notifications.apply_notification
    calls = []

    def flaky(app_, form, now):
        calls.append(1)
        if len(calls) == 1:
            from app.services.errors import Conflict

            raise Conflict("busy")
        return real(app_, form, now)

    monkeypatch.setattr("app.blueprints.payments.routes.apply_notification", flaky)
    monkeypatch.setattr(notifications, "apply_notification", flaky)  # what the job calls
    signed_request = urlsplit(order["pay_url"]).query
    client.post("/payments/sandbox/gateway/pay", data={"signed_request": signed_request})
    assert len(calls) == 2  # the job (inline in tests) delivered it again
    assert stored(order["order_no"]).status == "paid"
    assert sandbox  # the module under test


def test_the_return_page_never_changes_an_order(client, headers):
    order = place(client, headers, CourseFactory())
    form = notification_for(order)
    response = client.get("/payments/alipay/return", query_string=form)
    assert response.status_code == 200
    assert stored(order["order_no"]).status == "pending"
    forged = client.get("/payments/alipay/return", query_string={**form, "sign": "x"})
    assert forged.status_code == 200
    assert f"<strong>{order['order_no']}</strong>" not in forged.get_data(as_text=True)


def test_money_in_events_is_kept_as_sent(client, headers):
    order = place(client, headers, CourseFactory())
    notify(client, notification_for(order))
    db.session.expire_all()
    event = db.session.scalar(select(PaymentEvent))
    assert event.total_amount == "99.00"
    assert event.verified is True
    assert Decimal(event.total_amount) == stored(order["order_no"]).actual_amount
    assert event.received_at > utcnow() - timedelta(minutes=1)
