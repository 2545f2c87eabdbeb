"""Placing and managing orders through the API: everything re-checked, priced by the money
rules, coupons reserved and released, idempotent, and every refusal with its slug."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CouponRecord, Enrollment, Order, OrderLine
from app.models.types import utcnow
from app.services.orders import expire_overdue_orders
from tests.api import ok, refused
from tests.factories import (
    CouponFactory,
    CouponRecordFactory,
    CourseFactory,
    DegreeCourseFactory,
    EnrollmentFactory,
    UserFactory,
)


def line(product, index=0, record=None, item_type="course"):
    entry = {
        "item_type": item_type,
        "item_id": product.id,
        "price_policy_id": product.price_policies[index].id,
    }
    if record is not None:
        entry["coupon_record_id"] = record.id
    return entry


def order_body(lines, amount, global_record=None, method="sandbox"):
    body = {"items": lines, "expected_amount": amount, "payment_method": method}
    if global_record is not None:
        body["global_coupon_record_id"] = global_record.id
    return body


def place(client, headers, body, key=None):
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return client.post("/api/v1/orders", json=body, headers=headers)


def orders_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Order.id)))


def test_a_simple_order(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    order = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    assert order["status"] == "pending"
    assert order["amount"] == order["original_amount"] == "99.00"
    assert order["discount"] == "0.00"
    assert len(order["order_no"]) == 20
    assert order["order_no"][:8].isdigit()
    assert order["pay_url"]
    assert order["lines"] == [
        {
            "item_type": "course",
            "item_id": course.id,
            "name": course.name,
            "price_policy_id": course.price_policies[0].id,
            "valid_period": 30,
            "price": "99.00",
            "paid": "99.00",
        }
    ]
    got = ok(client.get(f"/api/v1/orders/{order['order_no']}", headers=headers))
    assert got.pop("pay_url").startswith("http")  # signed afresh each time it is shown
    order.pop("pay_url")
    assert got == order


def test_coupons_are_applied_reserved_and_snapshotted(client, headers, student):
    a = CourseFactory(policies=[(30, "199.00")])
    b = CourseFactory(policies=[(30, "99.00")])
    course_coupon = CouponRecordFactory(
        user=student, coupon=CouponFactory(product=a, kind="money_off", value=Decimal("20.00"))
    )
    site = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(
            kind="threshold", value=Decimal("30.00"), minimum_consume=Decimal("200.00")
        ),
    )
    body = order_body([line(a, record=course_coupon), line(b)], "248.00", global_record=site)
    order = ok(place(client, headers, body), 201)
    assert (order["original_amount"], order["discount"], order["amount"]) == (
        "298.00",
        "50.00",
        "248.00",
    )
    assert sum(Decimal(x["paid"]) for x in order["lines"]) == Decimal("248.00")
    db.session.expire_all()
    assert {r.status for r in db.session.scalars(select(CouponRecord))} == {"reserved"}
    first_line = db.session.scalars(select(OrderLine).order_by(OrderLine.id)).first()
    assert first_line.coupon_record_id == course_coupon.id
    assert first_line.coupon_discount == Decimal("20.00")


def test_amount_mismatch_answers_the_servers_amount(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    body = refused(
        place(client, headers, order_body([line(course)], "89.00")), 409, "amount_mismatch"
    )
    assert body["data"]["amount"] == "99.00"
    assert orders_count() == 0


def test_a_price_edited_since_the_quote_is_a_mismatch(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    course.price_policies[0].price = Decimal("109.00")
    db.session.commit()
    refused(place(client, headers, order_body([line(course)], "99.00")), 409, "amount_mismatch")


def test_refusals_leave_nothing_written(client, headers, student, token_for):
    course = CourseFactory(policies=[(30, "199.00"), (60, "299.00")])
    other = CourseFactory()
    theirs = CouponRecordFactory(coupon=CouponFactory(product=course))
    mine_for_other = CouponRecordFactory(user=student, coupon=CouponFactory(product=other))
    site = CouponRecordFactory(user=student, coupon=CouponFactory())
    below = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(
            kind="threshold", value=Decimal("10.00"), minimum_consume=Decimal("500.00")
        ),
    )
    used = CouponRecordFactory(user=student, coupon=CouponFactory(product=course), status="used")
    expired = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(product=course),
        valid_until=utcnow() - timedelta(minutes=1),
    )
    cases = [
        (order_body([line(course, record=theirs)], "189.00"), 404, "not_found"),
        (order_body([line(course, record=mine_for_other)], "189.00"), 409, "coupon_unavailable"),
        (order_body([line(course, record=site)], "189.00"), 409, "coupon_unavailable"),
        (
            order_body([line(course)], "199.00", global_record=mine_for_other),
            409,
            "coupon_unavailable",
        ),
        (order_body([line(course)], "189.00", global_record=below), 409, "coupon_unavailable"),
        (order_body([line(course, record=used)], "189.00"), 409, "coupon_unavailable"),
        (order_body([line(course, record=expired)], "189.00"), 409, "coupon_unavailable"),
        (
            order_body([line(course, record=site)], "179.00", global_record=site),
            400,
            "invalid_input",
        ),
        (order_body([line(course), line(course, 1)], "498.00"), 400, "invalid_input"),
        (
            order_body([{**line(course), "price_policy_id": other.price_policies[0].id}], "99.00"),
            400,
            "invalid_price_policy",
        ),
        (order_body([line(course)], "199.00", method="alipay"), 400, "payment_method_unavailable"),
    ]
    for body, status, slug in cases:
        refused(place(client, headers, body), status, slug)
    assert orders_count() == 0
    db.session.expire_all()
    assert db.session.get(CouponRecord, site.id).status == "unused"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": [], "expected_amount": "1.00", "payment_method": "sandbox"},
        {"items": "x", "expected_amount": "1.00", "payment_method": "sandbox"},
        {
            "items": [{"item_type": "course"}],
            "expected_amount": "1.00",
            "payment_method": "sandbox",
        },
        {
            "items": [{"item_type": "course", "item_id": 1, "price_policy_id": 1}],
            "expected_amount": 1.0,
            "payment_method": "sandbox",
        },
        {
            "items": [{"item_type": "course", "item_id": 1, "price_policy_id": 1}],
            "expected_amount": "-1.00",
            "payment_method": "sandbox",
        },
        {
            "items": [{"item_type": "course", "item_id": 1, "price_policy_id": 1}],
            "expected_amount": "1e3",
            "payment_method": "sandbox",
        },
        {
            "items": [{"item_type": "course", "item_id": 1, "price_policy_id": 1}],
            "expected_amount": "1.00",
            "payment_method": "cash",
        },
        {
            "items": [
                {"item_type": "course", "item_id": 1, "price_policy_id": 1, "coupon_record_id": "x"}
            ],
            "expected_amount": "1.00",
            "payment_method": "sandbox",
        },
    ],
)
def test_malformed_orders_are_400(client, headers, body):
    body = refused(place(client, headers, body), 400, "invalid_input")
    assert body["data"]["fields"]


def test_an_idempotency_key_answers_the_first_order(client, headers):
    course = CourseFactory(policies=[(30, "99.00")])
    body = order_body([line(course)], "99.00")
    first = ok(place(client, headers, body, key="k-1"), 201)
    again = ok(place(client, headers, body, key="k-1"), 200)
    assert again["order_no"] == first["order_no"]
    assert orders_count() == 1
    refused(
        place(client, headers, body, key="x" * 65),
        400,
        "invalid_input",
    )


def test_the_same_key_from_another_user_is_another_order(client, headers, token_for):
    course = CourseFactory(policies=[(30, "99.00")])
    body = order_body([line(course)], "99.00")
    ok(place(client, headers, body, key="same"), 201)
    other = token_for(UserFactory())
    ok(place(client, other, body, key="same"), 201)
    assert orders_count() == 2


def test_an_order_of_amount_zero_is_paid_at_once(client, headers, student):
    course = CourseFactory(policies=[(30, "20.00")])
    record = CouponRecordFactory(
        user=student, coupon=CouponFactory(product=course, value=Decimal("50.00"))
    )
    order = ok(place(client, headers, order_body([line(course, record=record)], "0.00")), 201)
    assert order["status"] == "paid"
    assert order["pay_url"] is None
    db.session.expire_all()
    assert db.session.get(CouponRecord, record.id).status == "used"
    courses = ok(client.get("/api/v1/my/courses", headers=headers))
    assert [(c["item_id"], c["active"]) for c in courses] == [(course.id, True)]


def test_owned_for_ever_is_refused_owned_for_a_time_is_allowed(client, headers, student):
    forever = CourseFactory(policies=[(0, "999.00")])
    timed = CourseFactory(policies=[(30, "99.00")])
    EnrollmentFactory(user=student, product=forever, valid_until=None)
    EnrollmentFactory(user=student, product=timed)
    refused(place(client, headers, order_body([line(forever)], "999.00")), 409, "already_enrolled")
    ok(place(client, headers, order_body([line(timed)], "99.00")), 201)


def test_cancel_releases_the_coupons(client, headers, student):
    course = CourseFactory(policies=[(30, "99.00")])
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    order = ok(place(client, headers, order_body([line(course, record=record)], "89.00")), 201)
    cancelled = ok(client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers))
    assert cancelled["status"] == "cancelled"
    assert cancelled["pay_url"] is None
    db.session.expire_all()
    assert db.session.get(CouponRecord, record.id).status == "unused"
    assert db.session.get(CouponRecord, record.id).order_id is None
    refused(
        client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers),
        409,
        "order_not_pending",
    )
    # The released coupon can be used again.
    ok(place(client, headers, order_body([line(course, record=record)], "89.00")), 201)


def test_another_users_order_is_404(client, headers, token_for):
    course = CourseFactory()
    order = ok(place(client, headers, order_body([line(course)], "99.00")), 201)
    other = token_for(UserFactory())
    refused(client.get(f"/api/v1/orders/{order['order_no']}", headers=other), 404, "not_found")
    refused(
        client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=other), 404, "not_found"
    )
    refused(client.get("/api/v1/orders/nonsense", headers=headers), 404, "not_found")
    assert ok(client.get("/api/v1/orders", headers=other))["total"] == 0


def test_orders_list_newest_first_and_paginated(client, headers):
    courses = CourseFactory.create_batch(3)
    made = [ok(place(client, headers, order_body([line(c)], "99.00")), 201) for c in courses]
    page = ok(client.get("/api/v1/orders?per_page=2", headers=headers))
    assert page["total"] == 3
    assert [o["order_no"] for o in page["items"]] == [made[2]["order_no"], made[1]["order_no"]]
    refused(client.get("/api/v1/orders?per_page=0", headers=headers), 400, "invalid_input")


def test_a_pending_order_past_its_time_expires_when_read(app, client, headers, student):
    course = CourseFactory()
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    order = ok(place(client, headers, order_body([line(course, record=record)], "89.00")), 201)
    stored = db.session.scalar(select(Order).where(Order.order_no == order["order_no"]))
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    got = ok(client.get(f"/api/v1/orders/{order['order_no']}", headers=headers))
    assert got["status"] == "expired"
    assert got["pay_url"] is None
    db.session.expire_all()
    assert db.session.get(CouponRecord, record.id).status == "unused"


def test_the_expiry_job_closes_overdue_orders_only(app, client, headers, student):
    course, other = CourseFactory(), CourseFactory()
    record = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    old = ok(place(client, headers, order_body([line(course, record=record)], "89.00")), 201)
    fresh = ok(place(client, headers, order_body([line(other)], "99.00")), 201)
    later = utcnow() + timedelta(minutes=app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"], seconds=1)
    db.session.execute(
        Order.__table__.update()
        .where(Order.order_no == fresh["order_no"])
        .values(expires_at=later + timedelta(hours=1))
    )
    db.session.commit()
    assert expire_overdue_orders(later) == 1
    db.session.commit()
    assert expire_overdue_orders(later) == 0  # a second run (or worker) changes nothing
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Order.order_no, Order.status)).all())
    assert statuses == {old["order_no"]: "expired", fresh["order_no"]: "pending"}
    assert db.session.get(CouponRecord, record.id).status == "unused"


def test_a_refund_needs_a_paid_order_inside_the_window(client, headers, student):
    course = CourseFactory(policies=[(30, "10.00")])
    record = CouponRecordFactory(
        user=student, coupon=CouponFactory(product=course, value=Decimal("10.00"))
    )
    pending = ok(place(client, headers, order_body([line(CourseFactory())], "99.00")), 201)
    refused(
        client.post(
            f"/api/v1/orders/{pending['order_no']}/refund",
            json={"reason": "changed my mind"},
            headers=headers,
        ),
        409,
        "refund_not_allowed",
    )
    paid = ok(place(client, headers, order_body([line(course, record=record)], "0.00")), 201)
    refused(
        client.post(f"/api/v1/orders/{paid['order_no']}/refund", json={}, headers=headers),
        400,
        "invalid_input",
    )
    got = ok(
        client.post(
            f"/api/v1/orders/{paid['order_no']}/refund",
            json={"reason": "changed my mind"},
            headers=headers,
        )
    )
    assert got["status"] == "refund_requested"
    assert got["refund_reason"] == "changed my mind"


def test_a_degree_course_enrolls_its_courses(client, headers, student):
    inner = CourseFactory()
    degree = DegreeCourseFactory(policies=[(180, "0.00")])
    degree.courses.append(inner)
    db.session.commit()
    ok(place(client, headers, order_body([line(degree, item_type="degree_course")], "0.00")), 201)
    db.session.expire_all()
    ends = dict(db.session.execute(select(Enrollment.product_id, Enrollment.valid_until)).all())
    assert set(ends) == {degree.id, inner.id}
    assert ends[inner.id] == ends[degree.id]
