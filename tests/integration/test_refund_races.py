"""Refunds under concurrency on the real MariaDB: two staff approving at once make one gateway
refund and one state change, and an approval racing the student's withdrawal (or a rejection)
ends in exactly one consistent state."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from app import unit_of_work
from app.blueprints.payments.sandbox import sandbox_notification
from app.extensions import db
from app.models import Enrollment, Order
from app.models.types import utcnow
from app.services import refunds
from app.services.errors import DomainError
from app.services.payments.alipay import sandbox_transport, set_sandbox_transport
from tests.factories import CourseFactory, UserFactory
from tests.races import run_together

# Threads (or a worker) with connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.usefixtures("mariadb")]


def lock_waits() -> int:
    """Statements of this test's database waiting for a row lock right now: an UPDATE of
    orders still running while the order's row is held by the approving transaction (MariaDB
    does not always list such a waiter in innodb_trx, so the process list is read too)."""
    with db.engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT COUNT(*) FROM information_schema.processlist p "
                "LEFT JOIN information_schema.innodb_trx t ON p.id = t.trx_mysql_thread_id "
                "WHERE p.db = DATABASE() AND p.id <> CONNECTION_ID() AND p.command = 'Query' "
                "AND (t.trx_state = 'LOCK WAIT' OR p.info LIKE 'UPDATE orders %')"
            )
        )


def until_someone_waits(limit: float = 20.0) -> bool:
    """Block until another transaction waits on a lock we hold (or `limit` seconds pass: the
    outcome is checked either way; this only makes sure the competitor really overlaps)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if lock_waits():
            return True
        time.sleep(0.02)
    return False


class Desk:
    """The sandbox's refund desk, counting the refunds it is asked for. `during` runs inside
    the gateway call, while the approving transaction holds its claim."""

    def __init__(self, app) -> None:
        self.real = sandbox_transport(app)
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.during = None
        self.saw_a_waiter = False

    def __call__(self, url, form, timeout):
        with self.lock:
            self.calls.append(dict(form))
        if self.during is not None:
            self.during()
        else:
            self.saw_a_waiter = until_someone_waits() or self.saw_a_waiter
        return self.real(url, form, timeout)


@pytest.fixture
def desk(app):
    desk = Desk(app)
    set_sandbox_transport(app, desk)
    return desk


def placed_order(client, headers, course) -> dict:
    """A pending sandbox order of `course` at 99.00, placed through the API."""
    body = {
        "items": [
            {
                "item_type": "course",
                "item_id": course.id,
                "price_policy_id": course.price_policies[0].id,
            }
        ],
        "expected_amount": "99.00",
        "payment_method": "sandbox",
    }
    return client.post("/api/v1/orders", json=body, headers=headers).get_json()["data"]


def requested_order(app, token_for, student=None):
    """A paid sandbox order whose refund the student has asked for."""
    student = student or UserFactory()
    headers = token_for(student)
    course = CourseFactory(policies=[(30, "99.00")])
    client = app.test_client()
    order = placed_order(client, headers, course)
    biz = {"out_trade_no": order["order_no"], "total_amount": "99.00", "subject": "x"}
    form = sandbox_notification(biz, f"T-{order['order_no']}", utcnow())
    assert client.post("/payments/alipay/notify", data=form).get_data(as_text=True) == "success"
    response = client.post(
        f"/api/v1/orders/{order['order_no']}/refund", json={"reason": "why"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    return order["order_no"], student, headers, course


def in_own_session(app, work):
    """Run a refunds service as the admin page would, in an app context of its own."""
    with app.app_context():
        try:
            unit_of_work.run(work)
            return "done"
        except refunds.RefundFailed as exc:
            failure = exc.failure
            unit_of_work.run(lambda: refunds.record_failure(failure))
            return exc.slug
        except DomainError as exc:
            return exc.slug
        finally:
            db.session.remove()


def stored(order_no: str) -> Order:
    db.session.rollback()
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.order_no == order_no))


def enrollment_end(student, course):
    db.session.expire_all()
    return db.session.scalar(
        select(Enrollment.valid_until).where(
            Enrollment.user_id == student.id, Enrollment.product_id == course.id
        )
    )


def test_two_approvals_at_once_make_one_gateway_refund(app, token_for, desk):
    order_no, student, _, course = requested_order(app, token_for)
    staff = [UserFactory(is_staff=True).id, UserFactory(is_staff=True).id]
    now = utcnow()

    def approve(i):
        return in_own_session(app, lambda: refunds.approve_refund(order_no, staff[i], now))

    results = run_together(2, approve)
    assert sorted(results) == ["done", "refund_not_allowed"], results
    assert len(desk.calls) == 1
    assert desk.saw_a_waiter  # the loser really queued behind the winner's claim
    got = stored(order_no)
    assert (got.status, got.refunded_at) == ("refunded", now)
    assert got.refund_handled_by_id == staff[results.index("done")]
    assert enrollment_end(student, course) == now


def test_approve_and_withdraw_at_once_end_in_one_consistent_state(app, token_for, desk):
    outcomes = set()
    for _ in range(4):
        desk.calls.clear()
        order_no, student, headers, course = requested_order(app, token_for)
        bought_until = enrollment_end(student, course)
        staff = UserFactory(is_staff=True).id
        now = utcnow()

        def race(i, order_no=order_no, headers=headers, staff=staff, now=now):
            if i == 0:
                return in_own_session(app, lambda: refunds.approve_refund(order_no, staff, now))
            response = app.test_client().post(
                f"/api/v1/orders/{order_no}/refund/withdraw", headers=headers
            )
            body = response.get_json()
            return "done" if response.status_code == 200 else body.get("error")

        approved, withdrawn = run_together(2, race)
        got = stored(order_no)
        if approved == "done":
            assert withdrawn == "refund_not_allowed"
            assert got.status == "refunded"
            assert len(desk.calls) == 1
            assert enrollment_end(student, course) == now
        else:
            assert (approved, withdrawn) == ("refund_not_allowed", "done")
            assert got.status == "paid"
            assert desk.calls == []
            assert enrollment_end(student, course) == bought_until
        outcomes.add(got.status)
    assert outcomes <= {"refunded", "paid"}


@pytest.mark.parametrize("competitor", ["withdraw", "reject", "approve"])
def test_a_competitor_during_the_gateway_call_waits_and_is_refused(
    app, token_for, desk, competitor
):
    """Deterministic: the competitor starts while the gateway is answering the approval."""
    order_no, _, headers, _ = requested_order(app, token_for)
    staff = UserFactory(is_staff=True).id
    other = UserFactory(is_staff=True).id
    outcome: dict[str, object] = {}

    def compete():
        if competitor == "withdraw":
            response = app.test_client().post(
                f"/api/v1/orders/{order_no}/refund/withdraw", headers=headers
            )
            outcome["result"] = (response.status_code, response.get_json().get("error"))
        elif competitor == "reject":
            outcome["result"] = in_own_session(
                app, lambda: refunds.reject_refund(order_no, other, "no", utcnow())
            )
        else:
            outcome["result"] = in_own_session(
                app, lambda: refunds.approve_refund(order_no, other, utcnow())
            )

    thread = threading.Thread(target=compete)

    def start_competitor():
        desk.during = None  # the competitor's own call (if it ever made one) runs plainly
        thread.start()
        outcome["waited"] = until_someone_waits()

    desk.during = start_competitor
    assert in_own_session(app, lambda: refunds.approve_refund(order_no, staff, utcnow())) == (
        "done"
    )
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert outcome["waited"]
    expected = (409, "refund_not_allowed") if competitor == "withdraw" else "refund_not_allowed"
    assert outcome["result"] == expected
    assert len(desk.calls) == 1
    got = stored(order_no)
    assert (got.status, got.refund_handled_by_id, got.refund_rejection) == (
        "refunded",
        staff,
        None,
    )


def test_two_refunds_of_one_stray_payment_at_once_pay_back_once(app, token_for, desk):
    headers = token_for(UserFactory())
    client = app.test_client()
    order = placed_order(client, headers, CourseFactory(policies=[(30, "99.00")]))
    client.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=headers)
    biz = {"out_trade_no": order["order_no"], "total_amount": "99.00", "subject": "x"}
    form = sandbox_notification(biz, "LATE-1", utcnow())
    assert client.post("/payments/alipay/notify", data=form).get_data(as_text=True) == "success"
    staff = [UserFactory(is_staff=True).id, UserFactory(is_staff=True).id]

    def refund(i):
        return in_own_session(
            app, lambda: refunds.refund_flagged_payment(order["order_no"], staff[i], utcnow())
        )

    results = run_together(2, refund)
    assert sorted(results) == ["done", "refund_not_allowed"], results
    assert len(desk.calls) == 1
    got = stored(order["order_no"])
    assert (got.status, got.needs_refund) == ("cancelled", False)
    assert refunds.flagged_orders() == []
