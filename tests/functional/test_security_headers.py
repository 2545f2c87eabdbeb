"""Security headers on every answer, a CSP that needs no inline script, CORS for /api/v1 only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import render_template_string
from jinja2 import meta

from app.security import csp_nonce, override_content_security_policy
from config import load_config
from tests.factories import CourseDetailFactory, CourseFactory, DegreeCourseFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{22,})'")
# A page whose rendering used no nonce gets none (only the site's own scripts may run).
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)
OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
ORIGIN = "https://app.example.com"


POLICY_WITH_NONCE = POLICY.replace("script-src 'self'", "script-src 'self' 'nonce-{nonce}'")


def nonce_of(response) -> str:
    found = NONCE.search(response.headers["Content-Security-Policy"])
    assert found, response.headers["Content-Security-Policy"]
    return found.group(1)


def assert_secured(response) -> None:
    assert response.headers["Content-Security-Policy"] == POLICY
    for name, value in OTHER_HEADERS.items():
        assert response.headers[name] == value, name
    assert "Strict-Transport-Security" not in response.headers


# --- the headers ----------------------------------------------------------------------------


def test_a_page_has_the_security_headers(client):
    response = client.get("/courses")
    assert response.status_code == 200
    assert_secured(response)


def test_the_api_has_the_security_headers(client):
    response = client.get("/api/v1/categories")
    assert response.status_code == 200
    assert_secured(response)


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/no-such-thing", "/courses/999999"])
def test_error_answers_have_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert_secured(response)


def test_static_files_and_healthz_have_them_too(client):
    for path in ("/static/css/app.css", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200
        assert_secured(response)
        response.close()


@pytest.fixture
def page_with_a_script(make_app):
    app = make_app()

    @app.get("/with-a-script")
    def with_a_script():
        return render_template_string('<script nonce="{{ csp_nonce() }}">1</script>')

    return app.test_client()


@pytest.mark.fresh_app  # the app gets a page or a policy of its own
def test_a_template_gets_the_nonce_of_its_response(page_with_a_script):
    response = page_with_a_script.get("/with-a-script")
    assert response.get_data(as_text=True) == f'<script nonce="{nonce_of(response)}">1</script>'
    policy = response.headers["Content-Security-Policy"]
    assert policy == POLICY_WITH_NONCE.format(nonce=nonce_of(response))


@pytest.mark.fresh_app  # the app gets a page or a policy of its own
def test_every_request_gets_a_fresh_nonce(page_with_a_script):
    nonces = {nonce_of(page_with_a_script.get("/with-a-script")) for _ in range(5)}
    assert len(nonces) == 5


def test_there_is_no_nonce_outside_a_request(app):
    # What the worker renders once for everyone must not carry a nonce.
    with pytest.raises(RuntimeError, match="request"):
        csp_nonce()


def test_hsts_is_sent_when_enabled(make_app):
    response = make_app(HSTS_ENABLED=True).test_client().get("/courses")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_hsts_is_on_in_production_only(tmp_path):
    production = {
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": "mysql+pymysql://shop@db/shop",
        "PUBLIC_BASE_URL": "https://shop.example.com",
        "INSTANCE_DIR": str(tmp_path),
    }
    assert load_config("production", environ=production)["HSTS_ENABLED"] is True
    for env in ("development", "testing"):
        assert load_config(env, environ={"INSTANCE_DIR": str(tmp_path)})["HSTS_ENABLED"] is False


def test_proxy_fix_x_for_is_read_from_the_environment(tmp_path):
    environ = {"INSTANCE_DIR": str(tmp_path)}
    assert load_config("development", environ=environ)["PROXY_FIX_X_FOR"] == 0
    environ["PROXY_FIX_X_FOR"] = "2"
    assert load_config("development", environ=environ)["PROXY_FIX_X_FOR"] == 2


def test_form_action_allows_the_alipay_gateway_when_there_is_one(make_app):
    app = make_app(ALIPAY_GATEWAY_URL="https://openapi.alipay.com/gateway.do")
    policy = app.test_client().get("/courses").headers["Content-Security-Policy"]
    assert "form-action 'self' https://openapi.alipay.com;" in policy


@pytest.mark.fresh_app  # the app gets a page or a policy of its own
def test_staff_pages_can_be_given_their_own_policy(make_app):
    app = make_app()
    override_content_security_policy(
        app, "/admin/", {"style-src": "'self' 'unsafe-inline'", "script-src": "'self'"}
    )
    client = app.test_client()
    staff = client.get("/admin/anything").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline';" in staff
    assert "script-src 'self';" in staff
    assert "frame-ancestors 'none'" in staff  # what is not overridden stays
    assert_secured(client.get("/courses"))  # students' pages keep the strict policy
    assert_secured(client.get("/administrator"))


# --- CORS -----------------------------------------------------------------------------------


def cors_headers(response) -> list[str]:
    return [name for name, _ in response.headers.items() if name.startswith("Access-Control")]


@pytest.fixture
def cors_client(make_app):
    return make_app(CORS_ORIGINS=[ORIGIN, "https://other.example.com/"]).test_client()


def test_an_allowed_origin_gets_cors_headers_on_the_api(cors_client):
    response = cors_client.get("/api/v1/categories", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    # A trailing slash in the setting is forgiven: browsers never send one.
    other = cors_client.get("/api/v1/categories", headers={"Origin": "https://other.example.com"})
    assert other.headers["Access-Control-Allow-Origin"] == "https://other.example.com"


def test_an_api_error_carries_cors_headers_too(cors_client):
    response = cors_client.get("/api/v1/no-such-thing", headers={"Origin": ORIGIN})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_a_preflight_for_an_allowed_origin(cors_client):
    response = cors_client.options(
        "/api/v1/auth/login",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, x-a",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    methods = set(response.headers["Access-Control-Allow-Methods"].split(", "))
    assert methods == {"GET", "POST", "PATCH", "DELETE"}
    allowed = response.headers["Access-Control-Allow-Headers"].lower().split(", ")
    assert sorted(allowed) == ["authorization", "content-type", "idempotency-key"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://app.example.com.evil.org"])
def test_another_origin_gets_no_cors_headers(cors_client, origin):
    response = cors_client.get("/api/v1/categories", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = cors_client.options(
        "/api/v1/auth/login",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_no_origin_header_no_cors_headers(cors_client):
    response = cors_client.get("/api/v1/categories")
    assert cors_headers(response) == []


@pytest.mark.parametrize("path", ["/courses", "/healthz", "/static/css/app.css", "/api/v2/x"])
def test_pages_get_no_cors_headers_even_for_an_allowed_origin(cors_client, path):
    response = cors_client.get(path, headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers
    response.close()


def test_no_origins_configured_means_no_cors_headers_at_all(client):
    for response in (
        client.get("/api/v1/categories", headers={"Origin": ORIGIN}),
        client.options(
            "/api/v1/auth/login",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        ),
    ):
        assert cors_headers(response) == []


# --- the templates work under the policy ----------------------------------------------------

TAG = re.compile(r"<[a-zA-Z][^>]*>", re.DOTALL)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def policy_problems(html: str, nonce: str | None = None) -> list[str]:
    """What a page holds that the CSP would block: inline scripts without the nonce, event
    handler attributes, style attributes and blocks, javascript: URLs."""
    problems = []
    for match in SCRIPT.finditer(html):
        attributes = match.group(1)
        if "src=" in attributes or 'type="application/json"' in attributes:
            continue  # a file, or data the browser never runs
        if nonce is None and "csp_nonce()" in attributes:
            continue
        if nonce is None or f'nonce="{nonce}"' not in attributes:
            problems.append(f"inline script without the nonce: {match.group(0)}")
    for tag in TAG.findall(html):
        if HANDLER.search(tag):
            problems.append(f"event handler attribute: {tag}")
        if STYLE_ATTRIBUTE.search(tag):
            problems.append(f"style attribute: {tag}")
    if re.search(r"<style\b", html, re.IGNORECASE):
        problems.append("a <style> block")
    if re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", html, re.IGNORECASE):
        problems.append("a javascript: URL")
    return problems


TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_holds_what_the_policy_blocks(path):
    assert policy_problems(path.read_text(encoding="utf-8")) == []


def templates_used_by(app, name: str, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if name in seen:
        return seen
    seen.add(name)
    source = app.jinja_loader.get_source(app.jinja_env, name)[0]
    for child in meta.find_referenced_templates(app.jinja_env.parse(source)):
        if child:
            templates_used_by(app, child, seen)
    return seen


def test_the_prerendered_homepage_needs_no_nonce(app):
    used = templates_used_by(app, "main/index.html")
    assert "base.html" in used
    for name in used:
        source = app.jinja_loader.get_source(app.jinja_env, name)[0]
        assert "csp_nonce" not in source, f"{name}: the homepage is one file for everyone"


def test_the_pages_render_without_anything_the_policy_blocks(app, client):
    detail = CourseDetailFactory()
    degree = DegreeCourseFactory()
    CourseFactory(name="Another")
    paths = [
        "/",
        "/courses",
        f"/courses/{detail.course.id}",
        f"/degree-courses/{degree.id}",
        "/no-such-page",
    ]
    for endpoint, path in [("auth.login", "/login"), ("auth.register", "/register")]:
        if endpoint in app.view_functions:  # the account pages, once they exist
            paths.append(path)
    for path in paths:
        response = client.get(path)
        assert response.mimetype == "text/html", path
        html = response.get_data(as_text=True)
        # No student page needs an inline script: none carries a nonce.
        assert "nonce-" not in response.headers["Content-Security-Policy"], path
        assert policy_problems(html, None) == [], path
