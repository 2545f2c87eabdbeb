"""The checkout as a student goes through it, at 390 px in Chinese and 1366 px in English: course
-> cart -> settlement (the cheapest coupons chosen for them, the total following their choice
live) -> sandbox gateway -> a paid order. Screenshots are kept (tests/e2e/browser.py)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.e2e.browser import overflow, screenshot, watch
from tests.factories import (
    ChapterFactory,
    CouponFactory,
    CouponRecordFactory,
    CourseFactory,
    SectionFactory,
    UserFactory,
)

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-pass"
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
WORDS = {
    "zh": {"picked": "已为你选好", "paid": "已支付"},
    "en": {"picked": "We chose the coupons", "paid": "Paid"},
}


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "PAYMENT_SANDBOX": True, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def shop():
    """A course for ever at ¥299 or a month at ¥99; the student holds a ¥50 coupon for it, a
    ¥10 one, and a site-wide ¥60 off from ¥200. Cheapest for ever: 299 - 50 - 60 = 189."""
    from app.services.accounts import hash_password

    student = UserFactory(username="xiaoming", password_hash=hash_password(PASSWORD))
    course = CourseFactory(
        name="Python 全栈开发实战训练营", policies=[(30, "99.00"), (0, "299.00")]
    )
    SectionFactory(chapter=ChapterFactory(course=course, number=1), name="第一节")
    big = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(name="全栈课立减50元券", product=course, value=Decimal("50")),
    )
    small = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(name="全栈课立减10元券", product=course, value=Decimal("10")),
    )
    site = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(
            name="双十二全场满200减60",
            product=None,
            kind="threshold",
            value=Decimal("60"),
            minimum_consume=Decimal("200"),
        ),
    )
    return {"student": student, "course": course, "big": big, "small": small, "site": site}


def no_sideways_scroll(page) -> None:
    # After a click the page's text can be there before its stylesheets are: measured unstyled,
    # a table is wider than the phone.
    page.wait_for_load_state("load")
    assert overflow(page) <= 0, f"{page.url} scrolls sideways by {overflow(page)} px"


# Each width in one language: every page on the way is also checked at both widths in both
# languages by tests/e2e/test_phone_pages.py; the flow itself does not change with them.
@pytest.mark.parametrize(("size", "lang"), [("phone", "zh"), ("desktop", "en")])
def test_checkout_with_the_best_coupons_and_a_live_total(
    browser, app, live_server, shop, size, lang
):
    from playwright.sync_api import expect

    width, height = WIDTHS[size]
    context = browser.new_context(
        locale="zh-CN", viewport={"width": width, "height": height}, device_scale_factor=1
    )
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = watch(page)
    name = f"checkout-{size}-{lang}"
    course = shop["course"]
    try:
        page.goto(f"{live_server}/login")
        page.locator("#username").fill("xiaoming")
        page.locator("#password").fill(PASSWORD)
        page.locator("form.login-form button[type=submit]").click()
        expect(page.locator("form.login-form")).to_have_count(0)

        page.goto(f"{live_server}/courses/{course.id}")
        forever = next(p for p in course.price_policies if p.valid_period == 0)
        page.locator(f"label[for='policy-{forever.id}']").click()
        page.locator("form.buy-form button:not([name])").click()  # Add to cart
        expect(page).to_have_url(f"{live_server}/cart")
        expect(page.locator(".cart-total")).to_contain_text("¥299.00")
        no_sideways_scroll(page)
        screenshot(page, f"{name}-1-cart")

        page.locator("form[action='/settlement'] button").click()  # Settle
        expect(page).to_have_url(f"{live_server}/settlement")
        # Chosen for the student: the ¥50 course coupon and the site-wide coupon.
        field = f"#coupon-course-{course.id}"
        expect(page.locator(field)).to_have_value(str(shop["big"].id))
        expect(page.locator("#global_coupon")).to_have_value(str(shop["site"].id))
        expect(page.locator(".settlement-picked")).to_contain_text(WORDS[lang]["picked"])
        expect(page.locator(".settlement-amount")).to_have_text("¥189.00")
        expect(page.locator(".update-total")).to_be_hidden()  # the total follows live
        no_sideways_scroll(page)
        box = page.locator(field).bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width
        screenshot(page, f"{name}-2-settlement")

        # The student changes their mind: the total follows at once, as money.
        page.locator(field).select_option(str(shop["small"].id))
        expect(page.locator(".settlement-amount")).to_have_text("¥229.00")
        expect(page.locator(".summary-course-discount")).to_have_text("¥10.00")
        expect(page.locator(".summary-global-discount")).to_have_text("¥60.00")
        expect(page.locator("input[name=expected_amount]")).to_have_value("229.00")
        screenshot(page, f"{name}-3-changed")
        page.locator("#global_coupon").select_option("")
        expect(page.locator(".settlement-amount")).to_have_text("¥289.00")
        page.locator(field).select_option(str(shop["big"].id))
        page.locator("#global_coupon").select_option(str(shop["site"].id))
        expect(page.locator(".settlement-amount")).to_have_text("¥189.00")

        page.locator("#method-sandbox").check()
        page.locator(".settlement-form .pay-button").click()
        expect(page).to_have_url(re.compile(r"/payments/sandbox/gateway\?"))
        assert page.url.startswith(live_server)  # the gateway on this server's own port
        expect(page.locator(".card-body")).to_contain_text("¥189.00")
        no_sideways_scroll(page)
        screenshot(page, f"{name}-4-gateway")
        page.locator("form[action$='/gateway/pay'] button").click()
        expect(page.locator(".alert-success")).to_be_visible()
        screenshot(page, f"{name}-5-paid")

        page.goto(f"{live_server}/orders")
        expect(page.locator(".order-list .status-paid")).to_have_count(1)
        expect(page.locator(".order-list")).to_contain_text(WORDS[lang]["paid"])
        no_sideways_scroll(page)
        screenshot(page, f"{name}-6-orders")
        assert problems == []
    finally:
        context.close()
