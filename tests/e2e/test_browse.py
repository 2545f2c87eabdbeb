"""A visitor browses the catalog in a real browser: the list, then a course's page."""

from __future__ import annotations

import re

import pytest

from tests.factories import ChapterFactory, CourseDetailFactory, CourseFactory, SectionFactory

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]


def test_a_visitor_opens_a_course_from_the_list(page, live_server):
    from playwright.sync_api import expect

    CourseFactory(name="数据分析入门", sort_order=1, policies=[(30, "49.00")])
    course = CourseFactory(
        name="Flask 实战", sort_order=2, policies=[(90, "199.00"), (0, "399.00")]
    )
    CourseDetailFactory(course=course, slogan="写一个真正的网店")
    first = ChapterFactory(course=course, number=1, name="路由与视图")
    ChapterFactory(course=course, number=2, name="模板与表单")
    SectionFactory(chapter=first, name="Hello Flask", free_trial=True)

    page.goto(f"{live_server}/courses")
    expect(page).to_have_title(re.compile("课程"))
    expect(page.locator(".course-card")).to_have_count(2)

    page.get_by_role("link", name="Flask 实战").click()

    expect(page).to_have_url(f"{live_server}/courses/{course.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Flask 实战")
    expect(page.locator(".policy-choices")).to_contain_text("¥199.00")
    expect(page.locator(".policy-choices")).to_contain_text("永久有效")
    chapters = page.locator("#chapters")
    expect(chapters).to_contain_text("路由与视图")
    expect(chapters).to_contain_text("模板与表单")
    expect(chapters.locator(".free-trial-badge")).to_have_count(1)
    # The page is styled by the vendored Bootstrap, served by the app itself.
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"
