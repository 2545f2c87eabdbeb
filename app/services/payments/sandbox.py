"""The sandbox gateway's own books: like Alipay, it takes money only for an order that is still
pending and inside its `time_expire`, and makes at most one trade of one order."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Order, OrderStatus, SandboxTrade
from app.services.errors import N_, Conflict, NotFound
from app.services.payments.alipay import BEIJING, TIME_FORMAT


def _refused(message: str) -> Conflict:
    return Conflict(message, slug="order_not_pending")


def expires_at(time_expire: object) -> datetime | None:
    """A page-pay request's `time_expire` (Beijing time, as Alipay reads it), or None."""
    if not isinstance(time_expire, str):
        return None
    try:
        return datetime.strptime(time_expire, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        return None


def payment_refusal(order: Order, time_expire: object, now: datetime) -> str | None:
    """Why the gateway will not take money for the order now (a message to translate), or None."""
    if db.session.scalar(select(SandboxTrade.id).where(SandboxTrade.order_no == order.order_no)):
        return N_("This order has been paid at the gateway already.")
    if order.status != OrderStatus.PENDING:
        return N_("This order can no longer be paid: it is not waiting for payment.")
    deadline = expires_at(time_expire)
    if deadline is None or deadline <= now or order.expires_at <= now:
        return N_("This order can no longer be paid: its time to pay has passed.")
    return None


def open_trade(order_no: str, amount: Decimal, time_expire: object, now: datetime) -> str:
    """Take the payment of an order: a new trade number, recorded in the caller's transaction
    (commit it before delivering the notification). Refused (409) for an order that is not
    pending, past its time, or that has a trade already: Pay pressed twice, in two tabs or after
    Back, meets the unique order number and makes one trade."""
    order = db.session.scalar(select(Order).where(Order.order_no == order_no))
    if order is None:
        raise NotFound(N_("No such order."))
    refusal = payment_refusal(order, time_expire, now)
    if refusal is not None:
        raise _refused(refusal)
    trade_no = now.strftime("%Y%m%d") + f"{secrets.randbelow(10**20):020d}"
    try:
        with db.session.begin_nested():
            db.session.add(
                SandboxTrade(
                    order_no=order_no, trade_no=trade_no, total_amount=amount, created_at=now
                )
            )
    except IntegrityError:
        raise _refused(N_("This order has been paid at the gateway already.")) from None
    return trade_no
