"""Staff run the catalog from a real browser under the Content-Security-Policy: the dashboard
draws its chart, inline forms are added with their buttons, a row is deleted after a confirm."""

from __future__ import annotations

import pytest

from tests.e2e.browser import watch
from tests.factories import CategoryFactory, CourseFactory, UserFactory

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]

PASSWORD = "staff-pass-1"


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "WTF_CSRF_ENABLED": True}


def sign_in_as_staff(page, live_server) -> None:
    from playwright.sync_api import expect

    from app.services.accounts import hash_password

    UserFactory(username="boss", is_staff=True, password_hash=hash_password(PASSWORD))
    page.goto(f"{live_server}/admin/")
    expect(page).to_have_url(f"{live_server}/login?next=/admin/")
    page.locator("#username").fill("boss")
    page.locator("#password").fill(PASSWORD)
    page.locator("form.login-form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server}/admin/")


def test_staff_create_a_course_with_a_price_and_delete_another(app, page, live_server):
    from playwright.sync_api import expect

    CategoryFactory(name="Web")
    CourseFactory(name="Old course")
    problems = watch(page)
    sign_in_as_staff(page, live_server)
    expect(page.locator("#sales-chart")).to_have_attribute("data-drawn", "true")

    page.goto(f"{live_server}/admin/courses/new/")
    page.locator("#name").fill("Flask 进阶")
    page.locator("#slug").fill("flask-advanced")
    # The detail's "what you will learn" is a rich-text editor (Quill, vendored), in its tab.
    page.locator(".form-tabs a[href='#tab-detail']").click()
    editor = page.locator(".ql-editor").first
    editor.click()
    page.keyboard.type("Blueprints and tests")
    page.locator(".form-tabs a[href='#tab-prices']").click()
    page.locator("[data-add-inline-field='price_policies']").click()
    page.locator("#price_policies-0-valid_period").fill("30")
    page.locator("#price_policies-0-price").fill("129.00")
    page.locator("form.admin-form [type=submit]").first.click()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("table.model-list")).to_contain_text("Flask 进阶")

    page.on("dialog", lambda dialog: dialog.accept())
    row = page.locator("table.model-list tr", has_text="Old course")
    row.locator("button[data-confirm]").click()
    expect(page.locator("table.model-list")).not_to_contain_text("Old course")

    page.goto(f"{live_server}/courses")
    expect(page.locator("main")).to_contain_text("Flask 进阶")
    page.locator("main a", has_text="Flask 进阶").first.click()
    expect(page.locator("main")).to_contain_text("Blueprints and tests")
    assert problems == []


def test_a_declined_confirm_deletes_nothing(app, page, live_server):
    from playwright.sync_api import expect

    CourseFactory(name="Keep me")
    problems = watch(page)
    sign_in_as_staff(page, live_server)
    page.goto(f"{live_server}/admin/courses/")
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.locator("table.model-list tr", has_text="Keep me").locator("button[data-confirm]").click()
    page.goto(f"{live_server}/admin/courses/")
    expect(page.locator("table.model-list")).to_contain_text("Keep me")
    assert problems == []
