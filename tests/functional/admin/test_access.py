"""Who may open the staff pages: staff only; visitors are sent to sign in, students get 403."""

from __future__ import annotations

import re

import pytest

from tests.factories import UserFactory
from tests.pages import html, sign_in

ADMIN_PAGES = [
    "/admin/",
    "/admin/courses/",
    "/admin/courses/new/",
    "/admin/chapters/",
    "/admin/degree-courses/",
    "/admin/categories/",
    "/admin/teachers/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_visitor_is_sent_to_sign_in_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    assert "admin" in response.location


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_student_is_refused(app, client, path):
    sign_in(client, UserFactory())
    assert client.get(path).status_code == 403


def test_a_student_cannot_post_to_the_admin_either(app, client):
    sign_in(client, UserFactory())
    response = client.post("/admin/categories/new/", data={"name": "Hacked"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_staff_see_every_page(staff_client, path):
    page = html(staff_client.get(path))
    assert 'name="csrf-token"' in page


def test_an_inactive_staff_user_is_signed_out(app, client):
    user = UserFactory(is_staff=True, active=False)
    sign_in(client, user)
    assert client.get("/admin/").status_code == 302


def test_admin_pages_keep_scripts_strict(staff_client):
    response = staff_client.get("/admin/courses/")
    policy = response.headers["Content-Security-Policy"]
    script_src = next(p for p in policy.split("; ") if p.startswith("script-src"))
    assert "unsafe-inline" not in script_src
    assert "'nonce-" in script_src
    # No inline event handler: the policy would block it, and the page would silently break.
    assert not re.search(r"\son[a-z]+=", html(response))


def test_the_students_policy_is_unchanged(client):
    policy = client.get("/courses").headers["Content-Security-Policy"]
    assert "style-src 'self';" in policy + ";"
