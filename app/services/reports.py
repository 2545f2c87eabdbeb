"""What the staff dashboard shows: revenue and orders per day, best sellers, coupon usage.

Read-only queries. Revenue counts the orders that are paid (or paid with a refund asked for),
on the UTC day they were paid; refunded orders no longer count.

Best sellers are of all time: counting them reads every paid order line, which takes seconds
once the shop has a million orders. The dashboard therefore shows the last count, kept in Redis
(`best_sellers_snapshot`), and a job (`app.jobs.count_best_sellers`) counts again when the count
is older than BEST_SELLERS_MAX_AGE: at most one count is waiting or running at a time, and no
page view ever waits for one (inline jobs, in tests and the embedded `make run`, count at once).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import redis
from flask import current_app
from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Coupon, CouponRecord, Order, OrderLine
from app.models.coupons import RecordStatus
from app.models.orders import OrderStatus

EARNING = (OrderStatus.PAID, OrderStatus.REFUND_REQUESTED)
ZERO = Decimal("0.00")
BEST_SELLERS_KEY = "reports:best_sellers"
BEST_SELLERS_PENDING = "reports:best_sellers:pending"
BEST_SELLERS_MAX_AGE = timedelta(minutes=10)
# A count that has not finished after this long (a worker died) may be asked for again.
BEST_SELLERS_PENDING_SECONDS = 900

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Day:
    day: date
    orders: int
    revenue: Decimal


def sales_per_day(now: datetime, days: int = 30) -> list[Day]:
    """One entry per UTC day, oldest first, the days without sales included."""
    first = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    paid_day = func.date(Order.paid_at)
    rows = db.session.execute(
        select(paid_day, func.count(Order.id), func.sum(Order.actual_amount))
        .where(Order.status.in_(EARNING), Order.paid_at >= start)
        .group_by(paid_day)
    ).all()
    orders: dict[date, int] = {}
    revenue: dict[date, Decimal] = {}
    for paid_on, count, total in rows:  # one row a day, added up by the database
        paid_on = date.fromisoformat(paid_on) if isinstance(paid_on, str) else paid_on
        orders[paid_on] = count
        revenue[paid_on] = Decimal(total or 0).quantize(ZERO)  # Money: units on every database
    return [
        Day(day, orders.get(day, 0), revenue.get(day, ZERO))
        for day in (first + timedelta(days=n) for n in range(days))
    ]


@dataclass(frozen=True)
class BestSeller:
    product_id: int
    name: str
    sold: int
    revenue: Decimal


def best_sellers(limit: int = 10) -> list[BestSeller]:
    sold = func.count(OrderLine.id)
    revenue = func.coalesce(func.sum(OrderLine.amount_paid), 0)
    rows = db.session.execute(
        select(OrderLine.product_id, func.max(OrderLine.product_name), sold, revenue)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(EARNING))
        .group_by(OrderLine.product_id)
        .order_by(sold.desc(), revenue.desc(), OrderLine.product_id)
        .limit(limit)
    ).all()
    return [
        BestSeller(product_id, name, count, Decimal(total).quantize(ZERO))
        for product_id, name, count, total in rows
    ]


@dataclass(frozen=True)
class BestSellerSnapshot:
    items: list[BestSeller]
    counted_at: datetime | None  # None: never counted yet (a count has been asked for)


def _redis() -> redis.Redis:
    return current_app.extensions["redis_store"].client


def count_best_sellers(now: datetime) -> BestSellerSnapshot:
    """Count the best sellers now and keep the count for the dashboard (the job's work)."""
    items = best_sellers()
    stored = {
        "counted_at": now.isoformat(),
        "items": [[b.product_id, b.name, b.sold, str(b.revenue)] for b in items],
    }
    client = _redis()
    client.set(BEST_SELLERS_KEY, json.dumps(stored))
    client.delete(BEST_SELLERS_PENDING)
    return BestSellerSnapshot(items, now)


def _stored_best_sellers() -> BestSellerSnapshot | None:
    raw = _redis().get(BEST_SELLERS_KEY)
    if raw is None:
        return None
    stored = json.loads(raw)
    return BestSellerSnapshot(
        [BestSeller(pid, name, sold, Decimal(money)) for pid, name, sold, money in stored["items"]],
        datetime.fromisoformat(stored["counted_at"]),
    )


def best_sellers_snapshot(now: datetime) -> BestSellerSnapshot:
    """The last count of best sellers, asking for a new one when it is missing or older than
    BEST_SELLERS_MAX_AGE. Without Redis, counted on the spot."""
    from app.extensions import queue
    from app.jobs import count_best_sellers as job

    try:
        found = _stored_best_sellers()
        if found is not None and now - found.counted_at <= BEST_SELLERS_MAX_AGE:
            return found
        if queue.inline:
            queue.enqueue(job)
            return _stored_best_sellers() or BestSellerSnapshot([], None)
        if _redis().set(BEST_SELLERS_PENDING, "1", nx=True, ex=BEST_SELLERS_PENDING_SECONDS):
            try:
                queue.enqueue(job, description="count the best sellers")
            except Exception:
                _redis().delete(BEST_SELLERS_PENDING)
                raise
    except redis.RedisError:
        log.warning("Redis does not answer: best sellers counted for this view", exc_info=True)
        return BestSellerSnapshot(best_sellers(), now)
    return found or BestSellerSnapshot([], None)


@dataclass(frozen=True)
class CouponUsage:
    coupon_id: int
    name: str
    kind: str
    quantity: int | None
    claimed: int
    reserved: int
    used: int


def coupon_usage(limit: int = 20) -> list[CouponUsage]:
    used = func.count(case((CouponRecord.status == RecordStatus.USED, 1)))
    reserved = func.count(case((CouponRecord.status == RecordStatus.RESERVED, 1)))
    rows = db.session.execute(
        select(Coupon, reserved, used)
        .outerjoin(CouponRecord, CouponRecord.coupon_id == Coupon.id)
        .group_by(Coupon.id)
        .order_by(Coupon.claimed.desc(), Coupon.id.desc())
        .limit(limit)
    ).all()
    return [
        CouponUsage(c.id, c.name, c.kind, c.quantity, c.claimed, reserved_count, used_count)
        for c, reserved_count, used_count in rows
    ]
