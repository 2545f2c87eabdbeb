"""Bodies and methods a client can send are a 4xx, never a 5xx: JSON nested too deep, a chunked
body past MAX_CONTENT_LENGTH; `OPTIONS` answers the envelope; looking at the sign-in pages stores
nothing. (Ids and numbers: test_bad_input.py.)"""

from __future__ import annotations

import io

import pytest

from tests.api import ok, refused


def test_json_nested_a_hundred_thousand_deep_is_a_400(client):
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    refused(response, 400, "invalid_input")


def test_json_nested_deep_in_an_object_is_a_400(client):
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
    refused(response, 400, "invalid_input")


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/orders", "/api/v1/cart"])
def test_a_chunked_body_past_the_limit_is_a_413(app_with, path):
    # Rate limits on: the login limiter reads the username from the body first.
    with app_with(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://") as app:
        limit = app.config["MAX_CONTENT_LENGTH"]
        body = b'{"username": "' + b"a" * (limit + 1024 * 1024) + b'"}'
        response = app.test_client().post(
            path,
            input_stream=io.BytesIO(body),  # no Content-Length: sent chunked
            content_type="application/json",
            environ_overrides={"wsgi.input_terminated": True},
        )
    refused(response, 413, "too_large")


def test_a_chunked_body_within_the_limit_is_read(client):
    body = b'{"username": "nobody", "password": "not-the-password"}'
    response = client.post(
        "/api/v1/auth/login",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    refused(response, 401, "invalid_credentials")


def test_options_answers_the_envelope_with_the_allowed_methods(client):
    response = client.options("/api/v1/courses")
    assert response.status_code == 200
    assert ok(response) == {"allow": ["GET", "HEAD", "OPTIONS"]}
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_options_on_an_unknown_api_path_is_a_404_envelope(client):
    refused(client.options("/api/v1/nothing-here"), 404, "not_found")


def test_a_cors_preflight_stays_a_preflight(app_with):
    with app_with(CORS_ORIGINS=["https://app.example.com"]) as app:
        response = app.test_client().options(
            "/api/v1/courses",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_looking_at_the_sign_in_pages_stores_no_session(app_with, path):
    with app_with(WTF_CSRF_ENABLED=True, CAPTCHA_ENABLED=True) as app:
        visitor = app.test_client()
        for _ in range(3):
            page = visitor.get(path)
            assert page.status_code == 200
            assert 'name="csrf_token"' in page.get_data(as_text=True)
        stored = list(app.extensions["redis_store"].raw.scan_iter("session:*"))
    assert stored == []


@pytest.mark.parametrize(
    "path", ["/api/v1/courses/98142728097342813110272", "/courses/98142728097342813110272"]
)
def test_an_id_too_large_for_the_database_is_a_404(client, path):
    assert client.get(path).status_code == 404


def test_a_cart_line_id_too_large_for_the_database_is_a_404(client, headers):
    response = client.delete("/api/v1/cart/course/4980882104372416318019731456", headers=headers)
    refused(response, 404, "not_found")
