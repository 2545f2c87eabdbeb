"""The staff pages as staff use them, in a real browser: date-time fields typed into (and picked
from), the course form in tabs with its cover uploaded, a student's access given and taken
back, and every staff page walked in Chinese and English at 1366 and 390 px (screenshots kept
as artefacts), none scrolling sideways, none in the other language's stock words."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AccessGrant, Coupon
from app.models.types import UTC, utcnow
from app.services import enrollment
from tests.e2e.browser import screenshot, watch
from tests.e2e.test_admin import sign_in_as_staff
from tests.factories import (
    ChapterFactory,
    CouponFactory,
    CouponRecordFactory,
    CourseDetailFactory,
    CourseFactory,
    UserFactory,
)
from tests.shop_data import make_order

pytestmark = pytest.mark.e2e

# The phone's first: each page is loaded at it (what a phone gets, scripts that size things at
# load included), then widened to the desk's; Bootstrap's layout is media queries, so one load
# serves both widths.
WIDTHS = (390, 1366)
STOCK_ENGLISH = ("Home", "Add Filter", "With selected", "Create", "There are no items")


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "WTF_CSRF_ENABLED": True}


def in_language(page, live_server, lang: str) -> None:
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])


def test_every_date_time_field_of_the_coupon_form_can_be_typed_into(app, page, live_server):
    from playwright.sync_api import expect

    problems = watch(page)
    sign_in_as_staff(page, live_server)
    page.goto(f"{live_server}/admin/coupons/new/")
    page.locator("#name").fill("双十二")
    page.locator("#value").fill("10")
    year = utcnow().year + 1
    typed = {
        "claim_start": f"{year}-12-01 00:00:00",  # with seconds, as the issue typed it
        "claim_end": f"{year}-12-12 23:59",
        "valid_from": f"{year}-12-01 08:30",
        "valid_until": f"{year}-12-31 23:59",
    }
    for field, text in typed.items():
        box = page.locator(f"#{field}")
        box.click()
        box.press_sequentially(text, delay=5)
        expect(box).to_have_value(text)  # the picker never rewrites what is typed
        page.keyboard.press("Escape")
        page.locator("#name").click()  # away: the picker closes, the text stays
        expect(box).to_have_value(text)
    screenshot(page, "admin-coupon-typed-times-zh-1366")
    page.locator("form.admin-form [type=submit]").first.click()
    expect(page.locator(".alert-success")).to_be_visible()

    db.session.expire_all()
    coupon = db.session.scalar(select(Coupon).where(Coupon.name == "双十二"))
    shop = ZoneInfo(app.config["DISPLAY_TIMEZONE"])

    def stored(text: str) -> datetime:
        fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
        return datetime.strptime(text, fmt).replace(tzinfo=shop).astimezone(UTC)

    for field, text in typed.items():
        assert getattr(coupon, field) == stored(text), field
    # The list reads them back in the shop's time, labelled.
    page.goto(f"{live_server}/admin/coupons/")
    expect(page.locator("table.model-list")).to_contain_text(f"{year}-12-01 00:00 UTC+8")
    assert problems == []


def test_the_picker_still_picks_and_focusing_an_empty_field_leaves_it_empty(app, page, live_server):
    from playwright.sync_api import expect

    coupon = CouponFactory(name="picker", valid_days=7)
    problems = watch(page)
    sign_in_as_staff(page, live_server)
    page.goto(f"{live_server}/admin/coupons/edit/?id={coupon.id}")
    empty = page.locator("#valid_from")
    empty.click()
    page.locator("#name").click()
    expect(empty).to_have_value("")  # a mere look does not fill in the current time

    box = page.locator("#claim_end")
    before = box.input_value()
    box.click()
    picker = page.locator(".daterangepicker:visible")
    expect(picker).to_be_visible()
    picker.locator("td.available:not(.off)", has_text="15").first.click()
    page.locator("#name").click()
    after = box.input_value()
    assert after != before
    assert after[8:10] == "15"
    assert problems == []


def test_a_course_is_edited_in_tabs_with_an_uploaded_cover(app, page, live_server, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    course = CourseFactory(name="爬虫入门", course_img="")
    CourseDetailFactory(course=course)
    ChapterFactory(course=course, name="第一章")
    cover = tmp_path / "cover.png"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (30, 120, 200)).save(buffer, format="PNG")
    cover.write_bytes(buffer.getvalue())

    problems = watch(page)
    sign_in_as_staff(page, live_server)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/admin/courses/edit/?id={course.id}")
    tabs = page.locator(".form-tabs .nav-link")
    expect(tabs).to_have_count(4)
    page.locator("#cover").set_input_files(str(cover))
    screenshot(page, "admin-course-basics-zh-1366")
    # The form fits a screen or two: each tab, not one 7,000 px page.
    for index in range(4):
        tabs.nth(index).click()
        expect(
            page.locator(f"#tab-{('basics', 'detail', 'prices', 'chapters')[index]}")
        ).to_be_visible()
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 2 * 900 + 400, (index, height)
    tabs.nth(0).click()
    page.locator("form.admin-form [type=submit]").first.click()
    expect(page.locator(".alert-success")).to_be_visible()

    db.session.expire_all()
    db.session.refresh(course)
    assert course.course_img.startswith("/uploads/")
    assert course.course_img.endswith(".png")
    page.goto(f"{live_server}/admin/courses/")
    thumbnail = page.locator(f"img.cover-thumb[src='{course.course_img}']")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.naturalWidth") == 320
    assert problems == []


def test_a_refused_field_in_a_hidden_tab_opens_its_tab(app, page, live_server):
    from playwright.sync_api import expect

    course = CourseFactory(name="价格")
    problems = watch(page, responses=False)
    sign_in_as_staff(page, live_server)
    page.goto(f"{live_server}/admin/courses/edit/?id={course.id}")
    page.locator(".form-tabs .nav-link").nth(2).click()
    page.locator("[data-add-inline-field='price_policies']").click()
    page.locator("#price_policies-0-valid_period").fill("30")
    page.locator("#price_policies-0-price").fill("-5")
    page.locator(".form-tabs .nav-link").nth(0).click()
    expect(page.locator("#tab-prices")).to_be_hidden()
    page.locator("form.admin-form [type=submit]").first.click()
    # Refused (by the browser before sending, or by the server): the prices tab opens on it.
    expect(page.locator(".form-tabs .nav-link.active")).to_have_attribute("href", "#tab-prices")
    expect(page.locator("#price_policies-0-price")).to_be_visible()
    assert problems == []


def test_staff_give_and_take_back_access_from_the_students_page(app, page, live_server):
    from playwright.sync_api import expect

    student = UserFactory(username="小明")
    course = CourseFactory(name="Flask 进阶")
    problems = watch(page)
    sign_in_as_staff(page, live_server)
    page.goto(f"{live_server}/admin/users/details/?id={student.id}")
    page.locator(".user-tabs a", has_text="学习权限").click()
    page.locator("#grant-product").select_option(str(course.id))
    page.locator("#grant-days").fill("30")
    page.locator("#grant-reason").fill("直播事故补偿")
    page.locator(".grant-form button[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("已为 小明 授权")
    expect(page.locator(".access-grant")).to_contain_text("boss 于")
    assert enrollment.can_study(student.id, course.id, utcnow())
    screenshot(page, "admin-user-access-zh-1366")

    page.on("dialog", lambda dialog: dialog.accept())
    grant = page.locator(".access-grant").first
    grant.locator("textarea").fill("发错了人")
    grant.locator("button[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("授权已撤销")
    expect(page.locator(".access-grant").first).to_contain_text("发错了人")
    db.session.expire_all()
    assert db.session.scalar(select(AccessGrant.revoke_reason)) == "发错了人"
    assert not enrollment.can_study(student.id, course.id, utcnow())
    assert problems == []


def staff_pages(student, order, course, coupon) -> list[tuple[str, str]]:
    return [
        ("dashboard", "/admin/"),
        ("courses", "/admin/courses/"),
        ("course-edit", f"/admin/courses/edit/?id={course.id}"),
        ("course-details", f"/admin/courses/details/?id={course.id}"),
        ("chapters", "/admin/chapters/"),
        ("degree-courses", "/admin/degree-courses/"),
        ("categories", "/admin/categories/"),
        ("teachers", "/admin/teachers/"),
        ("coupons", "/admin/coupons/"),
        ("coupon-new", "/admin/coupons/new/"),
        ("coupon-details", f"/admin/coupons/details/?id={coupon.id}"),
        ("coupon-issue", f"/admin/coupons/issue/?id={coupon.id}"),
        ("coupon-records", "/admin/coupon-records/"),
        ("orders", "/admin/orders/"),
        ("order-details", f"/admin/orders/details/?id={order.id}"),
        ("payment-events", "/admin/payment-events/"),
        ("refunds", "/admin/refunds/"),
        ("jobs", "/admin/jobs/"),
        ("users", "/admin/users/"),
        ("user-details", f"/admin/users/details/?id={student.id}"),
        ("user-access", f"/admin/users/access/?id={student.id}"),
        ("user-password", f"/admin/users/password/?id={student.id}"),
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_staff_pages_in_each_language_at_desk_and_phone_widths(app, page, live_server, lang):
    staff = UserFactory(username="boss2", is_staff=True)
    student = UserFactory(username="xiaoming")
    course = CourseFactory(name="爬虫入门")
    CourseDetailFactory(course=course)
    coupon = CouponFactory(name="立减十元")
    order = make_order(
        student,
        lines=[(course, "1048.19", "0.00", "0.00")],
        created_at=utcnow() - timedelta(hours=2),
    )
    make_order(student, status="refund_requested")
    CouponRecordFactory(coupon=coupon, user=student)
    enrollment.grant_access(
        student.id, course.id, granted_by_id=staff.id, reason="补偿", now=utcnow(), days=30
    )
    db.session.commit()

    problems = watch(page)
    sign_in_as_staff(page, live_server)
    in_language(page, live_server, lang)
    sideways = []
    for name, path in staff_pages(student, order, course, coupon):
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        page.goto(f"{live_server}{path}")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            text = page.locator("body").inner_text()
            menu = page.locator(".navbar-toggler").get_attribute("aria-label")
            assert menu == ("菜单" if lang == "zh" else "Menu"), (name, menu)
            if lang == "zh":
                assert not [s for s in STOCK_ENGLISH if s in text], (name, width)
            else:
                assert "首页" not in text, (name, width)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                sideways.append((name, width, overflow))
            screenshot(page, f"admin-{name}-{lang}-{width}")
    assert sideways == []
    assert problems == []
