"""Studying through the API: a section's media link, progress reports and a course's progress."""

from __future__ import annotations

from flask import request, url_for

from app import unit_of_work
from app.blueprints.api import api
from app.blueprints.api.auth import current_api_user, session_user
from app.models.types import utcnow
from app.schemas.learning import (
    CourseProgressOut,
    MediaOut,
    ProgressIn,
    SectionProgressOut,
    course_progress_dict,
    media_dict,
    section_progress_dict,
)
from app.services import learning

TAGS = ["learning"]


def media_out(link: learning.MediaLink) -> dict:
    return media_dict(link, url_for("media.lesson_media", token=link.token, _external=False))


@api.route(
    "/sections/<int:section_id>/media",
    summary="A signed, expiring URL of a section's video for this student (login optional: "
    "free-trial sections of online courses need none; a visitor's URL is bound to the "
    "lesson_visitor cookie this answer sets)",
    tags=TAGS,
    response=MediaOut,
    security=[{"token": []}, {"session": []}, {}],
    errors=(401, 403, 404),
)
def section_media(section_id: int):
    from app.blueprints.media.lessons import visitor_id_for_link

    # A token (a bad one is a 401), else the site's page session, else a visitor.
    user = current_api_user() if request.headers.get("Authorization") else session_user()
    now = utcnow()
    course, section = learning.load_section(section_id)
    learning.require_access(user.id if user else None, course, section, now)
    visitor = None if user else visitor_id_for_link()
    return media_out(learning.media_link(course, section, user.id if user else None, visitor, now))


@api.route(
    "/sections/<int:section_id>/progress",
    "PUT",
    summary="Report where the student is in a section (clamped to its duration; completed at "
    "90% or when sent, and stays completed)",
    tags=TAGS,
    body=ProgressIn,
    response=SectionProgressOut,
    auth=True,
    errors=(400, 401, 403, 404),
)
def report_progress(section_id: int, body: ProgressIn):
    user, now = current_api_user(), utcnow()

    def report() -> dict:
        course, section = learning.load_section(section_id)
        learning.require_access(user.id, course, section, now)
        return section_progress_dict(
            learning.report_progress(user.id, section, body.position_s, bool(body.completed), now)
        )

    return unit_of_work.run(report)


@api.route(
    "/courses/<int:course_id>/progress",
    summary="The student's progress in a course they may study",
    tags=TAGS,
    response=CourseProgressOut,
    auth=True,
    errors=(401, 403, 404),
)
def course_progress(course_id: int):
    user, now = current_api_user(), utcnow()
    learning.require_course_access(user.id, course_id, now)
    return course_progress_dict(learning.course_progress(user.id, course_id))
