"""Orders, their lines (with what was bought, frozen), and every payment notification received."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import _in
from app.models.types import Money, UTCDateTime, utcnow


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


class PaymentMethod(StrEnum):
    ALIPAY = "alipay"
    SANDBOX = "sandbox"


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_idempotency_key"),
        CheckConstraint(_in("status", OrderStatus), name="status"),
        CheckConstraint(_in("payment_method", PaymentMethod), name="payment_method"),
        CheckConstraint(
            "original_amount >= 0 AND discount_amount >= 0 AND actual_amount >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint("original_amount - discount_amount = actual_amount", name="amounts_add_up"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
        # The staff list and its CSV export, newest first, read in this order.
        Index("ix_orders_created", "created_at", "id"),
        # The dashboard's sales per day, read from the index alone.
        Index("ix_orders_status_paid", "status", "paid_at", "actual_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING)
    payment_method: Mapped[str] = mapped_column(String(16))
    trade_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    original_amount: Mapped[Decimal] = mapped_column(Money)
    discount_amount: Mapped[Decimal] = mapped_column(Money)
    actual_amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    refund_reason: Mapped[str | None] = mapped_column(Text)
    refund_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refund_error: Mapped[str | None] = mapped_column(Text)
    # Staff's answer to the last refund request: who approved or rejected it, and why not.
    refund_rejection: Mapped[str | None] = mapped_column(Text)
    refund_rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refund_handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # The out_request_no the order's refund was made with at the gateway (reconciliation).
    refund_request_no: Mapped[str | None] = mapped_column(String(64))
    # A payment arrived that could not be applied (order closed, or paid by another trade).
    needs_refund: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])  # noqa: F821
    refund_handled_by: Mapped[User | None] = relationship(  # noqa: F821
        foreign_keys=[refund_handled_by_id]
    )
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.order_no


class OrderLine(db.Model):
    """One product of an order, with the policy and prices as they were when it was bought."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint(
            "original_price >= 0 AND coupon_discount >= 0 AND global_discount >= 0 "
            "AND amount_paid >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint(
            "original_price - coupon_discount - global_discount = amount_paid",
            name="amounts_add_up",
        ),
        CheckConstraint("valid_period >= 0", name="period_not_negative"),
        UniqueConstraint("order_id", "product_id", name="uq_order_lines_order_product"),
        # One pending order per (student, product): `pending_user_id` is the buyer while the
        # order is pending and NULL once it is not (NULLs never clash), so two orders placed at
        # once for the same item meet here, on SQLite and MariaDB alike.
        UniqueConstraint("pending_user_id", "product_id", name="uq_order_lines_pending_product"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    price_policy_id: Mapped[int] = mapped_column(
        ForeignKey("price_policies.id", ondelete="RESTRICT")
    )
    item_type: Mapped[str] = mapped_column(String(16))
    product_name: Mapped[str] = mapped_column(String(128))
    valid_period: Mapped[int] = mapped_column(Integer)
    valid_period_text: Mapped[str] = mapped_column(String(32))
    original_price: Mapped[Decimal] = mapped_column(Money)
    coupon_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("coupon_records.id", ondelete="SET NULL")
    )
    coupon_discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    global_discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    amount_paid: Mapped[Decimal] = mapped_column(Money)
    pending_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()  # noqa: F821
    price_policy: Mapped[PricePolicy] = relationship()  # noqa: F821


class PaymentEvent(db.Model):
    """A notification as received, verified or not, for audit and reconciliation."""

    __tablename__ = "payment_events"
    __table_args__ = (Index("ix_payment_events_received", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    out_trade_no: Mapped[str | None] = mapped_column(String(64), index=True)
    trade_no: Mapped[str | None] = mapped_column(String(64), index=True)
    trade_status: Mapped[str | None] = mapped_column(String(32))
    total_amount: Mapped[str | None] = mapped_column(String(32))  # as sent, before parsing
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(32))  # applied, duplicate, needs_refund, ...
    note: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A stray payment (outcome needs_refund) given back: when, by whom, under which request no.
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    refund_request_no: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[Order | None] = relationship()


class SandboxTrade(db.Model):
    """The sandbox gateway's own record of a payment it took: at most one per order, as a real
    gateway makes one trade of one `out_trade_no` (Pay pressed twice, in two tabs or after
    Back, meets the unique `order_no`)."""

    __tablename__ = "sandbox_trades"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    trade_no: Mapped[str] = mapped_column(String(64), unique=True)
    total_amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
