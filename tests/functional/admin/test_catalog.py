"""Staff edit the catalog through the admin: a course with its detail, price policies, FAQs and
chapters on one page, a chapter with its sections; bad input gets field messages."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import Course, CourseChapter, PricePolicy
from tests.factories import CategoryFactory, ChapterFactory, CourseFactory, TeacherFactory
from tests.pages import html


def course_form(**overrides) -> dict[str, str]:
    form = {
        "name": "Flask in depth",
        "slug": "flask-in-depth",
        "status": "online",
        "course_type": "paid",
        "level": "intermediate",
        "period": "30",
        "sort_order": "0",
        "brief": "Blueprints, extensions and tests.",
        "course_img": "",
        "detail-hours": "20",
        "detail-slogan": "Build it right",
        "detail-video_brief_link": "",
        "detail-why_study": "Because.",
        "detail-what_to_study": '<p>Blueprints</p><img src="/x.png" onerror="alert(1)">',
        "detail-career_improvement": "",
        "detail-prerequisite": "Python",
        "price_policies-0-valid_period": "30",
        "price_policies-0-price": "99.50",
        "price_policies-0-active": "y",
        "price_policies-1-valid_period": "0",
        "price_policies-1-price": "399.00",
        "price_policies-1-active": "y",
        "faqs-0-question": "Is there a certificate?",
        "faqs-0-answer": "Yes.",
        "faqs-0-sort_order": "0",
        "chapters-0-number": "1",
        "chapters-0-name": "The application factory",
        "chapters-0-summary": "",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def the_course(slug: str = "flask-in-depth") -> Course | None:
    db.session.expire_all()
    return db.session.scalar(select(Course).where(Course.slug == slug))


def test_staff_create_a_course_with_everything_in_place(staff_client):
    category = CategoryFactory()
    teacher = TeacherFactory()
    response = staff_client.post(
        "/admin/courses/new/",
        data=course_form(category=str(category.id), teachers=str(teacher.id)),
    )
    assert response.status_code == 302, response.get_data(as_text=True)

    course = the_course()
    assert course is not None
    assert course.category == category
    assert course.teachers == [teacher]
    assert course.detail.hours == 20
    assert course.detail.prerequisite == "Python"
    # Sanitised before it was stored: no handler, no image from outside the uploads.
    assert course.detail.what_to_study.startswith("<p>Blueprints</p>")
    assert "onerror" not in course.detail.what_to_study
    assert "/x.png" not in course.detail.what_to_study
    assert sorted((p.valid_period, p.price) for p in course.price_policies) == [
        (0, Decimal("399.00")),
        (30, Decimal("99.50")),
    ]
    assert [f.question for f in course.faqs] == ["Is there a certificate?"]
    assert [c.name for c in course.chapters] == ["The application factory"]

    # Students see it at once: the catalog cache noticed the commit.
    page = html(staff_client.get(f"/courses/{course.id}"))
    assert "Flask in depth" in page
    assert "99.50" in page


def test_editing_a_price_shows_on_the_course_page(staff_client):
    course = CourseFactory(policies=[(30, "99.00")])
    staff_client.get(f"/api/v1/courses/{course.id}")  # cached now
    policy = course.price_policies[0]
    response = staff_client.post(
        f"/admin/courses/edit/?id={course.id}",
        data=course_form(
            name=course.name,
            slug=course.slug,
            **{
                "price_policies-0-id": str(policy.id),
                "price_policies-0-valid_period": "30",
                "price_policies-0-price": "79.00",
                "price_policies-1-valid_period": None,
                "price_policies-1-price": None,
                "price_policies-1-active": None,
            },
        ),
    )
    assert response.status_code == 302
    prices = staff_client.get(f"/api/v1/courses/{course.id}").get_json()["data"]
    assert [p["price"] for p in prices["price_policies"]] == ["79.00"]


def test_a_negative_price_is_refused_with_a_field_message(staff_client):
    response = staff_client.post(
        "/admin/courses/new/", data=course_form(**{"price_policies-0-price": "-1"})
    )
    page = html(response)
    assert "Must be from 0 to 99999999.99." in page
    assert the_course() is None
    assert db.session.scalar(select(func.count()).select_from(PricePolicy)) == 0


def test_a_price_too_big_to_store_is_refused_with_a_field_message(staff_client):
    response = staff_client.post(
        "/admin/courses/new/", data=course_form(**{"price_policies-0-price": "1e30"})
    )
    assert "Must be from 0 to 99999999.99." in html(response)
    assert the_course() is None


def test_a_missing_price_is_refused(staff_client):
    response = staff_client.post(
        "/admin/courses/new/", data=course_form(**{"price_policies-0-price": ""})
    )
    assert response.status_code == 200
    assert the_course() is None


def test_two_policies_for_one_period_are_refused_without_an_error_page(staff_client):
    response = staff_client.post(
        "/admin/courses/new/", data=course_form(**{"price_policies-1-valid_period": "30"})
    )
    page = html(response)
    assert "Integrity error" in page or "already" in page
    assert the_course() is None


def test_a_bad_slug_gets_a_field_message(staff_client):
    page = html(staff_client.post("/admin/courses/new/", data=course_form(slug="Not A Slug!")))
    assert "Lower-case letters, digits and dashes." in page
    assert the_course("Not A Slug!") is None


def test_markup_typed_by_staff_cannot_break_a_students_page(staff_client):
    response = staff_client.post(
        "/admin/courses/new/",
        data=course_form(
            name="<script>alert(1)</script>Flask", brief="<img src=x onerror=alert(1)>"
        ),
    )
    assert response.status_code == 302
    page = html(staff_client.get(f"/courses/{the_course().id}"))
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x onerror" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Flask" in page


def test_a_chapter_and_its_sections_are_edited_in_place(staff_client):
    chapter = ChapterFactory(number=1, name="Setup")
    response = staff_client.post(
        f"/admin/chapters/edit/?id={chapter.id}",
        data={
            "course": str(chapter.course_id),
            "number": "1",
            "name": "Setting up",
            "summary": "",
            "sections-0-position": "1",
            "sections-0-name": "Install Python",
            "sections-0-section_type": "video",
            "sections-0-link": "https://video.example.com/v/9",
            "sections-0-duration": "300",
            "sections-0-free_trial": "y",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    chapter = db.session.get(CourseChapter, chapter.id)
    assert chapter.name == "Setting up"
    assert [(s.name, s.free_trial, s.duration) for s in chapter.sections] == [
        ("Install Python", True, 300)
    ]


def test_a_second_chapter_with_the_same_number_is_refused(staff_client):
    chapter = ChapterFactory(number=1)
    response = staff_client.post(
        "/admin/chapters/new/",
        data={"course": str(chapter.course_id), "number": "1", "name": "Again", "summary": ""},
    )
    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(CourseChapter)) == 1


def test_staff_delete_a_course_nobody_bought(staff_client):
    course = CourseFactory()
    slug = course.slug  # the object is gone with its row once the request commits
    response = staff_client.post(
        "/admin/courses/delete/", data={"id": str(course.id), "url": "/admin/courses/"}
    )
    assert response.status_code == 302
    assert the_course(slug) is None


def test_the_course_page_links_each_chapter_to_its_sections(staff_client):
    chapter = ChapterFactory(number=1, name="Setup")
    page = html(staff_client.get(f"/admin/courses/edit/?id={chapter.course_id}"))
    assert f"/admin/chapters/edit/?id={chapter.id}" in page
    assert "0 sections" in page
