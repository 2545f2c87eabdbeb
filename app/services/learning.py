"""Studying: who may study a section, the lesson's outline, media URLs and progress.

Who may study (CONTRACT.md, "Learning"): a student whose enrollment in the course is active,
whatever the course's status (what was paid for stays available until it ends); everyone,
visitors too, on a free-trial section of an online course. Anyone else is refused with the
reason (`Access.why`), which the page turns into words and a way to buy or renew.

Progress is one row per (student, section), written by one upsert statement per report
(INSERT ... ON DUPLICATE KEY UPDATE on MariaDB, ON CONFLICT on SQLite). A course's progress
is read in one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    Course,
    CourseChapter,
    CourseSection,
    Enrollment,
    ProductStatus,
    SectionProgress,
)
from app.services import media
from app.services.errors import N_, Forbidden, InvalidInput, NotFound

COMPLETED_AT = 0.9  # a section counts as completed once 90% of it was reached
LONGEST_POSITION = 24 * 3600  # a section without a known duration: positions up to a day


# --- who may study ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    allowed: bool
    # enrolled | free_trial | sign_in | not_enrolled | expired | refunded
    why: str
    enrollment: Enrollment | None = None


def _enrollment(user_id: int | None, course_id: int) -> Enrollment | None:
    if user_id is None:
        return None
    return db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.product_id == course_id)
    )


def access_to(user_id: int | None, course: Course, section: CourseSection, now: datetime) -> Access:
    """May this user (None: a visitor) study this section of this course now, and why not.
    NotFound for a course that is not online to someone who never had it."""
    enrollment = _enrollment(user_id, course.id)
    if enrollment is not None and enrollment.active_at(now):
        return Access(True, "enrolled", enrollment)
    if course.status != ProductStatus.ONLINE and enrollment is None:
        raise NotFound(N_("No such course."))
    if section.free_trial and course.status == ProductStatus.ONLINE:
        return Access(True, "free_trial", enrollment)
    if user_id is None:
        return Access(False, "sign_in")
    if enrollment is None:
        return Access(False, "not_enrolled")
    return Access(False, enrollment.status_at(now), enrollment)


def require_access(
    user_id: int | None, course: Course, section: CourseSection, now: datetime
) -> Access:
    """access_to, refusing (Forbidden) anyone who may not study the section."""
    access = access_to(user_id, course, section, now)
    if not access.allowed:
        raise Forbidden(N_("You may not study this section."), data={"reason": access.why})
    return access


def require_course_access(user_id: int, course_id: int, now: datetime) -> Course:
    """A course whose progress the student may read: one they are (or were) enrolled in, or
    an online course with free-trial sections. NotFound for a hidden course they never had;
    Forbidden otherwise."""
    course = db.session.get(Course, course_id)
    enrollment = _enrollment(user_id, course_id) if course is not None else None
    if course is None or (course.status != ProductStatus.ONLINE and enrollment is None):
        raise NotFound(N_("No such course."))
    if enrollment is not None:
        return course
    has_trial = db.session.scalar(
        select(CourseSection.id)
        .join(CourseChapter, CourseChapter.id == CourseSection.chapter_id)
        .where(CourseChapter.course_id == course_id, CourseSection.free_trial.is_(True))
        .limit(1)
    )
    if has_trial is None:
        raise Forbidden(N_("You may not study this course."), data={"reason": "not_enrolled"})
    return course


def study_summary(user_id: int, course_id: int, now: datetime) -> dict | None:
    """A student's standing in a course they own or owned: status, end (None = for ever) and
    the section to continue with; None when they never had it."""
    enrollment = _enrollment(user_id, course_id)
    if enrollment is None:
        return None
    progress = course_progress(user_id, course_id)
    return {
        "status": enrollment.status_at(now),
        "valid_until": enrollment.valid_until,
        "percent": progress.percent,
        "section_id": progress.resume_section_id or progress.first_section_id,
    }


# --- the lesson -----------------------------------------------------------------------------------


@dataclass
class Lesson:
    course: Course
    section: CourseSection
    sections: list[CourseSection] = field(default_factory=list)  # the course's, in order

    @property
    def previous(self) -> CourseSection | None:
        i = self.sections.index(self.section)
        return self.sections[i - 1] if i > 0 else None

    @property
    def next(self) -> CourseSection | None:
        i = self.sections.index(self.section)
        return self.sections[i + 1] if i + 1 < len(self.sections) else None


def load_lesson(course_id: int, section_id: int) -> Lesson:
    """The course (any status) with its chapters and sections, and this section of it.
    NotFound when either is missing or the section is another course's."""
    course = db.session.scalar(
        select(Course)
        .where(Course.id == course_id)
        .options(selectinload(Course.chapters).selectinload(CourseChapter.sections))
    )
    if course is None:
        raise NotFound(N_("No such course."))
    sections = [s for chapter in course.chapters for s in chapter.sections]
    section = next((s for s in sections if s.id == section_id), None)
    if section is None:
        raise NotFound(N_("No such section."))
    return Lesson(course, section, sections)


def load_section(section_id: int) -> tuple[Course, CourseSection]:
    """A section and its course (any status); NotFound when missing."""
    row = db.session.execute(
        select(CourseSection, Course)
        .join(CourseChapter, CourseChapter.id == CourseSection.chapter_id)
        .join(Course, Course.id == CourseChapter.course_id)
        .where(CourseSection.id == section_id)
    ).first()
    if row is None:
        raise NotFound(N_("No such section."))
    section, course = row
    return course, section


# --- media ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaLink:
    token: str
    expires_at: datetime
    content_type: str
    duration_s: int | None


def media_link(
    course: Course,
    section: CourseSection,
    user_id: int | None,
    visitor_id: str | None,
    now: datetime,
) -> MediaLink:
    """A signed URL's token for whoever may study the section (require_access first).
    NotFound when the section has no media."""
    if not media.is_media_name(section.media_file):
        raise NotFound(N_("This section has no video."))
    subject = media.subject_for(user_id, visitor_id)
    token, expires_at = media.issue_token(section.id, course.id, section.media_file, subject, now)
    return MediaLink(token, expires_at, media.content_type_of(section.media_file), section.duration)


def _access_key(subject: str, course_id: int) -> str:
    return f"media:access:{subject}:{course_id}"


def _trial_key(section_id: int) -> str:
    return f"media:trial:{section_id}"


def _redis():
    return current_app.extensions["redis_store"].client


def claim_still_good(
    claim: media.MediaClaim, user_id: int | None, visitor_id: str | None, now: datetime
) -> bool:
    """Whether whoever presents this (verified, unexpired) claim may have the file now: the
    same student or visitor it was made for, still allowed to study the section. The answer
    about the enrollment, and about a section being a free trial of an online course, is
    cached briefly in Redis (a refund drops the first at once: forget_access)."""
    if claim.user_id is not None:
        if claim.user_id != user_id:
            return False
    elif claim.visitor_id is None or claim.visitor_id != visitor_id:
        return False
    client = _redis()
    if claim.user_id is not None:
        key = _access_key(claim.subject, claim.course_id)
        cached = _text(client.get(key))
        if cached is None:
            enrollment = _enrollment(claim.user_id, claim.course_id)
            if enrollment is None or enrollment.valid_from > now:
                cached = "-"
            elif enrollment.valid_until is None:
                cached = "*"
            else:
                cached = repr(enrollment.valid_until.timestamp())
            client.set(key, cached, ex=media.ACCESS_CACHE_SECONDS)
        if cached == "*" or (cached != "-" and now < datetime.fromtimestamp(float(cached), UTC)):
            return True
    trial = _text(client.get(_trial_key(claim.section_id)))
    if trial is None:
        row = db.session.execute(
            select(CourseSection.free_trial, Course.status)
            .join(CourseChapter, CourseChapter.id == CourseSection.chapter_id)
            .join(Course, Course.id == CourseChapter.course_id)
            .where(CourseSection.id == claim.section_id)
        ).first()
        open_to_all = row is not None and row[0] and row[1] == ProductStatus.ONLINE
        trial = "1" if open_to_all else "0"
        client.set(_trial_key(claim.section_id), trial, ex=media.ACCESS_CACHE_SECONDS)
    return trial == "1"


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def forget_access(pairs: list[tuple[int, int]]) -> None:
    """Drop the cached enrollment answers of these (user id, course id) pairs."""
    if pairs:
        _redis().delete(*[_access_key(f"u:{user}", course) for user, course in pairs])


def forget_access_after_commit(pairs: list[tuple[int, int]]) -> None:
    """forget_access once the transaction that changed these enrollments commits (before,
    a media request could cache the old answer again); nothing when it rolls back."""
    from app import unit_of_work

    unit_of_work.after_commit(forget_access, sorted(set(pairs)))


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionPosition:
    """Where a student is in a section (the `SectionProgress` row, or its absence)."""

    id: int  # the section's
    position_s: int
    completed: bool


@dataclass(frozen=True)
class CourseProgress:
    """A student's progress in a course: percent (whole) of the sections completed, where to
    resume (None when nothing started) and each section's progress, in the course's order."""

    percent: int
    completed_sections: int
    total_sections: int
    resume_section_id: int | None
    sections: list[SectionPosition]

    @property
    def first_section_id(self) -> int | None:
        return self.sections[0].id if self.sections else None


def _upsert(user_id: int, section_id: int, position: int, completed: bool, now: datetime):
    table = SectionProgress.__table__
    values = {
        "user_id": user_id,
        "section_id": section_id,
        "position_s": position,
        "completed": completed,
        "updated_at": now,
    }
    dialect = db.session.get_bind().dialect.name
    if dialect in {"mysql", "mariadb"}:
        from sqlalchemy.dialects.mysql import insert

        statement = insert(table).values(**values)
        new = statement.inserted
        return statement.on_duplicate_key_update(
            position_s=new.position_s,
            completed=table.c.completed | new.completed,
            updated_at=new.updated_at,
        )
    from sqlalchemy.dialects.sqlite import insert

    statement = insert(table).values(**values)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.section_id],
        set_={
            "position_s": new.position_s,
            "completed": table.c.completed | new.completed,
            "updated_at": new.updated_at,
        },
    )


def report_progress(
    user_id: int,
    section: CourseSection,
    position_s: float,
    completed: bool,
    now: datetime,
) -> SectionPosition:
    """Note where the student is: the position clamped to the section's duration; completed
    once `completed` is sent or 90% is reached, and never uncompleted. One upsert statement."""
    if position_s is None or position_s < 0 or position_s != position_s:  # NaN too
        message = N_("The position must be a number of seconds, at least 0.")
        raise InvalidInput(message, fields={"position_s": message})
    limit = section.duration if section.duration else LONGEST_POSITION
    position = int(min(position_s, limit))
    reached = bool(section.duration) and position >= COMPLETED_AT * section.duration
    done = bool(completed) or reached
    db.session.execute(_upsert(user_id, section.id, position, done, now))
    stored = db.session.scalar(
        select(SectionProgress.completed).where(
            SectionProgress.user_id == user_id, SectionProgress.section_id == section.id
        )
    )
    return SectionPosition(section.id, position, bool(stored))


def _rows(user_id: int, course_ids: list[int]):
    """Every section of these courses in order, with this student's progress, in one query."""
    progress = SectionProgress.__table__
    return db.session.execute(
        select(
            CourseChapter.course_id,
            CourseSection.id,
            func.coalesce(progress.c.position_s, 0),
            func.coalesce(progress.c.completed, False),
            progress.c.updated_at,
        )
        .join(CourseChapter, CourseChapter.id == CourseSection.chapter_id)
        .outerjoin(
            progress,
            (progress.c.section_id == CourseSection.id) & (progress.c.user_id == user_id),
        )
        .where(CourseChapter.course_id.in_(course_ids))
        .order_by(CourseChapter.course_id, CourseChapter.number, CourseSection.position)
    ).all()


def _summary(rows) -> CourseProgress:
    sections = [
        SectionPosition(section_id, int(position), bool(done))
        for _course, section_id, position, done, _updated in rows
    ]
    total = len(sections)
    completed = sum(s.completed for s in sections)
    started = [(r[4], i) for i, r in enumerate(rows) if r[4] is not None]
    resume = None
    if started:
        _latest, index = max(started)
        resume = sections[index].id
        if sections[index].completed:  # go on with the next section not yet completed
            ahead = sections[index + 1 :] + sections[:index]
            left = [s.id for s in ahead if not s.completed]
            resume = left[0] if left else resume
    return CourseProgress(
        percent=(completed * 100) // total if total else 0,
        completed_sections=completed,
        total_sections=total,
        resume_section_id=resume,
        sections=sections,
    )


def course_progress(user_id: int, course_id: int) -> CourseProgress:
    """The student's progress in a course: percent (whole), completed and total sections,
    where to resume (null when nothing started) and each section's position."""
    return _summary(_rows(user_id, [course_id]))


def courses_progress(user_id: int, course_ids: list[int]) -> dict[int, CourseProgress]:
    """course_progress of several courses, in one query."""
    if not course_ids:
        return {}
    grouped: dict[int, list] = {course_id: [] for course_id in course_ids}
    for row in _rows(user_id, course_ids):
        grouped[row[0]].append(row)
    return {course_id: _summary(rows) for course_id, rows in grouped.items()}
