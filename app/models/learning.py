"""Learning: staff grants of access, and each student's progress through a course's sections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class AccessGrant(db.Model):
    """Access a staff member gave a student without an order (a gift, a make-good, a teacher).

    It counts toward the enrollment exactly as a paid order line does (app/services/enrollment):
    `valid_period` days from `created_at` (0 = for ever) or up to an explicit `valid_until`.
    The row is its own audit: who granted it and why, and, once revoked, who revoked it, when
    and why. A revoked grant stops counting; nothing is deleted."""

    __tablename__ = "access_grants"
    __table_args__ = (
        CheckConstraint("(valid_period IS NULL) <> (valid_until IS NULL)", name="period_or_end"),
        CheckConstraint("valid_period IS NULL OR valid_period >= 0", name="period_not_negative"),
        Index("ix_access_grants_user_product", "user_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    valid_period: Mapped[int | None] = mapped_column(Integer)  # days; 0 = for ever
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))

    user = relationship("User", foreign_keys=[user_id])
    product = relationship("Product")
    granted_by = relationship("User", foreign_keys=[granted_by_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class SectionProgress(db.Model):
    """Where a student is in one section: the position last reported and whether it is done.
    Written by one upsert per report (app/services/progress.py)."""

    __tablename__ = "section_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "section_id", name="uq_section_progress_user_section"),
        CheckConstraint("position_s >= 0", name="position_not_negative"),
        Index("ix_section_progress_section", "section_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(ForeignKey("course_sections.id", ondelete="CASCADE"))
    position_s: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["AccessGrant", "SectionProgress"]
