"""The coupon centre page: cards in both languages, claiming through a form with CSRF, and
"My coupons" by status for a signed-in student."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Coupon, CouponRecord
from app.models.types import utcnow
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.pages import html, sign_in


def claim_forms(page: str) -> list[str]:
    return re.findall(r'<form method="post" action="(/coupons/\d+/claim)">', page)


def records_of(user) -> list[CouponRecord]:
    db.session.rollback()
    return list(db.session.scalars(select(CouponRecord).where(CouponRecord.user_id == user.id)))


def claimed_count(coupon_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(Coupon.claimed).where(Coupon.id == coupon_id))


@pytest.fixture
def three_kinds():
    course = CourseFactory(name="Flask 实战")
    return [
        CouponFactory(name="立减券", kind="money_off", value=Decimal("30.00")),
        CouponFactory(
            name="满减券",
            kind="threshold",
            value=Decimal("50.00"),
            minimum_consume=Decimal("199.00"),
            product=course,
            quantity=10,
            claimed=4,
        ),
        CouponFactory(
            name="折扣券",
            kind="percent",
            value=None,
            off_percent=80,
            minimum_consume=Decimal("100.00"),
            valid_days=None,
            valid_until=utcnow() + timedelta(days=10),
        ),
    ]


@pytest.fixture
def student():
    return UserFactory()


@pytest.fixture
def csrf_client(app, make_app):
    """A client of an app that checks CSRF tokens as production does (tests turn it off)."""
    return make_app(WTF_CSRF_ENABLED=True).test_client()


# --- what everyone sees -------------------------------------------------------------------------


def test_anonymous_visitors_see_the_cards_in_chinese(client, three_kinds):
    page = html(client.get("/coupons"))
    assert "领券中心" in page
    for coupon in three_kinds:
        assert coupon.name in page
    assert "立减 ¥30" in page
    assert "满 ¥199 减 ¥50" in page
    assert "8折" in page
    assert "满减" in page
    assert "折扣" in page
    assert "剩余 6 张" in page
    assert "全场通用" in page
    assert "仅限" in page
    assert f'href="/courses/{three_kinds[1].product_id}"' in page
    assert "领取后 30 天内有效" in page


def test_anonymous_visitors_get_a_log_in_link_and_no_claim_form(client, three_kinds):
    page = html(client.get("/coupons"))
    assert claim_forms(page) == []
    assert "登录后领取" in page
    assert 'href="/login?next=/coupons"' in page
    assert "我的优惠券" not in page


def test_the_cards_in_english(client, three_kinds):
    page = html(client.get("/coupons?lang=en"))
    assert "¥30 off" in page
    assert "¥50 off orders of ¥199+" in page
    assert "20% off" in page
    assert "6 left" in page
    assert "Log in to claim" in page


def test_cents_are_shown_only_when_there_are_some(client):
    CouponFactory(kind="money_off", value=Decimal("9.90"))
    CouponFactory(kind="percent", value=None, off_percent=85)
    page = html(client.get("/coupons"))
    assert "立减 ¥9.90" in page
    assert "8.5折" in page
    assert "15% off" in html(client.get("/coupons?lang=en"))


def test_what_cannot_be_claimed_is_not_shown(client):
    CouponFactory(name="Sold out", quantity=2, claimed=2)
    CouponFactory(name="Withdrawn", active=False)
    CouponFactory(name="Too late", claim_end=utcnow() - timedelta(minutes=1))
    page = html(client.get("/coupons"))
    assert "暂时没有可领取的优惠券" in page
    for name in ("Sold out", "Withdrawn", "Too late"):
        assert name not in page


def test_the_page_has_no_inline_script_or_style(client, student, three_kinds):
    sign_in(client, student)
    page = html(client.get("/coupons"))
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


def test_the_navigation_links_to_the_coupon_centre(client):
    assert 'href="/coupons"' in html(client.get("/courses"))
    page = html(client.get("/coupons"))
    assert re.search(r'class="nav-link active" href="/coupons" aria-current="page"', page)


# --- a signed-in student ------------------------------------------------------------------------


def test_a_signed_in_student_sees_claim_forms_with_a_csrf_token(csrf_client, student):
    coupon = CouponFactory()
    sign_in(csrf_client, student)
    page = html(csrf_client.get("/coupons"))
    assert claim_forms(page) == [f"/coupons/{coupon.id}/claim"]
    form = page[page.index(f'action="/coupons/{coupon.id}/claim"') :]
    assert re.match(r'[^<]*>\s*<input type="hidden" name="csrf_token" value="[^"]+">', form)
    assert "登录后领取" not in page


def test_claiming_from_the_page(client, student, three_kinds):
    sign_in(client, student)
    coupon = three_kinds[0]
    response = client.post(f"/coupons/{coupon.id}/claim")
    assert response.status_code == 302
    assert response.headers["Location"] == "/coupons"
    page = html(client.get("/coupons"))
    assert "领取成功：立减券" in page
    (record,) = records_of(student)
    assert record.coupon_id == coupon.id
    assert claimed_count(coupon.id) == 1
    # no longer offered, now in My coupons
    assert f"/coupons/{coupon.id}/claim" not in claim_forms(page)
    assert record.code in page
    assert "未使用" in page


def test_claiming_twice_from_the_page_says_so_and_takes_nothing(client, student):
    sign_in(client, student)
    coupon = CouponFactory(quantity=3)
    client.post(f"/coupons/{coupon.id}/claim")
    html(client.get("/coupons"))  # the first message is shown and gone
    response = client.post(f"/coupons/{coupon.id}/claim", follow_redirects=True)
    assert "你已经领过这张券了" in html(response)
    assert claimed_count(coupon.id) == 1
    assert len(records_of(student)) == 1


def test_a_sold_out_coupon_from_the_page(client, student):
    sign_in(client, student)
    coupon = CouponFactory(quantity=1, claimed=1)
    page = html(client.post(f"/coupons/{coupon.id}/claim", follow_redirects=True))
    assert "来晚了，这张券已经被领完了" in page
    assert records_of(student) == []


def test_an_unknown_coupon_from_the_page(client, student):
    sign_in(client, student)
    page = html(client.post("/coupons/999999/claim", follow_redirects=True))
    assert "没有这张优惠券" in page


def test_the_messages_in_english(client, student):
    sign_in(client, student)
    coupon = CouponFactory(name="Welcome")
    client.set_cookie("lang", "en")
    assert "Claimed: Welcome" in html(
        client.post(f"/coupons/{coupon.id}/claim", follow_redirects=True)
    )
    page = html(client.post(f"/coupons/{coupon.id}/claim", follow_redirects=True))
    assert "You already hold this coupon." in page


def test_an_anonymous_claim_goes_to_the_login_page(client):
    coupon = CouponFactory()
    response = client.post(f"/coupons/{coupon.id}/claim")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/coupons"
    assert claimed_count(coupon.id) == 0


def test_a_claim_without_the_csrf_token_is_refused(csrf_client, student):
    coupon = CouponFactory()
    sign_in(csrf_client, student)
    assert csrf_client.post(f"/coupons/{coupon.id}/claim").status_code == 400
    assert claimed_count(coupon.id) == 0
    page = html(csrf_client.get("/coupons"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = csrf_client.post(f"/coupons/{coupon.id}/claim", data={"csrf_token": token})
    assert response.status_code == 302
    assert claimed_count(coupon.id) == 1


@pytest.fixture
def wallet(student):
    now = utcnow()
    return {
        "unused": CouponRecordFactory(user=student, coupon=CouponFactory(name="Fresh one")),
        "expired": CouponRecordFactory(
            user=student,
            coupon=CouponFactory(name="Old one"),
            valid_until=now - timedelta(days=1),
        ),
        "used": CouponRecordFactory(
            user=student, coupon=CouponFactory(name="Spent one"), status="used"
        ),
        "reserved": CouponRecordFactory(
            user=student, coupon=CouponFactory(name="Held one"), status="reserved"
        ),
    }


def my_coupons_section(page: str) -> str:
    return page[page.index('id="mine"') :]


def test_my_coupons_shows_every_record_with_counts(client, student, wallet):
    sign_in(client, student)
    mine = my_coupons_section(html(client.get("/coupons")))
    for name in ("Fresh one", "Old one", "Spent one", "Held one"):
        assert name in mine
    assert re.search(r"全部 <span[^>]*>4</span>", mine)
    for word in ("未使用", "已过期", "已使用", "已锁定"):
        assert re.search(word + r" <span[^>]*>1</span>", mine)


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        ("unused", "Fresh one"),
        ("expired", "Old one"),
        ("used", "Spent one"),
        ("reserved", "Held one"),
    ],
)
def test_my_coupons_by_status(client, student, wallet, status, shown):
    sign_in(client, student)
    mine = my_coupons_section(html(client.get(f"/coupons?status={status}")))
    names = re.findall(r'<span class="fw-semibold">([^<]*)</span>', mine)
    assert names == [shown]
    assert re.search(rf'class="nav-link active" href="/coupons\?status={status}#mine"', mine)


def test_an_unknown_status_shows_every_record(client, student, wallet):
    sign_in(client, student)
    mine = my_coupons_section(html(client.get("/coupons?status=bogus")))
    assert len(re.findall(r'<span class="fw-semibold">', mine)) == 4


def test_another_students_records_never_show(client, student, wallet):
    other = UserFactory()
    CouponRecordFactory(user=other, coupon=CouponFactory(name="Not yours"), code="THEIRSTHEIRS2345")
    sign_in(client, student)
    page = html(client.get("/coupons"))
    assert "THEIRSTHEIRS2345" not in page
    assert "Not yours" in page  # offered to claim, since this student does not hold it
    assert "Not yours" not in my_coupons_section(page)


def test_an_empty_wallet(client, student):
    sign_in(client, student)
    assert "这里还没有优惠券" in html(client.get("/coupons"))
