"""Enrollments: what a student may study, and until when, derived by one rule.

An `Enrollment` row is a cache. `recompute_enrollment(user_id, product_id, now)` derives it
from its sources and every path that changes a source calls it (through
`refresh_enrollments`): a payment (app/services/orders.py), a refund
(app/services/refunds.py), a degree purchase (its courses are refreshed with it) and staff
grants (`grant_access`, `revoke_grant`). Nothing else writes an enrollment's end.

The sources of a (user, product) are
- the paid, not refunded, order lines of the product itself and of every degree course that
  contains it (orders `paid` or `refund_requested`: a requested refund still pays until it is
  approved);
- staff grants (`AccessGrant`) of the product or of a degree course containing it, not revoked.

They are replayed in the order they were paid (granted): each extends the end from
`max(end, paid_at)` by its period (0 days = for ever); a grant with an explicit end moves the
end to at least that instant. So a refunded line takes back exactly what it gave and nothing
that another line still pays for, and a purchase made while an earlier one runs starts where
it ends. `valid_from` is where the last unbroken run of access began.

`status` is stored with the derivation: `active`, or once ended `refunded` when refunded
lines would still be running now (a refund is what ended it), else `expired`.
`Enrollment.status_at(now)` gives what it reads as at any instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import with_polymorphic

from app.extensions import db
from app.models import (
    AccessGrant,
    Course,
    DegreeCourse,
    Enrollment,
    EnrollmentStatus,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    User,
)
from app.models.catalog import degree_course_courses
from app.services.errors import N_, Conflict, InvalidInput, NotFound
from app.services.learning import CourseProgress, courses_progress, forget_access_after_commit

# Orders whose lines still pay for their enrollments.
KEPT = (OrderStatus.PAID, OrderStatus.REFUND_REQUESTED)
REASON_MAX = 500


@dataclass(frozen=True, order=True)
class Source:
    """One thing that gives access: from `at`, `days` more (0 = for ever), or up to `until`."""

    at: datetime
    kind: int  # orders before grants at the same instant; then by id, for a stable replay
    ident: int
    days: int | None
    until: datetime | None = None


@dataclass(frozen=True)
class Derivation:
    valid_from: datetime | None  # None: no source at all
    valid_until: datetime | None  # None (with a valid_from): for ever

    def runs_at(self, now: datetime) -> bool:
        return self.valid_from is not None and (self.valid_until is None or now < self.valid_until)


def _givers(product_id: int):
    """The product itself and the degree courses that contain it."""
    containing = select(degree_course_courses.c.degree_course_id).where(
        degree_course_courses.c.course_id == product_id
    )
    return lambda column: or_(column == product_id, column.in_(containing))


def _sources(user_id: int, product_id: int, statuses: Iterable[str]) -> list[Source]:
    gives = _givers(product_id)
    lines = db.session.execute(
        select(Order.paid_at, OrderLine.id, OrderLine.valid_period)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.user_id == user_id,
            Order.status.in_(list(statuses)),
            Order.paid_at.is_not(None),
            gives(OrderLine.product_id),
        )
    ).all()
    grants = db.session.execute(
        select(
            AccessGrant.created_at,
            AccessGrant.id,
            AccessGrant.valid_period,
            AccessGrant.valid_until,
        ).where(
            AccessGrant.user_id == user_id,
            AccessGrant.revoked_at.is_(None),
            gives(AccessGrant.product_id),
        )
    ).all()
    found = [Source(paid_at, 0, line_id, period) for paid_at, line_id, period in lines]
    found += [Source(at, 1, grant_id, period, until) for at, grant_id, period, until in grants]
    return sorted(found)


def derive(sources: Iterable[Source]) -> Derivation:
    """Replay the sources in order: each extends from max(end, its time). Pure, for tests."""
    start: datetime | None = None
    end: datetime | None = None
    forever = False
    for source in sorted(sources):
        if forever:
            break
        if end is None or source.at > end:  # the first, or after a gap: a new run starts
            start, end = source.at, source.at
        if source.until is not None:
            end = max(end, source.until)
        elif source.days == 0:
            forever = True
        else:
            end = end + timedelta(days=source.days or 0)
    if start is None:
        return Derivation(None, None)
    return Derivation(start, None if forever else end)


def _locked_enrollment(user_id: int, product_id: int) -> Enrollment | None:
    # The row lock makes two derivations of one enrollment wait for each other; at READ
    # COMMITTED the second then reads the first one's committed lines.
    return db.session.scalar(
        select(Enrollment)
        .where(Enrollment.user_id == user_id, Enrollment.product_id == product_id)
        .with_for_update()
    )


def recompute_enrollment(user_id: int, product_id: int, now: datetime) -> Enrollment | None:
    """Derive the (user, product) enrollment from its sources (the module's docstring) and
    store it: made when something gives access and none exists, ended (at `now` at the
    latest) when nothing gives access any more. None when there is none and nothing to give."""
    for _ in range(2):
        enrollment = _locked_enrollment(user_id, product_id)
        derived = derive(_sources(user_id, product_id, KEPT))
        if derived.runs_at(now):
            status = EnrollmentStatus.ACTIVE
        elif derive(_sources(user_id, product_id, (*KEPT, OrderStatus.REFUNDED))).runs_at(now):
            status = EnrollmentStatus.REFUNDED
        else:
            status = EnrollmentStatus.EXPIRED
        if enrollment is not None:
            if derived.valid_from is None:  # nothing gives it any more: it ends now at the latest
                if enrollment.valid_until is None or enrollment.valid_until > now:
                    enrollment.valid_until = now
            else:
                enrollment.valid_from = derived.valid_from
                enrollment.valid_until = derived.valid_until
            enrollment.status = status
            db.session.flush()
            return enrollment
        if derived.valid_from is None:
            return None
        try:
            with db.session.begin_nested():
                enrollment = Enrollment(
                    user_id=user_id,
                    product_id=product_id,
                    valid_from=derived.valid_from,
                    valid_until=derived.valid_until,
                    status=status,
                )
                db.session.add(enrollment)
            return enrollment
        except IntegrityError:  # another transaction made it first: derive again, locked
            continue
    raise RuntimeError("could not record the enrollment")  # pragma: no cover


def refresh_enrollments(user_id: int, product_ids: Iterable[int], now: datetime) -> None:
    """Recompute the enrollments these products give: each product's own and, for a degree
    course, each of its courses'. What payment, refund and grants call."""
    seen: list[int] = []
    for product_id in product_ids:
        product = db.session.get(Product, product_id)
        ids = [product_id]
        if isinstance(product, DegreeCourse):
            ids += [course.id for course in product.courses]
        seen += [i for i in ids if i not in seen]
    for product_id in seen:
        recompute_enrollment(user_id, product_id, now)
    db.session.flush()
    # Media URLs already handed out check the enrollment through a short cache: drop it.
    forget_access_after_commit([(user_id, product_id) for product_id in seen])


# --- staff grants -------------------------------------------------------------------------------


def _reason(reason: str | None, field: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        message = N_("Please give a reason, in at most 500 characters.")
        raise InvalidInput(message, fields={field: message})
    return reason


def grant_access(
    user_id: int,
    product_id: int,
    *,
    granted_by_id: int,
    reason: str,
    now: datetime,
    days: int | None = None,
    until: datetime | None = None,
) -> AccessGrant:
    """Give a student access to a course or degree course without an order.

    Call with exactly one of `days` (0 = for ever; counted from `now`, after what the student
    already has, like a purchase) or `until` (an aware datetime after `now`), e.g.
    `grant_access(student.id, course.id, granted_by_id=current_user.id, reason="补偿",
    now=utcnow(), days=30)`, then commit. Returns the new grant; the enrollment (and, for a
    degree course, its courses') is recomputed. Raises InvalidInput (fields `reason`, `days`,
    `until`) and NotFound (no such user or product). Never commits."""
    reason = _reason(reason, "reason")
    if (days is None) == (until is None):
        message = N_("Give either a number of days or an end date.")
        raise InvalidInput(message, fields={"days": message})
    if days is not None and (days < 0 or days > 36_500):
        message = N_("Days must be between 0 (for ever) and 36500.")
        raise InvalidInput(message, fields={"days": message})
    if until is not None and (until.tzinfo is None or until <= now):
        message = N_("The end must be in the future.")
        raise InvalidInput(message, fields={"until": message})
    if db.session.get(User, user_id) is None:
        raise NotFound(N_("No such user."))
    if db.session.get(Product, product_id) is None:
        raise NotFound(N_("No such course."))
    grant = AccessGrant(
        user_id=user_id,
        product_id=product_id,
        valid_period=days,
        valid_until=until,
        reason=reason,
        granted_by_id=granted_by_id,
        created_at=now,
    )
    db.session.add(grant)
    db.session.flush()
    refresh_enrollments(user_id, [product_id], now)
    return grant


def revoke_grant(grant_id: int, *, revoked_by_id: int, reason: str, now: datetime) -> AccessGrant:
    """Take a staff grant back: it stops counting and the enrollment is recomputed (what
    orders and other grants give stays). The grant row keeps who revoked it, when and why.

    Call as `revoke_grant(grant.id, revoked_by_id=current_user.id, reason="误发",
    now=utcnow())`, then commit. Raises InvalidInput (field `reason`), NotFound (no such
    grant), Conflict `already_revoked`. Never commits."""
    reason = _reason(reason, "reason")
    grant = db.session.scalar(
        select(AccessGrant).where(AccessGrant.id == grant_id).with_for_update()
    )
    if grant is None:
        raise NotFound(N_("No such grant."))
    if grant.revoked_at is not None:
        raise Conflict(N_("That grant was revoked already."), slug="already_revoked")
    grant.revoked_at, grant.revoked_by_id, grant.revoke_reason = now, revoked_by_id, reason
    db.session.flush()
    refresh_enrollments(grant.user_id, [grant.product_id], now)
    return grant


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """An enrollment with its product and, for a course, the student's progress in it."""

    enrollment: Enrollment
    product: Product
    progress: CourseProgress | None = None


def my_enrollments(user_id: int) -> list[Holding]:
    """The student's enrollments, most recently changed first, each with its product and, for
    a course, the progress made (one query for all their courses)."""
    kinds = with_polymorphic(Product, [Course, DegreeCourse])
    rows = db.session.execute(
        select(Enrollment, kinds)
        .join(kinds, Enrollment.product_id == kinds.id)
        .where(Enrollment.user_id == user_id)
        .order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
    ).all()
    courses = [product.id for _, product in rows if isinstance(product, Course)]
    progress = courses_progress(user_id, courses)
    return [Holding(enrollment, product, progress.get(product.id)) for enrollment, product in rows]


def active_enrollment(user_id: int | None, product_id: int, now: datetime) -> Enrollment | None:
    if user_id is None:
        return None
    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.product_id == product_id)
    )
    return enrollment if enrollment is not None and enrollment.active_at(now) else None


def can_study(user_id: int | None, course_id: int, now: datetime) -> bool:
    return active_enrollment(user_id, course_id, now) is not None


def staff_grants_shown(user_id: int) -> dict[int, list[dict]]:
    """The staff grants counting for a student, by product id, as the student reads them:
    who gave it (the staff member's username), when, for how long and why."""
    rows = db.session.scalars(
        select(AccessGrant)
        .where(AccessGrant.user_id == user_id, AccessGrant.revoked_at.is_(None))
        .order_by(AccessGrant.created_at, AccessGrant.id)
    )
    shown: dict[int, list[dict]] = {}
    for grant in rows:
        shown.setdefault(grant.product_id, []).append(
            {
                "by": grant.granted_by.username if grant.granted_by is not None else None,
                "at": grant.created_at,
                "days": grant.valid_period,
                "until": grant.valid_until,
                "reason": grant.reason,
            }
        )
    return shown
