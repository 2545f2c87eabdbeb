"""Rate limits at the contract's figures: login, register and the bot check, per address and per
username; off with RATELIMIT_ENABLED=0; /healthz never; the real address behind a proxy."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from app.security import client_address, submitted_username, username_key
from app.services.errors import Unauthorized
from tests.conftest import flush_redis
from tests.factories import UserFactory

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
CAPTCHA = "/api/v1/captcha?action=login"


@pytest.fixture
def limited_app(app_with):
    """The app with its rate limits on, on a clean database and Redis."""
    with app_with(RATELIMIT_ENABLED=True, CAPTCHA_COST=1) as app:
        yield app


@pytest.fixture
def client(limited_app):
    return limited_app.test_client()


@pytest.fixture(autouse=True)
def quick_refusals(monkeypatch):
    """Every login is refused at once: these tests count requests, and argon2 is slow on
    purpose (the account tests check the real refusal)."""

    def refuse(username, password):
        raise Unauthorized("Wrong username or password.", slug="invalid_credentials")

    monkeypatch.setattr("app.services.tokens.log_in", refuse)
    monkeypatch.setattr("app.services.sessions.log_in", refuse)


@pytest.fixture
def clock(monkeypatch):
    """Moves the limiter's clock: `clock.advance(61)` is a minute and a second later."""
    offset = [0.0]
    fake = SimpleNamespace(time=lambda: time.time() + offset[0])
    for module in ("limits.storage.redis", "limits.storage.memory", "app.security"):
        monkeypatch.setattr(f"{module}.time", fake)
    return SimpleNamespace(advance=lambda seconds: offset.__setitem__(0, offset[0] + seconds))


def log_in(client, username="nobody", address="198.51.100.1", **kwargs):
    return client.post(
        LOGIN,
        json={"username": username, "password": "wrong-password"},
        environ_base={"REMOTE_ADDR": address},
        **kwargs,
    )


def register(client, username, address="198.51.100.1"):
    body = {"username": username, "password": "s3cret-pass"}
    return client.post(REGISTER, json=body, environ_base={"REMOTE_ADDR": address})


def allowed(response, status=401):
    assert response.status_code == status, response.get_json()
    return response


def limited(response) -> int:
    """Asserts the contract's 429 and answers its Retry-After in seconds."""
    body = response.get_json()
    assert response.status_code == 429, body
    assert body["code"] == 1006
    assert body["error"] == "rate_limited"
    assert body["data"] is None
    assert body["msg"]
    return int(response.headers["Retry-After"])


# --- login ----------------------------------------------------------------------------------


def test_the_sixth_login_in_a_minute_from_one_address_is_429(client):
    for _ in range(5):
        allowed(log_in(client))
    retry_after = limited(log_in(client))
    assert 1 <= retry_after <= 60


def test_good_logins_count_too(client, monkeypatch):
    monkeypatch.undo()  # the real password check, this once
    UserFactory(username="demo")
    body = {"username": "demo", "password": UserFactory.password}
    for _ in range(5):
        allowed(client.post(LOGIN, json=body), 200)
    limited(client.post(LOGIN, json=body))


def test_each_address_has_its_own_count(client):
    for _ in range(5):
        allowed(log_in(client, address="198.51.100.1"))
    limited(log_in(client, address="198.51.100.1"))
    allowed(log_in(client, address="198.51.100.2"))


def test_a_refused_login_never_reaches_the_password_check(client, monkeypatch):
    for _ in range(5):
        allowed(log_in(client))
    monkeypatch.setattr(
        "app.services.tokens.log_in", lambda *a: pytest.fail("the limit must come first")
    )
    limited(log_in(client))


def test_the_minute_limit_lifts_after_a_minute(client, clock):
    for _ in range(5):
        allowed(log_in(client))
    limited(log_in(client))
    clock.advance(61)
    allowed(log_in(client))


def test_thirty_logins_an_hour_per_address(client, clock):
    # Six minutes of five logins each, for different usernames (each has its own limit too).
    for minute in range(6):
        for attempt in range(5):
            allowed(log_in(client, username=f"user{minute}x{attempt}"))
        clock.advance(61)
    retry_after = limited(log_in(client, username="one-more"))
    assert 60 < retry_after <= 3600


def test_ten_logins_an_hour_per_username_from_any_address(client):
    # Demo, DEMO and demo are one user: they share one count, whatever the address.
    for number, name in enumerate(["Victim", "victim", "VICTIM", " victim"] * 2 + ["vIcTiM"] * 2):
        allowed(log_in(client, username=name, address=f"203.0.113.{number + 1}"))
    limited(log_in(client, username="victim", address="203.0.113.200"))
    # The address itself is not limited: another username from it goes through.
    allowed(log_in(client, username="someone-else", address="203.0.113.200"))


def test_ipv6_clients_are_counted_by_their_64(client):
    for host in range(1, 6):
        allowed(log_in(client, address=f"2001:db8:0:1::{host}"))
    limited(log_in(client, address="2001:db8:0:1::99"))
    allowed(log_in(client, address="2001:db8:0:2::1"))


def test_redis_holds_no_usernames(limited_app, client, real_redis):
    allowed(log_in(client, username="SecretName"))
    keys = limited_app.extensions["redis_store"].client.keys("limiter:*")
    assert keys, "the limiter counts in Redis, under its own prefix"
    assert not [key for key in keys if "secretname" in key.lower()]


# --- register and the bot check ---------------------------------------------------------------


def test_five_registrations_an_hour_per_address(client):
    for number in range(5):
        allowed(register(client, f"newbie{number}"), 201)
    retry_after = limited(register(client, "newbie5"))
    assert 60 < retry_after <= 3600
    allowed(register(client, "newbie6", address="198.51.100.9"), 201)


def test_thirty_captcha_challenges_a_minute_per_address(client):
    for _ in range(30):
        allowed(client.get(CAPTCHA, environ_base={"REMOTE_ADDR": "198.51.100.1"}), 200)
    assert 1 <= limited(client.get(CAPTCHA, environ_base={"REMOTE_ADDR": "198.51.100.1"})) <= 60
    allowed(client.get(CAPTCHA, environ_base={"REMOTE_ADDR": "198.51.100.2"}), 200)


def test_the_openapi_document_names_the_429(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/register", "post"),
        ("/api/v1/captcha", "get"),
    ]:
        assert "429" in paths[path][method]["responses"], path
    assert "429" not in paths["/api/v1/auth/logout"]["post"]["responses"]


# --- the pages ----------------------------------------------------------------------------------


def page_log_in(client, username="nobody", address="198.51.100.1", **query):
    form = {"username": username, "password": "wrong-password"}
    return client.post(
        "/login", data=form, query_string=query, environ_base={"REMOTE_ADDR": address}
    )


def limited_page(response) -> str:
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    return response.get_data(as_text=True)


def test_the_login_page_is_limited_with_a_friendly_page(client):
    for _ in range(10):  # showing the form costs nothing
        allowed(client.get("/login", environ_base={"REMOTE_ADDR": "198.51.100.1"}), 200)
    for _ in range(5):
        allowed(page_log_in(client), 400)
    page = limited_page(page_log_in(client))
    assert "请求过于频繁" in page
    assert "秒后再试" in page  # how long, in the page's language
    page = limited_page(page_log_in(client, lang="en"))
    assert "Too many requests" in page
    assert "Please wait a moment and try again." in page
    assert "Please try again in" in page


def test_the_api_and_the_pages_share_their_counts(client):
    for _ in range(3):
        allowed(log_in(client))
    for _ in range(2):
        allowed(page_log_in(client), 400)
    limited_page(page_log_in(client))
    limited(log_in(client))
    # Per username too: five tries on the API and five on the pages, from ten addresses.
    for number in range(10):
        try_once = log_in if number % 2 else page_log_in
        assert try_once(client, "Victim", f"203.0.113.{number + 1}").status_code in (400, 401)
    limited_page(page_log_in(client, "victim", "203.0.113.100"))


def test_the_register_page_is_limited(client):
    for number in range(5):
        form = {"username": f"newbie{number}", "password": "s3cret-pass", "confirm": "nope"}
        response = client.post("/register", data=form, environ_base={"REMOTE_ADDR": "10.1.1.1"})
        allowed(response, 400)
    limited_page(
        client.post("/register", data={"username": "x"}, environ_base={"REMOTE_ADDR": "10.1.1.1"})
    )


def test_the_pages_challenge_shares_the_captcha_limit(client):
    address = {"REMOTE_ADDR": "198.51.100.1"}
    for number in range(30):
        path = CAPTCHA if number % 2 else "/captcha/challenge?action=login"
        allowed(client.get(path, environ_base=address), 200)
    limited_page(client.get("/captcha/challenge?action=login", environ_base=address))
    limited(client.get(CAPTCHA, environ_base=address))


# --- off, never, and when Redis fails ---------------------------------------------------------


def test_ratelimit_enabled_0_means_no_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    flush_redis(app)
    client = app.test_client()
    for _ in range(12):
        allowed(log_in(client, username="victim"))


def test_healthz_and_static_files_are_never_limited(client):
    for _ in range(5):
        allowed(log_in(client))
    limited(log_in(client))
    address = {"REMOTE_ADDR": "198.51.100.1"}
    for _ in range(40):
        assert client.get("/healthz", environ_base=address).status_code == 200
    static = client.get("/static/css/app.css", environ_base=address)
    assert static.status_code == 200
    static.close()


def test_a_dead_limiter_store_never_breaks_login(make_app):
    # Nothing listens on port 1: the limiter falls back to counting in memory.
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    client = app.test_client()
    for _ in range(5):
        allowed(log_in(client))
    limited(log_in(client))


def test_with_an_in_process_redis_the_limits_count_in_memory(make_app):
    from limits.storage import MemoryStorage

    app = make_app(RATELIMIT_ENABLED=True, REDIS_URL="redis://127.0.0.1:1/0")
    assert app.extensions["redis_store"].embedded
    assert isinstance(app.extensions["security"].limiter.storage, MemoryStorage)
    client = app.test_client()
    for _ in range(5):
        allowed(log_in(client))
    limited(log_in(client))


# --- behind a proxy ---------------------------------------------------------------------------


def through_proxy(client, forwarded_for: str):
    headers = {"X-Forwarded-For": forwarded_for}
    return log_in(client, address="10.0.0.5", headers=headers)


def test_behind_one_proxy_the_forwarded_address_is_the_one_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, PROXY_FIX_X_FOR=1)
    flush_redis(app)
    client = app.test_client()
    for _ in range(5):
        allowed(through_proxy(client, "203.0.113.7"))
    limited(through_proxy(client, "203.0.113.7"))
    allowed(through_proxy(client, "203.0.113.8"))  # another client behind the same proxy
    # A client's own X-Forwarded-For is left of what the proxy appends: it changes nothing.
    limited(through_proxy(client, "192.0.2.1, 203.0.113.7"))
    flush_redis(app)


def test_without_proxy_fix_the_forwarded_header_is_ignored(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    flush_redis(app)
    client = app.test_client()
    for number in range(5):
        allowed(through_proxy(client, f"203.0.113.{number + 1}"))
    limited(through_proxy(client, "203.0.113.99"))
    flush_redis(app)


# --- the keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"json": {"username": "Demo"}}, "demo"),
        ({"json": {"username": " DEMO "}}, "demo"),
        ({"data": {"username": "DeMo", "password": "x"}}, "demo"),
        ({"json": {"username": 7}}, ""),
        ({"json": ["demo"]}, ""),
        ({"json": {}}, ""),
        ({"data": {}}, ""),
        ({"data": "{not json", "content_type": "application/json"}, ""),
    ],
)
def test_the_username_a_request_names(app, kwargs, expected):
    with app.test_request_context("/login", method="POST", **kwargs):
        assert submitted_username() == expected


def test_a_username_key_is_short_and_hides_the_name(app):
    with app.test_request_context("/login", method="POST", json={"username": "x" * 10_000}):
        key = username_key()
    assert len(key) < 64
    assert "xxx" not in key
    with app.test_request_context("/login", method="POST", json={"username": "a\ud800b"}):
        assert username_key().startswith("user:")  # a lone surrogate is no 500


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.1", "addr:198.51.100.1"),
        ("::ffff:198.51.100.1", "addr:198.51.100.1"),
        ("2001:db8:0:1:aaaa::1", "net6:2001:db8:0:1::"),
        ("not-an-address", "addr:not-an-address"),
    ],
)
def test_client_address_keys(app, address, key):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": address}):
        assert client_address() == key
