"""Enrollments: what a student may study, and until when. Buying extends, refunding shortens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import with_polymorphic

from app.extensions import db
from app.models import Course, DegreeCourse, Enrollment, Order, OrderLine, OrderStatus, Product
from app.models.catalog import degree_course_courses

# Orders whose lines still pay for their enrollments.
KEPT = (OrderStatus.PAID, OrderStatus.REFUND_REQUESTED)


def _locked_enrollment(user_id: int, product_id: int) -> Enrollment | None:
    return db.session.scalar(
        select(Enrollment)
        .where(Enrollment.user_id == user_id, Enrollment.product_id == product_id)
        .with_for_update()
    )


Until = Callable[[Enrollment | None], datetime | None]


def _upsert(user_id: int, product_id: int, now: datetime, until: Until) -> Enrollment:
    """Set an enrollment to end at `until(current enrollment or None)`, making it when missing.
    Two payments for one product at once meet on the unique (user, product): the one that
    loses the insert updates instead."""
    for _ in range(2):
        enrollment = _locked_enrollment(user_id, product_id)
        if enrollment is not None:
            new_end = until(enrollment)
            if enrollment.valid_until is not None and enrollment.valid_until <= now:
                enrollment.valid_from = now  # a lapsed enrollment starts again today
            enrollment.valid_until = new_end
            return enrollment
        try:
            with db.session.begin_nested():
                enrollment = Enrollment(
                    user_id=user_id, product_id=product_id, valid_from=now, valid_until=until(None)
                )
                db.session.add(enrollment)
            return enrollment
        except IntegrityError:
            continue
    raise RuntimeError("could not record the enrollment")  # pragma: no cover


def extend_enrollment(user_id: int, product: Product, days: int, now: datetime) -> Enrollment:
    """Enroll for `days` more (0 = for ever) from the later of now and the current end. A
    degree course also enrolls each of its courses until the later of their current end and
    the degree's (not stacked)."""

    def extended(current: Enrollment | None) -> datetime | None:
        if days == 0 or (current is not None and current.valid_until is None):
            return None  # for ever, or already for ever
        start = max(current.valid_until, now) if current is not None else now
        return start + timedelta(days=days)

    enrollment = _upsert(user_id, product.id, now, extended)
    if isinstance(product, DegreeCourse):
        degree_end = enrollment.valid_until

        def until_degree_end(current: Enrollment | None) -> datetime | None:
            if current is None:
                return degree_end
            if current.valid_until is None or degree_end is None:
                return None
            return max(current.valid_until, degree_end)

        for course in product.courses:
            _upsert(user_id, course.id, now, until_degree_end)
    db.session.flush()
    return enrollment


def shorten_enrollment(user_id: int, product_id: int, days: int, now: datetime) -> None:
    """A refunded line takes its period back off the end (never earlier than now); a refunded
    forever line ends now. A refunded degree course also takes back what it gave its courses:
    each ends at the latest end something else still pays for (`_paid_course_end`)."""
    enrollment = _locked_enrollment(user_id, product_id)
    if enrollment is None:
        return
    if days == 0:
        enrollment.valid_until = now  # the forever line was what made it for ever
    elif enrollment.valid_until is not None:
        enrollment.valid_until = max(enrollment.valid_until - timedelta(days=days), now)
    degree = db.session.get(Product, product_id)
    if isinstance(degree, DegreeCourse):
        for course in degree.courses:
            course_enrollment = _locked_enrollment(user_id, course.id)
            if course_enrollment is None:
                continue
            still_paid = _paid_course_end(user_id, course.id, now)
            current = course_enrollment.valid_until
            if still_paid is FOREVER:
                continue
            if current is None or current > still_paid:
                course_enrollment.valid_until = max(still_paid, now)
    db.session.flush()


FOREVER = datetime.max.replace(tzinfo=UTC)


def _paid_course_end(user_id: int, course_id: int, now: datetime) -> datetime:
    """The latest end a course's enrollment is still paid for: the student's own paid lines of
    the course (replayed in payment order, stacking as buying does) and every degree enrollment
    that contains it. FOREVER when one of them is for ever; `now` when nothing pays for it."""
    end: datetime | None = None
    own = db.session.execute(
        select(Order.paid_at, OrderLine.valid_period)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.user_id == user_id,
            Order.status.in_(KEPT),
            OrderLine.product_id == course_id,
            Order.paid_at.is_not(None),
        )
        .order_by(Order.paid_at, Order.id)
    ).all()
    for paid_at, period in own:
        if period == 0:
            return FOREVER
        end = (paid_at if end is None else max(end, paid_at)) + timedelta(days=period)
    contains = degree_course_courses
    degree_ends = db.session.scalars(
        select(Enrollment.valid_until)
        .join(contains, contains.c.degree_course_id == Enrollment.product_id)
        .where(Enrollment.user_id == user_id, contains.c.course_id == course_id)
    ).all()
    for degree_end in degree_ends:
        if degree_end is None:
            return FOREVER
        end = degree_end if end is None else max(end, degree_end)
    return now if end is None else end


def my_enrollments(user_id: int, now: datetime) -> list[dict]:
    kinds = with_polymorphic(Product, [Course, DegreeCourse])
    rows = db.session.execute(
        select(Enrollment, kinds)
        .join(kinds, Enrollment.product_id == kinds.id)
        .where(Enrollment.user_id == user_id)
        .order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
    ).all()
    return [enrollment_dict(enrollment, product, now) for enrollment, product in rows]


def enrollment_dict(enrollment: Enrollment, product: Product, now: datetime) -> dict:
    return {
        "item_type": product.item_type,
        "item_id": product.id,
        "name": product.name,
        "valid_from": enrollment.valid_from.isoformat(),
        "valid_until": enrollment.valid_until.isoformat() if enrollment.valid_until else None,
        "active": enrollment.active_at(now),
    }


def can_study(user_id: int | None, course_id: int, now: datetime) -> bool:
    if user_id is None:
        return False
    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.product_id == course_id)
    )
    return enrollment is not None and enrollment.active_at(now)
