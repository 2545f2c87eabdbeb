"""The catalog's reads: the models students may see, loaded with everything their pages show.

Only online products appear: offline and upcoming ones are invisible here, whatever the id
(but `find_course(..., ProductStatus.UPCOMING)`, with which a course's page announces one that
is coming). Every read takes a fixed number of queries, whatever the length of the list.

What the API and the pages show of them is shaped in app/schemas/catalog.py and cached per
catalog version by app/schemas/catalog_reads.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (
    Course,
    CourseCategory,
    CourseChapter,
    DegreeCourse,
    Product,
    ProductStatus,
)
from app.models.search import boolean_query
from app.services.paging import Page

SORTS = ("default", "newest", "price_asc", "price_desc", "popular")
LEVELS = ("beginner", "intermediate", "advanced")


@dataclass(frozen=True)
class CourseQuery:
    """A validated course-list request: filters, sort and page."""

    category_id: int | None = None
    level: str | None = None
    q: str | None = None
    sort: str = "default"
    page: int = 1
    per_page: int = 12


def categories() -> list[CourseCategory]:
    return list(
        db.session.scalars(
            select(CourseCategory).order_by(CourseCategory.sort_order, CourseCategory.id)
        )
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered_courses(query: CourseQuery, columns: Any = Course) -> Select:
    stmt = select(columns).where(Course.status == ProductStatus.ONLINE)
    if query.category_id:
        stmt = stmt.where(Course.category_id == query.category_id)
    if query.level:
        stmt = stmt.where(Course.level == query.level)
    if query.q:
        pattern = _like(query.q)
        stmt = stmt.where(
            or_(Course.name.ilike(pattern, escape="\\"), Course.brief.ilike(pattern, escape="\\"))
        )
        # On MariaDB the FULLTEXT index finds the few rows the LIKE then checks (search.py).
        words = boolean_query(query.q)
        if words is not None and db.session.get_bind().dialect.name == "mysql":
            stmt = stmt.where(Product.search_text.match(words))
    return stmt


def _ordered(stmt: Select, sort: str) -> Select:
    # Every key is a column of `products` (Product.id is the course's id): MariaDB then reads
    # the default order straight from ix_products_status_sort, and sorts the others on one
    # table, where a key from `courses` made it build a temporary table of every course first.
    if sort == "newest":
        return stmt.order_by(Product.created_at.desc(), Product.id.desc())
    if sort in ("price_asc", "price_desc"):
        price = Product.sort_price  # the cheapest current policy (app/models/pricing.py)
        # Courses with no price yet go last either way.
        direction = price.asc() if sort == "price_asc" else price.desc()
        return stmt.order_by(price.is_(None), direction, Product.sort_order, Product.id)
    if sort == "popular":  # the stored count of enrollments (app/models/counters.py)
        return stmt.order_by(Product.students.desc(), Product.sort_order, Product.id)
    return stmt.order_by(Product.sort_order, Product.id)


def course_page(query: CourseQuery) -> Page[Course]:
    """The page of online courses the query asks for, each with its category and policies."""
    counted = _filtered_courses(query, Course.id).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted))
    # The page's ids first, from the index alone however far the offset (a deferred join):
    # then only those rows are read whole.
    ids = db.session.scalars(
        _ordered(_filtered_courses(query, Course.id), query.sort)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    found = (
        {
            c.id: c
            for c in db.session.scalars(
                select(Course)
                .where(Course.id.in_(ids))
                .options(joinedload(Course.category), selectinload(Course.price_policies))
            ).unique()
        }
        if ids
        else {}
    )
    return Page([found[i] for i in ids], total, query.page, query.per_page)


def find_course(course_id: int, status: ProductStatus) -> Course | None:
    """A course of that status with everything its page shows, or None."""
    return db.session.scalar(
        select(Course)
        .where(Course.id == course_id, Course.status == status)
        .options(
            joinedload(Course.category),
            joinedload(Course.detail),
            selectinload(Course.price_policies),
            selectinload(Course.teachers),
            selectinload(Course.chapters).selectinload(CourseChapter.sections),
            selectinload(Course.faqs),
            selectinload(Course.recommended),
        )
    )


def degree_page(page: int, per_page: int) -> Page[DegreeCourse]:
    """A page of online degree courses, each with its courses and policies."""
    visible = select(DegreeCourse).where(DegreeCourse.status == ProductStatus.ONLINE)
    total = db.session.scalar(select(func.count()).select_from(visible.subquery()))
    degrees = db.session.scalars(
        visible.order_by(DegreeCourse.sort_order, DegreeCourse.id)
        .options(selectinload(DegreeCourse.courses), selectinload(DegreeCourse.price_policies))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(degrees), total, page, per_page)


def find_degree_course(degree_id: int) -> DegreeCourse | None:
    """An online degree course with everything its page shows, or None."""
    return db.session.scalar(
        select(DegreeCourse)
        .where(DegreeCourse.id == degree_id, DegreeCourse.status == ProductStatus.ONLINE)
        .options(
            selectinload(DegreeCourse.courses).selectinload(Course.category),
            selectinload(DegreeCourse.price_policies),
            selectinload(DegreeCourse.mentors),
            selectinload(DegreeCourse.faqs),
        )
    )
