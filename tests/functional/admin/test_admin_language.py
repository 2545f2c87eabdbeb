"""Every staff page in Chinese reads Chinese: Flask-Admin's own words (its `admin` domain), our
labels, columns, filters, placeholders and messages. Each page is rendered in zh and its visible
text (and placeholders, titles) searched for English words; the data shown is made Chinese."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from app.extensions import db
from app.i18n import LANG_COOKIE
from app.models.types import utcnow
from app.services.enrollment import grant_access, revoke_grant
from tests.factories import (
    ChapterFactory,
    CouponFactory,
    CouponRecordFactory,
    CourseDetailFactory,
    CourseFactory,
    DegreeCourseFactory,
    EnrollmentFactory,
    FAQFactory,
    SectionFactory,
    TeacherFactory,
    UserFactory,
)
from tests.pages import html
from tests.shop_data import make_order

# Words that are the same in Chinese: units, codes, formats and names of things.
ALLOWED = {
    "UTC",
    "CSV",
    "ID",
    "URL",
    "FAQ",
    "VIP",
    "Luffy",
    "City",
    "RQ",
    "API",
    "Email",  # only as part of data below; the label itself is translated
    "YYYY",
    "MM",
    "DD",
    "HH",
    "mm",
    "ss",
    "boss",  # the staff user signed in
    "xiaoming",  # the student's email address
    "example",
    "com",
    "default",  # the job queue's name
    "Web",  # "runs in the web process"
    "Redis",
    "JPEG",
    "PNG",
    "WebP",
    "MP",  # MP4
    "WebM",
}
STOCK_ENGLISH = (
    "Home",
    "List",
    "Create",
    "Add Filter",
    "With selected",
    "Record was successfully saved.",
    "There are no items in the table.",
    "Course Type",
    "Why Study",
    "Search",
)
WORD = re.compile(r"[A-Za-z][A-Za-z']+")


class VisibleText(HTMLParser):
    """The text a person reads: text outside scripts, styles and hidden elements, the
    placeholders, titles and button values, and the filters' names, operations and choices
    (Flask-Admin hands them to its script as JSON in a hidden element)."""

    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, hidden)
        self._filters: list[str] | None = None

    def _hidden(self) -> bool:
        return any(hidden for _tag, hidden in self._stack)

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        if tag in self.VOID:
            if not self._hidden():
                self._attributes(tag, values)
            return
        hidden = (
            tag in ("script", "style", "template", "textarea")
            or "d-none" in values.get("class", "").split()
            or "hide" in values.get("class", "").split()
        )
        if values.get("id") == "filter-groups-data":
            self._filters = []
        elif not hidden and not self._hidden():
            self._attributes(tag, values)
        self._stack.append((tag, hidden))

    def _attributes(self, tag, values):
        for name in ("placeholder", "title", "alt", "data-confirm"):
            if values.get(name):
                self.parts.append(values[name])
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag):
        while self._stack:
            opened, _hidden = self._stack.pop()
            if opened == tag:
                break
        if self._filters is not None and tag == "div":
            self._filter_words("".join(self._filters))
            self._filters = None

    def _filter_words(self, data: str) -> None:
        for group, filters in json.loads(data).items():
            self.parts.append(group)
            for item in filters:
                self.parts.append(item["operation"])
                self.parts.extend(label for _value, label in item.get("options") or ())

    def handle_data(self, data):
        if self._filters is not None:
            self._filters.append(data)
        elif not self._hidden():
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = VisibleText()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def english_words(text: str) -> list[str]:
    return sorted({w for w in WORD.findall(text) if w not in ALLOWED})


@pytest.fixture
def shop(app, staff):
    """A little of everything, named in Chinese, so that any English on a page is ours."""
    teacher = TeacherFactory(name="王老师", title="高级工程师")
    course = CourseFactory(name="爬虫入门", slug="c-101", brief="抓取网页。")
    course.teachers.append(teacher)
    course.category.name_en = "网络"
    CourseDetailFactory(course=course, slogan="动手学", video_brief_link=None)
    chapter = ChapterFactory(course=course, name="第一章")
    SectionFactory(chapter=chapter, name="第一节", link="https://video.example.com/v/1")
    FAQFactory(product=course, question="有证书吗？", answer="有。")
    DegreeCourseFactory(name="全栈学位", slug="d-1", brief="多门课。")
    student = UserFactory(username="小明", email="xiaoming@example.com")
    coupon = CouponFactory(name="立减十元", brief="新人券")
    order = make_order(student, lines=[(course, "1048.19", "0.00", "0.00")], needs_refund=True)
    order.lines[0].valid_period_text = "30天"  # as the student bought it
    CouponRecordFactory(coupon=coupon, user=student, code="码1", order=None)
    EnrollmentFactory(user=student, product=course)
    now = utcnow()
    grant_access(student.id, course.id, granted_by_id=staff.id, reason="补偿", now=now, days=30)
    kept = grant_access(
        student.id, course.id, granted_by_id=staff.id, reason="多送", now=now, days=7
    )
    revoke_grant(kept.id, revoked_by_id=staff.id, reason="误发", now=now)
    db.session.commit()
    return {
        "course": course,
        "chapter": chapter,
        "student": student,
        "order": order,
        "coupon": coupon,
    }


def admin_pages(app, shop) -> list[str]:
    """Every staff page: each model's list, form and detail page, each other page."""
    from flask_admin.model import BaseModelView

    admin = app.extensions["admin"][0]
    pages = []
    with app.test_request_context():
        from flask import url_for

        for view in admin._views:
            if not view.is_visible():
                continue
            if not isinstance(view, BaseModelView):
                pages.append(url_for(view.endpoint + ".index"))
                continue
            pages.append(url_for(view.endpoint + ".index_view"))
            if view.can_create:
                pages.append(url_for(view.endpoint + ".create_view"))
            first = view.get_list(0, None, None, None, [], page_size=1)[1]
            for record in first:
                ident = view.get_pk_value(record)
                if view.can_edit:
                    pages.append(url_for(view.endpoint + ".edit_view", id=ident))
                if view.can_view_details:
                    pages.append(url_for(view.endpoint + ".details_view", id=ident))
    return pages


def test_every_staff_page_reads_chinese(app, staff_client, shop):
    staff_client.set_cookie(LANG_COOKIE, "zh")
    english = {}
    pages = admin_pages(app, shop)
    pages += [
        f"/admin/users/password/?id={shop['student'].id}",
        f"/admin/users/access/?id={shop['student'].id}",
        f"/admin/coupons/issue/?id={shop['coupon'].id}",
    ]
    assert len(pages) > 25
    for path in pages:
        text = visible_text(html(staff_client.get(path)))
        words = english_words(text)
        stock = [s for s in STOCK_ENGLISH if s in text]
        if words or stock:
            english[path] = stock + words
    assert english == {}, "\n".join(f"{p}: {w}" for p, w in english.items())


def test_the_stock_words_are_english_in_the_english_interface(staff_client, shop):
    text = visible_text(html(staff_client.get("/admin/courses/")))
    assert "Home" in text
    assert "Add Filter" in text
    assert "With selected" in text
