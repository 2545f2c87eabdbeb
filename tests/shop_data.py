"""Orders and payment events made directly in the database, for the staff pages' tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from app.extensions import db
from app.models import CouponRecord, Order, OrderLine, PaymentEvent
from app.models.types import utcnow
from tests.factories import CourseFactory, UserFactory

_numbers = count(100_000_000_000)


def make_order(
    user=None,
    *,
    lines: list[tuple] | None = None,
    status: str = "paid",
    method: str = "sandbox",
    created_at: datetime | None = None,
    order_no: str | None = None,
    needs_refund: bool = False,
    records: list[CouponRecord] = (),
) -> Order:
    """An order of `lines`: (course, price, course coupon discount, share of the global
    discount); by default one course at 99.00 without coupons. `records` are marked used by it."""
    created_at = created_at or utcnow()
    lines = lines or [(CourseFactory(), "99.00", "0.00", "0.00")]
    order = Order(
        order_no=order_no or created_at.strftime("%Y%m%d") + str(next(_numbers)),
        user=user or UserFactory(),
        status=status,
        payment_method=method,
        original_amount=Decimal("0.00"),
        discount_amount=Decimal("0.00"),
        actual_amount=Decimal("0.00"),
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=30),
        paid_at=created_at + timedelta(minutes=1) if status != "pending" else None,
        trade_no=f"T{next(_numbers)}" if status not in ("pending", "cancelled") else None,
        needs_refund=needs_refund,
    )
    for course, price, coupon_discount, global_discount in lines:
        price, coupon_discount, global_discount = (
            Decimal(price),
            Decimal(coupon_discount),
            Decimal(global_discount),
        )
        policy = course.price_policies[0]
        order.lines.append(
            OrderLine(
                product_id=course.id,
                price_policy_id=policy.id,
                item_type="course",
                product_name=course.name,
                valid_period=policy.valid_period,
                valid_period_text=f"{policy.valid_period} days",
                original_price=price,
                coupon_discount=coupon_discount,
                global_discount=global_discount,
                amount_paid=price - coupon_discount - global_discount,
            )
        )
        order.original_amount += price
        order.discount_amount += coupon_discount + global_discount
    order.actual_amount = order.original_amount - order.discount_amount
    db.session.add(order)
    db.session.flush()
    for record in records:
        record.order_id = order.id
        record.status = "used"
        record.used_at = order.paid_at
    db.session.commit()
    return order


def payment_event(order: Order, **values) -> PaymentEvent:
    event = PaymentEvent(
        gateway=order.payment_method,
        order_id=order.id,
        out_trade_no=order.order_no,
        trade_no=order.trade_no,
        trade_status="TRADE_SUCCESS",
        total_amount=str(order.actual_amount),
        verified=True,
        outcome="applied",
        note="",
        payload={"out_trade_no": order.order_no},
    )
    for key, value in values.items():
        setattr(event, key, value)
    db.session.add(event)
    db.session.commit()
    return event
