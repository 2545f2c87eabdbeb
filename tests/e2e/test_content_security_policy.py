"""In a real browser the catalog pages load under the strict Content-Security-Policy: nothing is
refused, and what an inline script would do is refused."""

from __future__ import annotations

import pytest

from tests.e2e.browser import watch
from tests.factories import CourseDetailFactory, DegreeCourseFactory

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]


def test_the_catalog_pages_break_no_rule_of_the_policy(page, live_server):
    detail = CourseDetailFactory()
    degree = DegreeCourseFactory()
    problems = watch(page, responses=False)
    for path in ("/", "/courses", f"/courses/{detail.course.id}", f"/degree-courses/{degree.id}"):
        response = page.goto(f"{live_server}{path}")
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
    page.goto(f"{live_server}/no-such-page")
    assert problems == []


def test_an_injected_inline_script_is_refused(page, live_server):
    problems = watch(page, responses=False)
    page.goto(f"{live_server}/courses")
    # What an injection would look like: the browser must refuse to run it.
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
        }"""
    )
    assert page.evaluate("() => window.injected === true") is False
    assert any("Content Security Policy" in problem for problem in problems)
