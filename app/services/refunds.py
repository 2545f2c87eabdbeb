"""Refunds: staff approve or reject a student's request, the student withdraws it, and payments
that could not be applied (orders flagged `needs_refund`) are given back.

States (DESIGN.md): paid -> refund_requested (`orders.request_refund`, the student, inside
REFUND_WINDOW_DAYS) -> refunded (`approve_refund`, staff), or back to paid (`reject_refund`,
staff, with a reason the student sees; `withdraw_refund`, the student). Every step is a
conditional UPDATE on the state it leaves; a step whose UPDATE matches no row changes nothing
and is refused with Conflict `refund_not_allowed`.

Why the gateway is called inside the claiming transaction
-----------------------------------------------------------
`approve_refund` claims the order with the state change itself,
``UPDATE orders SET status='refunded' ... WHERE id=? AND status='refund_requested'``, and only
the transaction whose UPDATE matched the row goes on to call the gateway. That UPDATE holds the
row's lock (InnoDB's row lock; SQLite's database write lock) until the caller commits, and the
gateway call happens while it is held. A second approval, a rejection or the student's
withdrawal of the same order waits on the lock and then finds the order no longer
`refund_requested` (at READ COMMITTED an UPDATE's WHERE is checked against the latest committed
row), so it matches nothing and is refused: one gateway refund, one state change.

The other way, committing a claim, calling the gateway with no transaction open, then
committing the outcome, would need a state the contract does not have (or a claim column with a
lease) and a way to recover claims left by a process that died in between. Holding the lock
costs at most the gateway's timeout (10 s, well inside MariaDB's lock wait of 50 s) on one
order row that only staff and its owner write; a payment notification for that very order would
wait as long.

Whatever goes wrong after the gateway has refunded (the commit fails, the process dies, the
answer times out after Alipay did the refund) leaves the order `refund_requested`, and staff
approve it again: each refund has an out_request_no fixed by what it refunds (`request_no_for`:
the order, or the order and the stray trade), and Alipay answers a repeated out_request_no as
the same refund (`fund_change` "N") without moving money again. So a retried approval is
never a second refund.

A failed call (refused, not answered, answer not signed) raises `RefundFailed`, whose caller's
unit of work rolls the claim back. The record of what the gateway said must outlive that
rollback: the error carries it (`exc.failure`, a `GatewayFailure`), and the caller writes it
with `record_failure` in a second unit of work (app/admin/refunds.py). This module never
commits.

Stray payments are recorded per notification (`PaymentEvent`, outcome `needs_refund`, or
`amount_mismatch` for a paid trade of another amount) and refunded per trade (`trade_no`), since
a gateway may deliver one trade many times. `refund_flagged_payment` claims the order by
clearing its `needs_refund` flag conditionally (the same lock argument as above) and refunds
each paid trade not yet refunded; a paid order whose duplicate payment is refunded stays paid.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Order, OrderStatus, PaymentEvent
from app.services.enrollment import refresh_enrollments
from app.services.errors import N_, Conflict, DomainError, InvalidInput, NotFound
from app.services.orders import get_order, move_status
from app.services.payments.alipay import gateway_for
from app.services.payments.gateway import RefundResult, parse_amount
from app.services.payments.notifications import PAID_STATUSES, SETTLED

log = logging.getLogger(__name__)

REJECTION_MAX = 500
REASON_LENGTH = N_("1 to 500 characters.")  # REJECTION_MAX, spelt out: a msgid is fixed text
ERROR_MAX = 1000
# Outcomes of a verified notification whose money the order could not use (notifications.py).
STRAY_OUTCOMES = ("needs_refund", "amount_mismatch")


@dataclass(frozen=True)
class GatewayFailure:
    """What to keep of a refund the gateway did not make, once its claim is rolled back: the
    gateway's words on the order (while the order is still `claim`: refund_requested, or
    flagged needs_refund) and the stray trades it did refund before failing."""

    order_id: int
    message: str
    claim: str  # "refund_requested" or "needs_refund"
    refunded: tuple[tuple[str, str], ...] = ()  # (trade_no, out_request_no)
    staff_user_id: int | None = None
    at: datetime | None = None


class RefundFailed(DomainError):
    """The gateway did not refund: refused, not answering, or an answer we cannot trust. Roll
    back, then `record_failure(exc.failure)`: the order is as it was, with the gateway's words
    in `refund_error`."""

    code, status, default_slug = 1030, 502, "refund_failed"
    default_message = N_("The payment gateway did not make the refund.")

    def __init__(self, *args: Any, failure: GatewayFailure | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failure = failure


# What staff read when the gateway did not refund; its own words are kept on the order
# (`refund_error`, shown with the request) and in the error's data (`gateway_answer`).
NOT_REFUNDED = N_(
    "The payment gateway did not make the refund; its answer is shown with the request."
)
PAYMENT_NOT_GIVEN_BACK = N_(
    "The payment gateway did not give a payment back; its answer is shown with the order."
)


def not_allowed(message: str = N_("The order is not in a state that allows this.")) -> Conflict:
    return Conflict(message, slug="refund_not_allowed")


def request_no_for(order_no: str, trade_no: str | None = None) -> str:
    """The out_request_no of a refund, fixed by what is refunded, so that asking again is the
    same refund at the gateway: "RF" + order_no for the order's own refund, "RS" + order_no +
    a digest of the trade for a stray payment (Alipay allows 64 characters)."""
    if trade_no is None:
        return f"RF{order_no}"
    return f"RS{order_no}{hashlib.sha256(trade_no.encode('utf-8')).hexdigest()[:20]}"


def describe(result: RefundResult) -> str:
    """The gateway's answer as staff read it: its message and, when given, its codes."""
    codes = " / ".join(str(c) for c in (result.code, result.sub_code) if c)
    text = f"{result.message} ({codes})" if codes else result.message
    return text[:ERROR_MAX]


def _order_by_no(order_no: str, *, with_lines: bool = False) -> Order:
    # populate_existing: the state is read afresh even when the session already holds the order.
    query = (
        select(Order).where(Order.order_no == order_no).execution_options(populate_existing=True)
    )
    if with_lines:
        query = query.options(selectinload(Order.lines))
    order = db.session.scalar(query)
    if order is None:
        raise NotFound(N_("No such order."))
    return order


def record_failure(failure: GatewayFailure) -> None:
    """Keep the gateway's words on the order, and the stray trades it did refund, after the
    failed refund's own transaction rolled back (the caller's second unit of work)."""
    still: ColumnElement[bool] = (
        Order.needs_refund.is_(True)
        if failure.claim == "needs_refund"
        else Order.status == OrderStatus.REFUND_REQUESTED
    )
    db.session.execute(
        update(Order)
        .where(Order.id == failure.order_id, still)
        .values(refund_error=failure.message)
        .execution_options(synchronize_session=False)
    )
    for trade_no, request_no in failure.refunded:
        _mark_refunded(failure.order_id, trade_no, request_no, failure.staff_user_id, failure.at)


# --- a student's request ------------------------------------------------------------------------


def approve_refund(order_no: str, staff_user_id: int, now: datetime) -> Order:
    """refund_requested -> refunded: the gateway refunds what was paid, its enrollments are
    derived again without its lines. A free order is refunded without a gateway.

    Raises NotFound (no such order), Conflict `refund_not_allowed` (not refund_requested, or
    another approval, rejection or withdrawal got there first), InvalidInput
    `payment_method_unavailable` (the order's gateway is not configured any more), RefundFailed
    `refund_failed` (the gateway did not refund; the order stays refund_requested with
    `refund_error` to be set by `record_failure(exc.failure)`)."""
    order = _order_by_no(order_no, with_lines=True)
    if order.status != OrderStatus.REFUND_REQUESTED:
        raise not_allowed(N_("Only an order whose refund was requested can be refunded."))
    amount = order.actual_amount
    gateway = gateway_for(current_app, order.payment_method) if amount > 0 else None
    request_no = request_no_for(order.order_no) if gateway is not None else None
    # The claim: only one transaction moves the order, and it holds the row until it commits.
    if not move_status(
        order.id,
        OrderStatus.REFUND_REQUESTED,
        OrderStatus.REFUNDED,
        refunded_at=now,
        refund_handled_by_id=staff_user_id,
        refund_request_no=request_no,
        refund_error=None,
    ):
        raise not_allowed(N_("The refund was just handled by someone else."))
    if gateway is not None:
        result = gateway.refund(order.order_no, amount, order.refund_reason or "", request_no)
        if not result.ok:
            message = describe(result)
            raise RefundFailed(
                NOT_REFUNDED,
                data={"order_no": order_no, "gateway_answer": message},
                failure=GatewayFailure(order.id, message, claim="refund_requested"),
            )
        if result.fund_change is False:
            log.info("refund %s of %s had been made already", request_no, order_no)
    refresh_enrollments(order.user_id, [line.product_id for line in order.lines], now)
    db.session.refresh(order)
    return order


def reject_refund(order_no: str, staff_user_id: int, reason: str, now: datetime) -> Order:
    """refund_requested -> paid, with the reason the student sees on the order.

    Raises InvalidInput (`reason` empty or over 500 characters), NotFound, Conflict
    `refund_not_allowed`."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REJECTION_MAX:
        raise InvalidInput(
            N_("Please say why the refund is refused, in at most 500 characters."),
            fields={"reason": REASON_LENGTH},
        )
    order = _order_by_no(order_no)
    if not move_status(
        order.id,
        OrderStatus.REFUND_REQUESTED,
        OrderStatus.PAID,
        refund_rejection=reason,
        refund_rejected_at=now,
        refund_handled_by_id=staff_user_id,
        refund_error=None,
    ):
        raise not_allowed(N_("Only an order whose refund was requested can be refused a refund."))
    db.session.refresh(order)
    return order


def withdraw_refund(user_id: int, order_no: str, now: datetime) -> Order:
    """The student takes the request back: refund_requested -> paid (the reason is kept).

    Raises NotFound (no such order, or another user's), Conflict `refund_not_allowed`."""
    order = get_order(user_id, order_no, now)
    if not move_status(order.id, OrderStatus.REFUND_REQUESTED, OrderStatus.PAID, refund_error=None):
        raise not_allowed(N_("Only a refund request that is still open can be withdrawn."))
    db.session.refresh(order)
    return order


def refund_requests() -> list[Order]:
    """Orders waiting for staff's answer, the oldest request first, with lines and user."""
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.REFUND_REQUESTED)
            .order_by(Order.refund_requested_at, Order.id)
            .options(selectinload(Order.lines), selectinload(Order.user))
        )
    )


# --- payments the order could not use -----------------------------------------------------------


@dataclass(frozen=True)
class StrayPayment:
    """One trade paid for an order that could not use it (every delivery of it together)."""

    gateway: str
    trade_no: str
    amount: Decimal | None  # None when the notification's amount could not be read
    outcome: str  # needs_refund, or amount_mismatch
    note: str
    received_at: datetime  # the first delivery
    refunded_at: datetime | None
    refund_request_no: str | None

    @property
    def refundable(self) -> bool:
        return self.refunded_at is None and self.amount is not None and self.amount > 0


@dataclass(frozen=True)
class FlaggedOrder:
    order: Order
    payments: list[StrayPayment]


def _stray_payments(orders: Sequence[Order]) -> dict[int, list[StrayPayment]]:
    """Each order's stray trades, from its verified notifications, in one query. The trade that
    paid the order itself is never one of them."""
    found: dict[int, dict[str, list[PaymentEvent]]] = {order.id: {} for order in orders}
    if not found:
        return {}
    events = db.session.scalars(
        select(PaymentEvent)
        .where(
            PaymentEvent.order_id.in_(list(found)),
            PaymentEvent.verified.is_(True),
            PaymentEvent.outcome.in_(STRAY_OUTCOMES),
            PaymentEvent.trade_status.in_(PAID_STATUSES),
            PaymentEvent.trade_no.is_not(None),
        )
        .order_by(PaymentEvent.received_at, PaymentEvent.id)
        .execution_options(populate_existing=True)
    )
    for event in events:
        found[event.order_id].setdefault(event.trade_no, []).append(event)
    by_order: dict[int, list[StrayPayment]] = {}
    for order in orders:
        payments = []
        for trade_no, deliveries in found[order.id].items():
            if order.status in SETTLED and trade_no == order.trade_no:
                continue
            first = deliveries[0]
            refunded = next((e for e in deliveries if e.refunded_at is not None), None)
            payments.append(
                StrayPayment(
                    gateway=first.gateway,
                    trade_no=trade_no,
                    amount=parse_amount(first.total_amount),
                    outcome=first.outcome,
                    note=first.note,
                    received_at=first.received_at,
                    refunded_at=refunded.refunded_at if refunded else None,
                    refund_request_no=refunded.refund_request_no if refunded else None,
                )
            )
        by_order[order.id] = payments
    return by_order


def flagged_orders() -> list[FlaggedOrder]:
    """Orders flagged `needs_refund`, the oldest first, each with its stray payments."""
    orders = list(
        db.session.scalars(
            select(Order)
            .where(Order.needs_refund == true())  # its index (`IS true` reads every order)
            .order_by(Order.created_at, Order.id)
            .options(selectinload(Order.lines), selectinload(Order.user))
        )
    )
    payments = _stray_payments(orders)
    return [FlaggedOrder(order, payments[order.id]) for order in orders]


def stray_payments(order: Order) -> list[StrayPayment]:
    """One order's stray payments, refunded or not (for its detail page)."""
    return _stray_payments([order])[order.id]


def _mark_refunded(
    order_id: int, trade_no: str, request_no: str, staff_user_id: int | None, now: datetime | None
) -> None:
    db.session.execute(
        update(PaymentEvent)
        .where(
            PaymentEvent.order_id == order_id,
            PaymentEvent.trade_no == trade_no,
            PaymentEvent.outcome.in_(STRAY_OUTCOMES),
            PaymentEvent.refunded_at.is_(None),
        )
        .values(refunded_at=now, refunded_by_id=staff_user_id, refund_request_no=request_no)
        .execution_options(synchronize_session=False)
    )


def refund_flagged_payment(order_no: str, staff_user_id: int, now: datetime) -> Order:
    """Give back every paid trade of a flagged order that the order could not use and that is
    not refunded yet, then clear the flag. The order keeps its state (a paid order stays paid,
    with its enrollments). With nothing left to give back (a mismatched amount that was never
    paid, a trade refunded already and delivered again) the flag is just cleared.

    Raises NotFound, Conflict `refund_not_allowed` (not flagged, or someone else just handled
    it), InvalidInput `payment_method_unavailable`, RefundFailed `refund_failed` (the flag stays;
    `record_failure(exc.failure)` sets `refund_error` and records the trades refunded before
    the failure)."""
    order = _order_by_no(order_no)
    if not order.needs_refund:
        raise not_allowed(N_("This order has no payment waiting to be refunded."))
    claimed = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.needs_refund.is_(True))
        .values(needs_refund=False, refund_error=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise not_allowed(N_("The payment was just handled by someone else."))
    # Read after the claim: what another approval refunded before we got the row is seen.
    due = [payment for payment in stray_payments(order) if payment.refundable]
    gateways = {name: gateway_for(current_app, name) for name in {p.gateway for p in due}}
    done: list[tuple[str, str]] = []
    for payment in due:
        gateway = gateways[payment.gateway]
        request_no = request_no_for(order.order_no, payment.trade_no)
        result = gateway.refund(
            order.order_no,
            payment.amount,
            f"Payment {payment.trade_no} could not be used by order {order.order_no}",
            request_no,
        )
        if not result.ok:
            message = describe(result)
            failure = GatewayFailure(
                order.id, message, "needs_refund", tuple(done), staff_user_id, now
            )
            raise RefundFailed(
                PAYMENT_NOT_GIVEN_BACK,
                data={
                    "order_no": order_no,
                    "trade_no": payment.trade_no,
                    "gateway_answer": message,
                },
                failure=failure,
            )
        _mark_refunded(order.id, payment.trade_no, request_no, staff_user_id, now)
        done.append((payment.trade_no, request_no))
    db.session.flush()
    db.session.refresh(order)
    return order
