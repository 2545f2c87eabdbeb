"""Coupons staff create, and the records of students who claimed them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.catalog import _in
from app.models.types import Money, UTCDateTime, utcnow


class CouponKind(StrEnum):
    MONEY_OFF = "money_off"  # 立减
    THRESHOLD = "threshold"  # 满减
    PERCENT = "percent"  # 折扣


class RecordStatus(StrEnum):
    UNUSED = "unused"
    RESERVED = "reserved"  # held by a pending order
    USED = "used"
    EXPIRED = "expired"  # never stored: an unused record outside its use window reads so


class Coupon(db.Model):
    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint(_in("kind", CouponKind), name="kind"),
        CheckConstraint("value IS NULL OR value >= 0", name="value_not_negative"),
        CheckConstraint(
            "off_percent IS NULL OR (off_percent >= 1 AND off_percent <= 100)",
            name="off_percent_range",
        ),
        CheckConstraint("minimum_consume >= 0", name="minimum_consume_not_negative"),
        CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity_not_negative"),
        CheckConstraint(
            "claimed >= 0 AND (quantity IS NULL OR claimed <= quantity)", name="claimed_bounds"
        ),
        CheckConstraint("valid_days IS NULL OR valid_days >= 1", name="valid_days_positive"),
        CheckConstraint(
            "kind <> 'percent' OR off_percent IS NOT NULL", name="percent_has_off_percent"
        ),
        CheckConstraint("kind = 'percent' OR value IS NOT NULL", name="amount_has_value"),
        Index("ix_coupons_claim_window", "active", "claim_start", "claim_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    brief: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal | None] = mapped_column(Money)
    off_percent: Mapped[int | None] = mapped_column(Integer)  # 80 = pay 80%
    minimum_consume: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )  # NULL = site-wide
    quantity: Mapped[int | None] = mapped_column(Integer)  # NULL = unlimited
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    claim_start: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_end: Mapped[datetime] = mapped_column(UTCDateTime)
    # Use window: fixed dates, or `valid_days` after claiming when `valid_days` is set.
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product | None] = relationship()  # noqa: F821

    @property
    def is_site_wide(self) -> bool:
        return self.product_id is None

    def use_window(self, claimed_at: datetime) -> tuple[datetime, datetime | None]:
        """The window a record claimed at `claimed_at` may be used in (half-open)."""
        if self.valid_days:
            return claimed_at, claimed_at + timedelta(days=self.valid_days)
        return self.valid_from or claimed_at, self.valid_until

    def __str__(self) -> str:
        return self.name


class CouponRecord(db.Model):
    __tablename__ = "coupon_records"
    __table_args__ = (
        UniqueConstraint("coupon_id", "user_id", name="uq_coupon_records_coupon_user"),
        CheckConstraint("status IN ('unused', 'reserved', 'used')", name="status"),
        Index("ix_coupon_records_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.UNUSED)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )

    coupon: Mapped[Coupon] = relationship()
    user: Mapped[User] = relationship()  # noqa: F821
    order: Mapped[Order | None] = relationship(foreign_keys=[order_id])  # noqa: F821

    def status_at(self, now: datetime) -> str:
        """The status a student sees: an unused record outside its window reads expired."""
        if self.status == RecordStatus.UNUSED and not self.in_window(now):
            return RecordStatus.EXPIRED
        return self.status

    # The one rule of a usable record, for a loaded record and as SQL, side by side.

    @hybrid_method
    def in_window(self, now: datetime) -> bool:
        """Inside its use window at `now` (whatever its status)."""
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)

    @in_window.inplace.expression
    @classmethod
    def _in_window_sql(cls, now: datetime) -> ColumnElement[bool]:
        return and_(cls.valid_from <= now, or_(cls.valid_until.is_(None), cls.valid_until > now))

    @hybrid_method
    def usable_at(self, now: datetime) -> bool:
        """Unused and inside its use window: a coupon that may go on an order at `now`."""
        return self.status == RecordStatus.UNUSED and self.in_window(now)

    @usable_at.inplace.expression
    @classmethod
    def _usable_at_sql(cls, now: datetime) -> ColumnElement[bool]:
        return and_(cls.status == RecordStatus.UNUSED, cls.in_window(now))
