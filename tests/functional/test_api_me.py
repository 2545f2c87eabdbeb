"""`GET /api/v1/me`: who is signed in and their cart's size, for the pre-rendered homepage's
header (a token, or the page session's cookie on this site's own requests; reads only)."""

from __future__ import annotations

from app.blueprints.api.spec import openapi_document
from tests.api import ok, refused
from tests.factories import CourseFactory, UserFactory
from tests.pages import sign_in

ME = "/api/v1/me"


def add_to_cart(client, course) -> None:
    form = {
        "item_type": "course",
        "item_id": course.id,
        "price_policy_id": course.price_policies[0].id,
    }
    assert client.post("/cart/add", data=form).status_code == 302


def test_a_visitor_is_nobody_and_is_given_no_session(client, app):
    response = client.get(ME)
    assert ok(response) == {"user": None, "cart_count": 0}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-store"
    assert {"Cookie", "Authorization"} <= set(response.vary)


def test_the_page_session_says_who_is_signed_in_and_their_cart_size(client):
    student = UserFactory(username="xiaoming")
    sign_in(client, student)
    add_to_cart(client, CourseFactory())
    add_to_cart(client, CourseFactory())
    got = ok(client.get(ME, headers={"Sec-Fetch-Site": "same-origin"}))
    assert got == {"user": {"id": student.id, "username": "xiaoming"}, "cart_count": 2}


def test_a_visitors_session_cart_is_counted(client):
    add_to_cart(client, CourseFactory())
    assert ok(client.get(ME)) == {"user": None, "cart_count": 1}


def test_another_site_cannot_learn_who_its_visitor_is(client):
    sign_in(client, UserFactory(username="xiaoming"))
    add_to_cart(client, CourseFactory())
    for site in ("cross-site", "same-site"):
        got = ok(client.get(ME, headers={"Sec-Fetch-Site": site}))
        assert got == {"user": None, "cart_count": 0}


def test_a_token_says_who_it_belongs_to(client):
    student = UserFactory(username="apiuser")
    token = ok(
        client.post(
            "/api/v1/auth/login", json={"username": "apiuser", "password": UserFactory.password}
        )
    )["token"]
    got = ok(client.get(ME, headers={"Authorization": f"Token {token}"}))
    assert got == {"user": {"id": student.id, "username": "apiuser"}, "cart_count": 0}
    refused(client.get(ME, headers={"Authorization": "Token nonsense"}), 401, "unauthorized")


def test_the_session_opens_no_api_endpoint_to_another_site(client):
    """The rest of the API takes the page session too (the settlement's live quote), under the
    same own-site rule, and with the page's CSRF token for writes
    (tests/functional/test_api_page_session.py)."""
    sign_in(client, UserFactory())
    cross = {"Sec-Fetch-Site": "cross-site"}
    refused(client.get("/api/v1/cart", headers=cross), 401, "unauthorized")
    refused(client.get("/api/v1/orders", headers=cross), 401, "unauthorized")


def test_the_openapi_document_describes_it(app):
    from app.blueprints.api import api

    document = openapi_document(api, title="t", version="1")
    operation = document["paths"]["/api/v1/me"]["get"]
    assert operation["security"] == [{"token": []}, {"session": []}, {}]
    assert document["components"]["securitySchemes"]["session"]["in"] == "cookie"
    assert "MeOut" in document["components"]["schemas"]
