"""A student signs in, adds a course to the cart, settles, pays in the sandbox and studies it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import watch
from tests.factories import ChapterFactory, CourseFactory, SectionFactory, UserFactory

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]

PASSWORD = "s3cret-pass"


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "PAYMENT_SANDBOX": True, "WTF_CSRF_ENABLED": True}


def test_buy_a_course_and_pay_in_the_sandbox(app, page, live_server):
    from playwright.sync_api import expect

    # The gateway sends the browser back to the shop's public address: this live server.
    app.config["PUBLIC_BASE_URL"] = live_server
    from app.services.accounts import hash_password

    student = UserFactory(username="xiaohong", password_hash=hash_password(PASSWORD))
    course = CourseFactory(name="Django 入门", policies=[(30, "99.00")])
    SectionFactory(chapter=ChapterFactory(course=course, number=1), name="第一节")

    problems = watch(page)

    page.goto(f"{live_server}/login")
    page.locator("#username").fill(student.username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.login-form button[type=submit]").click()
    expect(page.locator(".account-link")).to_have_text("xiaohong")

    page.goto(f"{live_server}/courses/{course.id}")
    page.locator("form.buy-form button:not([name])").click()  # Add to cart
    expect(page).to_have_url(f"{live_server}/cart")
    expect(page.locator(".cart-line")).to_contain_text("Django 入门")
    expect(page.locator(".cart-total")).to_contain_text("99")

    page.locator("form[action='/settlement'] button").click()  # Settle
    expect(page).to_have_url(f"{live_server}/settlement")
    expect(page.locator(".settlement-amount")).to_contain_text("99")
    page.locator("#method-sandbox").check()
    page.locator(".settlement-form button:not([formaction])").click()  # Pay

    expect(page).to_have_url(re.compile(r"/payments/sandbox/gateway\?"))
    page.locator("form[action$='/gateway/pay'] button").click()  # the gateway's Pay
    expect(page.locator(".alert-success")).to_be_visible()  # back in the shop: paid

    page.goto(f"{live_server}/orders")
    expect(page.locator(".order-list .status-paid")).to_have_count(1)
    page.goto(f"{live_server}/my/courses")
    expect(page.locator(".my-courses")).to_contain_text("Django 入门")
    page.locator(".my-courses a.btn-primary").click()  # Study
    expect(page.locator(".section-title")).to_have_text("第一节")
    assert problems == []
