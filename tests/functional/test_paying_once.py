"""A student is never charged twice for the same access: one pending order per item, a payment
for something owned for ever is flagged for a refund, the sandbox takes one payment per order
and none for a closed or overdue order, and a trade of another order is recorded, not a 500."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import func, select

from app.extensions import db
from app.models import CouponRecord, Enrollment, Order, OrderLine, PaymentEvent, SandboxTrade
from app.models.types import utcnow
from tests.api import ok, refused
from tests.factories import (
    CouponFactory,
    CouponRecordFactory,
    CourseFactory,
    DegreeCourseFactory,
    EnrollmentFactory,
)
from tests.functional.test_orders import line, order_body, place
from tests.functional.test_payments import events, notification_for, notify, relative, stored


def test_an_item_in_another_pending_order_is_409_order_pending(client, headers):
    course = CourseFactory(policies=[(0, "299.00"), (30, "99.00")])
    first = ok(place(client, headers, order_body([line(course)], "299.00")), 201)
    body = refused(
        place(client, headers, order_body([line(course, 1)], "99.00")), 409, "order_pending"
    )
    assert body["data"]["order_no"] == first["order_no"]
    other = CourseFactory()  # the same item among others is refused too, nothing written
    refused(
        place(client, headers, order_body([line(other), line(course)], "398.00")),
        409,
        "order_pending",
    )
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_a_closed_or_overdue_pending_order_no_longer_holds_its_items(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    first = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    ok(client.post(f"/api/v1/orders/{first['order_no']}/cancel", headers=headers))
    second = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    stored(second["order_no"]).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    third = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    assert stored(second["order_no"]).status == "expired"
    assert stored(third["order_no"]).status == "pending"
    # Only the pending order's lines hold the item.
    held = db.session.scalars(select(OrderLine.pending_user_id).order_by(OrderLine.id)).all()
    assert held[:2] == [None, None]
    assert held[2] is not None


def test_another_student_may_order_the_same_item(client, headers, token_for):
    from tests.factories import UserFactory

    course = CourseFactory(policies=[(0, "299.00")])
    ok(place(client, headers, order_body([line(course)], "299.00")), 201)
    ok(place(client, token_for(UserFactory()), order_body([line(course)], "299.00")), 201)


def test_paying_frees_the_item_for_a_later_order(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    first = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    assert notify(client, notification_for(first)) == "success"
    ok(place(client, headers, order_body([line(course)], "99.00")), 201)  # renewing


def test_a_payment_for_a_course_owned_for_ever_since_is_flagged_for_refund(
    client, headers, student
):
    """Bought for ever through a degree course while an order for the course alone waited: its
    payment arriving later is recorded and flagged, never applied (the order closes, its
    coupon is free again)."""
    course = CourseFactory(policies=[(0, "299.00")])
    degree = DegreeCourseFactory(courses=[course], policies=[(0, "999.00")])
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    alone = ok(place(client, headers, order_body([line(course, record=record)], "289.00")), 201)
    bundle = ok(
        place(client, headers, order_body([line(degree, item_type="degree_course")], "999.00")),
        201,
    )
    assert notify(client, notification_for(bundle, trade_no="T-DEGREE")) == "success"
    assert notify(client, notification_for(alone, trade_no="T-ALONE")) == "success"

    got = stored(alone["order_no"])
    assert (got.status, got.needs_refund, got.trade_no) == ("cancelled", True, None)
    assert db.session.get(CouponRecord, record.id).status == "unused"
    assert events() == ["applied", "needs_refund"]
    event = db.session.scalars(select(PaymentEvent).order_by(PaymentEvent.id.desc())).first()
    assert "already owned for ever" in event.note
    assert stored(bundle["order_no"]).status == "paid"


def test_a_payment_for_a_course_granted_for_ever_meanwhile_is_flagged(client, headers, student):
    course = CourseFactory(policies=[(30, "99.00")])
    order = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    EnrollmentFactory(user=student, product=course, valid_until=None)  # staff granted it
    assert notify(client, notification_for(order)) == "success"
    got = stored(order["order_no"])
    assert (got.status, got.needs_refund) == ("cancelled", True)
    assert events() == ["needs_refund"]


def test_a_trade_that_paid_another_order_is_recorded_and_flagged(client, headers):
    first = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    second = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    assert notify(client, notification_for(first, trade_no="T-SAME")) == "success"
    assert notify(client, notification_for(second, trade_no="T-SAME")) == "success"
    got = stored(second["order_no"])
    assert (got.status, got.needs_refund, got.trade_no) == ("pending", True, None)
    assert stored(first["order_no"]).trade_no == "T-SAME"
    assert events() == ["applied", "trade_of_other_order"]


# --- the sandbox gateway ----------------------------------------------------------------------


def sandbox_pay(client, order):
    return client.post(
        "/payments/sandbox/gateway/pay", data={"signed_request": urlsplit(order["pay_url"]).query}
    )


def trades() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(SandboxTrade.id)))


def test_pay_pressed_twice_makes_one_trade(client, headers):
    order = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    assert sandbox_pay(client, order).status_code == 302
    again = sandbox_pay(client, order)  # Back, then Pay again
    assert again.status_code == 409
    assert "already" in again.get_data(as_text=True) or "已" in again.get_data(as_text=True)
    assert trades() == 1
    assert events() == ["applied"]
    got = stored(order["order_no"])
    assert (got.status, got.needs_refund) == ("paid", False)


def test_the_sandbox_takes_no_money_for_a_cancelled_order(client, headers):
    order = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    ok(client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers))
    page = client.get(relative(order["pay_url"]))
    assert page.status_code == 200
    assert "gateway/pay" not in page.get_data(as_text=True)  # no Pay button
    assert sandbox_pay(client, order).status_code == 409
    assert trades() == 0
    assert events() == []
    assert stored(order["order_no"]).needs_refund is False


def test_the_sandbox_takes_no_money_past_time_expire(client, headers):
    order = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    stored(order["order_no"]).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sandbox_pay(client, order).status_code == 409
    assert trades() == 0
    assert events() == []


def test_the_sandbox_refuses_past_the_requests_own_time_expire(app, client, headers):
    """The signed request's time_expire counts even when the order row says otherwise."""
    order = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    stored(order["order_no"]).expires_at = utcnow() + timedelta(days=1)
    db.session.commit()
    params = dict(parse_qsl(urlsplit(order["pay_url"]).query))
    assert "time_expire" in params["biz_content"]
    from app.services.payments import sandbox as books

    assert books.payment_refusal(stored(order["order_no"]), "2020-01-01 00:00:00", utcnow())


# --- where the gateway sends the buyer back ---------------------------------------------------


def test_the_pay_url_follows_the_address_the_request_came_in_on(client, headers):
    course = CourseFactory()
    response = place(
        client,
        headers,
        order_body([line(course)], "99.00"),
    )
    assert ok(response, 201)["pay_url"].startswith("http://localhost/payments/sandbox/gateway?")
    other = CourseFactory()
    response = client.post(
        "/api/v1/orders",
        json=order_body([line(other)], "99.00"),
        headers=headers,
        base_url="http://127.0.0.1:5055",
    )
    order = ok(response, 201)
    assert order["pay_url"].startswith("http://127.0.0.1:5055/payments/sandbox/gateway?")
    params = dict(parse_qsl(urlsplit(order["pay_url"]).query))
    assert params["return_url"] == "http://127.0.0.1:5055/payments/alipay/return"
    assert params["notify_url"] == "http://127.0.0.1:5055/payments/alipay/notify"


def test_a_configured_public_base_url_wins(app, client, headers):
    app.config["PUBLIC_BASE_URL"] = "https://shop.example.com"
    response = client.post(
        "/api/v1/orders",
        json=order_body([line(CourseFactory())], "99.00"),
        headers=headers,
        base_url="http://10.0.0.5:8000",
    )
    assert ok(response, 201)["pay_url"].startswith("https://shop.example.com/payments/")


def test_the_settlement_page_sends_the_buyer_to_the_gateway_on_its_own_port(app, client, student):
    from tests.pages import sign_in

    course = CourseFactory(policies=[(30, "99.00")])
    sign_in(client, student)
    base = "http://localhost:5055"  # the session cookie is for localhost, any port
    form = {
        "item_type": "course",
        "item_id": course.id,
        "price_policy_id": course.price_policies[0].id,
    }
    client.post("/settlement", data=form, base_url=base)
    paid = client.post(
        "/orders",
        data={"expected_amount": "99.00", "payment_method": "sandbox"},
        base_url=base,
    )
    assert paid.status_code == 302
    assert paid.headers["Location"].startswith(f"{base}/payments/sandbox/gateway?")
    assert db.session.scalar(select(func.count(Enrollment.id))) == 0


def test_the_student_is_told_a_stray_payment_will_be_refunded(client, headers, student):
    from tests.pages import html, sign_in

    course = CourseFactory(policies=[(30, "99.00")])
    order = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    EnrollmentFactory(user=student, product=course, valid_until=None)
    form = notification_for(order)
    assert notify(client, form) == "success"
    sign_in(client, student)
    page = html(client.get(f"/orders/{order['order_no']}"))
    assert "不会被重复扣款" in page
    shown = html(client.get("/payments/alipay/return", query_string=form))
    assert "退还给你" in shown
