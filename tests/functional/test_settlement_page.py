"""The settlement page: the best coupons chosen for the student (and said so), a summary that
adds up with each line's period, choices kept when Pay is refused, and an item waiting in
another order sending the student to that order."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.extensions import db
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.functional.test_shop_pages import add, follow, hidden, orders_of
from tests.pages import html, sign_in


@pytest.fixture
def student():
    return UserFactory()


@pytest.fixture
def shop(student):
    """Two courses; a 50-off coupon and a 10-off coupon for the first; a site-wide coupon of 60
    off from 180. The 50-off coupon leaves 150 + 40 = 190 ≥ 180, so the best is 50-off and
    the site-wide coupon: 240 - 50 - 60 = 130."""
    first = CourseFactory(name="Flask 实战", policies=[(0, "200.00")])
    second = CourseFactory(name="Go 入门", policies=[(30, "40.00")])
    big = CouponRecordFactory(
        user=student, coupon=CouponFactory(name="立减50", product=first, value=Decimal("50"))
    )
    small = CouponRecordFactory(
        user=student, coupon=CouponFactory(name="立减10", product=first, value=Decimal("10"))
    )
    site = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(
            name="满180减60",
            product=None,
            kind="threshold",
            value=Decimal("60"),
            minimum_consume=Decimal("180"),
        ),
    )
    return {"first": first, "second": second, "big": big, "small": small, "site": site}


def settle_cart(client, student, *courses):
    sign_in(client, student)
    for course in courses:
        add(client, course, course.price_policies[0].id)
    return follow(client, client.post("/settlement", data={"from_cart": "1"}))


def selected(page: str, field: str) -> str | None:
    select = re.search(rf'<select[^>]*name="{field}".*?</select>', page, re.S).group(0)
    match = re.search(r'<option value="(\d*)" selected>', select)
    return match.group(1) if match else None


def test_the_best_combination_is_chosen_and_named(client, student, shop):
    page = settle_cart(client, student, shop["first"], shop["second"])
    first = shop["first"]
    assert selected(page, f"coupon-course-{first.id}") == str(shop["big"].id)
    assert selected(page, "global_coupon") == str(shop["site"].id)
    assert hidden(page, "expected_amount") == "130.00"
    assert "为你选好" in page or "最低" in page
    assert "立减50" in page.split("settlement-picked", 1)[1].split("</div>", 1)[0]


def test_the_summary_adds_up_and_says_each_period(client, student, shop):
    page = settle_cart(client, student, shop["first"], shop["second"])
    summary = page.split("settlement-summary", 1)[1].split("</dl>", 1)[0]
    assert "¥240.00" in summary
    assert '−<span class="summary-course-discount">¥50.00' in summary
    assert '−<span class="summary-global-discount">¥60.00' in summary
    assert "¥130.00" in summary
    assert "课程券优惠" in summary
    assert "通用券优惠" in summary
    assert "永久有效" in page
    assert "1个月" in page or "30天" in page
    english = html(client.get("/settlement?lang=en"))
    assert "Forever" in english
    assert "Course coupon discount" in english


def test_pay_after_changing_coupons_keeps_the_choice_and_shows_the_new_amount(
    client, student, shop
):
    """Changed the coupon without Update total: the page comes back with that choice and the
    new amount formatted as money, not reset."""
    page = settle_cart(client, student, shop["first"], shop["second"])
    first = shop["first"]
    response = client.post(
        "/orders",
        data={
            "idempotency_key": hidden(page, "idempotency_key"),
            "expected_amount": hidden(page, "expected_amount"),  # 130.00, for the old choice
            f"coupon-course-{first.id}": str(shop["small"].id),
            "global_coupon": str(shop["site"].id),
            "payment_method": "sandbox",
        },
    )
    assert response.status_code == 302
    again = html(client.get(response.headers["Location"]))
    assert selected(again, f"coupon-course-{first.id}") == str(shop["small"].id)
    assert selected(again, "global_coupon") == str(shop["site"].id)
    assert "¥170.00" in again  # 240 - 10 - 60
    assert "金额已变化" not in again or "¥170.00" in again.split("alert-warning", 1)[1]
    assert hidden(again, "expected_amount") == "170.00"
    assert "settlement-picked" not in again  # the student's choice, not ours
    assert orders_of(student) == []


def test_update_total_without_javascript_keeps_working(client, student, shop):
    page = settle_cart(client, student, shop["first"], shop["second"])
    first = shop["first"]
    quoted = html(
        client.post(
            "/settlement/quote",
            data={
                "csrf_token": "",
                f"coupon-course-{first.id}": "",
                "global_coupon": "",
            },
        )
    )
    assert hidden(quoted, "expected_amount") == "240.00"
    assert page != quoted


def test_an_item_waiting_in_another_order_leads_to_that_order(client, student, shop):
    page = settle_cart(client, student, shop["second"])
    form = {
        "idempotency_key": hidden(page, "idempotency_key"),
        "expected_amount": "40.00",
        "payment_method": "sandbox",
    }
    assert client.post("/orders", data=form).status_code == 302
    (waiting,) = orders_of(student)
    page = settle_cart(client, student, shop["second"])
    form["idempotency_key"] = hidden(page, "idempotency_key")
    response = client.post("/orders", data=form)
    assert response.headers["Location"] == f"/orders/{waiting.order_no}"
    shown = html(client.get(response.headers["Location"]))
    assert "待支付的订单" in shown
    assert "Cancel" in shown or "取消订单" in shown
    db.session.rollback()
    assert len(orders_of(student)) == 1


def test_the_coupon_select_has_room_on_a_phone(client, student, shop):
    """The select lives in a grid column (width 100% of it), not a table cell that grows with
    the longest option; the browser test measures it at 390 px."""
    page = settle_cart(client, student, shop["first"])
    assert "<table" not in page.split("settlement-lines", 1)[1].split("</ul>", 1)[0]
