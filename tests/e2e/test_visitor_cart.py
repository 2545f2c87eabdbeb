"""A visitor, never signed in, looks at courses (no session is stored for that) and puts one in
the cart with the page's form, its CSRF token checked."""

from __future__ import annotations

import pytest

from app.security import VISITOR_CSRF_COOKIE
from tests.e2e.browser import watch
from tests.factories import CourseFactory

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]


@pytest.fixture
def live_settings() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def test_a_visitor_puts_a_course_in_the_cart(app, page, live_server):
    from playwright.sync_api import expect

    course = CourseFactory(name="Django 入门", policies=[(30, "99.00")])
    other = CourseFactory(name="Flask 实战", policies=[(30, "59.00")])
    problems = watch(page)

    page.goto(f"{live_server}/courses/{course.id}")
    page.goto(f"{live_server}/courses/{other.id}")
    cookies = {c["name"] for c in page.context.cookies()}
    assert VISITOR_CSRF_COOKIE in cookies
    assert app.config["SESSION_COOKIE_NAME"] not in cookies  # looking stores no session

    page.go_back()  # the first page's form, opened before the second page
    page.locator("form.buy-form button:not([name])").click()  # Add to cart
    expect(page).to_have_url(f"{live_server}/cart")
    expect(page.locator(".cart-line")).to_contain_text("Django 入门")

    cookies = {c["name"] for c in page.context.cookies()}
    assert app.config["SESSION_COOKIE_NAME"] in cookies
    assert VISITOR_CSRF_COOKIE not in cookies  # its secret is the session's now
    page.goto(f"{live_server}/courses/{other.id}")
    page.locator("form.buy-form button:not([name])").click()
    expect(page.locator(".cart-line")).to_have_count(2)
    assert problems == []
