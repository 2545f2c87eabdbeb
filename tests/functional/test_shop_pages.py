"""The shop's pages: cart, settlement, orders, my courses and learning, without JavaScript."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CouponRecord, Enrollment, Order
from app.models.types import utcnow
from app.services.cart import RedisCart
from tests.factories import (
    ChapterFactory,
    CouponFactory,
    CouponRecordFactory,
    CourseFactory,
    DegreeCourseFactory,
    EnrollmentFactory,
    SectionFactory,
    UserFactory,
)
from tests.pages import html, sign_in


def follow(client, response, status=200) -> str:
    assert response.status_code == 302, response.status
    return html(client.get(response.headers["Location"]), status)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def orders_of(user) -> list[Order]:
    db.session.rollback()
    return list(db.session.scalars(select(Order).where(Order.user_id == user.id)))


@pytest.fixture
def student():
    return UserFactory()


@pytest.fixture
def course():
    course = CourseFactory(name="Flask 实战", policies=[(30, "99.00"), (0, "299.00")])
    return course


def policy_ids(course) -> list[int]:
    return [p.id for p in sorted(course.price_policies, key=lambda p: p.valid_period)]


def add(client, course, policy_id, **extra):
    form = {"item_type": "course", "item_id": course.id, "price_policy_id": policy_id, **extra}
    return client.post("/cart/add", data=form)


def settle(client, student, course, policy_id):
    """A signed-in student's settlement of one line (buy now); answers the settlement page."""
    sign_in(client, student)
    return follow(client, add(client, course, policy_id, buy_now="1"))


# --- pages for visitors and students ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/settlement", "/orders", "/orders/123", "/my/courses"])
def test_pages_for_students_send_a_visitor_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_empty_cart_for_a_visitor_and_a_student(client, student):
    assert "Your cart is empty" in html(client.get("/cart?lang=en"))
    sign_in(client, student)
    page = html(client.get("/cart"))
    assert "/my/courses" in page
    assert "/orders" in page
    assert "You have no orders yet" in html(client.get("/orders?lang=en"))
    assert "You are not enrolled" in html(client.get("/my/courses?lang=en"))


def test_the_course_page_has_the_buy_form(client, course):
    page = html(client.get(f"/courses/{course.id}"))
    assert 'action="/cart/add"' in page
    assert 'name="csrf_token"' in page
    assert page.count('name="price_policy_id"') == 2
    assert re.search(r'value="\d+" checked', page)
    assert 'name="buy_now"' in page


def test_the_degree_page_has_the_buy_form(client):
    degree = DegreeCourseFactory()
    page = html(client.get(f"/degree-courses/{degree.id}"))
    assert 'value="degree_course"' in page
    assert 'action="/cart/add"' in page


# --- cart ---------------------------------------------------------------------------------------


def test_a_visitor_adds_changes_and_removes_in_the_session(client, course):
    forever, month = policy_ids(course)
    page = follow(client, add(client, course, month))
    assert "Flask 实战" in page
    assert "99.00" in page
    page = follow(
        client, client.post(f"/cart/course/{course.id}/policy", data={"price_policy_id": forever})
    )
    assert "299.00" in page
    page = follow(client, client.post(f"/cart/course/{course.id}/remove"))
    assert "Flask 实战" not in page


def test_a_student_adds_to_the_redis_cart(client, student, course):
    sign_in(client, student)
    _forever, month = policy_ids(course)
    follow(client, add(client, course, month))
    assert RedisCart(student.id).lines() == {f"course:{course.id}": month}


def test_a_refused_line_is_flashed_on_the_course_page(client, course):
    client.set_cookie("lang", "en")  # the refusal is put in words when it is flashed
    other = CourseFactory()
    response = add(client, course, other.price_policies[0].id)
    assert response.headers["Location"].endswith(f"/courses/{course.id}")
    assert "does not belong" in html(client.get(f"/courses/{course.id}?lang=en"))
    assert "not in your cart" in follow(client, client.post("/cart/course/999/remove?lang=en"))


def test_settle_from_the_cart_asks_a_visitor_to_log_in(client, course):
    add(client, course, course.price_policies[0].id)
    response = client.post("/settlement", data={"from_cart": "1"})
    assert "/login?next=/settlement/from-cart" in response.headers["Location"]


def test_a_visitor_buying_now_is_sent_to_log_in_with_the_line_in_the_cart(client, course):
    response = add(client, course, course.price_policies[0].id, buy_now="1")
    assert "/login" in response.headers["Location"]
    assert "Flask 实战" in html(client.get("/cart"))


# --- settlement and orders ----------------------------------------------------------------------


def test_settle_from_the_cart_and_pay_in_the_sandbox(client, student, course):
    sign_in(client, student)
    follow(client, add(client, course, policy_ids(course)[1]))
    page = follow(client, client.post("/settlement", data={"from_cart": "1"}))
    assert "Flask 实战" in page
    assert hidden(page, "expected_amount") == "99.00"
    response = client.post(
        "/orders",
        data={
            "idempotency_key": hidden(page, "idempotency_key"),
            "expected_amount": "99.00",
            "payment_method": "sandbox",
        },
    )
    assert response.status_code == 302
    assert "/payments/sandbox/gateway?" in response.headers["Location"]
    (order,) = orders_of(student)
    assert order.status == "pending"
    assert order.actual_amount == Decimal("99.00")
    page = html(client.get(f"/orders/{order.order_no}"))
    assert "/payments/sandbox/gateway?" in page  # Pay now
    assert order.order_no in html(client.get("/orders"))


def test_buy_now_with_a_course_coupon_and_a_site_wide_one(client, student, course):
    course_coupon = CouponRecordFactory(
        user=student, coupon=CouponFactory(name="课程券", product=course, value=Decimal("20.00"))
    )
    site_wide = CouponRecordFactory(
        user=student, coupon=CouponFactory(name="全站券", value=Decimal("9.00"))
    )
    page = settle(client, student, course, policy_ids(course)[1])
    assert "课程券" in page
    assert "全站券" in page
    form = {
        f"coupon-course-{course.id}": course_coupon.id,
        "global_coupon": site_wide.id,
        "payment_method": "sandbox",
    }
    page = html(client.post("/settlement/quote", data=form))
    assert hidden(page, "expected_amount") == "70.00"  # 99 - 20 - 9
    assert f'value="{course_coupon.id}" selected' in page
    form |= {"expected_amount": "70.00", "idempotency_key": hidden(page, "idempotency_key")}
    response = client.post("/orders", data=form)
    assert "/payments/sandbox/gateway?" in response.headers["Location"]
    (order,) = orders_of(student)
    assert order.actual_amount == Decimal("70.00")
    reserved = db.session.scalars(
        select(CouponRecord.status).where(CouponRecord.order_id == order.id)
    ).all()
    assert sorted(reserved) == ["reserved", "reserved"]


def test_a_double_click_gives_one_order(client, student, course):
    page = settle(client, student, course, policy_ids(course)[1])
    form = {
        "idempotency_key": hidden(page, "idempotency_key"),
        "expected_amount": "99.00",
        "payment_method": "sandbox",
    }
    first = client.post("/orders", data=form)
    second = client.post("/orders", data=form)
    assert first.status_code == second.status_code == 302
    assert len(orders_of(student)) == 1


def test_an_amount_mismatch_shows_the_new_amount(client, student, course):
    page = settle(client, student, course, policy_ids(course)[1])
    response = client.post(
        "/orders?lang=en",
        data={
            "idempotency_key": hidden(page, "idempotency_key"),
            "expected_amount": "50.00",
            "payment_method": "sandbox",
        },
    )
    assert response.headers["Location"].startswith("/settlement?chosen=1")
    page = html(client.get(response.headers["Location"] + "&lang=en"))
    assert "The amount has changed; the new amount is ¥99.00." in page  # as money, not "99.00"
    assert orders_of(student) == []


def test_an_order_of_nothing_is_paid_at_once(client, student, course):
    record = CouponRecordFactory(
        user=student, coupon=CouponFactory(product=course, value=Decimal("200.00"))
    )
    page = settle(client, student, course, policy_ids(course)[1])
    response = client.post(
        "/orders",
        data={
            f"coupon-course-{course.id}": record.id,
            "idempotency_key": hidden(page, "idempotency_key"),
            "expected_amount": "0.00",
            "payment_method": "sandbox",
        },
    )
    (order,) = orders_of(student)
    assert order.status == "paid"
    assert response.headers["Location"].endswith(f"/orders/{order.order_no}")
    assert "Flask 实战" in html(client.get("/my/courses"))


def test_settlement_without_one_goes_back_to_the_cart(client, student):
    sign_in(client, student)
    response = client.get("/settlement")
    assert response.headers["Location"].endswith("/cart")


def place(client, student, course) -> Order:
    page = settle(client, student, course, policy_ids(course)[1])
    client.post(
        "/orders",
        data={
            "idempotency_key": hidden(page, "idempotency_key"),
            "expected_amount": "99.00",
            "payment_method": "sandbox",
        },
    )
    (order,) = orders_of(student)
    return order


def test_cancel_a_pending_order(client, student, course):
    order = place(client, student, course)
    page = follow(client, client.post(f"/orders/{order.order_no}/cancel?lang=en"))
    assert "cancelled" in page
    assert orders_of(student)[0].status == "cancelled"
    follow(client, client.post(f"/orders/{order.order_no}/cancel"))  # again: a flashed refusal


def test_request_a_refund_of_a_paid_order(client, student, course):
    order = place(client, student, course)
    from app.services.orders import mark_paid

    mark_paid(order, utcnow(), trade_no="T1")
    db.session.commit()
    page = html(client.get(f"/orders/{order.order_no}?lang=en"))
    assert "Request refund" in page
    page = follow(client, client.post(f"/orders/{order.order_no}/refund", data={"reason": ""}))
    assert orders_of(student)[0].status == "paid"
    page = follow(
        client, client.post(f"/orders/{order.order_no}/refund", data={"reason": "Too hard"})
    )
    assert "Too hard" in page
    assert orders_of(student)[0].status == "refund_requested"


def test_another_users_order_is_a_404(client, student, course):
    order = place(client, student, course)
    sign_in(client, UserFactory())
    assert client.get(f"/orders/{order.order_no}").status_code == 404
    assert client.post(f"/orders/{order.order_no}/cancel").status_code == 404
    assert client.post(f"/orders/{order.order_no}/refund", data={"reason": "x"}).status_code == 404
    assert orders_of(student)[0].status == "pending"


def test_orders_are_paged(client, student, course):
    sign_in(client, student)
    assert client.get("/orders?page=0").status_code == 200
    assert client.get("/orders?page=x").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


# --- my courses and learning ------------------------------------------------------------------


@pytest.fixture
def sections(course):
    chapter = ChapterFactory(course=course, number=1, name="开始")
    free = SectionFactory(chapter=chapter, position=1, name="Free one", free_trial=True)
    paid = SectionFactory(
        chapter=chapter, position=2, name="Paid one", link="https://video.example.com/v/2"
    )
    return free, paid


# Who may study which section, the lesson page and its media: tests/functional/test_learning.py.


def test_an_expired_enrollment_is_refused(client, student, course, sections):
    _, paid = sections
    EnrollmentFactory(
        user=student,
        product=course,
        valid_from=utcnow() - timedelta(days=60),
        valid_until=utcnow() - timedelta(days=30),
    )
    sign_in(client, student)
    assert client.get(f"/learn/{course.id}/{paid.id}").status_code == 403
    page = html(client.get("/my/courses?lang=en"))
    assert "Expired" in page


def test_a_section_of_another_course_is_a_404(client, course, sections):
    free, _ = sections
    other = CourseFactory()
    assert client.get(f"/learn/{other.id}/{free.id}").status_code == 404
    assert client.get(f"/learn/{course.id}/999999").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 0
