"""People: users, their API tokens, and what they may study."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # The username folded to lower case: unique, so `Demo` and `demo` are one user.
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on a password change: sessions made under an older value end.
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @validates("username")
    def _fold_username(self, key: str, value: str) -> str:
        self.username_key = value.lower()
        return value

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login
        return f"{self.id}:{self.session_generation}"

    def __str__(self) -> str:
        return self.username


class ApiToken(db.Model):
    """An API token, kept only as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class Enrollment(db.Model):
    """What a user may study, and until when (NULL = for ever): a cache of what the paid order
    lines and staff grants give (app/services/enrollment.py derives it; nothing else writes it).
    `status` is what the last derivation found; `status_at(now)` is what it reads as now."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_enrollments_user_product"),
        Index("ix_enrollments_product", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=EnrollmentStatus.ACTIVE)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    product: Mapped[Product] = relationship()  # noqa: F821

    def active_at(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)

    def status_at(self, now: datetime) -> str:
        """active while it runs; once ended, refunded when a refund ended it, else expired."""
        if self.active_at(now):
            return EnrollmentStatus.ACTIVE
        if self.status == EnrollmentStatus.REFUNDED:
            return EnrollmentStatus.REFUNDED
        return EnrollmentStatus.EXPIRED
