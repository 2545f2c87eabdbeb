"""Catalog pages for visitors without a session: kept whole, and their buy forms (CSRF tokens
from a cookie of the visitor's own) store no session until the visitor posts one."""

from __future__ import annotations

import re

import pytest
from flask import session
from flask_wtf.csrf import validate_csrf
from jinja2 import ChoiceLoader, DictLoader
from wtforms import ValidationError

from app.blueprints.courses import routes
from app.security import VISITOR_CSRF_COOKIE
from tests.factories import CourseFactory, DegreeCourseFactory, UserFactory
from tests.pages import html, sign_in


@pytest.fixture
def csrf_app(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        yield app


@pytest.fixture
def course(app):
    return CourseFactory(name="Flask 实战", policies=[(30, "99.00"), (0, "299.00")])


def stored_sessions(app) -> list[bytes]:
    return list(app.extensions["redis_store"].raw.scan_iter("session:*"))


def token_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has a CSRF token"
    return match.group(1)


def buy_form(page: str, course) -> dict[str, str]:
    policy = re.search(r'name="price_policy_id" id="policy-\d+" value="(\d+)" checked', page)
    assert policy
    return {
        "csrf_token": token_of(page),
        "item_type": "course",
        "item_id": str(course.id),
        "price_policy_id": policy.group(1),
    }


# --- no session for looking -----------------------------------------------------------------------


def test_a_visitor_looking_at_the_catalog_stores_no_session(csrf_app, course):
    degree = DegreeCourseFactory()
    visitor = csrf_app.test_client()
    for path in ["/courses", f"/courses/{course.id}", f"/degree-courses/{degree.id}"]:
        page = html(visitor.get(path))
    assert 'name="csrf_token"' in page
    assert stored_sessions(csrf_app) == []
    assert visitor.get_cookie(csrf_app.config["SESSION_COOKIE_NAME"]) is None
    assert visitor.get_cookie(VISITOR_CSRF_COOKIE) is not None


def test_the_visitor_cookie_is_set_like_the_session_cookie(app_with):
    with app_with(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True) as secure_app:
        course = CourseFactory()
        response = secure_app.test_client().get(f"/courses/{course.id}")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{VISITOR_CSRF_COOKIE}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="):
        assert attribute in cookie


def test_a_visitor_has_one_token_across_pages_and_tabs(csrf_app, course):
    other = CourseFactory()
    visitor = csrf_app.test_client()
    first = html(visitor.get(f"/courses/{course.id}"))
    secret = visitor.get_cookie(VISITOR_CSRF_COOKIE).value
    second = html(visitor.get(f"/courses/{other.id}"))
    assert visitor.get_cookie(VISITOR_CSRF_COOKIE).value == secret
    # One secret, signed the same: a token is `secret.timestamp.signature` (itsdangerous), and
    # the timestamp's second may turn between the two pages.
    assert token_of(first).split(".")[0] == token_of(second).split(".")[0]
    # The form of the first tab still works after the second was opened.
    response = visitor.post("/cart/add", data=buy_form(first, course))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/cart")


def test_a_visitors_token_is_one_flask_wtf_accepts(csrf_app, course):
    visitor = csrf_app.test_client()
    token = token_of(html(visitor.get(f"/courses/{course.id}")))
    secret = visitor.get_cookie(VISITOR_CSRF_COOKIE).value
    with csrf_app.test_request_context("/cart/add", method="POST"):
        session["csrf_token"] = secret
        validate_csrf(token)  # raises when it is not
        session["csrf_token"] = "0" * 40
        with pytest.raises(ValidationError):
            validate_csrf(token)


# --- posting the buy form -------------------------------------------------------------------------


def test_a_visitor_adds_to_the_cart_with_the_token_of_the_page(csrf_app, course):
    visitor = csrf_app.test_client()
    page = html(visitor.get(f"/courses/{course.id}"))
    response = visitor.post("/cart/add", data=buy_form(page, course))
    assert response.status_code == 302
    cart = html(visitor.get(response.headers["Location"]))
    assert "Flask 实战" in cart
    # The secret moved into the session the POST made, and the cookie went.
    assert len(stored_sessions(csrf_app)) == 1
    assert visitor.get_cookie(VISITOR_CSRF_COOKIE) is None
    # From now on the visitor has a session: its token, which works like any other.
    page = html(visitor.get(f"/courses/{course.id}"))
    remove = visitor.post(f"/cart/course/{course.id}/remove", data={"csrf_token": token_of(page)})
    assert remove.status_code == 302
    assert "Flask 实战" not in html(visitor.get("/cart"))


def test_the_token_without_the_visitors_cookie_is_refused(csrf_app, course):
    page = html(csrf_app.test_client().get(f"/courses/{course.id}"))
    another_browser = csrf_app.test_client()  # what a forged form from another site sends
    response = another_browser.post("/cart/add", data=buy_form(page, course))
    assert response.status_code == 400
    assert stored_sessions(csrf_app) == []


def test_another_visitors_token_is_refused(csrf_app, course):
    first, second = csrf_app.test_client(), csrf_app.test_client()
    page = html(first.get(f"/courses/{course.id}"))
    html(second.get(f"/courses/{course.id}"))  # the second visitor has a cookie of their own
    assert second.post("/cart/add", data=buy_form(page, course)).status_code == 400


def test_the_cookie_without_the_token_is_refused(csrf_app, course):
    visitor = csrf_app.test_client()
    form = buy_form(html(visitor.get(f"/courses/{course.id}")), course)
    del form["csrf_token"]
    assert visitor.post("/cart/add", data=form).status_code == 400
    form["csrf_token"] = "not-a-token"
    assert visitor.post("/cart/add", data=form).status_code == 400
    assert stored_sessions(csrf_app) == []


def test_a_session_that_holds_something_never_takes_the_visitors_secret(csrf_app, course):
    # A secret from before a login (planted by someone else, say) is worth nothing after it.
    visitor = csrf_app.test_client()
    page = html(visitor.get(f"/courses/{course.id}"))
    sign_in(visitor, UserFactory())
    assert visitor.post("/cart/add", data=buy_form(page, course)).status_code == 400
    page = html(visitor.get(f"/courses/{course.id}"))
    assert visitor.post("/cart/add", data=buy_form(page, course)).status_code == 302


def test_a_signed_in_student_gets_the_sessions_token(csrf_app, course):
    student = csrf_app.test_client()
    sign_in(student, UserFactory())
    response = student.get(f"/courses/{course.id}")  # the session gets its secret
    assert VISITOR_CSRF_COOKIE not in response.headers.get("Set-Cookie", "")
    assert student.post("/cart/add", data=buy_form(html(response), course)).status_code == 302
    page = html(student.get(f"/courses/{course.id}"))  # a token of the secret it holds
    assert page.count(token_of(page)) == 2  # the buy form's and the sign-out form's
    assert student.post("/cart/add", data=buy_form(page, course)).status_code == 302
    other = csrf_app.test_client()
    sign_in(other, UserFactory())
    html(other.get(f"/courses/{course.id}"))
    assert other.post("/cart/add", data=buy_form(page, course)).status_code == 400


# --- whole pages kept ----------------------------------------------------------------------------


def test_a_visitors_page_is_rendered_once_and_each_gets_their_own_token(app, course, monkeypatch):
    renders = []
    original = routes.render_template

    def counting(*args, **kwargs):
        renders.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(routes, "render_template", counting)
    pages = [html(app.test_client().get(f"/courses/{course.id}")) for _ in range(3)]
    # The course's content and the page around it (its buy form with no token), once.
    assert sorted(renders) == ["courses/_course.html", "courses/detail.html"]
    tokens = [token_of(page) for page in pages]
    assert len(set(tokens)) == 3  # each visitor's own token all the same
    assert {page.replace(token, "") for page, token in zip(pages, tokens, strict=True)} == {
        pages[0].replace(tokens[0], "")
    }
    assert pages[0].count('name="csrf_token"') == 1


def test_a_visitors_page_never_shows_a_student_and_the_reverse(app, course):
    student = UserFactory(username="xiaoming")
    visitor_page = html(app.test_client().get(f"/courses/{course.id}"))
    signed_in = app.test_client()
    sign_in(signed_in, student)
    student_page = html(signed_in.get(f"/courses/{course.id}"))
    next_visitor_page = html(app.test_client().get(f"/courses/{course.id}"))
    assert "xiaoming" in student_page
    assert "xiaoming" not in visitor_page + next_visitor_page
    assert "/login" in next_visitor_page


def test_kept_pages_follow_the_language_and_the_address(app, course):
    plain = html(app.test_client().get(f"/courses/{course.id}"))
    english = html(app.test_client().get(f"/courses/{course.id}?lang=en"))
    other_address = html(app.test_client().get(f"/courses/{course.id}?ref=home"))
    assert "Add to cart" in english
    assert "Add to cart" not in plain
    # The sign-in links and the language switch come back to the page's own address.
    assert f'href="/login?next=/courses/{course.id}"' in plain
    assert f'href="/login?next=/courses/{course.id}?ref%3Dhome"' in other_address
    assert f'href="/lang/en?next=/courses/{course.id}?ref%3Dhome"' in other_address


@pytest.fixture
def templates(app, monkeypatch):
    """Templates of the test's own, beside the app's."""
    made: dict[str, str] = {}
    loader = ChoiceLoader([DictLoader(made), app.jinja_env.loader])
    monkeypatch.setattr(app.jinja_env, "loader", loader)
    app.jinja_env.cache.clear()
    return made


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("<p>{{ csrf_token() }}</p>", "CSRF token"),
        ("<p>{{ csp_nonce() }}</p>", "CSP nonce"),
        (
            "{% import 'shop/_buy.html' as shop with context %}"
            "{{ shop.buy_form('course', 1, [1]) }}",
            "CSRF token",
        ),
    ],
)
def test_what_is_kept_can_never_hold_a_token_or_a_nonce(app, templates, source, what):
    templates["kept.html"] = source
    with app.test_request_context("/courses/1"), pytest.raises(routes.PersonalContentError) as e:
        routes._public("kept.html", "zh")
    assert what in str(e.value)


def test_what_is_kept_never_sees_the_visitor(app, templates):
    """Rendered for keeping, a template finds no user, no session, no cookie, no header: only
    the address and the language."""
    student = UserFactory(username="xiaoming")
    templates["kept.html"] = (
        "{{ current_user.is_authenticated }}|{{ session.get('k') }}|{{ request.cookies | length }}"
        "|{{ request.headers.get('X-Who') }}|{{ request.host }}|{{ request.full_path }}"
        "|{{ current_language() }}"
    )
    client = app.test_client()
    sign_in(client, student)
    with client.session_transaction() as stored:
        stored["k"] = "secret"
    with client:
        client.get("/cart", headers={"X-Who": "me"})  # the request's host is "localhost"
        assert session.get("k") == "secret"
        kept = routes._public("kept.html", "en")
    assert str(kept) == "False|None|0|None|127.0.0.1:5000|/cart?|en"
