"""Enrollments: buying extends from the later of now and the current end; degrees enroll their
courses (not stacked); refunds take a period back, never before now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Enrollment
from app.models.types import utcnow
from app.services.enrollment import extend_enrollment, shorten_enrollment
from tests.factories import CourseFactory, DegreeCourseFactory, EnrollmentFactory, UserFactory
from tests.shop_data import make_order


def test_a_first_purchase_starts_now(app):
    user, course, now = UserFactory(), CourseFactory(), utcnow()
    e = extend_enrollment(user.id, course, 30, now)
    assert (e.valid_from, e.valid_until) == (now, now + timedelta(days=30))


def test_buying_again_extends_from_the_current_end(app):
    user, course, now = UserFactory(), CourseFactory(), utcnow()
    EnrollmentFactory(user=user, product=course, valid_from=now, valid_until=now + timedelta(10))
    e = extend_enrollment(user.id, course, 30, now)
    assert e.valid_until == now + timedelta(days=40)


def test_a_lapsed_enrollment_starts_again_now(app):
    user, course, now = UserFactory(), CourseFactory(), utcnow()
    EnrollmentFactory(
        user=user, product=course, valid_from=now - timedelta(60), valid_until=now - timedelta(1)
    )
    e = extend_enrollment(user.id, course, 30, now)
    assert (e.valid_from, e.valid_until) == (now, now + timedelta(days=30))


def test_forever_stays_forever(app):
    user, course, now = UserFactory(), CourseFactory(), utcnow()
    assert extend_enrollment(user.id, course, 0, now).valid_until is None
    assert extend_enrollment(user.id, course, 30, now).valid_until is None


def test_a_degree_enrolls_its_courses_until_the_later_end(app):
    user, now = UserFactory(), utcnow()
    long_owned, short_owned, new = CourseFactory(), CourseFactory(), CourseFactory()
    degree = DegreeCourseFactory()
    degree.courses.extend([long_owned, short_owned, new])
    db.session.commit()
    EnrollmentFactory(user=user, product=long_owned, valid_until=now + timedelta(days=400))
    EnrollmentFactory(user=user, product=short_owned, valid_until=now + timedelta(days=5))
    extend_enrollment(user.id, degree, 180, now)
    db.session.commit()
    ends = dict(db.session.execute(select(Enrollment.product_id, Enrollment.valid_until)).all())
    degree_end = now + timedelta(days=180)
    assert ends[degree.id] == degree_end
    assert ends[long_owned.id] == now + timedelta(days=400)  # not shortened
    assert ends[short_owned.id] == degree_end  # not stacked: 5 + 180 would be too much
    assert ends[new.id] == degree_end


def test_a_refund_takes_the_period_back_but_not_before_now(app):
    user, course, now = UserFactory(), CourseFactory(), utcnow()
    extend_enrollment(user.id, course, 30, now)
    extend_enrollment(user.id, course, 30, now)
    shorten_enrollment(user.id, course.id, 30, now)
    enrollment = db.session.scalars(select(Enrollment)).one()
    assert enrollment.valid_until == now + timedelta(days=30)
    shorten_enrollment(user.id, course.id, 90, now)
    assert enrollment.valid_until == now


def test_a_refunded_degree_takes_back_what_it_gave_its_courses(app):
    """Courses keep what something else still pays for: the student's own purchase of a course,
    another degree holding it; the rest ends with the refunded degree's time."""
    user, now = UserFactory(), utcnow()
    only_degree, bought_too, in_other = (
        CourseFactory(),
        CourseFactory(policies=[(60, "99.00")]),
        CourseFactory(),
    )
    degree, other = DegreeCourseFactory(), DegreeCourseFactory()
    degree.courses.extend([only_degree, bought_too, in_other])
    other.courses.append(in_other)
    db.session.commit()
    # The student bought `bought_too` for 60 days, paid ten days ago.
    make_order(
        user,
        lines=[(bought_too, "99.00", "0.00", "0.00")],
        created_at=now - timedelta(days=10, minutes=1),
    )
    extend_enrollment(user.id, bought_too, 60, now - timedelta(days=10))
    extend_enrollment(user.id, other, 90, now)
    extend_enrollment(user.id, degree, 180, now)
    db.session.commit()

    shorten_enrollment(user.id, degree.id, 180, now)
    db.session.commit()
    ends = dict(db.session.execute(select(Enrollment.product_id, Enrollment.valid_until)).all())
    assert ends[degree.id] == now
    assert ends[only_degree.id] == now
    assert ends[bought_too.id] == now + timedelta(days=50)  # its own 60 days, paid 10 days ago
    assert ends[in_other.id] == now + timedelta(days=90)  # the other degree still holds it
