"""Refunds through the sandbox gateway: asked for by the student, approved or refused by staff,
withdrawn by the student, a failed gateway call kept for staff, and stray payments given back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app import unit_of_work
from app.blueprints.payments.sandbox import sandbox_notification
from app.extensions import db
from app.models import Enrollment, Order, PaymentEvent
from app.models.types import utcnow
from app.services import orders as orders_service
from app.services import refunds
from app.services.enrollment import grant_access
from app.services.errors import DomainError, InvalidInput, NotFound
from app.services.offers import LineRef
from app.services.orders import OrderLineIn
from app.services.payments.alipay import set_sandbox_transport
from app.services.payments.keys import sandbox_gateway_private_key
from app.services.payments.signing import sign_notification
from tests.api import ok, refused
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.pages import html, sign_in
from tests.refund_desk import Desk


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def place(client, headers, *courses, amount):
    items = [
        {"item_type": "course", "item_id": c.id, "price_policy_id": c.price_policies[0].id}
        for c in courses
    ]
    body = {"items": items, "expected_amount": amount, "payment_method": "sandbox"}
    return ok(client.post("/api/v1/orders", json=body, headers=headers), 201)


def pay(client, order, trade_no="T1") -> str:
    biz = {"out_trade_no": order["order_no"], "total_amount": order["amount"], "subject": "x"}
    form = sandbox_notification(biz, trade_no, utcnow())
    return client.post("/payments/alipay/notify", data=form).get_data(as_text=True)


def paid_order(client, headers, *courses, amount="99.00"):
    order = place(client, headers, *courses, amount=amount)
    assert pay(client, order) == "success"
    return order


def stored(order_no) -> Order:
    db.session.rollback()
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.order_no == order_no))


def enrollment_of(user, course) -> Enrollment:
    db.session.expire_all()
    return db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.product_id == course.id)
    )


def ask_refund(client, headers, order, reason="Not for me"):
    return client.post(
        f"/api/v1/orders/{order['order_no']}/refund", json={"reason": reason}, headers=headers
    )


def as_staff(work):
    """Run a refunds service the way the admin page does: one unit of work, and a gateway's
    refusal recorded in a second one after the first rolled back."""
    try:
        return unit_of_work.run(work)
    except refunds.RefundFailed as exc:
        failure = exc.failure
        unit_of_work.run(lambda: refunds.record_failure(failure))
        raise


def approve(order, staff, now=None):
    now = now or utcnow()
    return as_staff(lambda: refunds.approve_refund(order["order_no"], staff.id, now))


def reject(order, staff, reason):
    return as_staff(lambda: refunds.reject_refund(order["order_no"], staff.id, reason, utcnow()))


# --- the whole flow -------------------------------------------------------------------------------


def test_an_approved_refund_goes_through_the_gateway_and_takes_the_periods_back(
    client, headers, student, staff, desk
):
    month = CourseFactory(policies=[(30, "99.00")])
    forever = CourseFactory(policies=[(0, "299.00")])
    # Sixty days already given (by staff): the refund takes back only the thirty this order
    # bought.
    granted_at = utcnow()
    grant_access(
        student.id, month.id, granted_by_id=staff.id, reason="gift", now=granted_at, days=60
    )
    db.session.commit()
    owned_until = granted_at + timedelta(days=60)
    order = paid_order(client, headers, month, forever, amount="398.00")
    assert enrollment_of(student, month).valid_until == owned_until + timedelta(days=30)
    assert enrollment_of(student, forever).valid_until is None

    requested = ok(ask_refund(client, headers, order, reason="课程不合适"))
    assert requested["status"] == "refund_requested"
    assert [o.order_no for o in refunds.refund_requests()] == [order["order_no"]]

    now = utcnow()
    refunded = approve(order, staff, now)
    assert refunded.status == "refunded"

    assert len(desk.requests) == 1
    sent = desk.requests[0]
    assert sent["method"] == "alipay.trade.refund"
    assert desk.biz[0] == {
        "out_trade_no": order["order_no"],
        "refund_amount": "398.00",
        "out_request_no": f"RF{order['order_no']}",
        "refund_reason": "课程不合适",
    }
    got = stored(order["order_no"])
    assert (got.status, got.refunded_at, got.refund_handled_by_id) == ("refunded", now, staff.id)
    assert got.refund_request_no == f"RF{order['order_no']}"
    assert got.refund_error is None
    assert enrollment_of(student, month).valid_until == owned_until
    assert enrollment_of(student, forever).valid_until == now  # the forever line ends now
    assert refunds.refund_requests() == []

    shown = ok(client.get(f"/api/v1/orders/{order['order_no']}", headers=headers))
    assert (shown["status"], shown["refund_reason"], shown["refund_rejection"]) == (
        "refunded",
        "课程不合适",
        None,
    )
    sign_in(client, student)
    page = html(client.get(f"/orders/{order['order_no']}?lang=en"))
    assert "Refunded on" in page
    assert "398.00" in page
    assert 'class="refund-form"' not in page
    assert "withdraw-form" not in page


def test_a_refund_never_ends_an_enrollment_before_now(client, headers, student, staff, desk):
    course = CourseFactory(policies=[(30, "99.00")])
    order = paid_order(client, headers, course)
    ok(ask_refund(client, headers, order))
    now = utcnow()
    approve(order, staff, now)
    assert enrollment_of(student, course).valid_until == now
    assert not enrollment_of(student, course).active_at(now)


def test_a_second_approval_is_refused_and_calls_no_gateway(client, headers, staff, desk):
    order = paid_order(client, headers, CourseFactory())
    ok(ask_refund(client, headers, order))
    approve(order, staff)
    with pytest.raises(DomainError) as refusal:
        approve(order, staff)
    assert refusal.value.slug == "refund_not_allowed"
    assert len(desk.requests) == 1


def test_a_free_order_is_refunded_without_a_gateway(client, headers, student, staff, desk):
    course = CourseFactory(policies=[(30, "99.00")])
    record = CouponRecordFactory(
        user=student,
        coupon=CouponFactory(product=course, kind="money_off", value=Decimal("99.00")),
    )
    item = {
        "item_type": "course",
        "item_id": course.id,
        "price_policy_id": course.price_policies[0].id,
        "coupon_record_id": record.id,
    }
    body = {"items": [item], "expected_amount": "0.00", "payment_method": "sandbox"}
    order = ok(client.post("/api/v1/orders", json=body, headers=headers), 201)
    assert order["status"] == "paid"
    ok(ask_refund(client, headers, order))
    now = utcnow()
    approve(order, staff, now)
    got = stored(order["order_no"])
    assert (got.status, got.refund_request_no) == ("refunded", None)
    assert desk.requests == []
    assert enrollment_of(student, course).valid_until == now


# --- the gateway fails ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "words"),
    [("refuse", "ACQ.TRADE_NOT_EXIST"), ("down", "did not answer")],
)
def test_a_failed_gateway_call_leaves_the_request_open_with_the_error(
    client, headers, student, staff, desk, failure, words
):
    course = CourseFactory(policies=[(30, "99.00")])
    order = paid_order(client, headers, course)
    ok(ask_refund(client, headers, order))
    until = enrollment_of(student, course).valid_until
    desk.fail = failure

    with pytest.raises(refunds.RefundFailed) as failed:
        approve(order, staff)  # the admin rolls back on a refusal: the error must survive it
    assert failed.value.slug == "refund_failed"
    assert words in failed.value.extra["gateway_answer"]  # the message itself is fixed text

    got = stored(order["order_no"])
    assert got.status == "refund_requested"
    assert words in got.refund_error
    assert got.refunded_at is None
    assert enrollment_of(student, course).valid_until == until
    assert [o.order_no for o in refunds.refund_requests()] == [order["order_no"]]

    # Approved again once the gateway answers: the same out_request_no, so never two refunds.
    desk.fail = None
    approve(order, staff)
    got = stored(order["order_no"])
    assert (got.status, got.refund_error) == ("refunded", None)
    numbers = {biz["out_request_no"] for biz in desk.biz}
    assert numbers == {f"RF{order['order_no']}"}
    assert len(desk.requests) == 2


def test_a_refund_when_the_sandbox_is_switched_off_is_refused(app, client, headers, staff, desk):
    order = paid_order(client, headers, CourseFactory())
    ok(ask_refund(client, headers, order))
    app.config["PAYMENT_SANDBOX"] = False
    try:
        with pytest.raises(InvalidInput) as refusal:
            approve(order, staff)
    finally:
        app.config["PAYMENT_SANDBOX"] = True
    assert refusal.value.slug == "payment_method_unavailable"
    assert stored(order["order_no"]).status == "refund_requested"
    assert desk.requests == []


# --- refused by staff -----------------------------------------------------------------------------


def test_a_refused_request_shows_the_reason_and_may_be_asked_again(
    client, headers, student, staff, desk
):
    course = CourseFactory()
    order = paid_order(client, headers, course)
    ok(ask_refund(client, headers, order))
    until = enrollment_of(student, course).valid_until

    with pytest.raises(InvalidInput):
        reject(order, staff, "   ")
    with pytest.raises(InvalidInput):
        reject(order, staff, "x" * 501)
    assert stored(order["order_no"]).status == "refund_requested"

    reject(order, staff, "You have watched most of the course.")
    got = stored(order["order_no"])
    assert (got.status, got.refund_rejection, got.refund_handled_by_id) == (
        "paid",
        "You have watched most of the course.",
        staff.id,
    )
    assert got.refund_reason == "Not for me"  # the student's reason is kept
    assert enrollment_of(student, course).valid_until == until
    assert desk.requests == []

    sign_in(client, student)
    page = html(client.get(f"/orders/{order['order_no']}?lang=en"))
    assert "Your refund request was refused" in page
    assert "You have watched most of the course." in page
    assert 'class="refund-form"' in page  # still inside the window: may ask again
    shown = ok(client.get(f"/api/v1/orders/{order['order_no']}", headers=headers))
    assert shown["refund_rejection"] == "You have watched most of the course."

    with pytest.raises(DomainError) as refusal:
        reject(order, staff, "again")
    assert refusal.value.slug == "refund_not_allowed"

    # Asking again clears the old answer.
    client.post(f"/orders/{order['order_no']}/refund", data={"reason": "Really not for me"})
    got = stored(order["order_no"])
    assert (got.status, got.refund_rejection) == ("refund_requested", None)


def test_staff_answers_escape_markup_on_the_students_page(client, headers, student, staff, desk):
    order = paid_order(client, headers, CourseFactory())
    ok(ask_refund(client, headers, order))
    reject(order, staff, "<script>alert(1)</script>")
    sign_in(client, student)
    page = html(client.get(f"/orders/{order['order_no']}"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


# --- withdrawn by the student ---------------------------------------------------------------------


def test_withdraw_on_the_page(client, headers, student, desk):
    order = paid_order(client, headers, CourseFactory())
    sign_in(client, student)
    client.set_cookie("lang", "en")  # the messages flashed on the POSTs too
    client.post(f"/orders/{order['order_no']}/refund", data={"reason": "Too hard"})
    page = html(client.get(f"/orders/{order['order_no']}?lang=en"))
    assert "You asked for a refund" in page
    assert f'action="/orders/{order["order_no"]}/refund/withdraw"' in page
    assert 'class="refund-form"' not in page

    response = client.post(f"/orders/{order['order_no']}/refund/withdraw")
    assert response.status_code == 302
    page = html(client.get(response.headers["Location"] + "?lang=en"))
    assert "Your refund request was withdrawn." in page
    assert 'class="refund-form"' in page
    assert "withdraw-form" not in page
    got = stored(order["order_no"])
    assert (got.status, got.refund_reason) == ("paid", "Too hard")

    again = client.post(f"/orders/{order['order_no']}/refund/withdraw")
    assert again.status_code == 302
    assert "no longer open" in html(client.get(again.headers["Location"] + "?lang=en"))
    assert stored(order["order_no"]).status == "paid"

    sign_in(client, UserFactory())
    assert client.post(f"/orders/{order['order_no']}/refund/withdraw").status_code == 404


def test_withdraw_through_the_api(client, headers, token_for, desk):
    order = paid_order(client, headers, CourseFactory())
    path = f"/api/v1/orders/{order['order_no']}/refund/withdraw"
    refused(client.post(path, headers=headers), 409, "refund_not_allowed")
    ok(ask_refund(client, headers, order))

    refused(client.post(path), 401, "unauthorized")
    refused(client.post(path, headers=token_for(UserFactory())), 404, "not_found")
    refused(
        client.post("/api/v1/orders/20260101000000000000/refund/withdraw", headers=headers),
        404,
        "not_found",
    )
    withdrawn = ok(client.post(path, headers=headers))
    assert (withdrawn["status"], withdrawn["refund_reason"]) == ("paid", "Not for me")
    refused(client.post(path, headers=headers), 409, "refund_not_allowed")
    assert stored(order["order_no"]).status == "paid"


def test_the_withdraw_form_is_protected_by_csrf(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        set_sandbox_transport(app, Desk(app))
        student = UserFactory()
        course = CourseFactory()
        client = app.test_client()
        order = orders_service.place_order(
            student.id,
            [OrderLineIn(LineRef("course", course.id, course.price_policies[0].id))],
            None,
            Decimal("99.00"),
            "sandbox",
            utcnow(),
        )
        orders_service.mark_paid(order, utcnow(), trade_no="T1")
        orders_service.request_refund(student.id, order.order_no, "why", utcnow())
        db.session.commit()
        sign_in(client, student)
        page = html(client.get(f"/orders/{order.order_no}"))
        form = page[page.index('class="withdraw-form"') :]
        assert 'name="csrf_token" value="' in form[: form.index("</form>")]
        assert client.post(f"/orders/{order.order_no}/refund/withdraw").status_code == 400
        assert stored(order.order_no).status == "refund_requested"


# --- when a refund may not be asked for -----------------------------------------------------------


def test_no_refund_outside_the_window_or_from_other_states(client, headers, student, staff, desk):
    pending = place(client, headers, CourseFactory(), amount="99.00")
    refused(ask_refund(client, headers, pending), 409, "refund_not_allowed")
    with pytest.raises(DomainError) as refusal:
        approve(pending, staff)
    assert refusal.value.slug == "refund_not_allowed"
    with pytest.raises(NotFound):
        approve({"order_no": "20260101000000000000"}, staff)

    old = paid_order(client, headers, CourseFactory())
    db.session.execute(
        update(Order)
        .where(Order.order_no == old["order_no"])
        .values(paid_at=utcnow() - timedelta(days=7, minutes=1))
    )
    db.session.commit()
    refused(ask_refund(client, headers, old), 409, "refund_not_allowed")
    sign_in(client, student)
    page = html(client.get(f"/orders/{old['order_no']}?lang=en"))
    assert 'class="refund-form"' not in page
    assert "that time has passed" in page
    client.post(f"/orders/{old['order_no']}/refund", data={"reason": "late"})
    assert stored(old["order_no"]).status == "paid"

    for work in (
        lambda: refunds.approve_refund(old["order_no"], staff.id, utcnow()),
        lambda: refunds.reject_refund(old["order_no"], staff.id, "no", utcnow()),
        lambda: refunds.withdraw_refund(student.id, old["order_no"], utcnow()),
    ):
        with pytest.raises(DomainError) as refusal:
            as_staff(work)
        assert refusal.value.slug == "refund_not_allowed"
    assert stored(old["order_no"]).status == "paid"
    assert desk.requests == []


# --- payments the order could not use -------------------------------------------------------------


def test_a_payment_for_a_cancelled_order_is_refunded_once(client, headers, staff, desk):
    order = place(client, headers, CourseFactory(), amount="99.00")
    ok(client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers))
    assert pay(client, order, trade_no="LATE-1") == "success"
    assert pay(client, order, trade_no="LATE-1") == "success"  # delivered twice: one trade

    [flagged] = refunds.flagged_orders()
    assert flagged.order.order_no == order["order_no"]
    [payment] = flagged.payments
    assert (payment.trade_no, payment.amount, payment.refunded_at) == (
        "LATE-1",
        Decimal("99.00"),
        None,
    )

    now = utcnow()
    got = as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, now))
    assert (got.status, got.needs_refund) == ("cancelled", False)
    assert len(desk.requests) == 1
    assert desk.biz[0]["refund_amount"] == "99.00"
    assert desk.biz[0]["out_trade_no"] == order["order_no"]
    assert desk.biz[0]["out_request_no"] == refunds.request_no_for(order["order_no"], "LATE-1")
    assert refunds.flagged_orders() == []
    db.session.expire_all()
    events = db.session.scalars(select(PaymentEvent).where(PaymentEvent.trade_no == "LATE-1"))
    assert {(e.refunded_at, e.refunded_by_id) for e in events} == {(now, staff.id)}

    with pytest.raises(DomainError) as refusal:
        as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, utcnow()))
    assert refusal.value.slug == "refund_not_allowed"

    # The gateway delivers the same trade again: flagged again, but nothing is paid back twice.
    assert pay(client, order, trade_no="LATE-1") == "success"
    assert stored(order["order_no"]).needs_refund
    as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, utcnow()))
    assert not stored(order["order_no"]).needs_refund
    assert len(desk.requests) == 1


def test_a_duplicate_payment_of_a_paid_order_is_refunded_and_the_order_stays_paid(
    client, headers, student, staff, desk
):
    course = CourseFactory()
    order = paid_order(client, headers, course)  # paid by T1
    until = enrollment_of(student, course).valid_until
    assert pay(client, order, trade_no="T2") == "success"
    [flagged] = refunds.flagged_orders()
    assert [p.trade_no for p in flagged.payments] == ["T2"]  # never the trade that paid it

    as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, utcnow()))
    got = stored(order["order_no"])
    assert (got.status, got.trade_no, got.needs_refund) == ("paid", "T1", False)
    assert enrollment_of(student, course).valid_until == until
    assert [(b["refund_amount"], b["out_trade_no"]) for b in desk.biz] == [
        ("99.00", order["order_no"])
    ]
    [payment] = refunds.stray_payments(got)
    assert payment.refunded_at is not None
    assert payment.refund_request_no == refunds.request_no_for(order["order_no"], "T2")
    assert len(refunds.request_no_for(order["order_no"], "9" * 64)) <= 64  # Alipay's limit

    # The order itself may still be refunded, with its own request number.
    ok(ask_refund(client, headers, order))
    approve(order, staff)
    assert desk.biz[1]["out_request_no"] == f"RF{order['order_no']}"


def test_a_failed_refund_of_a_stray_payment_keeps_the_flag_and_the_error(
    client, headers, staff, desk
):
    order = place(client, headers, CourseFactory(), amount="99.00")
    ok(client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers))
    assert pay(client, order, trade_no="LATE-1") == "success"
    desk.fail = "refuse"
    with pytest.raises(refunds.RefundFailed):
        as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, utcnow()))
    got = stored(order["order_no"])
    assert got.needs_refund
    assert "ACQ.TRADE_NOT_EXIST" in got.refund_error
    [flagged] = refunds.flagged_orders()
    assert flagged.payments[0].refunded_at is None

    desk.fail = None
    as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, utcnow()))
    got = stored(order["order_no"])
    assert (got.needs_refund, got.refund_error) == (False, None)
    assert {b["out_request_no"] for b in desk.biz} == {
        refunds.request_no_for(order["order_no"], "LATE-1")
    }


def test_a_flag_with_no_money_behind_it_is_cleared_without_the_gateway(
    client, headers, staff, desk
):
    order = place(client, headers, CourseFactory(), amount="99.00")
    biz = {"out_trade_no": order["order_no"], "total_amount": "98.00", "subject": "x"}
    form = sandbox_notification(biz, "T9", utcnow())
    form = sign_notification(
        {**form, "trade_status": "WAIT_BUYER_PAY"}, sandbox_gateway_private_key(client.application)
    )
    assert client.post("/payments/alipay/notify", data=form).get_data(as_text=True) == "failure"
    [flagged] = refunds.flagged_orders()
    assert flagged.payments == []
    as_staff(lambda: refunds.refund_flagged_payment(order["order_no"], staff.id, utcnow()))
    assert not stored(order["order_no"]).needs_refund
    assert desk.requests == []
