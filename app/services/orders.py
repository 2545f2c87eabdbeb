"""Orders: pricing a submission against the database, placing it in one transaction, and every
later change of state as a conditional UPDATE on the state it leaves."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.i18n import period_text
from app.models import (
    CouponRecord,
    Enrollment,
    Order,
    OrderLine,
    OrderStatus,
    RecordStatus,
    User,
)
from app.money import amount_text
from app.services import pricing
from app.services.enrollment import refresh_enrollments
from app.services.errors import N_, Conflict, InvalidInput, NotFound
from app.services.offers import LineRef, Offer, check_offers
from app.services.paging import Page

BEIJING = ZoneInfo("Asia/Shanghai")
# What an Idempotency-Key may be: 1-64 printable ASCII characters (the column holds 64).
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")


class DuplicateSubmission(Exception):
    """Another request with the same Idempotency-Key committed first."""


def busy_coupons() -> Conflict:
    """Placing an order lost to a lock twice: another order being placed at the same moment
    holds its coupons (or the same items)."""
    return Conflict(N_("That coupon is being used by another order."), slug="coupon_unavailable")


class PendingOrderConflict(Conflict):
    """409 `order_pending`: `data.order_no` names the pending order that holds the item."""


def order_pending(order_no: str | None) -> Conflict:
    """An item of the new order is in another pending order of the student: pay or cancel that
    one (CONTRACT.md, "Which conflict is which")."""
    return PendingOrderConflict(
        N_("This course is already in an order waiting for payment: pay it or cancel it."),
        slug="order_pending",
        data={"order_no": order_no},
    )


def pending_order_with(
    user_id: int, product_ids: Sequence[int], now: datetime, *, locking: bool = False
) -> Order | None:
    """The student's pending order that holds one of the products, if any. Pending orders past
    their time are expired first (they hold nothing any more). `locking` reads the latest
    committed rows (MariaDB's snapshot would not show an order committed since it began)."""
    query = (
        select(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            OrderLine.pending_user_id == user_id,
            OrderLine.product_id.in_(list(product_ids)),
        )
        .order_by(Order.id)
    )
    if locking:
        query = query.with_for_update()
    for order in db.session.scalars(query).unique():
        if expire_if_overdue(order, now).status == OrderStatus.PENDING:
            return order
    return None


@dataclass(frozen=True)
class OrderLineIn:
    ref: LineRef
    coupon_record_id: int | None = None


@dataclass
class PricedOrder:
    offers: list[Offer]
    line_records: list[CouponRecord | None]
    global_record: CouponRecord | None
    quote: pricing.Quote


def terms_of(record: CouponRecord) -> pricing.CouponTerms:
    coupon = record.coupon
    return pricing.CouponTerms(
        kind=coupon.kind,
        value=coupon.value,
        off_percent=coupon.off_percent,
        minimum_consume=coupon.minimum_consume,
    )


def _unavailable(message: str = N_("That coupon cannot be used here.")) -> Conflict:
    return Conflict(message, slug="coupon_unavailable")


def price_order(
    user_id: int,
    lines: Sequence[OrderLineIn],
    global_record_id: int | None,
    now: datetime,
) -> PricedOrder:
    """Check every line and coupon against the database and price the whole. Refusals carry
    the contract's slugs: another user's record is a 404, an unusable one a 409."""
    offers = check_offers(user_id, [line.ref for line in lines])
    wanted = [line.coupon_record_id for line in lines if line.coupon_record_id is not None]
    if global_record_id is not None:
        wanted.append(global_record_id)
    if len(set(wanted)) != len(wanted):
        raise InvalidInput(
            N_("A coupon may be used once per order."),
            fields={"coupon_record_id": N_("Repeated.")},
        )
    records = {
        r.id: r
        for r in db.session.scalars(
            select(CouponRecord)
            .where(CouponRecord.id.in_(wanted), CouponRecord.user_id == user_id)
            .options(selectinload(CouponRecord.coupon))
        )
    }
    if len(records) != len(wanted):
        raise NotFound(N_("No such coupon."))

    line_records: list[CouponRecord | None] = []
    for line, offer in zip(lines, offers, strict=True):
        record = records.get(line.coupon_record_id) if line.coupon_record_id else None
        if record is not None and (
            record.coupon.product_id != offer.product.id or not record.usable_at(now)
        ):
            raise _unavailable()
        line_records.append(record)
    global_record = records.get(global_record_id) if global_record_id else None
    if global_record is not None and (
        global_record.coupon.product_id is not None or not global_record.usable_at(now)
    ):
        raise _unavailable()
    try:
        quote = pricing.quote(
            [
                (offer.policy.price, terms_of(record) if record else None)
                for offer, record in zip(offers, line_records, strict=True)
            ],
            terms_of(global_record) if global_record else None,
        )
    except pricing.CouponNotApplicable:
        raise _unavailable(N_("The order does not reach that coupon's threshold.")) from None
    return PricedOrder(offers, line_records, global_record, quote)


def new_order_no(now: datetime) -> str:
    """The date in Beijing and 12 random digits: unique (retried on a clash), not guessable."""
    return now.astimezone(BEIJING).strftime("%Y%m%d") + f"{secrets.randbelow(10**12):012d}"


def find_by_idempotency_key(user_id: int, key: str) -> Order | None:
    return db.session.scalar(
        select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
    )


def place_order(
    user_id: int,
    lines: Sequence[OrderLineIn],
    global_record_id: int | None,
    expected_amount: Decimal,
    payment_method: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> Order:
    """Create a pending order with its lines and reserve its coupons, in the caller's
    transaction. An order of amount 0 is paid at once. Raises DuplicateSubmission when the same
    Idempotency-Key won a race (roll back and answer `find_by_idempotency_key`)."""
    lock_buyer(user_id)
    priced = price_order(user_id, lines, global_record_id, now)
    quote = priced.quote
    held = pending_order_with(user_id, [offer.product.id for offer in priced.offers], now)
    if held is not None:
        raise order_pending(held.order_no)
    if quote.amount != expected_amount:
        raise Conflict(
            N_("The amount has changed; please check the new amount."),
            slug="amount_mismatch",
            data={"amount": amount_text(quote.amount)},
        )
    order = Order(
        user_id=user_id,
        status=OrderStatus.PENDING,
        payment_method=payment_method,
        original_amount=quote.original,
        discount_amount=quote.discount,
        actual_amount=quote.amount,
        created_at=now,
        expires_at=now + timedelta(minutes=current_app.config["ORDER_PAYMENT_TIMEOUT_MINUTES"]),
        idempotency_key=idempotency_key,
    )
    for offer, record, line in zip(priced.offers, priced.line_records, quote.lines, strict=True):
        order.lines.append(
            OrderLine(
                product_id=offer.product.id,
                price_policy_id=offer.policy.id,
                item_type=offer.product.item_type,
                product_name=offer.product.name,
                valid_period=offer.policy.valid_period,
                valid_period_text=period_text(offer.policy.valid_period),
                original_price=line.price,
                coupon_record_id=record.id if record else None,
                coupon_discount=line.coupon_discount,
                global_discount=line.global_discount,
                amount_paid=line.paid,
                pending_user_id=user_id,
            )
        )
    _insert_with_fresh_number(order, now)
    records = [r for r in (*priced.line_records, priced.global_record) if r is not None]
    reserve_coupons(order, records)
    if order.actual_amount == 0:
        mark_paid(order, now, trade_no=None)
    return order


def _insert_with_fresh_number(order: Order, now: datetime) -> None:
    for _ in range(5):
        order.order_no = new_order_no(now)
        try:
            with db.session.begin_nested():
                db.session.add(order)
            return
        except IntegrityError as exc:
            problem = str(exc.orig).lower()
            if order.idempotency_key and "idempotency" in problem:
                raise DuplicateSubmission() from None
            if "pending" in problem:
                # Another order for one of these items was placed at the same moment and won.
                products = [line.product_id for line in order.lines]
                held = pending_order_with(order.user_id, products, now, locking=True)
                raise order_pending(held.order_no if held else None) from None
            if "order_no" not in problem:
                raise
    raise RuntimeError("could not find a free order number")  # pragma: no cover


def reserve_coupons(order: Order, records: Sequence[CouponRecord]) -> None:
    """Hold each coupon for this order: a conditional UPDATE that only an unused record of
    this user passes, so two orders can never hold one coupon."""
    for record in records:
        reserved = db.session.execute(
            update(CouponRecord)
            .where(
                CouponRecord.id == record.id,
                CouponRecord.user_id == order.user_id,
                CouponRecord.status == RecordStatus.UNUSED,
            )
            .values(status=RecordStatus.RESERVED, order_id=order.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if reserved != 1:
            raise _unavailable(N_("That coupon was just used by another order."))


def move_status(order_id: int, source: str, target: str, **values: Any) -> bool:
    """The one way an order changes state: only from the state it is known to be in. An order
    that leaves `pending` lets go of its items (another order may hold them now)."""
    moved = db.session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == source)
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved == 1 and source == OrderStatus.PENDING:
        db.session.execute(
            update(OrderLine)
            .where(OrderLine.order_id == order_id)
            .values(pending_user_id=None)
            .execution_options(synchronize_session=False)
        )
    return moved == 1


def lock_buyer(user_id: int) -> None:
    """Take the student's row lock for the rest of the transaction: one student's orders are
    placed, and their payments applied, one after the other. Two orders for the same item at
    once then meet here (the second sees the first, 409 `order_pending`) rather than in the
    unique index, where concurrent inserts of one key deadlock on MariaDB. Every path takes it
    before any order, coupon or enrollment row. (SQLite ignores it and writes one at a time.)"""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def owned_forever(order: Order) -> list[str]:
    """The names of the order's items its buyer may already study for ever (a staff grant, a
    degree course paid since, another order paid first). Takes the buyer's row lock first: two
    payments of one student are applied one after the other, so the second sees what the first
    gave (an enrollment not yet made has no row to lock, and READ COMMITTED takes no gap
    locks, so locking the enrollments alone would let both through)."""
    lock_buyer(order.user_id)
    rows = db.session.scalars(
        select(Enrollment.product_id).where(
            Enrollment.user_id == order.user_id,
            Enrollment.product_id.in_([line.product_id for line in order.lines]),
            Enrollment.valid_until.is_(None),
        )
    ).all()
    owned = set(rows)
    return [line.product_name for line in order.lines if line.product_id in owned]


def mark_paid(order: Order, now: datetime, trade_no: str | None) -> bool:
    """pending -> paid, coupons reserved -> used, enrollments derived again. False (and nothing
    done) when the order was not pending any more."""
    if not move_status(
        order.id, OrderStatus.PENDING, OrderStatus.PAID, paid_at=now, trade_no=trade_no
    ):
        return False
    db.session.execute(
        update(CouponRecord)
        .where(CouponRecord.order_id == order.id, CouponRecord.status == RecordStatus.RESERVED)
        .values(status=RecordStatus.USED, used_at=now)
        .execution_options(synchronize_session=False)
    )
    refresh_enrollments(order.user_id, [line.product_id for line in order.lines], now)
    db.session.refresh(order)
    return True


def close_order(order: Order, status: str, now: datetime) -> bool:
    """pending -> cancelled or expired, and its coupons are unused again."""
    if not move_status(order.id, OrderStatus.PENDING, status, closed_at=now):
        return False
    release_coupons(order.id)
    db.session.refresh(order)
    return True


def release_coupons(order_id: int) -> None:
    db.session.execute(
        update(CouponRecord)
        .where(CouponRecord.order_id == order_id, CouponRecord.status == RecordStatus.RESERVED)
        .values(status=RecordStatus.UNUSED, order_id=None)
        .execution_options(synchronize_session=False)
    )


def expire_if_overdue(order: Order, now: datetime) -> Order:
    if order.status == OrderStatus.PENDING and order.expires_at <= now:
        close_order(order, OrderStatus.EXPIRED, now)
    return order


def expire_overdue_orders(now: datetime, batch: int = 500) -> int:
    """Expire pending orders past their time (the periodic job). Safe on several workers at
    once: each order moves once, whoever gets there first."""
    overdue = db.session.scalars(
        select(Order)
        .where(Order.status == OrderStatus.PENDING, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(batch)
    ).all()
    return sum(close_order(order, OrderStatus.EXPIRED, now) for order in overdue)


def get_order(user_id: int, order_no: str, now: datetime) -> Order:
    """The user's order (another user's is a 404), expired first if its time has passed."""
    order = db.session.scalar(
        select(Order)
        .where(Order.order_no == order_no, Order.user_id == user_id)
        .options(selectinload(Order.lines))
    )
    if order is None:
        raise NotFound(N_("No such order."))
    return expire_if_overdue(order, now)


def cancel_order(user_id: int, order_no: str, now: datetime) -> Order:
    order = get_order(user_id, order_no, now)
    if not close_order(order, OrderStatus.CANCELLED, now):
        raise Conflict(N_("Only a pending order can be cancelled."), slug="order_not_pending")
    return order


def refund_window_open(order: Order, now: datetime) -> bool:
    """Whether the student may ask for a refund of the order now: paid, inside the window."""
    window = timedelta(days=current_app.config["REFUND_WINDOW_DAYS"])
    return (
        order.status == OrderStatus.PAID
        and order.paid_at is not None
        and now - order.paid_at <= window
    )


def request_refund(user_id: int, order_no: str, reason: str, now: datetime) -> Order:
    """paid -> refund_requested, inside the refund window only. A new request clears staff's
    answer to an earlier one (app/services/refunds.py handles the request from here)."""
    order = get_order(user_id, order_no, now)
    if not refund_window_open(order, now) or not move_status(
        order.id,
        OrderStatus.PAID,
        OrderStatus.REFUND_REQUESTED,
        refund_reason=reason,
        refund_requested_at=now,
        refund_rejection=None,
        refund_rejected_at=None,
        refund_error=None,
    ):
        raise Conflict(
            N_("Only a paid order inside the refund window can be refunded."),
            slug="refund_not_allowed",
        )
    db.session.refresh(order)
    return order


def list_orders(user_id: int, page: int, per_page: int, now: datetime) -> Page[Order]:
    """A page of the student's orders, newest first; pending ones past their time expire."""
    mine = select(Order).where(Order.user_id == user_id)
    total = db.session.scalar(select(func.count()).select_from(mine.subquery()))
    orders = db.session.scalars(
        mine.order_by(Order.created_at.desc(), Order.id.desc())
        .options(selectinload(Order.lines))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([expire_if_overdue(order, now) for order in orders], total, page, per_page)
