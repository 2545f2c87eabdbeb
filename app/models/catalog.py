"""The catalog: products (courses and degree courses in one id space) and what describes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    column,
    desc,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from app.extensions import db
from app.models.search import search_text
from app.models.types import Money, UTCDateTime, utcnow
from app.richtext import sanitize


class ItemType(StrEnum):
    """What the API calls a buyable product's kind; also the products table's discriminator."""

    COURSE = "course"
    DEGREE_COURSE = "degree_course"


class ProductStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UPCOMING = "upcoming"


class Level(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class CourseType(StrEnum):
    PAID = "paid"
    VIP = "vip"


class SectionType(StrEnum):
    DOCUMENT = "document"
    EXERCISE = "exercise"
    VIDEO = "video"


class RichText(TypeDecorator):
    """TEXT holding HTML that pages show as markup: sanitised (app/richtext.py) on its
    way to the database whatever writes it through SQLAlchemy (a form, the seed, a shell, a bulk
    UPDATE). Only raw SQL text gets past it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else sanitize(value)


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in enum)})"


class CourseCategory(db.Model):
    __tablename__ = "course_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(64), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    courses: Mapped[list[Course]] = relationship(back_populates="category")

    def __str__(self) -> str:
        return self.name


class Product(db.Model):
    """Anything a student can buy. Policies, coupons, order lines, enrollments and FAQs point
    here with a real foreign key, whatever the kind of product."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(_in("item_type", ItemType), name="item_type"),
        CheckConstraint(_in("status", ProductStatus), name="status"),
        Index("ix_products_status_sort", "status", "sort_order", "id"),
        # The course list (services/catalog.py) reads its count and its page's ids from one of
        # these alone, in the sort's own order, however deep the page: never the courses table.
        Index("ix_products_course_sort", "status", "item_type", "sort_order", "id"),
        Index("ix_products_course_price", "status", "item_type", "sort_price", "sort_order", "id"),
        Index(
            "ix_products_course_price_desc",
            "status",
            "item_type",
            desc(column("sort_price")),  # dearest first, ties by sort_order, id ascending
            "sort_order",
            "id",
        ),
        Index(
            "ix_products_course_popular",
            "status",
            "item_type",
            desc(column("students")),  # most students first, ties by sort_order, id ascending
            "sort_order",
            "id",
        ),
        Index("ix_products_course_newest", "status", "item_type", "created_at", "id"),
        Index("ft_products_search", "search_text", mysql_prefix="FULLTEXT"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    brief: Mapped[str] = mapped_column(Text, default="")
    course_img: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default=ProductStatus.ONLINE)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The cheapest active policy's price (NULL: none), kept by app/models/pricing.py whenever
    # a policy is written, so the price sorts read a column instead of a subquery per row.
    sort_price: Mapped[Decimal | None] = mapped_column(Money)
    # The name and brief as FULLTEXT tokens (app/models/search.py), set on every write.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # How many enrollments the product has (the `popular` sort), kept by app/models/counters.py.
    students: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    price_policies: Mapped[list[PricePolicy]] = relationship(  # noqa: F821
        back_populates="product",
        order_by="PricePolicy.valid_period",
        cascade="all, delete-orphan",
    )
    faqs: Mapped[list[FAQ]] = relationship(
        back_populates="product", order_by="FAQ.sort_order", cascade="all, delete-orphan"
    )

    __mapper_args__: ClassVar[dict] = {
        "polymorphic_on": "item_type",
        "polymorphic_identity": "product",
    }

    @property
    def is_visible(self) -> bool:
        return self.status == ProductStatus.ONLINE

    @property
    def current_policies(self) -> list[PricePolicy]:  # noqa: F821
        return [p for p in self.price_policies if p.active]

    def __str__(self) -> str:
        return self.name


@event.listens_for(Product, "before_insert", propagate=True)
@event.listens_for(Product, "before_update", propagate=True)
def _set_search_text(mapper, connection, target: Product) -> None:
    target.search_text = search_text(target.name, target.brief)


course_teachers = Table(
    "course_teachers",
    db.metadata,
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column("teacher_id", ForeignKey("teachers.id", ondelete="CASCADE"), primary_key=True),
)

course_recommendations = Table(
    "course_recommendations",
    db.metadata,
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column("recommended_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("course_id <> recommended_id", name="not_self"),
)

degree_course_courses = Table(
    "degree_course_courses",
    db.metadata,
    Column(
        "degree_course_id", ForeignKey("degree_courses.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
)

degree_course_mentors = Table(
    "degree_course_mentors",
    db.metadata,
    Column(
        "degree_course_id", ForeignKey("degree_courses.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("teacher_id", ForeignKey("teachers.id", ondelete="CASCADE"), primary_key=True),
)


class Teacher(db.Model):
    __tablename__ = "teachers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="lecturer")  # lecturer | mentor
    title: Mapped[str] = mapped_column(String(128), default="")
    signature: Mapped[str] = mapped_column(String(255), default="")
    image: Mapped[str] = mapped_column(String(255), default="")
    brief: Mapped[str] = mapped_column(Text, default="")

    def __str__(self) -> str:
        return self.name


class Course(Product):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(_in("level", Level), name="level"),
        CheckConstraint(_in("course_type", CourseType), name="course_type"),
        CheckConstraint("period >= 0", name="period_not_negative"),
    )

    id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(128), unique=True)
    course_type: Mapped[str] = mapped_column(String(16), default=CourseType.PAID)
    level: Mapped[str] = mapped_column(String(16), default=Level.BEGINNER, index=True)
    period: Mapped[int] = mapped_column(Integer, default=7)  # suggested study days
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_categories.id", ondelete="SET NULL"), index=True
    )

    category: Mapped[CourseCategory | None] = relationship(back_populates="courses")
    detail: Mapped[CourseDetail | None] = relationship(
        back_populates="course", uselist=False, cascade="all, delete-orphan"
    )
    chapters: Mapped[list[CourseChapter]] = relationship(
        back_populates="course", order_by="CourseChapter.number", cascade="all, delete-orphan"
    )
    teachers: Mapped[list[Teacher]] = relationship(secondary=course_teachers)
    recommended: Mapped[list[Course]] = relationship(
        secondary=course_recommendations,
        primaryjoin="Course.id == course_recommendations.c.course_id",
        secondaryjoin="Course.id == course_recommendations.c.recommended_id",
    )

    __mapper_args__: ClassVar[dict] = {"polymorphic_identity": ItemType.COURSE.value}


class CourseDetail(db.Model):
    __tablename__ = "course_details"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    hours: Mapped[int] = mapped_column(Integer, default=0)
    slogan: Mapped[str] = mapped_column(String(255), default="")
    video_brief_link: Mapped[str] = mapped_column(String(255), default="")
    why_study: Mapped[str] = mapped_column(Text, default="")
    what_to_study: Mapped[str] = mapped_column(RichText, default="")  # sanitised rich text
    career_improvement: Mapped[str] = mapped_column(Text, default="")
    prerequisite: Mapped[str] = mapped_column(Text, default="")

    course: Mapped[Course] = relationship(back_populates="detail")

    __table_args__ = (CheckConstraint("hours >= 0", name="hours_not_negative"),)

    @validates("what_to_study")
    def _sanitize_rich_text(self, _key: str, value: str | None) -> str:
        # Sanitised as soon as it is set, so the object (and a form showing it) holds what is
        # stored; the RichText type sanitises again for writes that bypass the object.
        return sanitize(value)


class DegreeCourse(Product):
    __tablename__ = "degree_courses"
    __table_args__ = (
        CheckConstraint("total_scholarship >= 0", name="scholarship_not_negative"),
        CheckConstraint("period >= 0", name="period_not_negative"),
    )

    id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(128), unique=True)
    period: Mapped[int] = mapped_column(Integer, default=180)  # suggested study days
    total_scholarship: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    scholarship_rules: Mapped[str] = mapped_column(Text, default="")

    courses: Mapped[list[Course]] = relationship(
        secondary=degree_course_courses, order_by=degree_course_courses.c.position
    )
    mentors: Mapped[list[Teacher]] = relationship(secondary=degree_course_mentors)

    __mapper_args__: ClassVar[dict] = {"polymorphic_identity": ItemType.DEGREE_COURSE.value}


class CourseChapter(db.Model):
    __tablename__ = "course_chapters"
    __table_args__ = (
        UniqueConstraint("course_id", "number", name="uq_course_chapters_course_number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(Text, default="")

    course: Mapped[Course] = relationship(back_populates="chapters")
    sections: Mapped[list[CourseSection]] = relationship(
        back_populates="chapter", order_by="CourseSection.position", cascade="all, delete-orphan"
    )


class CourseSection(db.Model):
    __tablename__ = "course_sections"
    __table_args__ = (
        UniqueConstraint("chapter_id", "position", name="uq_course_sections_chapter_position"),
        CheckConstraint(_in("section_type", SectionType), name="section_type"),
        CheckConstraint("duration IS NULL OR duration >= 0", name="duration_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chapter_id: Mapped[int] = mapped_column(ForeignKey("course_chapters.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(128))
    section_type: Mapped[str] = mapped_column(String(16), default=SectionType.VIDEO)
    link: Mapped[str] = mapped_column(String(255), default="")
    duration: Mapped[int | None] = mapped_column(Integer)  # seconds, for videos
    free_trial: Mapped[bool] = mapped_column(Boolean, default=False)
    # The lesson video in MEDIA_FOLDER, under a name the app chose (app/services/media.py);
    # `duration` is then read from it.
    media_file: Mapped[str | None] = mapped_column(String(128))
    media_type: Mapped[str | None] = mapped_column(String(32))
    # A document's text or an exercise's instructions: sanitised rich text.
    content: Mapped[str] = mapped_column(RichText, default="")

    chapter: Mapped[CourseChapter] = relationship(back_populates="sections")

    @validates("content")
    def _sanitize_content(self, _key: str, value: str | None) -> str:
        return sanitize(value)


class FAQ(db.Model):
    __tablename__ = "faqs"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(255))
    answer: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="faqs")
