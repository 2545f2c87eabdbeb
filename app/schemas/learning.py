"""Studying: media links and progress."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool

from app.schemas.base import Out, Schema


class MediaOut(Out):
    url: str
    expires_at: str
    content_type: str
    duration_s: int | None


class ProgressIn(Schema):
    # Seconds from the start; more than the section's duration is clamped to it.
    position_s: Annotated[float, Field(ge=0, le=10**7, allow_inf_nan=False)]
    completed: StrictBool | None = None


class SectionProgressOut(Out):
    id: int
    position_s: int
    completed: bool


class CourseProgressOut(Out):
    percent: Annotated[int, Field(ge=0, le=100)]
    completed_sections: int
    total_sections: int
    resume_section_id: int | None
    sections: list[SectionProgressOut]
