"""What a student sees around the shop's pages (issue #11, pages): the header (a menu on
phones, the cart's count, the homepage filled from the API), times in the shop's zone, periods
in the page's language, the favicon, a welcome, and where signing in leads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from app.extensions import db
from app.services import homepage
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.pages import html, sign_in
from tests.shop_data import make_order

# 07:07 UTC is 15:07 in Asia/Shanghai (DISPLAY_TIMEZONE's default).
PLACED = datetime(2026, 12, 3, 7, 7, tzinfo=UTC)


def add_to_cart(client, course) -> None:
    form = {
        "item_type": "course",
        "item_id": course.id,
        "price_policy_id": course.price_policies[0].id,
    }
    assert client.post("/cart/add", data=form).status_code == 302


# --- the header ---------------------------------------------------------------------------------


def test_the_header_folds_into_a_menu_on_small_screens(client):
    page = html(client.get("/courses"))
    assert 'data-bs-toggle="collapse" data-bs-target="#site-menu"' in page
    assert 'class="collapse navbar-collapse" id="site-menu"' in page
    # Without JavaScript the menu cannot unfold: a stylesheet in <noscript> keeps it open.
    assert re.search(
        r'<noscript><link rel="stylesheet" href="/static/css/no-js.css[^"]*"></noscript>', page
    )
    assert client.get("/static/css/no-js.css").status_code == 200


def test_the_header_counts_the_cart(client):
    student = UserFactory()
    page = html(client.get("/courses"))
    assert re.search(r'class="[^"]*cart-count" data-cart-count hidden></span>', page)
    add_to_cart(client, CourseFactory())  # a visitor's cart, in the session
    assert "data-cart-count>1</span>" in html(client.get("/courses"))
    sign_in(client, student)
    add_to_cart(client, CourseFactory())
    add_to_cart(client, CourseFactory())
    assert "data-cart-count>2</span>" in html(client.get("/orders"))


def test_the_homepage_file_is_the_same_for_everyone_and_its_script_fills_the_header(app, client):
    sign_in(client, UserFactory(username="xiaoming"))
    page = html(client.get("/"))
    on_disk = homepage.page_path("zh").read_text(encoding="utf-8")
    assert page == on_disk
    assert "xiaoming" not in page
    assert 'data-account-area data-me-url="/api/v1/me"' in page
    assert '<template id="account-signed-in">' in page
    assert re.search(r'<script src="/static/js/account-header.js[^"]*" defer></script>', page)
    assert "<script>" not in page  # no inline script
    # Signing out from that header goes to the page with the CSRF-protected form.
    assert 'class="btn btn-sm btn-outline-secondary logout-link" href="/logout"' in page
    assert 'name="csrf_token"' in html(client.get("/logout"))
    assert client.get("/static/js/account-header.js").status_code == 200


# --- favicon ------------------------------------------------------------------------------------


def test_the_favicon_is_served_and_linked(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.ico").status_code == 200
    assert re.search(
        r'<link rel="icon" href="/static/favicon.ico[^"]*"', html(client.get("/courses"))
    )


# --- times and periods --------------------------------------------------------------------------


def test_the_order_pages_show_times_in_the_shops_zone_labelled(client):
    student = UserFactory()
    order = make_order(student, status="paid", created_at=PLACED)
    sign_in(client, student)
    detail = html(client.get(f"/orders/{order.order_no}"))
    assert "2026-12-03 15:07 UTC+8" in detail  # placed
    assert "2026-12-03 15:08 UTC+8" in detail  # paid a minute later
    assert "07:07" not in detail
    assert "2026-12-03 15:07 UTC+8" in html(client.get("/orders"))


def test_the_order_page_says_the_period_in_its_language(client):
    student = UserFactory()
    course = CourseFactory(policies=[(30, "99.00")])
    order = make_order(student, lines=[(course, "99.00", "0.00", "0.00")])
    order.lines[0].valid_period_text = "1个月"  # what it was stored as, in Chinese
    db.session.commit()
    sign_in(client, student)
    english = html(client.get(f"/orders/{order.order_no}?lang=en"))
    assert re.search(r'<td class="line-period">1 month</td>', english)
    assert "1个月" not in english
    chinese = html(client.get(f"/orders/{order.order_no}?lang=zh"))
    assert re.search(r'<td class="line-period">1个月</td>', chinese)


def test_the_coupon_centre_shows_windows_in_the_shops_zone(client):
    student = UserFactory()
    CouponRecordFactory(
        user=student,
        coupon=CouponFactory(name="新人券"),
        valid_from=datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
        valid_until=datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
    )
    sign_in(client, student)
    page = html(client.get("/coupons"))
    assert "2026-12-02 00:00 UTC+8" in page
    assert "2027-01-01 00:00 UTC+8" in page


# --- signing up and in --------------------------------------------------------------------------


def test_registering_says_welcome(client):
    response = client.post(
        "/register",
        data={
            "username": "newbie",
            "email": "",
            "password": "s3cret-pass",
            "confirm": "s3cret-pass",
        },
    )
    assert response.status_code == 302
    page = html(client.get(response.headers["Location"]))
    assert "欢迎来到路飞学城，newbie！" in page


def test_signing_in_from_the_carts_settle_lands_on_the_settlement(client):
    UserFactory(username="buyer")
    course = CourseFactory(name="Flask 实战", policies=[(30, "99.00")])
    add_to_cart(client, course)
    to_login = client.post("/settlement", data={"from_cart": "1"}).headers["Location"]
    assert to_login == "/login?next=/settlement/from-cart"
    response = client.post(to_login, data={"username": "buyer", "password": UserFactory.password})
    assert response.headers["Location"] == "/settlement/from-cart"
    response = client.get(response.headers["Location"])
    assert response.headers["Location"] == "/settlement"
    page = html(client.get("/settlement"))
    assert "Flask 实战" in page
    assert "¥99.00" in page


def test_signing_in_never_leaves_the_site(client):
    UserFactory(username="buyer")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"username": "buyer", "password": UserFactory.password},
        )
        assert response.headers["Location"] == "/courses", target
        client.post("/logout")


def test_the_sandbox_gateway_and_the_order_page_agree_on_the_deadline(client):
    from zoneinfo import ZoneInfo

    from app.models.types import utcnow
    from app.services.payments.alipay import pay_url_for

    student = UserFactory()
    order = make_order(student, status="pending", created_at=utcnow())
    sign_in(client, student)
    gateway = html(client.get(pay_url_for(client.application, order)))
    shown = order.expires_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    deadline = f"{shown} UTC+8"
    assert re.search(rf'<dd class="[^"]*pay-before">{re.escape(deadline)}</dd>', gateway)
    assert deadline in html(client.get(f"/orders/{order.order_no}"))


# --- languages ------------------------------------------------------------------------------------

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
# Chinese that belongs on an English page: the brand, and the switch back to Chinese.
MEANT = ("路飞学城", "中文", '<span class="brand-mark" aria-hidden="true">路</span>')


def test_english_pages_have_no_chinese_fixed_text(client):
    from app.models.types import utcnow
    from app.services.payments.alipay import pay_url_for
    from tests.factories import (
        ChapterFactory,
        DegreeCourseFactory,
        EnrollmentFactory,
        SectionFactory,
    )

    student = UserFactory(username="reader")
    course = CourseFactory(name="Flask in action", policies=[(30, "99.00"), (0, "299.00")])
    section = SectionFactory(chapter=ChapterFactory(course=course, name="Basics"), name="Intro")
    degree = DegreeCourseFactory(name="Web degree", policies=[(365, "999.00")])
    CouponRecordFactory(user=student, coupon=CouponFactory(name="Welcome"))
    EnrollmentFactory(user=student, product=course)
    paid = make_order(student, lines=[(course, "99.00", "0.00", "0.00")])
    pending = make_order(student, status="pending", created_at=utcnow())
    client.set_cookie("lang", "en")
    sign_in(client, student)
    add_to_cart(client, CourseFactory(name="Go basics", policies=[(30, "59.00")]))
    client.post("/settlement", data={"from_cart": "1"})
    paths = [
        "/courses",
        f"/courses/{course.id}",
        f"/degree-courses/{degree.id}",
        "/cart",
        "/settlement",
        "/orders",
        f"/orders/{paid.order_no}",
        "/my/courses",
        f"/learn/{course.id}/{section.id}",
        "/coupons",
        "/account",
        urlsplit(pay_url_for(client.application, pending))._replace(scheme="", netloc="").geturl(),
        "/logout",
    ]
    for path in paths:
        page = html(client.get(path))
        for meant in MEANT:
            page = page.replace(meant, "")
        assert CJK.findall(page) == [], path
    client.post("/logout")
    for path in ("/", "/login", "/register", "/courses?page=9"):
        page = html(client.get(path))
        for meant in MEANT:
            page = page.replace(meant, "")
        assert CJK.findall(page) == [], path


def test_my_courses_shows_the_end_in_the_shops_zone(client):
    from tests.factories import EnrollmentFactory

    student = UserFactory()
    EnrollmentFactory(
        user=student,
        product=CourseFactory(name="Flask"),
        valid_from=datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
        valid_until=datetime(2027, 12, 31, 16, 0, tzinfo=UTC),
    )
    sign_in(client, student)
    assert "2028-01-01 00:00 UTC+8" in html(client.get("/my/courses"))
