"""The schema's own rules: constraints the database enforces whatever the code above does."""

from datetime import UTC
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db
from app.models import Course, PricePolicy, Product
from tests.factories import CourseFactory, DegreeCourseFactory

# MariaDB reports a failed CHECK as an operational error (4025), SQLite as an integrity one.
REFUSED = (IntegrityError, OperationalError)


def test_a_duplicate_policy_is_refused_by_the_database(app):
    course = CourseFactory(policies=[(30, "99.00")])
    db.session.add(PricePolicy(product_id=course.id, valid_period=30, price=Decimal("1.00")))
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_a_negative_price_is_refused_by_the_database(app):
    course = CourseFactory(policies=[])
    db.session.add(PricePolicy(product_id=course.id, valid_period=7, price=Decimal("-1.00")))
    with pytest.raises(REFUSED):
        db.session.commit()


def test_courses_and_degree_courses_share_one_id_space(app):
    course = CourseFactory()
    degree = DegreeCourseFactory()
    assert course.id != degree.id
    products = db.session.scalars(select(Product).order_by(Product.id)).all()
    assert [type(p).__name__ for p in products] == ["Course", "DegreeCourse"]


def test_a_policy_comes_back_with_its_course(app):
    course = CourseFactory(policies=[(30, "99.00")])
    db.session.expire_all()
    policy = db.session.scalar(select(PricePolicy).where(PricePolicy.product_id == course.id))
    assert isinstance(policy.product, Course)
    assert policy.price == Decimal("99.00")


def test_timestamps_come_back_aware(app):
    course = CourseFactory()
    db.session.expire_all()
    fresh = db.session.get(Course, course.id)
    assert fresh.created_at.tzinfo is UTC
