"""What students may see of the catalog, as plain dicts ready for a page or the API, cached.

Only online products appear: offline and upcoming ones are invisible here, whatever the id
(but `get_upcoming_course`, with which a course's page announces one that is coming).
Every list is read in a fixed number of queries, whatever its length. Each read also comes as
`..._json()`, its JSON text, which the cache encodes once per catalog version.

The dicts are shared by every request of the process (catalog_cache): never change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.i18n import current_language, period_text
from app.models import (
    Course,
    CourseCategory,
    CourseChapter,
    DegreeCourse,
    ItemType,
    PricePolicy,
    Product,
    ProductStatus,
)
from app.models.search import boolean_query
from app.money import amount_text
from app.services.catalog_cache import Entry, cached_entry
from app.services.errors import N_, NotFound

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


# --- shapes -----------------------------------------------------------------------------------


def policy_dict(policy: PricePolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "valid_period": policy.valid_period,
        "valid_period_text": period_text(policy.valid_period),
        "price": amount_text(policy.price),
    }


def policies_of(product: Product) -> list[dict[str, Any]]:
    return [policy_dict(p) for p in product.price_policies if p.active]


def category_dict(category: CourseCategory | None) -> dict[str, Any] | None:
    if category is None:
        return None
    name = category.name_en if current_language() == "en" and category.name_en else category.name
    return {"id": category.id, "name": name}


def course_summary(course: Course) -> dict[str, Any]:
    return {
        "id": course.id,
        "name": course.name,
        "brief": course.brief,
        "course_img": course.course_img,
        "level": course.level,
        "category": category_dict(course.category),
        "price_policies": policies_of(course),
    }


def teacher_dict(teacher) -> dict[str, Any]:
    return {
        "id": teacher.id,
        "name": teacher.name,
        "title": teacher.title,
        "signature": teacher.signature,
        "image": teacher.image,
        "brief": teacher.brief,
    }


def faq_dict(faq) -> dict[str, Any]:
    return {"id": faq.id, "question": faq.question, "answer": faq.answer}


def section_dict(section, course_id: int | None) -> dict[str, Any]:
    """A section as the course's page shows it; a free trial links to its lesson page when
    the course is online (`course_id`; None: not open to try)."""
    shown = {
        "id": section.id,
        "name": section.name,
        "section_type": section.section_type,
        "duration": section.duration,
        "free_trial": section.free_trial,
    }
    if section.free_trial and course_id is not None:  # where anyone may watch it
        shown["link"] = f"/learn/{course_id}/{section.id}"
    return shown


def degree_summary(degree: DegreeCourse) -> dict[str, Any]:
    return {
        "id": degree.id,
        "name": degree.name,
        "brief": degree.brief,
        "course_img": degree.course_img,
        "period": degree.period,
        "total_scholarship": amount_text(degree.total_scholarship),
        "courses": [
            {"id": c.id, "name": c.name} for c in degree.courses if c.status == ProductStatus.ONLINE
        ],
        "price_policies": policies_of(degree),
    }


# --- reads ------------------------------------------------------------------------------------


def _categories() -> Entry:
    def build():
        categories = db.session.scalars(
            select(CourseCategory).order_by(CourseCategory.sort_order, CourseCategory.id)
        )
        return [category_dict(c) for c in categories]

    return cached_entry("categories", (current_language(),), build)


def list_categories() -> list[dict[str, Any]]:
    return _categories().value


def list_categories_json() -> bytes:
    return _categories().json()


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


def _courses(query: CourseQuery) -> Entry:
    def build():
        # The page's ids first, from the index alone however far the offset (a deferred
        # join): then only those rows are read whole.
        page_ids = (
            _ordered(_listed(query), query.sort)
            .limit(query.per_page)
            .offset((query.page - 1) * query.per_page)
        )
        if query.q:
            # A search runs once, the total riding along on each row of the page (its
            # FULLTEXT lookup is most of the cost); counted apart only past the last page.
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
        page = [found[i] for i in ids]
        return {
            "items": [course_summary(c) for c in page],
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
        }

    key = (current_language(), *(getattr(query, f) for f in query.__dataclass_fields__))
    return cached_entry("courses", key, build)


def list_courses(query: CourseQuery) -> dict[str, Any]:
    return _courses(query).value


def list_courses_json(query: CourseQuery) -> bytes:
    return _courses(query).json()


def _course_content(course_id: int, status: ProductStatus) -> dict[str, Any] | None:
    """A course of that status with everything its page shows, or None."""
    course = db.session.scalar(
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
    if course is None:
        return None
    detail = course.detail
    open_to_try = course.id if course.status == ProductStatus.ONLINE else None
    return {
        **course_summary(course),
        "course_type": course.course_type,
        "period": course.period,
        "detail": None
        if detail is None
        else {
            "hours": detail.hours,
            "slogan": detail.slogan,
            "video_brief_link": detail.video_brief_link,
            "why_study": detail.why_study,
            "what_to_study": detail.what_to_study,
            "career_improvement": detail.career_improvement,
            "prerequisite": detail.prerequisite,
        },
        "teachers": [teacher_dict(t) for t in course.teachers],
        "chapters": [
            {
                "id": ch.id,
                "number": ch.number,
                "name": ch.name,
                "summary": ch.summary,
                "sections": [section_dict(s, open_to_try) for s in ch.sections],
            }
            for ch in course.chapters
        ],
        "faqs": [faq_dict(f) for f in course.faqs],
        "recommended": [
            {"id": r.id, "name": r.name, "brief": r.brief, "course_img": r.course_img}
            for r in course.recommended
            if r.status == ProductStatus.ONLINE
        ],
    }


def _course(course_id: int) -> Entry:
    found = cached_entry(
        "course",
        (current_language(), course_id),
        lambda: _course_content(course_id, ProductStatus.ONLINE),
    )
    if found.value is None:
        raise NotFound(N_("No such course."))
    return found


def get_course(course_id: int) -> dict[str, Any]:
    """The course page's whole content; NotFound for unknown and hidden courses alike."""
    return _course(course_id).value


def get_course_json(course_id: int) -> bytes:
    return _course(course_id).json()


def get_upcoming_course(course_id: int) -> dict[str, Any]:
    """An upcoming course, for its page to announce (not to sell: it has no price policies
    here, and offers refuse it); NotFound for any other course. The API keeps to online ones."""

    def build() -> dict[str, Any] | None:
        content = _course_content(course_id, ProductStatus.UPCOMING)
        return None if content is None else {**content, "price_policies": []}

    found = cached_entry("upcoming_course", (current_language(), course_id), build)
    if found.value is None:
        raise NotFound(N_("No such course."))
    return found.value


def _degree_courses(page: int, per_page: int) -> Entry:
    def build():
        visible = select(DegreeCourse).where(DegreeCourse.status == ProductStatus.ONLINE)
        total = db.session.scalar(select(func.count()).select_from(visible.subquery()))
        degrees = db.session.scalars(
            visible.order_by(DegreeCourse.sort_order, DegreeCourse.id)
            .options(selectinload(DegreeCourse.courses), selectinload(DegreeCourse.price_policies))
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        return {
            "items": [degree_summary(d) for d in degrees],
            "total": total,
            "page": page,
            "per_page": per_page,
        }

    return cached_entry("degrees", (current_language(), page, per_page), build)


def list_degree_courses(page: int = 1, per_page: int = 12) -> dict[str, Any]:
    return _degree_courses(page, per_page).value


def list_degree_courses_json(page: int = 1, per_page: int = 12) -> bytes:
    return _degree_courses(page, per_page).json()


def _degree_course(degree_id: int) -> Entry:
    def build():
        degree = db.session.scalar(
            select(DegreeCourse)
            .where(DegreeCourse.id == degree_id, DegreeCourse.status == ProductStatus.ONLINE)
            .options(
                selectinload(DegreeCourse.courses).selectinload(Course.category),
                selectinload(DegreeCourse.price_policies),
                selectinload(DegreeCourse.mentors),
                selectinload(DegreeCourse.faqs),
            )
        )
        if degree is None:
            return None
        return {
            **degree_summary(degree),
            "courses": [
                {
                    "id": c.id,
                    "name": c.name,
                    "brief": c.brief,
                    "course_img": c.course_img,
                    "level": c.level,
                }
                for c in degree.courses
                if c.status == ProductStatus.ONLINE
            ],
            "scholarship_rules": degree.scholarship_rules,
            "mentors": [teacher_dict(t) for t in degree.mentors],
            "faqs": [faq_dict(f) for f in degree.faqs],
        }

    found = cached_entry("degree", (current_language(), degree_id), build)
    if found.value is None:
        raise NotFound(N_("No such degree course."))
    return found


def get_degree_course(degree_id: int) -> dict[str, Any]:
    return _degree_course(degree_id).value


def get_degree_course_json(degree_id: int) -> bytes:
    return _degree_course(degree_id).json()


def homepage() -> dict[str, Any]:
    """What the homepage shows: nothing personal, the same for every visitor of a language."""
    return {
        "categories": list_categories(),
        "featured": list_courses(CourseQuery(per_page=8))["items"],
        "newest": list_courses(CourseQuery(sort="newest", per_page=4))["items"],
        "degree_courses": list_degree_courses(per_page=4)["items"],
    }
