"""Enrollments derived by one rule: paid, not refunded lines (the product's own and its degree
courses') and staff grants, replayed in the order they were paid from max(end, paid_at)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AccessGrant, Enrollment, Order, OrderLine, PricePolicy
from app.models.types import utcnow
from app.services.enrollment import (
    Source,
    derive,
    grant_access,
    recompute_enrollment,
    refresh_enrollments,
    revoke_grant,
)
from app.services.errors import Conflict, InvalidInput
from tests.factories import CourseFactory, DegreeCourseFactory, UserFactory
from tests.shop_data import _numbers

DAY = timedelta(days=1)


def buy(user, product, days, paid_at, status="paid") -> Order:
    """A paid order of one line giving `days` (0 = for ever), paid at `paid_at`, then what
    payment does: the enrollments derived again."""
    policy = next((p for p in product.price_policies if p.valid_period == days), None)
    if policy is None:
        policy = PricePolicy(product=product, valid_period=days, price=Decimal("99.00"))
        db.session.add(policy)
        db.session.flush()
    order = Order(
        order_no=paid_at.strftime("%Y%m%d") + str(next(_numbers)),
        user=user,
        status=status,
        payment_method="sandbox",
        original_amount=Decimal("99.00"),
        discount_amount=Decimal("0.00"),
        actual_amount=Decimal("99.00"),
        created_at=paid_at - timedelta(minutes=1),
        expires_at=paid_at + timedelta(minutes=29),
        paid_at=paid_at,
        trade_no=f"T{next(_numbers)}",
    )
    order.lines.append(
        OrderLine(
            product_id=product.id,
            price_policy_id=policy.id,
            item_type=product.item_type,
            product_name=product.name,
            valid_period=days,
            valid_period_text=f"{days} days",
            original_price=Decimal("99.00"),
            coupon_discount=Decimal("0.00"),
            global_discount=Decimal("0.00"),
            amount_paid=Decimal("99.00"),
        )
    )
    db.session.add(order)
    db.session.flush()
    refresh_enrollments(user.id, [product.id], paid_at)
    db.session.commit()
    return order


def refund(order: Order, now) -> None:
    """What an approved refund does to enrollments: the order is refunded, then derived again."""
    order.status = "refunded"
    db.session.flush()
    refresh_enrollments(order.user_id, [line.product_id for line in order.lines], now)
    db.session.commit()


def end_of(user, product):
    db.session.expire_all()
    return db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.product_id == product.id)
    )


@pytest.fixture
def degree_with_course(app):
    course = CourseFactory()
    degree = DegreeCourseFactory()
    degree.courses.append(course)
    db.session.commit()
    return degree, course


# --- the two defects of issue #10 ----------------------------------------------------------------


def test_refunding_a_course_keeps_what_its_degree_still_pays_for(degree_with_course):
    degree, course = degree_with_course
    user, t0 = UserFactory(), utcnow()
    own = buy(user, course, 30, t0)
    buy(user, degree, 180, t0 + DAY)
    now = t0 + 2 * DAY
    refund(own, now)
    assert end_of(user, course).valid_until == t0 + DAY + 180 * DAY  # the degree's end
    assert end_of(user, degree).valid_until == t0 + DAY + 180 * DAY
    assert end_of(user, course).status_at(now) == "active"


def test_refunding_a_forever_purchase_keeps_the_month_paid_before(app):
    user, course, t0 = UserFactory(), CourseFactory(), utcnow()
    buy(user, course, 30, t0)
    forever = buy(user, course, 0, t0 + DAY)
    assert end_of(user, course).valid_until is None
    refund(forever, t0 + 2 * DAY)
    assert end_of(user, course).valid_until == t0 + 30 * DAY


# --- the rule -------------------------------------------------------------------------------------


def test_a_refunded_degree_leaves_a_course_bought_alone_running(degree_with_course):
    degree, course = degree_with_course
    user, t0 = UserFactory(), utcnow()
    buy(user, course, 30, t0)
    degree_order = buy(user, degree, 180, t0 + DAY)
    now = t0 + 2 * DAY
    refund(degree_order, now)
    assert end_of(user, course).valid_until == t0 + 30 * DAY
    assert end_of(user, course).status_at(now) == "active"
    assert end_of(user, degree).valid_until == now
    assert end_of(user, degree).status_at(now) == "refunded"


def test_repeated_purchases_are_replayed_from_their_payment_times(app):
    user, course, t0 = UserFactory(), CourseFactory(), utcnow() - 100 * DAY
    first = buy(user, course, 30, t0)
    buy(user, course, 30, t0 + 10 * DAY)  # while the first runs: starts at its end
    assert end_of(user, course).valid_until == t0 + 60 * DAY
    buy(user, course, 30, t0 + 90 * DAY)  # after a gap: a new run from its payment
    enrollment = end_of(user, course)
    assert (enrollment.valid_from, enrollment.valid_until) == (t0 + 90 * DAY, t0 + 120 * DAY)
    # Refunding the first line replays the rest: the second now runs from its own payment.
    refund(first, t0 + 95 * DAY)
    assert end_of(user, course).valid_until == t0 + 120 * DAY
    assert derive(
        [Source(t0 + 10 * DAY, 0, 2, 30), Source(t0 + 90 * DAY, 0, 3, 30)]
    ).valid_until == (t0 + 120 * DAY)


def test_a_requested_refund_still_pays_until_approved(app):
    user, course, now = UserFactory(), CourseFactory(), utcnow()
    buy(user, course, 30, now, status="refund_requested")
    assert end_of(user, course).valid_until == now + 30 * DAY


def test_an_enrollment_that_ran_out_reads_expired_not_refunded(app):
    user, course, t0 = UserFactory(), CourseFactory(), utcnow() - 60 * DAY
    buy(user, course, 30, t0)
    assert end_of(user, course).status_at(utcnow()) == "expired"


def test_a_payment_derives_through_the_rule(degree_with_course):
    """mark_paid (what a notification applies) -> refresh_enrollments."""
    from app.services.orders import mark_paid

    degree, course = degree_with_course
    user, now = UserFactory(), utcnow()
    order = buy(user, course, 30, now)
    pending = buy(user, degree, 180, now, status="pending")
    pending.paid_at = None
    db.session.commit()
    assert mark_paid(pending, now + DAY, "T-degree")
    db.session.commit()
    assert end_of(user, course).valid_until == now + DAY + 180 * DAY + (29 * DAY)
    refund(order, now + 2 * DAY)
    assert end_of(user, course).valid_until == now + DAY + 180 * DAY


# --- staff grants ---------------------------------------------------------------------------------


def test_a_grant_gives_access_and_revoking_it_takes_exactly_that_back(app):
    staff, user, course, now = UserFactory(is_staff=True), UserFactory(), CourseFactory(), utcnow()
    buy(user, course, 30, now)
    grant = grant_access(
        user.id, course.id, granted_by_id=staff.id, reason="补偿停服", now=now + DAY, days=10
    )
    db.session.commit()
    assert end_of(user, course).valid_until == now + 40 * DAY  # stacked after the paid month
    revoked = revoke_grant(grant.id, revoked_by_id=staff.id, reason="发错了", now=now + 2 * DAY)
    db.session.commit()
    assert end_of(user, course).valid_until == now + 30 * DAY
    stored = db.session.get(AccessGrant, revoked.id)
    assert (stored.revoked_by_id, stored.revoke_reason, stored.reason) == (
        staff.id,
        "发错了",
        "补偿停服",
    )
    with pytest.raises(Conflict):
        revoke_grant(grant.id, revoked_by_id=staff.id, reason="again", now=now + 3 * DAY)


def test_a_grant_to_an_end_date_and_for_ever(degree_with_course):
    degree, course = degree_with_course
    staff, user, now = UserFactory(is_staff=True), UserFactory(), utcnow()
    grant_access(
        user.id, course.id, granted_by_id=staff.id, reason="teacher", now=now, until=now + 5 * DAY
    )
    db.session.commit()
    assert end_of(user, course).valid_until == now + 5 * DAY
    forever = grant_access(
        user.id, degree.id, granted_by_id=staff.id, reason="scholar", now=now, days=0
    )
    db.session.commit()
    assert end_of(user, degree).valid_until is None
    assert end_of(user, course).valid_until is None  # a degree's grant covers its courses
    revoke_grant(forever.id, revoked_by_id=staff.id, reason="ended", now=now + DAY)
    db.session.commit()
    assert end_of(user, course).valid_until == now + 5 * DAY
    assert end_of(user, degree).valid_until == now + DAY
    assert end_of(user, degree).status_at(now + DAY) == "expired"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"reason": " ", "days": 3}, "reason"),
        ({"reason": "x" * 501, "days": 3}, "reason"),
        ({"reason": "ok"}, "days"),
        ({"reason": "ok", "days": 3, "until": "soon"}, "days"),
        ({"reason": "ok", "days": -1}, "days"),
        ({"reason": "ok", "until": "past"}, "until"),
    ],
)
def test_a_grant_is_refused_without_a_reason_or_a_clear_period(app, values, field):
    staff, user, course, now = UserFactory(is_staff=True), UserFactory(), CourseFactory(), utcnow()
    if "until" in values:
        values["until"] = now + DAY if values["until"] == "soon" else now - DAY
    with pytest.raises(InvalidInput) as refused:
        grant_access(user.id, course.id, granted_by_id=staff.id, now=now, **values)
    assert field in refused.value.fields
    assert db.session.scalar(select(AccessGrant.id)) is None


def test_nothing_to_derive_makes_no_enrollment(app):
    user, course = UserFactory(), CourseFactory()
    assert recompute_enrollment(user.id, course.id, utcnow()) is None
