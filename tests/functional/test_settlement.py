"""Settlement: lines with their usable coupons, kept 30 minutes, and quotes priced exactly as
an order would be."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from app.models.types import utcnow
from tests.api import ok, refused
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory


def ref(product, index=0, **extra):
    return {
        "item_type": "course",
        "item_id": product.id,
        "price_policy_id": product.price_policies[index].id,
        **extra,
    }


def test_buy_now_lists_usable_coupons_and_is_kept(app, client, headers, student):
    course = CourseFactory(policies=[(30, "199.00")])
    other = CourseFactory()
    mine = CouponRecordFactory(user=student, coupon=CouponFactory(product=course))
    CouponRecordFactory(user=student, coupon=CouponFactory(product=other))  # another course
    CouponRecordFactory(  # below its threshold
        user=student,
        coupon=CouponFactory(product=course, kind="threshold", minimum_consume=Decimal("500")),
    )
    CouponRecordFactory(user=student, coupon=CouponFactory(product=course), status="used")
    CouponRecordFactory(
        user=student,
        coupon=CouponFactory(product=course),
        valid_until=utcnow() - timedelta(seconds=1),
    )
    site = CouponRecordFactory(user=student, coupon=CouponFactory())
    CouponRecordFactory(coupon=CouponFactory(product=course))  # someone else's

    got = ok(client.post("/api/v1/settlement", json={"items": [ref(course)]}, headers=headers))
    assert got["total_price"] == "199.00"
    (item,) = got["items"]
    assert [c["id"] for c in item["coupons"]] == [mine.id]
    assert [c["id"] for c in got["global_coupons"]] == [site.id]
    assert ok(client.get("/api/v1/settlement", headers=headers)) == got
    ttl = app.extensions["redis_store"].client.ttl(f"settlement:{student.id}")
    assert 29 * 60 < ttl <= 30 * 60


def test_from_the_cart(client, headers):
    a, b = CourseFactory(), CourseFactory()
    for course in (a, b):
        client.post("/api/v1/cart", json=ref(course), headers=headers)
    got = ok(client.post("/api/v1/settlement", json={"from_cart": True}, headers=headers))
    assert sorted(i["item_id"] for i in got["items"]) == sorted([a.id, b.id])


def test_bad_settlement_requests(client, headers):
    course = CourseFactory()
    refused(client.get("/api/v1/settlement", headers=headers), 404, "not_found")
    refused(client.post("/api/v1/settlement", json={}, headers=headers), 400, "invalid_input")
    both = {"items": [ref(course)], "from_cart": True}
    refused(client.post("/api/v1/settlement", json=both, headers=headers), 400, "invalid_input")
    refused(
        client.post("/api/v1/settlement", json={"from_cart": True}, headers=headers),
        400,
        "invalid_input",
    )  # an empty cart
    refused(
        client.post("/api/v1/settlement", json={"items": []}, headers=headers), 400, "invalid_input"
    )
    refused(client.post("/api/v1/settlement", json={"items": [ref(course)]}), 401, "unauthorized")


def test_a_quote_prices_like_an_order(client, headers, student):
    a = CourseFactory(policies=[(30, "199.00")])
    b = CourseFactory(policies=[(30, "99.00")])
    percent = CouponRecordFactory(
        user=student, coupon=CouponFactory(product=b, kind="percent", value=None, off_percent=80)
    )
    site = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(
            kind="threshold", value=Decimal("50.00"), minimum_consume=Decimal("250.00")
        ),
    )
    body = {
        "items": [ref(a), ref(b, coupon_record_id=percent.id)],
        "global_coupon_record_id": site.id,
    }
    got = ok(client.post("/api/v1/settlement/quote", json=body, headers=headers))
    assert got == {
        "items": [
            {
                "item_type": "course",
                "item_id": a.id,
                "price": "199.00",
                "coupon_record_id": None,
                "discount": "0.00",
                "subtotal": "199.00",
            },
            {
                "item_type": "course",
                "item_id": b.id,
                "price": "99.00",
                "coupon_record_id": percent.id,
                "discount": "19.80",
                "subtotal": "79.20",
            },
        ],
        "global_coupon_record_id": site.id,
        "global_discount": "50.00",
        "amount": "228.20",
    }
    order = ok(
        client.post(
            "/api/v1/orders",
            json={**body, "expected_amount": got["amount"], "payment_method": "sandbox"},
            headers=headers,
        ),
        201,
    )
    assert order["amount"] == "228.20"


def test_a_quote_refuses_what_an_order_refuses(client, headers, student):
    course = CourseFactory(policies=[(30, "99.00")])
    theirs = CouponRecordFactory(coupon=CouponFactory(product=course))
    refused(
        client.post(
            "/api/v1/settlement/quote",
            json={"items": [ref(course, coupon_record_id=theirs.id)]},
            headers=headers,
        ),
        404,
        "not_found",
    )
    site = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(kind="threshold", minimum_consume=Decimal("100.00")),
    )
    refused(
        client.post(
            "/api/v1/settlement/quote",
            json={"items": [ref(course)], "global_coupon_record_id": site.id},
            headers=headers,
        ),
        409,
        "coupon_unavailable",
    )
