"""Every model, imported here so that the metadata (and Alembic) sees the whole schema."""

from app.models.catalog import (
    FAQ,
    Course,
    CourseCategory,
    CourseChapter,
    CourseDetail,
    CourseSection,
    CourseType,
    DegreeCourse,
    ItemType,
    Level,
    Product,
    ProductStatus,
    SectionType,
    Teacher,
    course_recommendations,
    course_teachers,
    degree_course_courses,
    degree_course_mentors,
)
from app.models.coupons import Coupon, CouponKind, CouponRecord, RecordStatus
from app.models.learning import AccessGrant, SectionProgress
from app.models.orders import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentEvent,
    PaymentMethod,
    SandboxTrade,
)
from app.models.pricing import PricePolicy
from app.models.users import ApiToken, Enrollment, EnrollmentStatus, User

# The listeners keeping products.students, after the models they read.
from app.models import counters  # isort: skip

__all__ = [
    "FAQ",
    "AccessGrant",
    "ApiToken",
    "Coupon",
    "CouponKind",
    "CouponRecord",
    "Course",
    "CourseCategory",
    "CourseChapter",
    "CourseDetail",
    "CourseSection",
    "CourseType",
    "DegreeCourse",
    "Enrollment",
    "EnrollmentStatus",
    "ItemType",
    "Level",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentEvent",
    "PaymentMethod",
    "PricePolicy",
    "Product",
    "ProductStatus",
    "RecordStatus",
    "SandboxTrade",
    "SectionProgress",
    "SectionType",
    "Teacher",
    "User",
    "counters",
    "course_recommendations",
    "course_teachers",
    "degree_course_courses",
    "degree_course_mentors",
]
