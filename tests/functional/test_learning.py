"""Studying: who may study a section, the lesson page, and the media URLs probed the way a
browser and a downloader use them (seek, resume, copy to another account or browser, tamper,
expire, refund)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CourseSection, SectionProgress
from app.models.types import utcnow
from app.services import media
from app.services.enrollment import grant_access, refresh_enrollments
from tests.api import ok, refused
from tests.factories import ChapterFactory, CourseFactory, SectionFactory, UserFactory
from tests.pages import html, sign_in

DAY = timedelta(days=1)


@pytest.fixture(scope="session")
def lesson_file(tmp_path_factory) -> Path:
    """A real three-second H.264/AAC MP4, encoded once for the run."""
    from app.services.demo_media import encode_lesson

    path = tmp_path_factory.mktemp("lesson") / "lesson.mp4"
    encode_lesson(path, "测试课", "Test lesson", 3, (40, 40, 90))
    return path


def stored_video(app, source: Path) -> str:
    name = media.new_media_name("mp4")
    folder = Path(app.config["MEDIA_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / name)
    return name


@pytest.fixture
def course(app, lesson_file):
    """An online course: a free-trial video, a paid video, a document; one chapter."""
    course = CourseFactory(name="Flask 实战", policies=[(30, "99.00")])
    chapter = ChapterFactory(course=course, number=1, name="开始")
    name = stored_video(app, lesson_file)
    SectionFactory(
        chapter=chapter, position=1, name="免费试看", free_trial=True, media_file=name, duration=3
    )
    SectionFactory(chapter=chapter, position=2, name="付费视频", media_file=name, duration=3)
    SectionFactory(
        chapter=chapter,
        position=3,
        name="讲义",
        section_type="document",
        duration=None,
        content="<p>Read <b>this</b></p><script>alert(1)</script>",
    )
    return course


def sections_of(course) -> list[CourseSection]:
    return db.session.scalars(
        select(CourseSection)
        .where(CourseSection.chapter_id == course.chapters[0].id)
        .order_by(CourseSection.position)
    ).all()


def give(user, course, days=30, now=None):
    staff = UserFactory(is_staff=True)
    grant = grant_access(
        user.id, course.id, granted_by_id=staff.id, reason="test", now=now or utcnow(), days=days
    )
    db.session.commit()
    return grant


def media_url(client, section, headers=None) -> str:
    got = ok(client.get(f"/api/v1/sections/{section.id}/media", headers=headers or {}))
    assert got["content_type"] == "video/mp4"
    assert got["duration_s"] == 3
    return got["url"]


# --- who may study ------------------------------------------------------------------------------


def test_a_free_trial_plays_for_a_visitor_in_the_page(client, course):
    free, _, _ = sections_of(course)
    page = html(client.get(f"/learn/{course.id}/{free.id}"))
    assert "<video" in page
    assert " controls" in page
    assert 'src="/media/' in page
    assert "js/lesson.js" in page
    assert client.get_cookie(media.VISITOR_COOKIE) is not None  # binds the visitor's URL
    assert client.get_cookie(client.application.config["SESSION_COOKIE_NAME"]) is None


@pytest.mark.parametrize("who", ["visitor", "stranger", "expired", "refunded"])
def test_anyone_else_gets_a_page_that_says_why_and_offers_a_way_in(client, course, who):
    _, paid, _ = sections_of(course)
    student = UserFactory()
    if who == "expired":
        give(student, course, days=10, now=utcnow() - 20 * DAY)
    if who == "refunded":
        from tests.functional.test_enrollment import buy, refund

        order = buy(student, course, 30, utcnow() - DAY)
        refund(order, utcnow())
    if who != "visitor":
        sign_in(client, student)
    page = html(client.get(f"/learn/{course.id}/{paid.id}?lang=en"), 403)
    assert "<video" not in page
    assert "/media/" not in page
    expected = {
        "visitor": ("Sign in", "Buy this course"),
        "stranger": ("have not bought", "Buy this course"),
        "expired": ("ended on", "Renew"),
        "refunded": ("was refunded", "Buy again"),
    }[who]
    for words in expected:
        assert words in page
    assert f"/courses/{course.id}#buy" in page
    assert "免费试看" in page  # the free-trial sections are offered


def test_an_active_enrollment_opens_every_section_whatever_the_course_status(client, course):
    _, paid, document = sections_of(course)
    student = UserFactory()
    give(student, course)
    sign_in(client, student)
    for status in ("online", "offline", "upcoming"):
        course.status = status
        db.session.commit()
        page = html(client.get(f"/learn/{course.id}/{paid.id}"))
        assert 'src="/media/' in page
        text = html(client.get(f"/learn/{course.id}/{document.id}"))
        assert "Read <b>this</b>" in text
        assert "<script>alert" not in text


def test_a_hidden_course_is_a_404_to_those_who_never_had_it(client, course):
    free, _, _ = sections_of(course)
    course.status = "offline"
    db.session.commit()
    assert client.get(f"/learn/{course.id}/{free.id}").status_code == 404
    refused(client.get(f"/api/v1/sections/{free.id}/media"), 404, "not_found")


def test_a_section_of_another_course_is_a_404(client, course):
    free, _, _ = sections_of(course)
    other = CourseFactory()
    assert client.get(f"/learn/{other.id}/{free.id}").status_code == 404
    assert client.get(f"/learn/{course.id}/999999").status_code == 404


def test_the_api_refuses_the_media_of_a_paid_section_with_403(client, course, token_for):
    _, paid, document = sections_of(course)
    refused(client.get(f"/api/v1/sections/{paid.id}/media"), 403, "forbidden")
    stranger = token_for(UserFactory())
    refused(client.get(f"/api/v1/sections/{paid.id}/media", headers=stranger), 403, "forbidden")
    owner = UserFactory()
    give(owner, course)
    headers = token_for(owner)
    assert media_url(client, paid, headers).startswith("/media/")
    refused(client.get(f"/api/v1/sections/{document.id}/media", headers=headers), 404, "not_found")
    # The site's own page asking with its session (no token) gets the student's URL.
    sign_in(client, owner)
    url = media_url(client, paid, {"Sec-Fetch-Site": "same-origin"})
    assert client.get(url).status_code == 200


def test_the_lesson_page_links_previous_and_next(client, course):
    free, paid, document = sections_of(course)
    student = UserFactory()
    give(student, course)
    sign_in(client, student)
    page = html(client.get(f"/learn/{course.id}/{paid.id}"))
    assert f'rel="prev" href="/learn/{course.id}/{free.id}"' in page
    assert f'rel="next" href="/learn/{course.id}/{document.id}"' in page


# --- media, as a browser and a downloader use it -----------------------------------------------


def test_ranges_seek_and_resume_like_a_browser(app, client, course, lesson_file):
    free, _, _ = sections_of(course)
    url = media_url(client, free)
    size = lesson_file.stat().st_size
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "private" in whole.headers["Cache-Control"]
    assert whole.data == lesson_file.read_bytes()
    seek = client.get(url, headers={"Range": "bytes=1000-1999"})
    assert seek.status_code == 206
    assert seek.headers["Content-Range"] == f"bytes 1000-1999/{size}"
    assert seek.data == lesson_file.read_bytes()[1000:2000]
    resume = client.get(url, headers={"Range": f"bytes={size - 100}-"})
    assert resume.status_code == 206
    assert resume.data == lesson_file.read_bytes()[-100:]
    past = client.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert past.status_code == 416
    again = client.get(url, headers={"If-None-Match": whole.headers["ETag"]})
    assert again.status_code == 304


def test_a_url_copied_to_another_account_or_browser_is_refused(app, client, course, token_for):
    free, paid, _ = sections_of(course)
    owner, other = UserFactory(), UserFactory()
    give(owner, course)
    give(other, course)
    url = media_url(client, paid, token_for(owner))
    assert client.get(url, headers=token_for(owner)).status_code == 200
    assert client.get(url, headers=token_for(other)).status_code == 403  # another account
    assert app.test_client().get(url).status_code == 403  # a browser signed in as nobody
    signed_in = app.test_client()
    sign_in(signed_in, owner)
    assert signed_in.get(url).status_code == 200  # the owner's own browser session
    # A visitor's free-trial URL works only in the browser holding its cookie.
    visitor = app.test_client()
    trial = media_url(visitor, free)
    assert visitor.get(trial).status_code == 200
    assert app.test_client().get(trial).status_code == 403


def test_a_tampered_or_expired_token_is_refused(app, client, course):
    free, _, _ = sections_of(course)
    url = media_url(client, free)
    token = url.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/media/{tampered}").status_code == 403
    assert client.get("/media/not-a-token").status_code == 403
    visitor = client.get_cookie(media.VISITOR_COOKIE).value
    # Made three hours ago (the clock injected), so it expired an hour ago.
    old, expires_at = media.issue_token(
        free.id, course.id, free.media_file, f"v:{visitor}", utcnow() - timedelta(hours=3)
    )
    assert expires_at < utcnow()
    assert client.get(f"/media/{old}").status_code == 403
    fresh, _ = media.issue_token(free.id, course.id, free.media_file, f"v:{visitor}", utcnow())
    assert client.get(f"/media/{fresh}").status_code == 200


def test_a_refund_ends_a_url_before_it_expires(app, client, course, token_for):
    from tests.functional.test_enrollment import buy

    _, paid, _ = sections_of(course)
    student = UserFactory()
    order = buy(student, course, 30, utcnow() - DAY)
    headers = token_for(student)
    url = media_url(client, paid, headers)
    assert client.get(url, headers=headers).status_code == 200  # the answer is cached now
    order.status = "refunded"
    refresh_enrollments(student.id, [course.id], utcnow())
    db.session.commit()
    assert client.get(url, headers=headers).status_code == 403


def test_the_file_goes_to_nginx_when_accel_redirect_is_set(app_with, lesson_file):
    with app_with(MEDIA_ACCEL_REDIRECT="/_protected_media/") as app:
        course = CourseFactory()
        chapter = ChapterFactory(course=course)
        name = stored_video(app, lesson_file)
        free = SectionFactory(chapter=chapter, free_trial=True, media_file=name, duration=3)
        client = app.test_client()
        url = media_url(client, free)
        response = client.get(url, headers={"Range": "bytes=0-99"})
        assert response.status_code == 200
        assert response.headers["X-Accel-Redirect"] == f"/_protected_media/{name}"
        assert response.headers["Content-Type"] == "video/mp4"
        assert "private" in response.headers["Cache-Control"]
        assert response.data == b""


# --- progress -----------------------------------------------------------------------------------


def test_progress_is_clamped_completed_at_90_percent_and_stays_completed(
    client, course, token_for, count_queries
):
    free, paid, document = sections_of(course)
    student = UserFactory()
    give(student, course)
    headers = token_for(student)

    def put(section, body):
        return client.put(f"/api/v1/sections/{section.id}/progress", json=body, headers=headers)

    assert ok(put(paid, {"position_s": 1})) == {"id": paid.id, "position_s": 1, "completed": False}
    assert ok(put(paid, {"position_s": 500})) == {
        "id": paid.id,
        "position_s": 3,  # clamped to the duration
        "completed": True,  # past 90%
    }
    assert ok(put(paid, {"position_s": 0}))["completed"] is True  # stays completed
    assert ok(put(document, {"position_s": 0, "completed": True}))["completed"] is True
    refused(put(paid, {"position_s": -1}), 400, "invalid_input")
    refused(put(paid, {"position_s": "x"}), 400, "invalid_input")

    progress = ok(client.get(f"/api/v1/courses/{course.id}/progress", headers=headers))
    assert progress["percent"] == 66
    assert (progress["completed_sections"], progress["total_sections"]) == (2, 3)
    assert progress["resume_section_id"] == free.id  # the last one touched is done: go on
    assert [s["id"] for s in progress["sections"]] == [free.id, paid.id, document.id]

    mine = ok(client.get("/api/v1/my/courses", headers=headers))
    assert (mine[0]["progress"], mine[0]["resume_section_id"], mine[0]["status"]) == (
        66,
        free.id,
        "active",
    )


def test_a_report_is_one_upsert_statement(client, course, token_for, count_queries):
    _, paid, _ = sections_of(course)
    student = UserFactory()
    give(student, course)
    headers = token_for(student)
    for position in (1, 2):
        with count_queries() as counter:
            put = client.put(
                f"/api/v1/sections/{paid.id}/progress",
                json={"position_s": position},
                headers=headers,
            )
            ok(put)
        writes = [
            s for s in counter.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))
        ]
        assert len(writes) == 1
        assert "section_progress" in writes[0]
    assert db.session.scalar(select(SectionProgress.position_s)) == 2


def test_someone_who_may_not_study_cannot_report_or_read_progress(client, course, token_for):
    _, paid, _ = sections_of(course)
    headers = token_for(UserFactory())
    body = {"position_s": 1}
    refused(
        client.put(f"/api/v1/sections/{paid.id}/progress", json=body, headers=headers),
        403,
        "forbidden",
    )
    refused(client.put(f"/api/v1/sections/{paid.id}/progress", json=body), 401, "unauthorized")
    hidden = CourseFactory(status="offline")
    refused(client.get(f"/api/v1/courses/{hidden.id}/progress", headers=headers), 404, "not_found")


def test_the_page_resumes_and_my_courses_shows_progress_and_continue(client, course, token_for):
    _, paid, _ = sections_of(course)
    student = UserFactory()
    give(student, course)
    headers = token_for(student)
    client.put(f"/api/v1/sections/{paid.id}/progress", json={"position_s": 2}, headers=headers)
    sign_in(client, student)
    page = html(client.get(f"/learn/{course.id}/{paid.id}?lang=en"))
    assert 'data-position="2"' in page
    assert "00:02" in page
    mine = html(client.get("/my/courses?lang=en"))
    assert f'href="/learn/{course.id}/{paid.id}"' in mine
    assert "Continue" in mine
    assert 'value="0"' in mine  # nothing completed yet
    owner = html(client.get(f"/courses/{course.id}?lang=en"))
    for words in ("Bought", "Valid until", "Continue studying"):
        assert words in owner


def test_the_pages_report_needs_the_csrf_token(app_with, lesson_file):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        course = CourseFactory()
        chapter = ChapterFactory(course=course)
        section = SectionFactory(
            chapter=chapter, media_file=stored_video(app, lesson_file), duration=3
        )
        student = UserFactory()
        give(student, course)
        client = app.test_client()
        sign_in(client, student)
        page = html(client.get(f"/learn/{course.id}/{section.id}"))
        import re

        token = re.search(r'data-csrf="([^"]+)"', page).group(1)
        url = f"/learn/sections/{section.id}/progress"
        assert client.post(url, data={"position_s": "1"}).status_code == 400
        answer = client.post(url, data={"position_s": "1", "csrf_token": token})
        assert answer.get_json() == {"id": section.id, "position_s": 1, "completed": False}
        beacon = client.post(
            url, data={"position_s": "3", "completed": "1"}, headers={"X-CSRFToken": token}
        )
        assert beacon.get_json()["completed"] is True
