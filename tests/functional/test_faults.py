"""A backing service down or frozen is a 503 `unavailable` (the envelope on the API, a page in
the visitor's language elsewhere), within the timeouts, logged once per request; a write that
was committed is answered as done. The servers broken here are the test's own (tests/servers.py).
"""

from __future__ import annotations

import logging

import pymysql
import pytest
import redis
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Order
from tests.api import ok, refused
from tests.factories import CourseFactory, UserFactory
from tests.pages import sign_in
from tests.servers import closed_port, frozen_server, own_redis

# Real commits: what these tests break and read sits outside the test's rolled-back transaction
# (another engine, a killed connection, a server of their own).
pytestmark = pytest.mark.real_commits

OUTAGE_LOGGER = "app.blueprints.errors"


def unavailable(response, service: str) -> None:
    body = refused(response, 503, "unavailable", code=1030)
    assert body["data"] == {"service": service}
    assert response.headers["Retry-After"]


def outage_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == OUTAGE_LOGGER and r.levelno >= logging.ERROR]


def assert_logged_once(caplog, service: str) -> None:
    lines = outage_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert f"the {service} is not answering" in lines[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records), "no traceback for an outage"


@pytest.fixture
def redis_server(real_redis):
    with own_redis() as server:
        yield server


@pytest.fixture
def on_own_redis(make_app, redis_server):
    """An app whose Redis is a server of the test's own (to freeze and stop)."""
    from tests.conftest import clean_database

    app = make_app(REDIS_URL=redis_server.url, REDIS_SOCKET_TIMEOUT=0.5)
    with app.app_context():
        yield app
        db.session.remove()
        clean_database(app)


def mysql_url_on(port: int) -> str:
    return f"mysql+pymysql://root@127.0.0.1:{port}/faults?charset=utf8mb4"


# --- Redis ----------------------------------------------------------------------------------------


def test_a_frozen_redis_is_a_503_on_the_api_logged_once(on_own_redis, redis_server, caplog):
    student = UserFactory()
    from app.services.tokens import issue_token

    key, _ = issue_token(student)
    db.session.commit()
    client = on_own_redis.test_client()
    headers = {"Authorization": f"Token {key}"}
    assert client.get("/api/v1/cart", headers=headers).status_code == 200
    redis_server.freeze()
    caplog.clear()
    unavailable(client.get("/api/v1/cart", headers=headers), "redis")
    assert_logged_once(caplog, "redis")


@pytest.mark.parametrize(
    ("lang", "title"), [("zh", "服务暂时不可用"), ("en", "A service is not answering")]
)
def test_a_signed_in_page_with_redis_down_is_a_503_page_in_the_visitors_language(
    on_own_redis, redis_server, caplog, lang, title
):
    client = on_own_redis.test_client()
    sign_in(client, UserFactory())
    client.set_cookie("lang", lang)
    assert client.get("/orders").status_code == 200
    redis_server.stop()
    caplog.clear()
    response = client.get("/orders")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert title in response.get_data(as_text=True)
    assert_logged_once(caplog, "redis")


def test_a_session_that_cannot_be_saved_after_the_view_is_a_503_not_a_500(
    app, client, monkeypatch, caplog
):
    course = CourseFactory(policies=[(30, "99.00")])

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    # The view succeeds (a visitor's cart lives in the session); storing the session fails.
    monkeypatch.setattr(app.session_interface.client, "set", refuse)
    response = client.post(
        "/cart/add",
        data={
            "item_type": "course",
            "item_id": course.id,
            "price_policy_id": course.price_policies[0].id,
        },
    )
    assert response.status_code == 503
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert "服务暂时不可用" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"]  # still every page's headers
    assert_logged_once(caplog, "redis")


# --- the database ---------------------------------------------------------------------------------


def test_a_database_that_is_down_is_a_503_on_the_api_and_the_pages(make_app, caplog):
    app = make_app(SQLALCHEMY_DATABASE_URI=mysql_url_on(closed_port()), DB_CONNECT_TIMEOUT=1)
    client = app.test_client()
    caplog.clear()
    unavailable(client.get("/api/v1/courses/1"), "database")
    assert_logged_once(caplog, "database")
    caplog.clear()
    page = client.get("/courses/1?lang=en")
    assert page.status_code == 503
    assert "A service is not answering" in page.get_data(as_text=True)
    assert_logged_once(caplog, "database")


def test_a_frozen_database_is_a_503_after_the_connect_timeout(make_app, caplog):
    with frozen_server() as port:
        # The server accepts the connection and never greets: PyMySQL waits for the greeting
        # as for any reply, up to the read timeout.
        app = make_app(
            SQLALCHEMY_DATABASE_URI=mysql_url_on(port), DB_CONNECT_TIMEOUT=1, DB_READ_TIMEOUT=1
        )
        caplog.clear()
        unavailable(app.test_client().get("/api/v1/courses/1"), "database")
    assert_logged_once(caplog, "database")


def test_database_timeouts_come_from_the_configuration(make_app, services):
    if not services.mariadb:
        pytest.skip(services.why_not.get("mariadb", "not running on MariaDB"))
    app = make_app(DB_CONNECT_TIMEOUT=4, DB_READ_TIMEOUT=9)
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"] == {"connect_timeout": 4, "read_timeout": 9, "write_timeout": 9}


def test_healthz_answers_when_both_servers_are_frozen(make_app, redis_server):
    with frozen_server() as db_port:
        app = make_app(SQLALCHEMY_DATABASE_URI=mysql_url_on(db_port), REDIS_URL=redis_server.url)
        redis_server.freeze()
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "unavailable", "redis": "unavailable"}
    redis_server.thaw()
    assert app.test_client().get("/healthz").get_json()["redis"] == "ok"


@pytest.fixture
def kill_connection_after_commit(services):
    """Once `["on"]`: the next commit that writes an order loses its connection right after
    it, and no new connection is made until `["gone"]` is cleared: the database is gone."""
    place = make_url(services.database_url)
    armed = {"on": False, "killed": 0, "gone": False}

    def refuse_to_connect(dialect, conn_rec, cargs, cparams):
        if armed["gone"]:
            raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server (faults)")

    def after_flush(session, context):
        if armed["on"] and any(isinstance(o, Order) for o in session.new):
            dbapi = session.connection().connection.dbapi_connection
            session.info["faults.thread_id"] = dbapi.thread_id()

    def after_commit(session):
        if session.get_nested_transaction() is not None:  # a savepoint: nothing committed yet
            return
        thread_id = session.info.pop("faults.thread_id", None)
        if thread_id is None:
            return
        armed["on"] = False
        killer = pymysql.connect(host=place.host, port=place.port or 3306, user=place.username)
        with killer, killer.cursor() as cur:
            cur.execute(f"KILL CONNECTION {int(thread_id)}")
        armed["killed"] += 1
        armed["gone"] = True

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "after_commit", after_commit)
    event.listen(Engine, "do_connect", refuse_to_connect)
    yield armed
    event.remove(Session, "after_flush", after_flush)
    event.remove(Session, "after_commit", after_commit)
    event.remove(Engine, "do_connect", refuse_to_connect)


def test_an_order_committed_just_before_the_database_goes_is_answered_as_placed(
    mariadb, client, headers, kill_connection_after_commit
):
    course = CourseFactory(policies=[(30, "99.00")])
    body = {
        "items": [
            {
                "item_type": "course",
                "item_id": course.id,
                "price_policy_id": course.price_policies[0].id,
            }
        ],
        "expected_amount": "99.00",
        "payment_method": "sandbox",
    }
    kill_connection_after_commit["on"] = True
    keyed = {**headers, "Idempotency-Key": "faults-after-commit"}
    order = ok(client.post("/api/v1/orders", json=body, headers=keyed), 201)
    assert kill_connection_after_commit["killed"] == 1
    kill_connection_after_commit["gone"] = False  # the database is back
    assert order["status"] == "pending"
    assert [line["item_id"] for line in order["lines"]] == [course.id]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) == 1
    stored = db.session.scalar(select(Order))
    assert stored.order_no == order["order_no"]
    again = ok(client.post("/api/v1/orders", json=body, headers=keyed), 200)
    assert again["order_no"] == order["order_no"]
