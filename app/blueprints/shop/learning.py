"""Studying on the site: my courses, the lesson page, and the lesson page's own calls.

The lesson page's script reports progress and renews an expiring media URL through the two
small routes at the end, which use the page's session (and, for the write, its CSRF token, as
every form of the site does); the JSON API under /api/v1 authenticates with tokens only and
is not open to the cookie."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import unit_of_work
from app.blueprints.media.lessons import visitor_id_for_link
from app.blueprints.shop import bp
from app.i18n import say
from app.models.types import utcnow
from app.schemas.buying import enrollment_card
from app.schemas.learning import course_progress_dict, media_dict, section_progress_dict
from app.services import enrollment, learning
from app.services.errors import DomainError, InvalidInput, NotFound


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


@bp.get("/my/courses")
@login_required
def my_courses():
    now = utcnow()
    mine = [enrollment_card(h, now) for h in enrollment.my_enrollments(current_user.id)]
    grants = enrollment.staff_grants_shown(current_user.id)
    return render_template("shop/my_courses.html", enrollments=mine, grants=grants)


def _media_url(link: learning.MediaLink) -> str:
    return url_for("media.lesson_media", token=link.token)


@bp.get("/learn/<int:course_id>/<int:section_id>")
def learn(course_id: int, section_id: int):
    now, user_id = utcnow(), _user_id()
    try:
        lesson = learning.load_lesson(course_id, section_id)
        access = learning.access_to(user_id, lesson.course, lesson.section, now)
    except NotFound:
        abort(404)
    if not access.allowed:
        page = render_template("shop/learn_refused.html", lesson=lesson, access=access)
        return page, 403
    link = None
    if lesson.section.media_file:
        visitor = None if user_id is not None else visitor_id_for_link()
        try:
            link = learning.media_link(lesson.course, lesson.section, user_id, visitor, now)
        except NotFound:
            link = None
    progress = (
        course_progress_dict(learning.course_progress(user_id, course_id))
        if user_id is not None
        else None
    )
    done = {s["id"]: s for s in progress["sections"]} if progress else {}
    return render_template(
        "shop/learn.html",
        lesson=lesson,
        course=lesson.course,
        section=lesson.section,
        access=access,
        media_url=_media_url(link) if link else None,
        media_type=link.content_type if link else None,
        position=done.get(section_id, {}).get("position_s", 0),
        done=done,
        progress=progress,
    )


def _json_refusal(exc: DomainError):
    return jsonify(error=exc.slug, message=say(exc.message), fields=exc.fields), exc.status


@bp.post("/learn/sections/<int:section_id>/progress")
def report_progress(section_id: int):
    """The lesson page's report (form-encoded, with the page's CSRF token, so that
    navigator.sendBeacon can send it as the page closes): JSON {id, position_s, completed}."""
    if not current_user.is_authenticated:
        return jsonify(error="unauthorized", message=say("Please sign in.")), 401
    now = utcnow()
    back = request.form.get("next", "")
    back = back if back.startswith("/learn/") and "//" not in back else ""
    try:
        try:
            position = float(request.form.get("position_s", ""))
        except ValueError:
            raise InvalidInput(
                "The position must be a number of seconds, at least 0.",
                fields={"position_s": "not a number"},
            ) from None
        completed = request.form.get("completed", "") in {"1", "true"}

        def report() -> dict:
            course, section = learning.load_section(section_id)
            learning.require_access(current_user.id, course, section, now)
            return section_progress_dict(
                learning.report_progress(current_user.id, section, position, completed, now)
            )

        answer = unit_of_work.run(report)
    except DomainError as exc:
        if back:
            flash(say(exc.message), "danger")
            return redirect(back, 303)
        return _json_refusal(exc)
    if back:  # the page's "Mark as done" form, sent without JavaScript
        return redirect(back, 303)
    return jsonify(answer)


@bp.get("/learn/sections/<int:section_id>/media")
def renew_media(section_id: int):
    """A fresh signed URL for the page's player when the one it has expired (JSON)."""
    now, user_id = utcnow(), _user_id()
    try:
        course, section = learning.load_section(section_id)
        learning.require_access(user_id, course, section, now)
        visitor = None if user_id is not None else visitor_id_for_link()
        link = learning.media_link(course, section, user_id, visitor, now)
    except DomainError as exc:
        return _json_refusal(exc)
    response = jsonify(media_dict(link, _media_url(link)))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.app_template_global()
def my_study(course_id: int) -> dict | None:
    """For the course page's owner line: the signed-in student's enrollment in the course
    (status, end) and the section to continue with; None for visitors and non-owners."""
    if not current_user.is_authenticated:
        return None
    return learning.study_summary(current_user.id, course_id, utcnow())
