"""The catalog's reads: the models students may see, loaded with everything their pages show.

Only online products appear: offline and upcoming ones are invisible here, whatever the id
(but `find_course(..., ProductStatus.UPCOMING)`, with which a course's page announces one that
is coming). Every read takes a fixed number of queries, whatever the length of the list.

What the API and the pages show of them is shaped in app/schemas/catalog.py and cached per
catalog version by app/schemas/catalog_reads.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (
    Course,
    CourseCategory,
    CourseChapter,
    DegreeCourse,
    ItemType,
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


def _listed(query: CourseQuery) -> Select:
    """The ids of the courses the list shows, filtered and not yet ordered: from `products`
    alone, whose ix_products_course_* indexes hold the status, the item type and every sort's
    keys, so the count and a page at any depth are read from an index (no row, no join);
    `courses` is joined only for a category or a level."""
    stmt = select(Product.id).where(
        Product.status == ProductStatus.ONLINE, Product.item_type == ItemType.COURSE
    )
    if query.category_id or query.level:
        courses = Course.__table__
        stmt = stmt.join(courses, courses.c.id == Product.id)
        if query.category_id:
            stmt = stmt.where(courses.c.category_id == query.category_id)
        if query.level:
            stmt = stmt.where(courses.c.level == query.level)
    if query.q:
        pattern = _like(query.q)
        stmt = stmt.where(
            or_(Product.name.ilike(pattern, escape="\\"), Product.brief.ilike(pattern, escape="\\"))
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


def _count(query: CourseQuery) -> int:
    return db.session.scalar(select(func.count()).select_from(_listed(query).subquery()))


def _price_page(query: CourseQuery) -> tuple[int, list[int]]:
    """A page of a price sort, read in the order of a price index: the priced courses first
    (their count rides along with the total), then those with no price yet. The one
    ORDER BY of _ordered() would begin with `sort_price IS NULL`, which no index holds, so
    MariaDB sorted every course for each page."""
    listed = _listed(query)
    counted = listed.add_columns(Product.sort_price).subquery()
    total, priced = db.session.execute(
        select(func.count(), func.count(counted.c.sort_price))  # COUNT(x): x not NULL
    ).one()
    price = Product.sort_price.asc() if query.sort == "price_asc" else Product.sort_price.desc()
    first = (query.page - 1) * query.per_page
    ids: list[int] = []
    if first < priced:
        ids += db.session.scalars(
            listed.where(Product.sort_price.is_not(None))
            .order_by(price, Product.sort_order, Product.id)
            .limit(query.per_page)
            .offset(first)
        )
    if len(ids) < query.per_page and first + len(ids) < total:
        ids += db.session.scalars(
            listed.where(Product.sort_price.is_(None))
            .order_by(Product.sort_order, Product.id)
            .limit(query.per_page - len(ids))
            .offset(max(0, first - priced))
        )
    return total, ids


def course_page(query: CourseQuery) -> Page[Course]:
    """The page of online courses the query asks for, each with its category and policies."""
    # The page's ids first, from the index alone however far the offset (a deferred join):
    # then only those rows are read whole.
    page_ids = (
        _ordered(_listed(query), query.sort)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    )
    if query.q:
        # A search runs once, the total riding along on each row of the page (its FULLTEXT
        # lookup is most of the cost); counted apart only past the last page.
        rows = db.session.execute(page_ids.add_columns(func.count().over())).all()
        ids = [row[0] for row in rows]
        total = rows[0][1] if rows else 0 if query.page == 1 else _count(query)
    elif query.sort in ("price_asc", "price_desc"):
        total, ids = _price_page(query)
    else:
        total = _count(query)
        ids = db.session.scalars(page_ids).all()
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
