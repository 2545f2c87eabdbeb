"""factory_boy factories: `CourseFactory(policies=[(30, "99.00")])` makes a course ready to buy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.extensions import db
from app.models import (
    FAQ,
    Coupon,
    CouponKind,
    CouponRecord,
    Course,
    CourseCategory,
    CourseChapter,
    CourseDetail,
    CourseSection,
    DegreeCourse,
    Enrollment,
    PricePolicy,
    Teacher,
    User,
)
from app.models.types import utcnow
from tests import FAST_PASSWORD_HASHER

# One hash for every factory user, made by the tests' hasher: argon2 is slow on purpose, tests
# need not be.
_PASSWORD = "password123"
_PASSWORD_HASH = FAST_PASSWORD_HASHER.hash(_PASSWORD)


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User
        exclude = ("password",)

    username = factory.Sequence(lambda n: f"student{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password_hash = _PASSWORD_HASH
    is_staff = False
    active = True

    password = _PASSWORD  # what the hash above is of, for tests that log in


class CategoryFactory(BaseFactory):
    class Meta:
        model = CourseCategory

    name = factory.Sequence(lambda n: f"类别{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class TeacherFactory(BaseFactory):
    class Meta:
        model = Teacher

    name = factory.Sequence(lambda n: f"Teacher {n}")
    title = "Senior engineer"


class CourseFactory(BaseFactory):
    class Meta:
        model = Course

    name = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")
    brief = factory.LazyAttribute(lambda c: f"All about {c.name}.")
    course_img = "/static/img/covers/python.svg"
    category = factory.SubFactory(CategoryFactory)
    level = "beginner"
    status = "online"

    @factory.post_generation
    def policies(self, create, extracted, **kwargs):
        """`policies=[(30, "99.00"), (0, "299.00")]`; default one 30-day policy at 99.00."""
        for period, price in extracted if extracted is not None else [(30, "99.00")]:
            self.price_policies.append(PricePolicy(valid_period=period, price=Decimal(price)))
        if create:
            db.session.commit()


class CourseDetailFactory(BaseFactory):
    class Meta:
        model = CourseDetail

    course = factory.SubFactory(CourseFactory)
    hours = 12
    slogan = "Learn by building"


class ChapterFactory(BaseFactory):
    class Meta:
        model = CourseChapter

    course = factory.SubFactory(CourseFactory)
    number = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Chapter {n + 1}")


class SectionFactory(BaseFactory):
    class Meta:
        model = CourseSection

    chapter = factory.SubFactory(ChapterFactory)
    position = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Section {n + 1}")
    section_type = "video"
    link = "https://video.example.com/v/1"
    duration = 600
    free_trial = False


class FAQFactory(BaseFactory):
    class Meta:
        model = FAQ

    product = factory.SubFactory(CourseFactory)
    question = "Is there a certificate?"
    answer = "Yes."


class DegreeCourseFactory(BaseFactory):
    class Meta:
        model = DegreeCourse

    name = factory.Sequence(lambda n: f"Degree {n}")
    slug = factory.Sequence(lambda n: f"degree-{n}")
    brief = "A programme of several courses."
    course_img = "/static/img/covers/degree.svg"
    status = "online"
    total_scholarship = Decimal("1000.00")

    @factory.post_generation
    def policies(self, create, extracted, **kwargs):
        for period, price in extracted if extracted is not None else [(180, "2999.00")]:
            self.price_policies.append(PricePolicy(valid_period=period, price=Decimal(price)))
        if create:
            db.session.commit()


class CouponFactory(BaseFactory):
    class Meta:
        model = Coupon

    name = factory.Sequence(lambda n: f"Coupon {n}")
    kind = CouponKind.MONEY_OFF
    value = Decimal("10.00")
    off_percent = None
    minimum_consume = Decimal("0.00")
    product = None
    quantity = None
    claimed = 0
    claim_start = factory.LazyFunction(lambda: utcnow() - timedelta(days=1))
    claim_end = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))
    valid_days = 30


class CouponRecordFactory(BaseFactory):
    class Meta:
        model = CouponRecord

    coupon = factory.SubFactory(CouponFactory)
    user = factory.SubFactory(UserFactory)
    code = factory.Sequence(lambda n: f"CODE{n:010d}")
    status = "unused"
    valid_from = factory.LazyFunction(lambda: utcnow() - timedelta(minutes=1))
    valid_until = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))


class EnrollmentFactory(BaseFactory):
    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    product = factory.SubFactory(CourseFactory)
    valid_from = factory.LazyFunction(utcnow)
    valid_until = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))
