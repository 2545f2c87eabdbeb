"""A service's refusal in the page's language (Chinese by default) on pages and staff pages,
and in English, as the service says it, through the API whatever language is asked for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.i18n import LANG_COOKIE, say
from app.models.types import utcnow
from app.services import offers
from app.services.errors import DomainError, InvalidInput
from tests.api import refused
from tests.factories import CouponFactory, UserFactory
from tests.pages import html, sign_in
from tests.shop_data import make_order

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def flashed(client, response) -> str:
    assert response.status_code == 302, response.status
    return html(client.get(response.headers["Location"]))


# --- say ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [("zh", "只有待支付的订单才能取消。"), ("en", "Only a pending order can be cancelled.")],
)
def test_say_gives_the_message_in_the_requests_language(app, language, words):
    with app.test_request_context(f"/?lang={language}"):
        assert say("Only a pending order can be cancelled.") == words


def test_say_gives_an_unknown_message_as_it_is(app):
    with app.test_request_context("/?lang=zh"):
        assert (
            say("Payment T1 of order 42 failed: 50% off.")
            == "Payment T1 of order 42 failed: 50% off."
        )
        assert say("") == ""


def test_say_fills_nothing_in(app):
    with app.test_request_context("/?lang=zh"):
        assert say("A percent coupon needs the percent paid (80 = pay 80%).") == (
            "折扣券需要填写实付比例（80 = 支付原价的 80%）。"
        )


def test_every_error_class_says_its_default_in_chinese(app):
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    with app.test_request_context("/?lang=zh"):
        untranslated = [
            cls.__name__
            for cls in (DomainError, *subclasses(DomainError))
            if say(cls.default_message) == cls.default_message
        ]
    assert untranslated == []


# --- the shop -----------------------------------------------------------------------------------


@pytest.fixture
def cancelled(student):
    return make_order(student, status="cancelled")


def test_a_refusal_on_the_order_page_is_in_chinese(client, student, cancelled):
    sign_in(client, student)
    page = flashed(client, client.post(f"/orders/{cancelled.order_no}/cancel"))
    assert "只有待支付的订单才能取消。" in page
    assert "Only a pending order" not in page


def test_the_same_refusal_through_the_api_stays_english(client, headers, cancelled):
    client.set_cookie(LANG_COOKIE, "zh")
    response = client.post(f"/api/v1/orders/{cancelled.order_no}/cancel", headers={**headers, **ZH})
    body = refused(response, 409, "order_not_pending")
    assert body["msg"] == "Only a pending order can be cancelled."


def test_the_order_page_speaks_english_when_english_is_chosen(client, student, cancelled):
    sign_in(client, student)
    client.set_cookie(LANG_COOKIE, "en")
    page = flashed(client, client.post(f"/orders/{cancelled.order_no}/cancel"))
    assert "Only a pending order can be cancelled." in page


@pytest.mark.parametrize(
    ("language", "words"), [("zh", "最多 50 门课程。"), ("en", "At most 50 items.")]
)
def test_a_refusal_that_names_only_fields_shows_their_words(app, language, words):
    from app.blueprints.shop.routes import _refusal_text

    refusal = InvalidInput(fields={"items": offers.TOO_MANY_LINES})
    with app.test_request_context(f"/?lang={language}"):
        assert _refusal_text(refusal) == words


# --- the error page -----------------------------------------------------------------------------


def test_the_error_page_shows_the_refusal_in_chinese(client, student):
    sign_in(client, student)
    page = html(client.get("/orders/20260101000000000000"), 404)
    assert '<p class="small text-body-secondary error-detail">没有这个订单。</p>' in page
    assert "No such order" not in page

    page = html(client.get("/orders/20260101000000000000?lang=en"), 404)
    assert "No such order." in page


def test_the_api_answers_the_same_refusal_in_english(client, headers):
    response = client.get("/api/v1/orders/20260101000000000000", headers={**headers, **ZH})
    assert refused(response, 404, "not_found")["msg"] == "No such order."


# --- the coupon centre --------------------------------------------------------------------------


@pytest.fixture
def closed_coupon():
    """A coupon whose claim window has ended."""
    return CouponFactory(
        claim_start=utcnow() - timedelta(days=10), claim_end=utcnow() - timedelta(days=1)
    )


def test_a_refused_claim_is_in_chinese(client, student, closed_coupon):
    sign_in(client, student)
    page = flashed(client, client.post(f"/coupons/{closed_coupon.id}/claim"))
    assert "这张券现在不能领取。" in page


def test_a_refused_claim_through_the_api_stays_english(client, headers, closed_coupon):
    response = client.post(f"/api/v1/coupons/{closed_coupon.id}/claim", headers={**headers, **ZH})
    body = refused(response, 409, "coupon_unavailable")
    assert body["msg"] == "This coupon cannot be claimed now."


# --- signing in ---------------------------------------------------------------------------------


def test_a_refused_login_is_in_chinese_on_the_page_and_english_in_the_api(client):
    UserFactory(username="alice")
    form = {"username": "alice", "password": "not-the-password"}
    page = html(client.post("/login", data=form), 400)
    assert "用户名或密码错误。" in page

    response = client.post("/api/v1/auth/login", json=form, headers=ZH)
    assert refused(response, 401, "invalid_credentials")["msg"] == "Wrong username or password."


# --- the staff pages ----------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    sign_in(client, UserFactory(username="boss", is_staff=True))
    return client


def test_a_refused_refund_on_the_staff_page_is_in_chinese(staff_client):
    paid = make_order(status="paid")  # nobody asked for its refund
    page = flashed(staff_client, staff_client.post(f"/admin/refunds/{paid.order_no}/approve"))
    assert "只有已申请退款的订单才能退款。" in page


def test_an_unknown_failed_job_on_the_staff_page_is_in_chinese(staff_client):
    page = flashed(staff_client, staff_client.post("/admin/jobs/no-such-job/requeue"))
    assert "没有这个失败的任务。" in page
