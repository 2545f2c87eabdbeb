"""Schemas of the catalog: the course-list query, the shapes of what the catalog answers, and
the one place those shapes are made, for the API and the pages alike.

The shapes are plain dicts, cached per catalog version and shared by every request of the
process (app/schemas/catalog_reads.py): never change one once made.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from app.i18n import current_language, period_text
from app.ids import MAX_ID, parse_id
from app.models import Course, CourseCategory, DegreeCourse, PricePolicy, Product, ProductStatus
from app.money import amount_text
from app.schemas.base import Out, Schema
from app.services.catalog import CourseQuery

MoneyStr = Annotated[str, Field(pattern=r"^\d+\.\d{2}$", examples=["199.00"])]


def _category_or_all(value: object) -> int | None:
    """Absent, `0` or not a number means every category (CONTRACT.md); so do digits that are
    not ASCII (`²`) and a number no id can be."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None
    return parse_id(value)


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000, description="1 or more")
    per_page: int = Field(12, ge=1, le=100, description="1 to 100")


class CourseListQuery(PageQuery):
    category_id: Annotated[
        int | None,
        BeforeValidator(_category_or_all),
        # Any text is taken ("not a number means all"): the document says so.
        WithJsonSchema({"type": "string", "examples": ["3", "0", "all"]}),
    ] = Field(None, description="absent, 0 or not a number: every category")
    level: Annotated[
        Literal["beginner", "intermediate", "advanced"] | None, BeforeValidator(_blank_is_none)
    ] = None
    q: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        None, max_length=100, description="matches name and brief"
    )
    sort: Annotated[
        Literal["default", "newest", "price_asc", "price_desc", "popular"],
        BeforeValidator(lambda v: _blank_is_none(v) or "default"),
    ] = "default"

    def to_query(self) -> CourseQuery:
        return CourseQuery(
            category_id=self.category_id,
            level=self.level,
            q=self.q,
            sort=self.sort,
            page=self.page,
            per_page=self.per_page,
        )


class CategoryOut(Out):
    id: int
    name: str


class PricePolicyOut(Out):
    id: int
    valid_period: int = Field(description="days; 0 = forever")
    valid_period_text: str
    price: MoneyStr


class CourseSummaryOut(Out):
    id: int
    name: str
    brief: str
    course_img: str
    level: Literal["beginner", "intermediate", "advanced"]
    category: CategoryOut | None
    price_policies: list[PricePolicyOut]


class CourseDetailOut(Out):
    hours: int
    slogan: str
    video_brief_link: str
    why_study: str
    what_to_study: str = Field(description="sanitised HTML")
    career_improvement: str
    prerequisite: str


class TeacherOut(Out):
    id: int
    name: str
    title: str
    signature: str
    image: str
    brief: str


class SectionOut(Out):
    id: int
    name: str
    section_type: Literal["document", "exercise", "video"]
    duration: int | None = Field(description="seconds")
    free_trial: bool
    link: str | None = Field(None, description="only on free-trial sections")


class ChapterOut(Out):
    id: int
    number: int
    name: str
    summary: str
    sections: list[SectionOut]


class FaqOut(Out):
    id: int
    question: str
    answer: str


class RecommendedOut(Out):
    id: int
    name: str
    brief: str
    course_img: str


class CourseOut(CourseSummaryOut):
    course_type: Literal["paid", "vip"]
    period: int = Field(description="suggested study days")
    detail: CourseDetailOut | None
    teachers: list[TeacherOut]
    chapters: list[ChapterOut]
    faqs: list[FaqOut]
    recommended: list[RecommendedOut]


class CourseRefOut(Out):
    id: int
    name: str


class DegreeSummaryOut(Out):
    id: int
    name: str
    brief: str
    course_img: str
    period: int
    total_scholarship: MoneyStr
    courses: list[CourseRefOut]
    price_policies: list[PricePolicyOut]


class DegreeCourseItemOut(Out):
    id: int
    name: str
    brief: str
    course_img: str
    level: str


class DegreeOut(DegreeSummaryOut):
    courses: list[DegreeCourseItemOut]  # type: ignore[assignment]
    scholarship_rules: str
    mentors: list[TeacherOut]
    faqs: list[FaqOut]


class CoursePageOut(Out):
    items: list[CourseSummaryOut]
    total: int
    page: int
    per_page: int


class DegreePageOut(Out):
    items: list[DegreeSummaryOut]
    total: int
    page: int
    per_page: int


# --- shapes -----------------------------------------------------------------------------------


def policy_dict(policy: PricePolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "valid_period": policy.valid_period,
        "valid_period_text": period_text(policy.valid_period),
        "price": amount_text(policy.price),
    }


def policies_of(product: Product) -> list[dict[str, Any]]:
    return [policy_dict(p) for p in product.current_policies]


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


def course_dict(course: Course) -> dict[str, Any]:
    """A course's page, whole (`CourseOut`). An upcoming course is announced, not sold: it
    shows no price policies."""
    detail = course.detail
    online = course.status == ProductStatus.ONLINE
    open_to_try = course.id if online else None
    return {
        **course_summary(course),
        **({} if online else {"price_policies": []}),
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


def degree_dict(degree: DegreeCourse) -> dict[str, Any]:
    """A degree course's page, whole (`DegreeOut`)."""
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
