"""The staff refunds page: approve (through the sandbox gateway), refuse with a reason, a failed
gateway call shown on the request, and stray payments given back."""

from __future__ import annotations

import pytest

from tests.api import ok
from tests.factories import CourseFactory, UserFactory
from tests.functional.test_refunds import ask_refund, paid_order, pay, place, stored
from tests.pages import html, sign_in


@pytest.fixture
def requested(client, headers, desk):
    """A paid order whose student asked for a refund."""
    order = paid_order(client, headers, CourseFactory(name="Vue 3"), amount="99.00")
    ok(ask_refund(client, headers, order, reason="Too hard for me"))
    return order


def test_staff_see_the_request_and_approve_it(client, staff, requested, desk):
    sign_in(client, staff)
    page = html(client.get("/admin/refunds/"))
    assert requested["order_no"] in page
    assert "Too hard for me" in page
    assert "Vue 3" in page

    response = client.post(f"/admin/refunds/{requested['order_no']}/approve")
    assert response.status_code == 302
    assert stored(requested["order_no"]).status == "refunded"
    assert [b["refund_amount"] for b in desk.biz] == ["99.00"]
    page = html(client.get(response.location))
    assert "was refunded" in page
    assert "Too hard for me" not in page  # no longer waiting

    # A second click (another tab) is refused and calls no gateway again.
    client.post(f"/admin/refunds/{requested['order_no']}/approve")
    assert len(desk.requests) == 1


def test_a_gateway_failure_is_shown_and_the_request_stays_open(client, staff, requested, desk):
    sign_in(client, staff)
    desk.fail = "refuse"
    response = client.post(f"/admin/refunds/{requested['order_no']}/approve")
    page = html(client.get(response.location))
    assert "交易不存在" in page  # the gateway's own words, on the request
    order = stored(requested["order_no"])
    assert order.status == "refund_requested"
    assert "交易不存在" in order.refund_error

    desk.fail = None  # staff try again once the gateway answers
    client.post(f"/admin/refunds/{requested['order_no']}/approve")
    assert stored(requested["order_no"]).status == "refunded"


def test_staff_refuse_with_a_reason_the_student_reads(client, headers, staff, requested, desk):
    sign_in(client, staff)
    client.post(f"/admin/refunds/{requested['order_no']}/reject", data={"reason": ""})
    assert stored(requested["order_no"]).status == "refund_requested"  # a reason is required

    client.post(
        f"/admin/refunds/{requested['order_no']}/reject",
        data={"reason": "You watched the whole course."},
    )
    order = stored(requested["order_no"])
    assert order.status == "paid"
    assert order.refund_rejection == "You watched the whole course."
    assert desk.requests == []
    body = ok(client.get(f"/api/v1/orders/{requested['order_no']}", headers=headers))
    assert body["refund_rejection"] == "You watched the whole course."


def test_a_stray_payment_is_given_back_from_the_same_page(client, headers, staff, desk):
    order = place(client, headers, CourseFactory(policies=[(30, "49.00")]), amount="49.00")
    ok(client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers))
    assert pay(client, order, trade_no="LATE-7") == "success"

    sign_in(client, staff)
    page = html(client.get("/admin/refunds/"))
    assert "LATE-7" in page
    client.post(f"/admin/refunds/{order['order_no']}/refund-payments")
    assert not stored(order["order_no"]).needs_refund
    assert [b["refund_amount"] for b in desk.biz] == ["49.00"]
    assert "LATE-7" not in html(client.get("/admin/refunds/"))


def test_students_cannot_approve(client, headers, requested, desk):
    sign_in(client, UserFactory())
    assert client.post(f"/admin/refunds/{requested['order_no']}/approve").status_code == 403
    assert stored(requested["order_no"]).status == "refund_requested"
    assert desk.requests == []


def test_every_refund_button_needs_the_csrf_token(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        client = app.test_client()
        sign_in(client, UserFactory(is_staff=True))
        assert client.post("/admin/refunds/20260101000000000001/approve").status_code == 400
        page = html(client.get("/admin/refunds/"))
        assert 'name="csrf-token"' in page
