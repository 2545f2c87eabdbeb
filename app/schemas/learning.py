"""Studying: media links and progress; and the one place they are shaped, for the API and the
lesson page alike."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool

from app.schemas.base import Out, Schema
from app.services.learning import CourseProgress, MediaLink, SectionPosition


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


# --- shapes -----------------------------------------------------------------------------------


def media_dict(link: MediaLink, url: str) -> dict[str, Any]:
    """A signed media link (`MediaOut`), at `url` (the view makes it from `link.token`)."""
    return {
        "url": url,
        "expires_at": link.expires_at.isoformat(),
        "content_type": link.content_type,
        "duration_s": link.duration_s,
    }


def section_progress_dict(position: SectionPosition) -> dict[str, Any]:
    return {"id": position.id, "position_s": position.position_s, "completed": position.completed}


def course_progress_dict(progress: CourseProgress) -> dict[str, Any]:
    return {
        "percent": progress.percent,
        "completed_sections": progress.completed_sections,
        "total_sections": progress.total_sections,
        "resume_section_id": progress.resume_section_id,
        "sections": [section_progress_dict(s) for s in progress.sections],
    }
