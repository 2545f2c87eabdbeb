"""Staff make a coupon and issue it from a real browser, under the Content-Security-Policy and
with CSRF on: the form's widgets work, and nothing on the way is blocked or broken."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Coupon, CouponRecord
from app.models.types import utcnow
from tests.e2e.browser import watch
from tests.e2e.test_admin import sign_in_as_staff
from tests.factories import UserFactory

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]

TIME = "%Y-%m-%d %H:%M:%S"


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "WTF_CSRF_ENABLED": True}


def set_time(page, selector: str, moment) -> None:
    """Put a time in a date field without opening its picker (Flask-Admin's date picker, once
    open, writes its own idea of the date back when it closes)."""
    page.locator(selector).evaluate(
        "(field, value) => { field.value = value; }", moment.strftime(TIME)
    )


def test_staff_make_a_percent_coupon_and_issue_it(app, page, live_server):
    from playwright.sync_api import expect

    UserFactory(username="reader1")
    UserFactory(username="reader2")
    problems = watch(page)
    sign_in_as_staff(page, live_server)
    # Read the staff pages in English, whatever the catalogue translates (the switch's cookie).
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])

    page.goto(f"{live_server}/admin/coupons/new/")
    page.locator("#name").fill("Eighty percent")
    page.locator("#kind").select_option("percent", force=True)
    page.locator("#value").fill("")
    page.locator("#off_percent").fill("80")
    now = utcnow()
    set_time(page, "#claim_start", now - timedelta(hours=1))
    set_time(page, "#claim_end", now + timedelta(days=10))
    page.locator("#valid_days").fill("7")
    page.locator("#quantity").fill("1")
    page.locator("form.admin-form [type=submit]").first.click()
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("table.model-list")).to_contain_text("Eighty percent")

    page.locator("table.model-list a[href*='/admin/coupons/issue/']").first.click()
    page.locator("#usernames").fill("reader1\nreader2")
    page.locator("form button[type=submit]", has_text="Issue").click()
    expect(page.locator(".alert")).to_contain_text("Issued to 1 student.")
    expect(page.locator(".alert")).to_contain_text("reader2")

    db.session.expire_all()
    coupon = db.session.scalar(select(Coupon).where(Coupon.name == "Eighty percent"))
    assert (coupon.kind, coupon.off_percent, coupon.claimed) == ("percent", 80, 1)
    records = db.session.scalars(select(CouponRecord).where(CouponRecord.coupon_id == coupon.id))
    assert [r.user.username for r in records] == ["reader1"]
    assert problems == []
