"""Page sessions in Redis: a new id at login, gone at logout, bounded, ended by a new password."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.services import tokens
from app.services.errors import Unauthorized
from config import ProductionConfig
from tests.conftest import clean_database, flush_redis
from tests.factories import UserFactory

COOKIE = "session"
FOURTEEN_DAYS = int(timedelta(days=14).total_seconds())


def session_id(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def stored(app, sid: str) -> bool:
    return bool(app.extensions["redis_store"].raw.exists(f"session:{sid}"))


def sign_in(client, username="alice", password=UserFactory.password, **extra):
    response = client.post("/login", data={"username": username, "password": password, **extra})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def with_cookie(app, sid: str):
    """A fresh browser that presents `sid` as its session cookie (a replay, or a planted id)."""
    other = app.test_client()
    other.set_cookie(COOKIE, sid)
    return other


def csrf_token_of(page: str) -> str:
    found = re.search(r'name="(?:\w+-)?csrf_token"[^>]*? value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def csrf_app(app_with):
    """The app with CSRF on: showing the login form stores a session before the login."""
    with app_with(WTF_CSRF_ENABLED=True) as app:
        yield app


# --- a new session id at login ------------------------------------------------------------------


def test_the_session_id_changes_at_login(csrf_app):
    UserFactory(username="alice")
    client = csrf_app.test_client()
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    assert session_id(client) is None  # looking at the page stores nothing
    # A refused attempt keeps the form's CSRF secret in a session of the visitor's own.
    refused = client.post(
        "/login", data={"username": "alice", "password": "wrong-password", "csrf_token": token}
    )
    assert refused.status_code == 400
    before = session_id(client)
    assert before is not None
    assert stored(csrf_app, before)
    token = csrf_token_of(refused.get_data(as_text=True))

    sign_in(client, csrf_token=token)

    after = session_id(client)
    assert after is not None
    assert after != before
    assert not stored(csrf_app, before)  # the old id is worth nothing now
    assert stored(csrf_app, after)
    assert is_signed_in(client)
    assert not is_signed_in(with_cookie(csrf_app, before))


def test_a_planted_session_id_is_not_signed_in_by_the_victims_login(csrf_app):
    UserFactory(username="alice")
    attacker = csrf_app.test_client()
    token = csrf_token_of(attacker.get("/login").get_data(as_text=True))
    attacker.post(  # a refused attempt: a real, stored session of the attacker's
        "/login", data={"username": "alice", "password": "wrong-password", "csrf_token": token}
    )
    planted = session_id(attacker)
    assert planted is not None
    victim = with_cookie(csrf_app, planted)
    token = csrf_token_of(victim.get("/login").get_data(as_text=True))
    sign_in(victim, csrf_token=token)

    assert session_id(victim) != planted
    assert is_signed_in(victim)
    assert not is_signed_in(attacker)


def test_the_csrf_token_changes_at_login(csrf_app):
    UserFactory(username="alice")
    client = csrf_app.test_client()
    before = csrf_token_of(client.get("/login").get_data(as_text=True))
    sign_in(client, csrf_token=before)
    page = client.get("/account").get_data(as_text=True)
    assert csrf_token_of(page) != before
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert is_signed_in(client)


# --- logout ends the session on the server --------------------------------------------------------


def test_logout_deletes_the_session_from_redis(app, client):
    UserFactory(username="alice")
    sign_in(client)
    sid = session_id(client)
    assert stored(app, sid)

    response = client.post("/logout")

    assert not stored(app, sid)
    assert f"{COOKIE}=;" in response.headers["Set-Cookie"]  # the browser forgets it too
    assert not is_signed_in(client)
    assert not is_signed_in(with_cookie(app, sid))  # replaying the old cookie


def test_a_session_of_a_disabled_user_is_not_signed_in(app, client):
    user = UserFactory(username="alice")
    sign_in(client)
    user.active = False
    db.session.commit()
    assert not is_signed_in(client)


# --- cookie flags and lifetime ------------------------------------------------------------------


def test_the_cookie_is_httponly_samesite_lax_and_not_secure_in_development(client):
    UserFactory(username="alice")
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain http in development


@pytest.mark.real_commits  # cleans the tables itself
def test_production_cookies_are_secure_httponly_and_samesite_lax(make_app):
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    app = make_app(
        SESSION_COOKIE_SECURE=ProductionConfig.SESSION_COOKIE_SECURE,
        SESSION_COOKIE_HTTPONLY=ProductionConfig.SESSION_COOKIE_HTTPONLY,
        SESSION_COOKIE_SAMESITE=ProductionConfig.SESSION_COOKIE_SAMESITE,
    )
    flush_redis(app)
    with app.app_context():
        try:
            UserFactory(username="alice")
            client = app.test_client()
            cookie = sign_in(client).headers["Set-Cookie"]
            flags = [part.strip() for part in cookie.split(";")]
            assert "Secure" in flags
            assert "HttpOnly" in flags
            assert "SameSite=Lax" in flags
        finally:
            db.session.remove()
            clean_database(app)
            flush_redis(app)


def test_a_session_lives_14_days_in_redis_and_in_the_browser(app, client):
    assert app.permanent_session_lifetime == timedelta(days=14)
    UserFactory(username="alice")
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "Expires=" in cookie
    ttl = app.extensions["redis_store"].raw.ttl(f"session:{session_id(client)}")
    assert FOURTEEN_DAYS - 60 < ttl <= FOURTEEN_DAYS


def test_browsing_does_not_extend_the_session(app, client):
    UserFactory(username="alice")
    sign_in(client)
    client.get("/courses")  # the first page stores a CSRF token for the logout form
    for path in ("/courses", "/account", "/courses"):
        assert "Set-Cookie" not in client.get(path).headers


# --- a password change ends the other sessions and the API tokens --------------------------------


def change_password(client, new="n3w-password"):
    return client.post(
        "/account/password",
        data={
            "password-current_password": UserFactory.password,
            "password-new_password": new,
            "password-confirm": new,
        },
    )


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app):
    user = UserFactory(username="alice")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here)
    sign_in(elsewhere)
    before = session_id(here)

    assert change_password(here).status_code == 302

    assert is_signed_in(here)
    assert session_id(here) != before  # a new id here too
    assert not stored(app, before)
    assert not is_signed_in(elsewhere)
    db.session.rollback()
    db.session.refresh(user)
    assert user.session_generation == 1


def test_a_password_change_revokes_every_api_token(app, client):
    UserFactory(username="alice")
    login = {"username": "alice", "password": UserFactory.password}
    keys = [client.post("/api/v1/auth/login", json=login).get_json()["data"]["token"] for _ in "ab"]
    tokens.authenticate_token(keys[0])  # cached as well
    sign_in(client)

    assert change_password(client).status_code == 302

    db.session.rollback()
    for key in keys:
        with pytest.raises(Unauthorized):
            tokens.authenticate_token(key)
        response = client.post("/api/v1/auth/logout", headers={"Authorization": f"Token {key}"})
        assert response.status_code == 401


def test_a_refused_password_change_ends_nothing(app):
    UserFactory(username="alice")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here)
    sign_in(elsewhere)
    response = here.post(
        "/account/password",
        data={
            "password-current_password": "not-the-password",
            "password-new_password": "n3w-password",
            "password-confirm": "n3w-password",
        },
    )
    assert response.status_code == 400
    assert is_signed_in(here)
    assert is_signed_in(elsewhere)
