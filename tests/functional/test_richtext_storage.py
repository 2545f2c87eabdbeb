"""A course's rich text is sanitised whatever writes it (an object, a bulk UPDATE or INSERT, the
admin's form field, the seed), and the course page shows it as markup without the script."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text, update
from werkzeug.datastructures import MultiDict
from wtforms import Form

from app.extensions import db
from app.forms.richtext import RichTextField
from app.models import Course, CourseDetail
from app.richtext import sanitize
from app.seed import COURSES, _what_to_study
from tests.factories import CourseDetailFactory, CourseFactory
from tests.pages import html

DIRTY = (
    '<p onclick="steal()">Learn <strong>decorators</strong></p>'
    "<script>alert('stored')</script>"
    '<img src="x" onerror="alert(2)">'
    '<a href="javascript:alert(3)">click</a>'
)
CLEAN = (
    '<p>Learn <strong>decorators</strong></p><img><a rel="noopener noreferrer nofollow">click</a>'
)


def stored(course_id: int) -> str:
    """What the database holds, read past the ORM and its identity map."""
    db.session.expire_all()
    return db.session.execute(
        text("SELECT what_to_study FROM course_details WHERE course_id = :id"), {"id": course_id}
    ).scalar_one()


def test_a_detail_made_with_rich_text_stores_it_sanitised(app):
    detail = CourseDetailFactory(what_to_study=DIRTY)
    assert detail.what_to_study == CLEAN  # the object holds what is stored, at once
    assert stored(detail.course_id) == CLEAN


def test_rich_text_set_later_is_sanitised_too(app):
    detail = CourseDetailFactory(what_to_study="<p>first</p>")
    detail.what_to_study = DIRTY
    db.session.commit()
    assert stored(detail.course_id) == CLEAN


def test_a_bulk_update_is_sanitised_on_its_way_to_the_database(app):
    detail = CourseDetailFactory(what_to_study="<p>first</p>")
    db.session.execute(
        update(CourseDetail)
        .where(CourseDetail.course_id == detail.course_id)
        .values(what_to_study=DIRTY)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    assert stored(detail.course_id) == CLEAN


def test_a_core_insert_is_sanitised_on_its_way_to_the_database(app):
    course = CourseFactory()
    db.session.execute(insert(CourseDetail).values(course_id=course.id, what_to_study=DIRTY))
    db.session.commit()
    assert stored(course.id) == CLEAN
    assert db.session.scalar(select(CourseDetail.what_to_study)) == CLEAN


def test_the_course_page_shows_the_rich_text_as_markup_without_the_script(client, app):
    detail = CourseDetailFactory(
        what_to_study=DIRTY + "<ul><li>装饰器</li><li>ORM</li></ul>",
        why_study="<b>plain text</b> stays text",
    )
    page = html(client.get(f"/courses/{detail.course_id}"))
    assert "<p>Learn <strong>decorators</strong></p>" in page
    assert "<ul><li>装饰器</li><li>ORM</li></ul>" in page
    assert "alert(" not in page
    assert "onerror" not in page
    assert "onclick" not in page
    assert "javascript:" not in page
    assert "&lt;b&gt;plain text&lt;/b&gt; stays text" in page


def test_the_api_answers_the_stored_sanitised_html(client, app):
    detail = CourseDetailFactory(what_to_study=DIRTY)
    body = client.get(f"/api/v1/courses/{detail.course_id}").get_json()
    assert body["data"]["detail"]["what_to_study"] == CLEAN


@pytest.mark.parametrize("data", COURSES, ids=[c["slug"] for c in COURSES])
def test_the_seed_rich_text_survives_sanitising_unchanged(data):
    what = _what_to_study(data)
    assert sanitize(what) == what


def test_the_seeded_catalog_is_stored_as_the_seed_wrote_it(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    by_slug = {c["slug"]: c for c in COURSES}
    for course in db.session.scalars(select(Course)):
        assert stored(course.id) == _what_to_study(by_slug[course.slug])


# --- the admin's form field ---------------------------------------------------------------------


class DetailForm(Form):
    """A bare form with the field, as the admin's course-detail form uses it."""

    what_to_study = RichTextField("What you will learn")


def test_the_field_sanitises_what_the_editor_sends(app):
    with app.test_request_context():
        form = DetailForm(MultiDict({"what_to_study": DIRTY}))
        assert form.validate()
        assert form.what_to_study.data == CLEAN
        detail = CourseDetailFactory()
        form.populate_obj(detail)
        db.session.commit()
        assert stored(detail.course_id) == CLEAN


def test_the_field_renders_the_textarea_the_editor_turns_into_quill(app):
    with app.test_request_context():
        form = DetailForm(what_to_study="<p>a &amp; b</p>")
        rendered = str(form.what_to_study())
    assert rendered.startswith("<textarea ")
    assert " data-rich-text " in rendered or " data-rich-text>" in rendered
    assert 'data-upload-url="/admin/uploads/images"' in rendered
    assert "&lt;p&gt;a &amp;amp; b&lt;/p&gt;</textarea>" in rendered  # escaped inside the textarea
    assert "style=" not in rendered
    assert "onclick" not in rendered


def test_the_field_refuses_more_than_a_text_column_holds(app):
    with app.test_request_context("/?lang=en"):
        form = DetailForm(MultiDict({"what_to_study": "<p>" + "字" * 30_000 + "</p>"}))
        assert not form.validate()
        assert form.what_to_study.errors
        assert "too long" in str(form.what_to_study.errors[0])
