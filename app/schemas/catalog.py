"""Schemas of the catalog: the course-list query and the shapes of what the catalog answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from app.ids import MAX_ID, parse_id
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
