"""Applying a gateway's payment notification: verified, recorded as a PaymentEvent, then applied
at most once. Answers what the gateway must read back: "success" or "failure" (CONTRACT.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Order, OrderStatus, PaymentEvent
from app.services.cart import forget_bought
from app.services.orders import close_order, mark_paid, owned_forever
from app.services.payments.alipay import gateway_for_notification
from app.services.payments.gateway import parse_amount, single_valued

log = logging.getLogger(__name__)

SUCCESS, FAILURE = "success", "failure"
PAID_STATUSES = {"TRADE_SUCCESS", "TRADE_FINISHED"}
SETTLED = {OrderStatus.PAID, OrderStatus.REFUND_REQUESTED, OrderStatus.REFUNDED}


@dataclass
class Outcome:
    answer: str  # what the gateway reads: success or failure
    event: PaymentEvent
    paid_order: Order | None = None  # set when this notification paid the order


def _payload(form: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(form, MultiDict):
        return {key: values if len(values) > 1 else values[0] for key, values in form.lists()}
    return dict(form)


def apply_notification(app: Flask, form: Mapping[str, Any], now: datetime) -> Outcome:
    """Verify and apply one notification in the caller's unit of work (commit, then answer);
    the bought items leave the cart after that commit."""
    event = PaymentEvent(gateway="unknown", payload=_payload(form), received_at=now, outcome="")
    db.session.add(event)

    def refuse(outcome: str, note: str = "") -> Outcome:
        event.outcome, event.note = outcome, note
        db.session.flush()
        return Outcome(FAILURE, event)

    params = single_valued(form)
    if params is None:
        return refuse("repeated_parameter")
    event.out_trade_no = params.get("out_trade_no", "")[:64] or None
    event.trade_no = params.get("trade_no", "")[:64] or None
    event.trade_status = params.get("trade_status", "")[:32] or None
    event.total_amount = params.get("total_amount", "")[:32] or None
    gateway = gateway_for_notification(app, params)
    if gateway is None:
        return refuse("unknown_app_id")
    event.gateway = gateway.method
    refusal = gateway.notification_refusal(params)
    if refusal is not None:
        return refuse(refusal)
    event.verified = True
    order = db.session.scalar(select(Order).where(Order.order_no == params.get("out_trade_no")))
    if order is None:
        return refuse("unknown_order")
    event.order_id = order.id
    if order.payment_method != gateway.method:
        return refuse("wrong_gateway", f"order is paid by {order.payment_method}")
    amount = parse_amount(params.get("total_amount"))
    if amount != order.actual_amount:
        _flag_for_staff(order)
        return refuse("amount_mismatch", f"order amount {order.actual_amount}")
    if params.get("trade_status") not in PAID_STATUSES:
        event.outcome = "recorded"
        db.session.flush()
        return Outcome(SUCCESS, event)

    trade_no = params.get("trade_no") or None
    other = _order_of_trade(trade_no, order)
    if other is not None:
        # The gateway names a trade that paid another of our orders: never applied twice (the
        # trade number is unique); staff look into it.
        _flag_for_staff(order)
        event.outcome = "trade_of_other_order"
        event.note = f"trade {trade_no} paid order {other}"
        log.warning(
            "payment %s for order %s already paid order %s", trade_no, order.order_no, other
        )
        db.session.flush()
        return Outcome(SUCCESS, event)
    if order.status == OrderStatus.PENDING:
        owned = owned_forever(order)
        if owned and close_order(order, OrderStatus.CANCELLED, now):
            # The student may study it for ever already: a second payment for the same access
            # is never kept. The order closes (its coupons are free again); staff refund.
            _flag_for_staff(order)
            event.outcome = "needs_refund"
            event.note = "already owned for ever: " + ", ".join(owned)
            log.warning("payment %s for order %s needs a refund", trade_no, order.order_no)
            db.session.flush()
            return Outcome(SUCCESS, event)
    if order.status == OrderStatus.PENDING and _paid_once(order, now, trade_no):
        event.outcome = "applied"
        db.session.flush()
        forget_bought(order)  # once the caller commits
        return Outcome(SUCCESS, event, paid_order=order)
    db.session.refresh(order)  # another delivery (or a cancel) got there first
    if order.status in SETTLED and order.trade_no == trade_no:
        event.outcome = "duplicate"
    else:
        # Paid by another trade, or arrived for a cancelled or expired order: money came in
        # that buys nothing. Never applied; staff refund it.
        _flag_for_staff(order)
        event.outcome = "needs_refund"
        event.note = f"order was {order.status}"
        log.warning("payment %s for order %s needs a refund", trade_no, order.order_no)
    db.session.flush()
    return Outcome(SUCCESS, event)


def _order_of_trade(trade_no: str | None, order: Order) -> str | None:
    """The number of another order that this trade paid, if any."""
    if trade_no is None:
        return None
    return db.session.scalar(
        select(Order.order_no).where(Order.trade_no == trade_no, Order.id != order.id)
    )


def _paid_once(order: Order, now: datetime, trade_no: str | None) -> bool:
    """`mark_paid` in a savepoint: when the same trade pays another order at this very moment
    (the unique trade number refuses the second), nothing of this one is applied."""
    try:
        with db.session.begin_nested():
            return mark_paid(order, now, trade_no)
    except IntegrityError:
        return False


def _flag_for_staff(order: Order) -> None:
    db.session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(needs_refund=True)
        .execution_options(synchronize_session=False)
    )
