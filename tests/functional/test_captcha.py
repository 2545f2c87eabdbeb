"""The ALTCHA bot check: bound to its action, short-lived, accepted once, and on the API."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import altcha
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.extensions import db
from app.models.types import utcnow
from app.services import captcha
from app.services.errors import CaptchaInvalid, InvalidInput, Unavailable
from tests.factories import UserFactory

EASY = {"CAPTCHA_ENABLED": True, "CAPTCHA_COST": 1, "CAPTCHA_MAX_NUMBER": 40}


@pytest.fixture
def captcha_app(app_with):
    """The app with the bot check on (and easy to solve), on a clean database and Redis."""
    with app_with(**EASY) as app:
        yield app


@pytest.fixture
def client(captcha_app):
    return captcha_app.test_client()


def solve(challenge: dict) -> str:
    """What the widget sends: the challenge with its solution, base64-encoded."""
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed, timeout=10)
    assert solution is not None
    return altcha.Payload(parsed, solution).to_base64()


def solved(action: str) -> str:
    return solve(captcha.new_challenge(action))


def encoded(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def refused_captcha(response):
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["code"] == 1007
    assert body["error"] == "captcha_invalid"
    return body


# --- the service --------------------------------------------------------------------------------


def test_a_challenge_is_signed_bound_to_its_action_and_expires_in_5_minutes(captcha_app):
    challenge = captcha.new_challenge("register")
    params = challenge["parameters"]
    assert challenge["signature"]
    assert params["data"] == {"action": "register"}
    assert abs(params["expiresAt"] - (utcnow() + timedelta(minutes=5)).timestamp()) < 5
    assert params["keySignature"]  # checked by its signature, not by redoing the work


def test_the_default_challenge_is_real_work(app):
    params = captcha.new_challenge("login")["parameters"]
    assert params["algorithm"] == "PBKDF2/SHA-256"
    assert params["cost"] >= 1000


def test_a_solution_is_accepted_once_and_the_replay_refused(captcha_app):
    payload = solved("login")
    captcha.verify("login", payload)
    with pytest.raises(CaptchaInvalid) as replay:
        captcha.verify("login", payload)
    assert replay.value.code == 1007
    assert replay.value.slug == "captcha_invalid"


def test_the_replay_record_lasts_as_long_as_the_challenge(captcha_app):
    challenge = captcha.new_challenge("login")
    captcha.verify("login", solve(challenge))
    store = captcha_app.extensions["redis_store"].client
    ttl = store.ttl("captcha_used:" + challenge["signature"])
    assert 250 < ttl <= 301


def test_an_expired_challenge_is_refused(captcha_app, monkeypatch):
    monkeypatch.setattr(captcha, "utcnow", lambda: utcnow() - timedelta(minutes=6))
    challenge = captcha.new_challenge("login")
    monkeypatch.undo()
    with pytest.raises(CaptchaInvalid, match="expired"):
        captcha.verify("login", solve(challenge))


def test_a_challenge_is_refused_past_its_life_by_our_own_clock(captcha_app, monkeypatch):
    payload = solved("login")
    monkeypatch.setattr(captcha, "utcnow", lambda: utcnow() + timedelta(minutes=5, seconds=1))
    with pytest.raises(CaptchaInvalid, match="expired"):
        captcha.verify("login", payload)


def test_a_solution_for_register_is_refused_for_login(captcha_app):
    payload = solved("register")
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", payload)
    captcha.verify("register", payload)  # still good for what it was made for


def test_relabelling_the_action_breaks_the_signature(captcha_app):
    challenge = captcha.new_challenge("register")
    challenge["parameters"]["data"] = {"action": "login"}
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", solve(challenge))


def test_a_wrong_solution_is_refused(captcha_app):
    challenge = captcha.new_challenge("login")
    payload = json.loads(base64.b64decode(solve(challenge)))
    payload["solution"]["derivedKey"] = "00" * 32
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", encoded(payload))


def test_a_challenge_signed_with_another_key_is_refused(captcha_app):
    payload = solved("login")
    captcha_app.config["SECRET_KEY"] = "another-secret-key"
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", payload)


def test_an_unsigned_challenge_is_refused(captcha_app):
    challenge = altcha.create_challenge(
        "PBKDF2/SHA-256",
        1,
        counter=3,
        data={"action": "login"},
        expires_at=utcnow() + timedelta(minutes=5),
    )
    solution = altcha.solve_challenge(challenge, timeout=10)
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", altcha.Payload(challenge, solution).to_base64())


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        "   ",
        42,
        ["x"],
        "not base64 at all!",
        base64.b64encode(b"\xff\xfe\x00").decode(),
        base64.b64encode(b"not json").decode(),
        encoded([]),
        encoded({}),
        encoded({"challenge": 1, "solution": 2}),
        encoded({"challenge": {"parameters": {}}, "solution": {}}),
        encoded({"challenge": {"parameters": "x", "signature": "y"}, "solution": {"counter": 1}}),
        "W" * 5000,
        base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode()[:4000],
    ],
)
def test_a_malformed_payload_is_refused(captcha_app, payload):
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", payload)


def test_a_deeply_nested_payload_is_refused(captcha_app, monkeypatch):
    monkeypatch.setattr(captcha, "PAYLOAD_MAX_LENGTH", 10**7)
    nested = base64.b64encode(b'{"challenge":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(CaptchaInvalid):
        captcha.verify("login", nested.decode())


def test_an_unknown_action_gets_no_challenge(captcha_app):
    with pytest.raises(InvalidInput):
        captcha.new_challenge("admin")


def test_turned_off_the_check_accepts_anything(app):
    assert app.config["CAPTCHA_ENABLED"] is False
    captcha.verify("login", None)
    captcha.verify("register", "garbage")


def test_without_redis_a_solution_is_not_accepted(captcha_app, monkeypatch):
    payload = solved("login")
    store = captcha_app.extensions["redis_store"]
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(store, "client", dead)
    with pytest.raises(Unavailable):
        captcha.verify("login", payload)


# --- the API ------------------------------------------------------------------------------------


def test_get_captcha_answers_a_challenge_for_the_action(client):
    response = client.get("/api/v1/captcha?action=register")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["data"]["parameters"]["data"] == {"action": "register"}
    assert body["data"]["signature"]


@pytest.mark.parametrize("query", ["", "?action=", "?action=admin", "?action=LOGIN"])
def test_get_captcha_for_another_action_is_400(client, query):
    body = client.get(f"/api/v1/captcha{query}").get_json()
    assert body["code"] == 1001
    assert "action" in body["data"]["fields"]


def test_register_without_the_bot_check_is_refused_and_writes_nothing(client):
    body = {"username": "robot", "password": "s3cret-pass"}
    refused_captcha(client.post("/api/v1/auth/register", json=body))
    refused_captcha(client.post("/api/v1/auth/register", json=body | {"captcha": ""}))
    refused_captcha(client.post("/api/v1/auth/register", json=body | {"captcha": "junk"}))
    from app.models import User

    assert db.session.query(User).count() == 0


def test_register_and_login_with_the_bot_check_solved(client):
    challenge = client.get("/api/v1/captcha?action=register").get_json()["data"]
    payload = solve(challenge)
    body = {"username": "human", "password": "s3cret-pass", "captcha": payload}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    again = body | {"username": "human2"}
    refused_captcha(client.post("/api/v1/auth/register", json=again))  # a replay

    login = {"username": "human", "password": "s3cret-pass", "captcha": payload}
    refused_captcha(client.post("/api/v1/auth/login", json=login))  # made for register
    login["captcha"] = solve(client.get("/api/v1/captcha?action=login").get_json()["data"])
    response = client.post("/api/v1/auth/login", json=login)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["token"]


def test_login_without_the_bot_check_is_refused_before_the_password_is_checked(client):
    UserFactory(username="human")
    body = {"username": "human", "password": UserFactory.password}
    refused_captcha(client.post("/api/v1/auth/login", json=body))
