"""Staff give a section its video in the chapter's page: streamed to disk, probed with PyAV (a
file that is not a video is a field message), its duration stored; replacing it leaves URLs
already handed out playing the old file."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CourseSection
from app.models.types import utcnow
from app.services import media
from tests.factories import ChapterFactory, SectionFactory
from tests.pages import html


@pytest.fixture(scope="session")
def two_second_video(tmp_path_factory) -> bytes:
    from app.services.demo_media import encode_lesson

    path = tmp_path_factory.mktemp("upload") / "two.mp4"
    encode_lesson(path, "上传", "Upload", 2, (10, 80, 60))
    return path.read_bytes()


def chapter_form(chapter, section, **fields) -> dict:
    form = {
        "course": str(chapter.course_id),
        "number": str(chapter.number),
        "name": chapter.name,
        "summary": "",
        "sections-0-id": str(section.id),
        "sections-0-position": "1",
        "sections-0-name": section.name,
        "sections-0-section_type": "video",
        "sections-0-link": "",
        "sections-0-duration": "",
        "sections-0-content": "",
    }
    form.update(fields)
    return form


def stored(section_id) -> CourseSection:
    db.session.expire_all()
    return db.session.get(CourseSection, section_id)


def test_a_video_is_stored_under_a_new_name_with_its_duration(staff_client, two_second_video):
    chapter = ChapterFactory(number=1, name="Setup")
    section = SectionFactory(chapter=chapter, position=1, duration=None, media_file=None)
    upload = (io.BytesIO(two_second_video), "My Lesson.mp4", "video/mp4")
    response = staff_client.post(
        f"/admin/chapters/edit/?id={chapter.id}",
        data=chapter_form(chapter, section, **{"sections-0-video": upload}),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    got = stored(section.id)
    assert media.is_media_name(got.media_file)
    assert got.media_file != "My Lesson.mp4"
    assert (got.duration, got.media_type) == (2, "video/mp4")
    assert media.media_path(got.media_file).read_bytes() == two_second_video

    # Replacing it: a new name; the old file stays for the URLs already handed out.
    old_name = got.media_file
    token, _ = media.issue_token(section.id, chapter.course_id, old_name, "u:1", utcnow())
    again = (io.BytesIO(two_second_video), "v2.mp4", "video/mp4")
    staff_client.post(
        f"/admin/chapters/edit/?id={chapter.id}",
        data=chapter_form(chapter, section, **{"sections-0-video": again}),
        content_type="multipart/form-data",
    )
    new_name = stored(section.id).media_file
    assert new_name != old_name
    assert media.media_path(old_name) is not None
    assert media.read_token(token, utcnow()).file == old_name
    # Pruning keeps what a section names and what a URL may still name (younger than the TTL).
    assert media.prune_media({new_name}, utcnow()) == []


def test_a_file_that_is_not_a_video_gets_a_field_message(staff_client):
    chapter = ChapterFactory(number=1, name="Setup")
    section = SectionFactory(chapter=chapter, position=1, duration=600, media_file=None)
    fake = (io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 100), "a.mp4")
    response = staff_client.post(
        f"/admin/chapters/edit/?id={chapter.id}&lang=en",
        data=chapter_form(chapter, section, **{"sections-0-video": fake}),
        content_type="multipart/form-data",
    )
    page = html(response)
    assert "The file is not an MP4 or WebM video." in page
    assert stored(section.id).media_file is None
    assert [p.name for p in media.media_folder().iterdir() if not p.name.startswith(".")] == []


def test_a_video_past_the_limit_is_refused(app_with, two_second_video):
    with app_with(MEDIA_MAX_BYTES=1000) as app:
        from tests.factories import UserFactory
        from tests.pages import sign_in

        staff = UserFactory(is_staff=True)
        client = app.test_client()
        sign_in(client, staff)
        chapter = ChapterFactory(number=1, name="Setup")
        section = SectionFactory(chapter=chapter, position=1, media_file=None)
        upload = (io.BytesIO(two_second_video), "big.mp4")
        response = client.post(
            f"/admin/chapters/edit/?id={chapter.id}&lang=en",
            data=chapter_form(chapter, section, **{"sections-0-video": upload}),
            content_type="multipart/form-data",
        )
        # Read to the limit and no further, then refused with a field message.
        assert "The video is larger than the largest upload allowed." in html(response)
        assert stored(section.id).media_file is None


def test_a_document_keeps_its_sanitised_text(staff_client):
    chapter = ChapterFactory(number=1, name="Setup")
    section = SectionFactory(chapter=chapter, position=1, section_type="document", duration=None)
    staff_client.post(
        f"/admin/chapters/edit/?id={chapter.id}",
        data=chapter_form(
            chapter,
            section,
            **{
                "sections-0-section_type": "document",
                "sections-0-content": "<p>Read me</p><script>alert(1)</script>",
            },
        ),
    )
    got = db.session.scalar(select(CourseSection.content).where(CourseSection.id == section.id))
    assert got == "<p>Read me</p>"


def test_prune_media_removes_only_unnamed_files_older_than_a_url_lives(app, runner):
    import os

    folder = media.media_folder()
    folder.mkdir(parents=True, exist_ok=True)
    named, old, young = (media.new_media_name("mp4") for _ in range(3))
    for name in (named, old, young):
        (folder / name).write_bytes(b"x")
    SectionFactory(media_file=named)
    past = utcnow().timestamp() - app.config["MEDIA_URL_TTL_SECONDS"] - 60
    for name in (named, old):
        os.utime(folder / name, (past, past))
    result = runner.invoke(args=["prune-media"])
    assert result.exit_code == 0, result.output
    assert "removed 1 file(s)" in result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted([named, young])
