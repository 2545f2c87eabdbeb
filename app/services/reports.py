"""What the staff dashboard shows: revenue and orders per day, best sellers, coupon usage.

Read-only queries. Revenue counts the orders that are paid (or paid with a refund asked for),
on the UTC day they were paid; refunded orders no longer count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Coupon, CouponRecord, Order, OrderLine
from app.models.coupons import RecordStatus
from app.models.orders import OrderStatus

EARNING = (OrderStatus.PAID, OrderStatus.REFUND_REQUESTED)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Day:
    day: date
    orders: int
    revenue: Decimal


def sales_per_day(now: datetime, days: int = 30) -> list[Day]:
    """One entry per UTC day, oldest first, the days without sales included."""
    first = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    rows = db.session.execute(
        select(Order.paid_at, Order.actual_amount).where(
            Order.status.in_(EARNING), Order.paid_at >= start
        )
    ).all()
    orders: dict[date, int] = {}
    revenue: dict[date, Decimal] = {}
    for paid_at, amount in rows:
        day = paid_at.date()
        orders[day] = orders.get(day, 0) + 1
        revenue[day] = revenue.get(day, ZERO) + amount
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
