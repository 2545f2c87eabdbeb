"""The account API: register, login and logout, token headers, and refusals that write nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow
from app.services import tokens
from app.services.errors import Unauthorized
from tests.api import ok, refused
from tests.factories import UserFactory

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"


def user_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User))


def register(client, **fields):
    body = {"username": "newbie", "password": "s3cret-pass", "email": "newbie@example.com"}
    body.update(fields)
    return client.post(REGISTER, json=body)


def log_in(client, username, password=UserFactory.password):
    return client.post(LOGIN, json={"username": username, "password": password})


# --- register -----------------------------------------------------------------------------------


def test_register_answers_the_user_and_stores_an_argon2id_hash(client):
    got = ok(register(client), 201)
    assert got == {"id": got["id"], "username": "newbie", "email": "newbie@example.com"}
    user = db.session.get(User, got["id"])
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret-pass" not in user.password_hash


def test_register_without_email(client):
    assert ok(register(client, email=None), 201)["email"] == ""
    assert ok(register(client, username="second", email=""), 201)["email"] == ""
    body = {"username": "third", "password": "s3cret-pass"}
    assert ok(client.post(REGISTER, json=body), 201)["email"] == ""


def test_usernames_are_unique_without_regard_to_case(client):
    ok(register(client, username="Demo"), 201)
    refused(register(client, username="dEMO"), 409, "username_taken", code=1005)
    assert user_count() == 1


def test_password_is_kept_exactly_as_typed(client):
    ok(register(client, password="  spaced out  "), 201)
    ok(log_in(client, "newbie", "  spaced out  "))
    refused(log_in(client, "newbie", "spaced out"), 401, "invalid_credentials", code=1003)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 33}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "dot.ted"}, "username"),
        ({"username": "ｄｅｍｏ"}, "username"),  # full-width letters are not ASCII letters
        ({"username": "demo\u0000x"}, "username"),
        ({"username": "demo\u202e"}, "username"),
        ({"username": "de\nmo"}, "username"),
        ({"username": "x" * 1_000_000}, "username"),
        ({"password": "short7!"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"password": ""}, "password"),
        ({"username": "Sam_Pass-1", "password": "sam_pass-1"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"username": 123}, "username"),
        ({"username": None}, "username"),
        ({"username": ["demo"]}, "username"),
        ({"password": 12345678}, "password"),
        ({"password": {"a": 1}}, "password"),
        ({"email": 5}, "email"),
        ({"email": True}, "email"),
        ({"captcha": 7}, "captcha"),
        ({"captcha": "x" * 10_000}, "captcha"),
    ],
)
def test_bad_fields_are_400_with_field_messages_and_write_nothing(client, fields, bad):
    body = refused(register(client, **fields), 400, "invalid_input", code=1001)
    assert bad in body["data"]["fields"], body
    assert isinstance(body["data"]["fields"][bad], str)
    assert user_count() == 0


def test_missing_fields_are_named(client):
    body = refused(client.post(REGISTER, json={}), 400, "invalid_input", code=1001)
    assert {"username", "password"} <= set(body["data"]["fields"])
    assert user_count() == 0


def test_a_lone_surrogate_is_400_not_500(client):
    raw = '{"username": "demo", "password": "pass\\ud800word", "email": ""}'
    body = refused(
        client.post(REGISTER, data=raw, content_type="application/json"),
        400,
        "invalid_input",
        code=1001,
    )
    assert "password" in body["data"]["fields"]
    assert user_count() == 0


def test_unicode_passwords_and_emails_are_fine(client):
    got = ok(register(client, password="密码🔑密码🔑密码", email="学生@例子.中国"), 201)
    assert got["email"] == "学生@例子.中国"
    ok(log_in(client, "newbie", "密码🔑密码🔑密码"))


def test_a_megabyte_username_is_refused_not_a_500(make_app):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    with app.app_context():
        response = register(app.test_client(), username="u" * 1_000_000)
        refused(response, 413, "too_large", code=1001)


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ("username=newbie&password=s3cret-pass", "application/x-www-form-urlencoded"),
        ("hello", "text/plain"),
        ('{"username": "newbie", "password": ', "application/json"),
        ('["newbie", "s3cret-pass"]', "application/json"),
        ('"newbie"', "application/json"),
        ("null", "application/json"),
        ("42", "application/json"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(client, payload, content_type):
    response = client.post(REGISTER, data=payload, content_type=content_type)
    refused(response, 400, "invalid_input", code=1001)
    assert user_count() == 0


def test_register_is_post_only(client):
    refused(client.get(REGISTER), 405, "method_not_allowed", code=1001)


def test_a_race_for_the_same_username_is_a_409_not_a_500(client, monkeypatch):
    # The other request inserts the user after our existence check and before our insert.
    monkeypatch.setattr("app.services.accounts.find_user", lambda username: None)
    ok(register(client, username="racer"), 201)
    refused(register(client, username="RACER"), 409, "username_taken", code=1005)
    assert user_count() == 1


# --- login and logout ---------------------------------------------------------------------------


def test_login_answers_a_token_that_authenticates(client):
    user = UserFactory(username="Student")
    got = ok(log_in(client, "student"))
    assert set(got) == {"token", "username", "expires_at"}
    assert got["username"] == "Student"
    assert got["expires_at"].endswith("+00:00")
    expires_at = datetime.fromisoformat(got["expires_at"])
    assert abs(expires_at - (utcnow() + timedelta(days=14))) < timedelta(minutes=1)
    assert tokens.authenticate_token(got["token"]).id == user.id
    db.session.refresh(user)
    assert abs(user.last_login_at - utcnow()) < timedelta(minutes=1)


def test_the_token_is_not_stored_in_plain_text(client):
    UserFactory(username="keeper")
    key = ok(log_in(client, "keeper"))["token"]
    row = db.session.scalar(select(ApiToken))
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    for column in ApiToken.__table__.columns:
        assert key not in str(getattr(row, column.key))


def test_wrong_password_unknown_user_and_disabled_user_look_the_same(client):
    UserFactory(username="alice")
    UserFactory(username="bob", active=False)
    wrong_password = log_in(client, "alice", "not-the-password")
    unknown_user = log_in(client, "nobody", "not-the-password")
    disabled_user = log_in(client, "bob")  # the right password, but disabled
    for response in (wrong_password, unknown_user, disabled_user):
        refused(response, 401, "invalid_credentials", code=1003)
    assert wrong_password.get_json() == unknown_user.get_json() == disabled_user.get_json()
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_an_unknown_user_still_costs_a_password_check(client, monkeypatch):
    from argon2 import PasswordHasher

    from app.services import accounts

    checked = []

    class SpyHasher(PasswordHasher):
        def verify(self, hash, password):
            checked.append(password)
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "hasher", SpyHasher())
    refused(log_in(client, "nobody", "guess-1234"), 401, "invalid_credentials", code=1003)
    assert checked == ["guess-1234"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "alice"},
        {"username": 1, "password": 2},
        {"username": "alice", "password": None},
        {"username": "a" * 1000, "password": "x"},
        {"username": "alice", "password": "p" * 129},
    ],
)
def test_malformed_login_is_400(client, body):
    refused(client.post(LOGIN, json=body), 400, "invalid_input", code=1001)


def test_logout_revokes_the_token_it_is_called_with(client):
    UserFactory(username="carol")
    first = ok(log_in(client, "carol"))["token"]
    second = ok(log_in(client, "carol"))["token"]
    tokens.authenticate_token(first)  # now cached too
    got = ok(client.post(LOGOUT, headers={"Authorization": f"Token {first}"}))
    assert got is None
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(first)
    refused(
        client.post(LOGOUT, headers={"Authorization": f"Token {first}"}),
        401,
        "unauthorized",
        code=1003,
    )
    assert tokens.authenticate_token(second).username == "carol"  # the other one lives on


def test_token_and_bearer_both_work(client):
    UserFactory(username="dave")
    for scheme in ("Token", "Bearer", "token", "bearer"):
        key = ok(log_in(client, "dave"))["token"]
        ok(client.post(LOGOUT, headers={"Authorization": f"{scheme} {key}"}))


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic xyz", "Basic ZGVtbzpkZW1vMTIzNDU=", "Token", "Token ", "Bearer   ", "xyz"],
)
def test_anything_else_is_401_unauthorized(client, header):
    headers = {} if header is None else {"Authorization": header}
    refused(client.post(LOGOUT, headers=headers), 401, "unauthorized", code=1003)


def test_an_unknown_or_absurd_token_is_401(client):
    for key in ("unknown-token", "x" * 5000, "évidemment"):
        refused(
            client.post(LOGOUT, headers={"Authorization": f"Token {key}"}),
            401,
            "unauthorized",
            code=1003,
        )


def test_the_openapi_document_describes_the_account_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "201" in spec["paths"]["/api/v1/auth/register"]["post"]["responses"]
    assert "401" in spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert spec["paths"]["/api/v1/auth/logout"]["post"]["security"] == [{"token": []}]
    captcha_params = spec["paths"]["/api/v1/captcha"]["get"]["parameters"]
    assert [p["name"] for p in captcha_params] == ["action"]
    json.dumps(spec)  # serialisable as it stands


@pytest.mark.real_hasher
def test_passwords_are_hashed_at_least_at_owasps_argon2id_minimum(client):
    from argon2 import extract_parameters

    response = client.post(
        "/api/v1/auth/register", json={"username": "newcomer", "password": "long-enough-1"}
    )
    assert response.status_code == 201
    user = db.session.scalar(select(User).where(User.username == "newcomer"))
    parameters = extract_parameters(user.password_hash)
    assert parameters.type.name == "ID"
    assert parameters.memory_cost >= 19 * 1024  # KiB
    assert parameters.time_cost >= 2
    assert parameters.parallelism >= 1


@pytest.mark.real_hasher
def test_a_hash_made_with_other_parameters_is_made_again_at_login(client):
    from argon2 import PasswordHasher, extract_parameters

    from app.services import accounts

    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)  # the earlier default
    user = UserFactory(password_hash=old.hash(UserFactory.password))
    ok(log_in(client, user.username))
    db.session.expire_all()
    rehashed = db.session.get(User, user.id).password_hash
    assert extract_parameters(rehashed) == extract_parameters(accounts.hash_password("x"))
    assert accounts.hasher.verify(rehashed, UserFactory.password)
    ok(log_in(client, user.username))  # and signs in with the new hash
