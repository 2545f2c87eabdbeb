"""A page's own script calls the API with the signed-in session instead of a token: reading is
allowed, anything else needs the page's CSRF token in X-CSRFToken."""

from __future__ import annotations

import re

import pytest

from tests.factories import CourseFactory, UserFactory
from tests.pages import sign_in


@pytest.fixture
def csrf_app(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        yield app


def page_token(client) -> str:
    page = client.get("/cart").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def quote_body(course) -> dict:
    return {
        "items": [
            {
                "item_type": "course",
                "item_id": course.id,
                "price_policy_id": course.price_policies[0].id,
            }
        ]
    }


def test_the_signed_in_page_session_reads_the_api(csrf_app):
    client = csrf_app.test_client()
    sign_in(client, UserFactory())
    assert client.get("/api/v1/cart").status_code == 200
    assert client.get("/api/v1/coupons/mine").status_code == 200


def test_a_quote_from_the_page_needs_its_csrf_token(csrf_app):
    course = CourseFactory(policies=[(30, "99.00")])
    client = csrf_app.test_client()
    sign_in(client, UserFactory())
    refused = client.post("/api/v1/settlement/quote", json=quote_body(course))
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    wrong = client.post(
        "/api/v1/settlement/quote", json=quote_body(course), headers={"X-CSRFToken": "forged"}
    )
    assert wrong.status_code == 403
    answered = client.post(
        "/api/v1/settlement/quote",
        json=quote_body(course),
        headers={"X-CSRFToken": page_token(client)},
    )
    assert answered.status_code == 200, answered.get_json()
    assert answered.get_json()["data"]["amount"] == "99.00"


def test_without_a_session_or_a_token_the_api_is_401(csrf_app):
    client = csrf_app.test_client()
    assert client.get("/api/v1/cart").status_code == 401


def test_a_token_still_wins_over_the_session(csrf_app, token_for):
    course = CourseFactory(policies=[(30, "99.00")])
    client = csrf_app.test_client()
    sign_in(client, UserFactory())
    response = client.post(
        "/api/v1/settlement/quote", json=quote_body(course), headers={"Authorization": "Token bad"}
    )
    assert response.status_code == 401
    other = token_for(UserFactory())
    assert (
        client.post("/api/v1/settlement/quote", json=quote_body(course), headers=other).status_code
        == 200
    )


def test_another_sites_page_cannot_use_the_session(csrf_app):
    client = csrf_app.test_client()
    sign_in(client, UserFactory())
    assert client.get("/api/v1/cart", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 401
    assert client.get("/api/v1/cart", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
