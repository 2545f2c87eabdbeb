"""The account pages: register, log in, log out, the account page, `next`, CSRF, the bot check."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.services import accounts, captcha
from app.urls import safe_next
from tests.factories import UserFactory
from tests.functional.test_captcha import EASY, solve

GOOD = "s3cret-pass"


# --- helpers ------------------------------------------------------------------------------------


def page_of(response, status=200) -> str:
    assert response.status_code == status, (response.status, response.headers.get("Location"))
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


MESSAGES = r"((?:<div>.*?</div>)*)</div>"


def field_errors(page: str, field_id: str) -> list[str]:
    found = re.search(rf'<div class="invalid-feedback" id="{field_id}-errors">{MESSAGES}', page)
    return (
        [html.unescape(m) for m in re.findall(r"<div>(.*?)</div>", found.group(1))] if found else []
    )


def form_errors(page: str) -> list[str]:
    found = re.search(rf'<div class="alert alert-danger form-errors" role="alert">{MESSAGES}', page)
    return (
        [html.unescape(m) for m in re.findall(r"<div>(.*?)</div>", found.group(1))] if found else []
    )


def register_form(**fields) -> dict:
    form = {"username": "newbie", "email": "", "password": GOOD, "confirm": GOOD}
    form.update(fields)
    return form


def sign_in(client, username, password=UserFactory.password, **query):
    return client.post(
        "/login", data={"username": username, "password": password}, query_string=query
    )


def is_signed_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return True


def user_count() -> int:
    db.session.rollback()  # a new transaction: on MariaDB an open one would see an old snapshot
    return db.session.scalar(select(func.count()).select_from(User))


def reloaded(obj):
    """`obj` as the database holds it now (after what other requests committed)."""
    db.session.rollback()
    db.session.refresh(obj)
    return obj


# --- register -----------------------------------------------------------------------------------


def test_the_register_page_shows_the_form(client):
    page = page_of(client.get("/register"))
    for name in ("username", "email", "password", "confirm"):
        assert f'name="{name}"' in page
    assert 'autocomplete="new-password"' in page
    assert "altcha-widget" not in page  # the bot check is off in tests unless asked for


def test_registering_signs_in_with_an_argon2id_hash(client):
    response = client.post("/register", data=register_form(email="Newbie@Example.COM"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/courses"
    user = db.session.scalar(select(User))
    assert user.username == "newbie"
    assert user.email == "Newbie@example.com"  # normalised as the API does
    assert user.password_hash.startswith("$argon2id$")
    assert is_signed_in(client)


def test_registering_without_an_email(client):
    assert client.post("/register", data=register_form(email="")).status_code == 302
    assert db.session.scalar(select(User.email)) == ""


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"username": ""}, "username", "Please enter your username."),
        ({"username": "ab"}, "username", "3–32 characters: letters, digits, _ and -."),
        ({"username": "a" * 33}, "username", "3–32 characters: letters, digits, _ and -."),
        ({"username": "two words"}, "username", "3–32 characters: letters, digits, _ and -."),
        ({"username": "名字名字"}, "username", "3–32 characters: letters, digits, _ and -."),
        ({"username": "x" * 100_000}, "username", "3–32 characters: letters, digits, _ and -."),
        ({"password": "", "confirm": ""}, "password", "Please choose a password."),
        ({"password": "short", "confirm": "short"}, "password", "8–128 characters."),
        ({"password": "p" * 129, "confirm": "p" * 129}, "password", "8–128 characters."),
        (
            {"username": "Newbie123", "password": "nEWBIE123", "confirm": "nEWBIE123"},
            "password",
            "The password must not be the username.",
        ),
        ({"confirm": "something-else"}, "confirm", "The passwords do not match."),
        ({"email": "not-an-address"}, "email", "Not a valid email address."),
        ({"email": "a@" + "b" * 250 + ".com"}, "email", "Not a valid email address."),
    ],
)
def test_register_field_messages(client, fields, field_id, message):
    page = page_of(client.post("/register?lang=en", data=register_form(**fields)), status=400)
    assert message in field_errors(page, field_id)
    assert 'aria-invalid="true"' in page
    assert user_count() == 0
    assert not is_signed_in(client)


def test_a_megabyte_username_is_refused_not_a_500(client):
    page = page_of(client.post("/register", data=register_form(username="x" * 1_000_000)), 400)
    assert field_errors(page, "username") == ["3–32 个字符：字母、数字、_ 或 -。"]
    assert "x" * 100 not in page  # not echoed back either
    assert user_count() == 0


def test_the_form_keeps_what_was_typed_but_never_the_password(client):
    page = page_of(
        client.post("/register", data=register_form(email="me@example.com", confirm="x")), 400
    )
    assert 'value="newbie"' in page
    assert 'value="me@example.com"' in page
    assert GOOD not in page


def test_usernames_are_unique_without_regard_to_case(client):
    UserFactory(username="Demo")
    page = page_of(client.post("/register", data=register_form(username="dEMO")), status=400)
    assert field_errors(page, "username") == ["该用户名已被占用。"]
    assert user_count() == 1
    assert not is_signed_in(client)


def test_a_race_for_the_same_username_shows_the_same_message(client, monkeypatch):
    # The other request inserts the user after our existence check and before our insert.
    UserFactory(username="racer")
    monkeypatch.setattr(accounts, "find_user", lambda username: None)
    page = page_of(client.post("/register?lang=en", data=register_form(username="RACER")), 400)
    assert field_errors(page, "username") == ["That username is taken."]
    assert user_count() == 1


def test_messages_are_in_chinese_by_default_and_english_on_request(client):
    bad = register_form(username="ab", password="short", confirm="other")
    page = page_of(client.post("/register", data=bad), status=400)
    assert '<html lang="zh-CN">' in page
    assert field_errors(page, "username") == ["3–32 个字符：字母、数字、_ 或 -。"]
    assert field_errors(page, "password") == ["需要 8–128 个字符。"]
    assert field_errors(page, "confirm") == ["两次输入的密码不一致。"]
    page = page_of(client.post("/register?lang=en", data=bad), status=400)
    assert field_errors(page, "password") == ["8–128 characters."]


def test_a_signed_in_visitor_is_sent_on_from_register_and_login(client):
    UserFactory(username="alice")
    sign_in(client, "alice")
    for path in ("/register", "/login"):
        response = client.get(path, query_string={"next": "/courses?page=2"})
        assert response.status_code == 302
        assert response.headers["Location"] == "/courses?page=2"


# --- log in -------------------------------------------------------------------------------------


def test_the_login_page_shows_the_form(client):
    page = page_of(client.get("/login"))
    assert 'name="username"' in page
    assert 'name="password"' in page
    assert 'autocomplete="current-password"' in page
    assert 'href="/register"' in page


def test_logging_in_without_regard_to_case(client):
    user = UserFactory(username="Student")
    response = sign_in(client, "  student ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/courses"
    assert is_signed_in(client)
    reloaded(user)
    assert user.last_login_at is not None


def test_the_signed_in_header_shows_the_user_and_a_logout_form(client):
    UserFactory(username="alice")
    sign_in(client, "alice")
    page = page_of(client.get("/courses"))
    assert re.search(r'<a class="nav-link account-link" href="/account"[^>]*>alice</a>', page)
    form = re.search(
        r'<form class="logout-form" method="post" action="/logout">(.*?)</form>', page, re.S
    )
    assert form is not None
    assert 'name="csrf_token"' in form.group(1)
    assert 'href="/login' not in page


def test_the_signed_out_header_links_back_here(client):
    page = page_of(client.get("/courses?level=beginner"))
    assert 'href="/login?next=/courses?level%3Dbeginner"' in page
    assert 'href="/register?next=/courses?level%3Dbeginner"' in page
    assert "logout-form" not in page


def test_the_homepage_holds_nothing_personal_even_when_signed_in(client):
    UserFactory(username="alice")
    sign_in(client, "alice")
    page = page_of(client.get("/"))
    assert "alice" not in page
    assert "csrf" not in page.lower()
    assert 'href="/login"' in page


def test_wrong_password_unknown_user_and_disabled_user_look_the_same(client):
    UserFactory(username="alice")
    UserFactory(username="bob", active=False)
    pages = [
        page_of(sign_in(client, "alice", "not-the-password"), status=400),
        page_of(sign_in(client, "nobody", "not-the-password"), status=400),
        page_of(sign_in(client, "bob"), status=400),  # the right password, but disabled
    ]
    for page in pages:
        assert form_errors(page) == ["用户名或密码错误。"]
        assert field_errors(page, "username") == []
        assert field_errors(page, "password") == []
    assert pages[0] == pages[1].replace('value="nobody"', 'value="alice"')
    assert pages[0] == pages[2].replace('value="bob"', 'value="alice"')
    assert not is_signed_in(client)


def test_an_unknown_user_still_costs_a_password_check(client, monkeypatch):
    from argon2 import PasswordHasher

    checked = []

    class SpyHasher(PasswordHasher):
        def verify(self, hash, password):
            checked.append(password)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "hasher", SpyHasher())
    page_of(sign_in(client, "nobody", "guess-1234"), status=400)
    assert checked == ["guess-1234"]


@pytest.mark.parametrize(
    ("form", "field_id", "message"),
    [
        ({"username": "", "password": "x"}, "username", "请输入用户名。"),
        ({"username": "alice", "password": ""}, "password", "请输入密码。"),
        ({"username": "alice", "password": "p" * 129}, "password", "需要 8–128 个字符。"),
    ],
)
def test_login_field_messages(client, form, field_id, message):
    page = page_of(client.post("/login", data=form), status=400)
    assert field_errors(page, field_id) == [message]


def test_a_page_that_needs_a_login_sends_to_the_login_page_and_back(client):
    UserFactory(username="alice")
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Faccount"
    page = page_of(client.get(response.headers["Location"]))
    assert "请先登录。" in page
    assert 'action="/login?next=/account"' in page
    response = sign_in(client, "alice", next="/account")
    assert response.headers["Location"] == "/account"


# --- where `next` may go ------------------------------------------------------------------------

REFUSED_NEXT = [
    "//evil.com",
    "//evil.com/courses",
    "///evil.com",
    "/\\evil.com",
    "/\\/evil.com",
    "/courses\\..\\evil",
    "https://evil.com",
    "http:evil.com",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.com",
    "courses",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\nSet-Cookie: x=1",
    "/courses\x00",
    "/\x7f/evil.com",
    "/\x85/evil.com",
    "",
    " /courses",
]


@pytest.mark.parametrize("target", REFUSED_NEXT)
def test_next_never_leaves_the_site(client, target):
    assert safe_next(target) == "/"
    UserFactory(username="alice")
    response = sign_in(client, "alice", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/courses"


@pytest.mark.parametrize("target", ["/courses?page=2", "/courses/7", "/account", "/"])
def test_next_goes_to_a_path_on_this_site(client, target):
    assert safe_next(target) == target
    UserFactory(username="alice")
    response = sign_in(client, "alice", next=target)
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", ["//evil.com", "/courses?page=2"])
def test_next_after_registering_follows_the_same_rule(client, target):
    response = client.post("/register", data=register_form(), query_string={"next": target})
    assert response.headers["Location"] == ("/courses" if target.startswith("//") else target)


def test_a_refused_next_is_not_carried_on(client):
    page = page_of(client.get("/login", query_string={"next": "//evil.com"}))
    assert 'action="/login"' in page
    assert 'href="/register"' in page


# --- log out ------------------------------------------------------------------------------------


def test_logging_out_signs_out(client):
    UserFactory(username="alice")
    sign_in(client, "alice")
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert not is_signed_in(client)


def test_logout_by_get_only_asks(client):
    UserFactory(username="alice")
    sign_in(client, "alice")
    page = page_of(client.get("/logout"))
    assert '<form method="post" action="/logout">' in page
    assert is_signed_in(client)


def test_logout_when_signed_out_goes_home(client):
    assert client.get("/logout").headers["Location"] == "/"
    assert client.post("/logout").headers["Location"] == "/"


# --- the account page ---------------------------------------------------------------------------


@pytest.fixture
def alice(client):
    user = UserFactory(username="alice", email="alice@example.com")
    sign_in(client, "alice")
    return user


def change_password(client, current=UserFactory.password, new="n3w-password", confirm=None):
    return client.post(
        "/account/password",
        data={
            "password-current_password": current,
            "password-new_password": new,
            "password-confirm": new if confirm is None else confirm,
        },
    )


def test_the_account_page_shows_the_user_and_both_forms(client, alice):
    page = page_of(client.get("/account"))
    assert "alice@example.com" in page
    assert 'action="/account/password"' in page
    assert 'action="/account/email"' in page
    assert 'value="alice@example.com"' in page


def test_changing_the_password(client, alice):
    response = change_password(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert "密码已修改" in page_of(client.get("/account"))
    client.post("/logout")
    page_of(sign_in(client, "alice"), status=400)  # the old password no longer works
    assert sign_in(client, "alice", "n3w-password").status_code == 302


@pytest.mark.parametrize(
    ("kwargs", "field_id", "message"),
    [
        ({"current": "wrong-password"}, "password-current_password", "当前密码不正确。"),
        ({"current": ""}, "password-current_password", "请输入密码。"),
        ({"new": "short"}, "password-new_password", "需要 8–128 个字符。"),
        ({"new": "ALICE-rocks", "confirm": "nope"}, "password-confirm", "两次输入的密码不一致。"),
    ],
)
def test_password_change_messages(client, alice, kwargs, field_id, message):
    page = page_of(change_password(client, **kwargs), status=400)
    assert message in field_errors(page, field_id)
    reloaded(alice)
    assert alice.session_generation == 0
    assert is_signed_in(client)


def test_the_new_password_must_not_be_the_username(client):
    user = UserFactory(username="longname1")
    sign_in(client, "longname1")
    page = page_of(change_password(client, new="LONGNAME1"), status=400)
    assert field_errors(page, "password-new_password") == ["密码不能与用户名相同。"]
    reloaded(user)
    assert user.session_generation == 0


def test_changing_the_email(client, alice):
    data = {
        "email-email": " Alice@New.Example.COM ",
        "email-current_password": UserFactory.password,
    }
    response = client.post("/account/email", data=data)
    assert response.status_code == 302
    reloaded(alice)
    assert alice.email == "Alice@new.example.com"
    assert "邮箱已保存" in page_of(client.get("/account"))


def test_removing_the_email(client, alice):
    data = {"email-email": "", "email-current_password": UserFactory.password}
    assert client.post("/account/email", data=data).status_code == 302
    reloaded(alice)
    assert alice.email == ""


@pytest.mark.parametrize(
    ("data", "field_id", "message"),
    [
        (
            {"email-email": "a@example.com", "email-current_password": "wrong-password"},
            "email-current_password",
            "当前密码不正确。",
        ),
        (
            {"email-email": "nope", "email-current_password": UserFactory.password},
            "email-email",
            "邮箱地址无效。",
        ),
    ],
)
def test_email_change_messages(client, alice, data, field_id, message):
    page = page_of(client.post("/account/email", data=data), status=400)
    assert field_errors(page, field_id) == [message]
    reloaded(alice)
    assert alice.email == "alice@example.com"


def test_the_account_pages_need_a_login(client):
    for method, path in (
        ("get", "/account"),
        ("post", "/account/password"),
        ("post", "/account/email"),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_with):
    with app_with(WTF_CSRF_ENABLED=True) as app:
        yield app


def csrf_token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_every_form_is_refused_without_its_csrf_token(csrf_app):
    client = csrf_app.test_client()
    UserFactory(username="alice")
    for path, data in (
        ("/login", {"username": "alice", "password": UserFactory.password}),
        ("/register", register_form()),
        ("/logout", {}),
        ("/account/password", {}),
        ("/account/email", {}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "error-page" in response.get_data(as_text=True)
    assert user_count() == 1
    assert not is_signed_in(client)


def test_the_forms_carry_a_token_that_works(csrf_app):
    client = csrf_app.test_client()
    UserFactory(username="alice")
    token = csrf_token_of(page_of(client.get("/login")))
    form = {"username": "alice", "password": UserFactory.password, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302

    account = page_of(client.get("/account"))
    assert client.post("/logout").status_code == 400  # without the token: still signed in
    assert is_signed_in(client)
    response = client.post("/logout", data={"csrf_token": csrf_token_of(account)})
    assert response.status_code == 302
    assert not is_signed_in(client)


def test_a_token_from_another_session_is_refused(csrf_app):
    UserFactory(username="alice")
    attacker = csrf_app.test_client()
    token = csrf_token_of(page_of(attacker.get("/login")))
    victim = csrf_app.test_client()
    form = {"username": "alice", "password": UserFactory.password, "csrf_token": token}
    assert victim.post("/login", data=form).status_code == 400


# --- the bot check ------------------------------------------------------------------------------


@pytest.fixture
def bot_checked(app_with):
    """A client of the app with the bot check on (and easy to solve)."""
    with app_with(**EASY) as app:
        yield app.test_client()


def solved_on_the_page(client, action: str) -> str:
    response = client.get(f"/captcha/challenge?action={action}")
    return solve(response.get_json())


def test_the_challenge_endpoint_answers_the_raw_challenge(bot_checked):
    response = bot_checked.get("/captcha/challenge?action=register")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"parameters", "signature"}  # the widget's form, not the API envelope
    assert body["parameters"]["data"] == {"action": "register"}


@pytest.mark.parametrize("query", ["", "?action=", "?action=admin"])
def test_the_challenge_endpoint_refuses_other_actions(bot_checked, query):
    response = bot_checked.get(f"/captcha/challenge{query}")
    assert response.status_code == 400
    assert "action" in response.get_json()["fields"]


@pytest.mark.parametrize(("path", "action"), [("/login", "login"), ("/register", "register")])
def test_the_pages_show_the_widget_and_load_it_from_this_site(bot_checked, path, action):
    page = page_of(bot_checked.get(path))
    widget = re.search(r"<altcha-widget ([^>]*)>", page)
    assert widget is not None
    assert f'challenge="/captcha/challenge?action={action}"' in widget.group(1)
    assert 'name="altcha"' in widget.group(1)
    assert "<noscript>" in page
    scripts = re.findall(r'<script\b[^>]*src="([^"]+)"', page)
    assert "/static/vendor/altcha/altcha.min.js" in scripts
    assert "/static/js/bot-check.js" in scripts
    assert '/static/vendor/altcha/altcha.css"' in page


def test_the_login_page_refuses_a_missing_bot_check(bot_checked):
    UserFactory(username="alice")
    page = page_of(sign_in(bot_checked, "alice"), status=400)
    assert form_errors(page) == ["请先完成人机验证。"]
    assert not is_signed_in(bot_checked)


def test_the_login_page_refuses_a_wrong_or_replayed_bot_check(bot_checked):
    UserFactory(username="alice")
    form = {"username": "alice", "password": UserFactory.password}
    page = page_of(bot_checked.post("/login", data=form | {"altcha": "junk"}), status=400)
    assert form_errors(page) == ["人机验证未通过或已过期，请重新验证。"]
    made_for_register = solved_on_the_page(bot_checked, "register")
    page_of(bot_checked.post("/login", data=form | {"altcha": made_for_register}), status=400)
    assert not is_signed_in(bot_checked)

    payload = solved_on_the_page(bot_checked, "login")
    assert bot_checked.post("/login", data=form | {"altcha": payload}).status_code == 302
    assert is_signed_in(bot_checked)
    bot_checked.post("/logout")
    page_of(bot_checked.post("/login", data=form | {"altcha": payload}), status=400)  # replay
    assert not is_signed_in(bot_checked)


def test_the_bot_check_comes_before_the_password_check(bot_checked, monkeypatch):
    checked = []
    monkeypatch.setattr(accounts, "check_credentials", lambda *args: checked.append(args))
    page_of(sign_in(bot_checked, "alice"), status=400)
    assert checked == []


def test_registering_with_the_bot_check(bot_checked):
    page = page_of(bot_checked.post("/register", data=register_form()), status=400)
    assert form_errors(page) == ["请先完成人机验证。"]
    assert user_count() == 0
    payload = solved_on_the_page(bot_checked, "register")
    response = bot_checked.post("/register", data=register_form(altcha=payload))
    assert response.status_code == 302
    assert user_count() == 1


def test_a_solution_is_not_spent_on_a_form_with_mistakes(bot_checked):
    payload = solved_on_the_page(bot_checked, "register")
    page_of(bot_checked.post("/register", data=register_form(confirm="x", altcha=payload)), 400)
    assert bot_checked.post("/register", data=register_form(altcha=payload)).status_code == 302


def test_the_service_refuses_the_widgets_test_mode_payload(bot_checked):
    import base64
    import json

    fake = base64.b64encode(
        json.dumps({"challenge": None, "solution": None, "test": True}).encode()
    )
    with pytest.raises(captcha.CaptchaInvalid):
        captcha.verify("login", fake.decode())


# --- a strict Content-Security-Policy -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/register", "/account", "/logout"])
def test_the_account_pages_need_no_inline_script_or_style(bot_checked, path):
    if path in ("/account", "/logout"):
        UserFactory(username="alice")
        form = {"username": "alice", "password": UserFactory.password}
        form["altcha"] = solved_on_the_page(bot_checked, "login")
        assert bot_checked.post("/login", data=form).status_code == 302
    page = page_of(bot_checked.get(path))
    assert re.search(r"<script\b[^>]*>\s*(?!</script>)\S", page) is None  # no inline code
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))
    assert re.search(r"<[^>]+\son[a-z]+\s*=", page) is None  # no inline event handler
    assert re.search(r"<[^>]+\sstyle\s*=", page) is None  # no style attribute
    assert "<style" not in page


def test_the_vendored_widget_is_served_and_speaks_v2_challenges(client, app):
    from pathlib import Path

    vendor = Path(app.static_folder) / "vendor" / "altcha"
    major = int((vendor / "VERSION").read_text().split(".")[0])
    assert major >= 3  # widget 3.x solves {parameters, signature}, what altcha 2.x makes
    widget = (vendor / "altcha.min.js").read_text()
    assert "createObjectURL" not in widget  # no blob: workers
    assert 'createElement("style")' not in widget  # no injected styles
    for name in ("altcha.min.js", "altcha.css", "workers/pbkdf2.js", "i18n/zh-cn.js"):
        response = client.get(f"/static/vendor/altcha/{name}")
        assert response.status_code == 200, name
        response.close()
    response = client.get("/static/js/bot-check.js")
    assert response.status_code == 200
    response.close()
