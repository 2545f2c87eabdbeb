"""Every student page at a phone's width (390 px) and a laptop's (1366 px; loaded at the
phone's, then widened), in Chinese and in English, signed in where it needs it: nothing scrolls
sideways, nothing is refused or logged as an error, and a screenshot of each is kept
(artifacts/screens/). Also the phone's header: a menu behind a button, still reachable without
JavaScript, and the pre-rendered homepage's header filled in for a signed-in student by its
script."""

from __future__ import annotations

import pytest

from app.models.types import utcnow
from app.services.accounts import hash_password
from tests.e2e.browser import LAPTOP, PHONE, InFlight, at_each_width, overflow, screenshot, watch
from tests.factories import (
    ChapterFactory,
    CouponFactory,
    CouponRecordFactory,
    CourseDetailFactory,
    CourseFactory,
    DegreeCourseFactory,
    EnrollmentFactory,
    FAQFactory,
    SectionFactory,
    TeacherFactory,
    UserFactory,
)
from tests.shop_data import make_order

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-pass"


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "PAYMENT_SANDBOX": True, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def shop(app, live_server) -> dict:
    """A student with something on every page: a course (long names, a teacher, FAQs), a
    degree, a coupon, an enrollment, a paid order and a pending one (the sandbox's page)."""
    app.config["PUBLIC_BASE_URL"] = live_server
    from app.extensions import db
    from app.services.payments.alipay import pay_url_for

    student = UserFactory(username="xiaohong_2026", password_hash=hash_password(PASSWORD))
    course = CourseFactory(
        name="Python 全栈开发：从零基础到独立完成一个可以上线的 Web 项目",
        policies=[(30, "99.00"), (90, "239.00"), (365, "699.00"), (0, "1299.00")],
    )
    CourseDetailFactory(course=course, slogan="人生苦短，我用 Python", why_study="因为好用。")
    # Made before touching the collections: each factory commits, which expires them.
    teacher = TeacherFactory(name="林晓峰", title="Python 技术专家")
    course.teachers.append(teacher)
    db.session.commit()
    FAQFactory(product=course, question="课程有效期到了还能看吗？", answer="续费即可。")
    chapter = ChapterFactory(course=course, number=1, name="环境搭建与第一个程序")
    section = SectionFactory(chapter=chapter, name="课程介绍与学习路线", free_trial=True)
    SectionFactory(chapter=chapter, name="安装 Python 与 PyCharm")
    other = CourseFactory(name="Django 企业级 Web 开发实战", policies=[(30, "199.00")])
    degree = DegreeCourseFactory(name="Python 全栈开发工程师学位", policies=[(365, "4999.00")])
    degree.courses.append(course)
    db.session.commit()
    CouponRecordFactory(user=student, coupon=CouponFactory(name="新人立减券"))
    CouponFactory(name="全站满减券")
    EnrollmentFactory(user=student, product=course)
    paid = make_order(student, lines=[(course, "99.00", "0.00", "0.00")])
    pending = make_order(student, status="pending", created_at=utcnow())
    return {
        "student": student,
        "course": course,
        "other": other,
        "degree": degree,
        "section": section,
        "paid": paid,
        "sandbox_url": pay_url_for(app, pending),
    }


def sign_in(page, live_server, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.login-form button[type=submit]").click()
    expect(page).not_to_have_url(f"{live_server}/login")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_student_page_scrolls_sideways(browser, live_server, shop, language):
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems, in_flight = watch(page), InFlight(page)
    try:
        page.goto(f"{live_server}/lang/{language}")
        visitor_pages = {"login": "/login", "register": "/register"}
        for name, path in visitor_pages.items():
            page.goto(live_server + path)
            at_each_width(page, f"pages-{{width}}-{language}-{name}", in_flight)

        sign_in(page, live_server, shop["student"].username)
        # Something in the cart, and a settlement made from it, as the cart's button does.
        page.goto(f"{live_server}/courses/{shop['other'].id}")
        page.locator("form.buy-form button:not([name])").click()
        page.locator("form[action='/settlement'] button").click()
        page.wait_for_url(f"{live_server}/settlement")

        course, section = shop["course"], shop["section"]
        pages = {
            "home": "/",
            "courses": "/courses",
            "course": f"/courses/{course.id}",
            "degree": f"/degree-courses/{shop['degree'].id}",
            "cart": "/cart",
            "settlement": "/settlement",
            "orders": "/orders",
            "order": f"/orders/{shop['paid'].order_no}",
            "my-courses": "/my/courses",
            "learn": f"/learn/{course.id}/{section.id}",
            "coupons": "/coupons",
            "account": "/account",
            "sandbox": shop["sandbox_url"].removeprefix(live_server),
        }
        for name, path in pages.items():
            response = page.goto(live_server + path)
            assert response.status == 200, f"{path}: {response.status}"
            at_each_width(page, f"pages-{{width}}-{language}-{name}", in_flight)
            html_lang = page.evaluate("document.documentElement.lang")
            assert html_lang == ("zh-CN" if language == "zh" else "en"), path
    finally:
        context.close()
    assert problems == []


def test_the_phone_header_is_a_menu_behind_a_button(browser, live_server, shop):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live_server, shop["student"].username)
        page.goto(f"{live_server}/courses/{shop['other'].id}")
        page.locator("form.buy-form button:not([name])").click()  # one line in the cart
        page.goto(f"{live_server}/orders")
        orders_link = page.locator("#site-menu").get_by_role("link", name="我的订单")
        expect(orders_link).to_be_hidden()  # folded away
        toggle = page.locator(".site-menu-toggle")
        expect(toggle).to_be_visible()
        expect(toggle.locator("[data-cart-count]")).to_have_text("1")  # the cart, folded away
        toggle.click()
        expect(orders_link).to_be_visible()
        expect(page.locator("#site-menu.collapse.show")).to_have_count(1)  # done unfolding
        sign_out = page.locator("#site-menu .logout-form button")
        expect(sign_out).to_be_visible()
        # One line each: the header used to wrap 退/出/登/录 one character per line.
        for link in (orders_link, sign_out, page.locator("#site-menu .account-link")):
            assert link.bounding_box()["height"] < 45
        screenshot(page, "header-390-zh-menu-open")
    finally:
        context.close()


def test_without_javascript_the_phone_menu_stays_open(browser, live_server, shop):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/courses")
        expect(page.locator("#site-menu").get_by_role("link", name="领券中心")).to_be_visible()
        expect(page.locator("#site-menu").get_by_role("link", name="登录")).to_be_visible()
        expect(page.locator(".site-menu-toggle")).to_be_hidden()
        assert overflow(page) <= 0
        screenshot(page, "header-390-zh-no-js")
    finally:
        context.close()


def test_the_homepage_header_shows_who_is_signed_in(browser, live_server, shop):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto(f"{live_server}/")
        expect(page.locator("[data-account-area]")).to_contain_text("登录")
        sign_in(page, live_server, shop["student"].username)
        page.goto(f"{live_server}/courses/{shop['other'].id}")
        page.locator("form.buy-form button:not([name])").click()  # one line in the cart
        page.goto(f"{live_server}/")
        area = page.locator("[data-account-area]")
        expect(area.locator(".account-link")).to_have_text("xiaohong_2026")
        expect(area.get_by_role("link", name="我的课程")).to_be_visible()
        expect(area.get_by_role("link", name="我的订单")).to_be_visible()
        expect(area).not_to_contain_text("注册")
        expect(page.locator(".cart-link [data-cart-count]")).to_have_text("1")
        screenshot(page, "home-1366-zh-signed-in")
        area.locator(".logout-link").click()  # to the page with the CSRF-protected form
        page.locator("main form button[type=submit]").click()
        page.goto(f"{live_server}/")
        expect(page.locator("[data-account-area]")).to_contain_text("登录")
    finally:
        context.close()
    assert problems == []
