"""The catalog's version kept in each process, told of every change by Redis (CLIENT TRACKING).

A warm catalog read makes no round trip; a change made by the process itself is read at once;
a change made anywhere else (another process, an earlier release's INCR, a flush) reaches the
process as Redis's message does, which these tests wait for (a deadline, not a pause). While
the watch has no connection, every request reads the version from Redis, as without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Course, Product
from app.services import catalog_cache
from app.services.catalog_cache import EPOCH_KEY, VERSION_KEY, VersionWatch
from tests.factories import CourseFactory

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("real_redis")]

DEADLINE = 30.0


def eventually(check: Callable[[], bool]) -> None:
    """Until `check()` holds; fails after DEADLINE seconds (a message lost, never a slow one)."""
    give_up = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < give_up, "not seen before the deadline"
        time.sleep(0.01)


def rename_without_telling(course: Course, name: str) -> None:
    """Raw SQL: the catalog's version stays, so only a new version makes anyone read it."""
    db.session.execute(update(Product).where(Product.id == course.id).values(name=name))
    db.session.commit()


def names(client) -> list[str]:
    return [c["name"] for c in client.get("/api/v1/courses").get_json()["data"]["items"]]


@pytest.fixture
def watched(app_with):
    """An app whose processes keep the version (as in production), and its watch, connected."""
    with app_with(CATALOG_VERSION_WATCH=True) as app:
        watch: VersionWatch = app.extensions[catalog_cache.VERSION_WATCH]
        eventually(lambda: watch.current() is not None)
        yield app, watch


def test_a_warm_read_sends_nothing_to_redis(watched, request):
    app, _ = watched
    client = app.test_client()
    course = CourseFactory()
    urls = ["/api/v1/courses", f"/api/v1/courses/{course.id}", "/courses", f"/courses/{course.id}"]
    for url in urls:
        assert client.get(url).status_code == 200
    sent = request.getfixturevalue("redis_commands")  # from here on
    for url in urls:
        assert client.get(url).status_code == 200
    assert [c for c in sent if b"catalog:" in c] == []


def test_the_process_reads_its_own_change_at_once(watched):
    app, _ = watched
    client = app.test_client()
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    db.session.get(Course, course.id).name = "After"
    db.session.commit()
    assert names(client) == ["After"]  # no waiting: the bump gave the process its version


def test_another_process_change_reaches_this_one(watched, make_app):
    app, _ = watched
    client = app.test_client()
    course = CourseFactory(name="Before", brief="A course.")
    assert names(client) == ["Before"]
    other = make_app()  # another process: its own entries, the same Redis and database
    with other.app_context():
        db.session.get(Course, course.id).name = "After"
        db.session.commit()
    eventually(lambda: names(client) == ["After"])
    page = client.get("/courses").get_data(as_text=True)
    assert "After" in page
    assert "Before" not in page


@pytest.mark.parametrize("how", ["an earlier release's INCR", "a flush", "the keys deleted"])
def test_a_change_of_the_keys_by_anyone_is_seen(watched, how):
    app, watch = watched
    client = app.test_client()
    store = app.extensions["redis_store"]
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    held = watch.current()
    rename_without_telling(course, "After")
    if how == "a flush":
        store.raw.flushdb()
    elif how == "the keys deleted":
        store.client.delete(EPOCH_KEY, VERSION_KEY)
    else:
        store.client.incr(VERSION_KEY)
    eventually(lambda: watch.current() not in (None, held))
    assert names(client) == ["After"]


def test_without_the_watch_each_request_reads_the_version(watched):
    app, watch = watched
    client = app.test_client()
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    watch.stop()  # as while it connects or reconnects: nothing is vouched for
    assert watch.current() is None
    rename_without_telling(course, "After")
    app.extensions["redis_store"].client.incr(VERSION_KEY)
    assert names(client) == ["After"]  # at once: this request asked Redis


def test_the_watch_comes_back_after_its_connection_is_dropped(watched):
    app, watch = watched
    client = app.test_client()
    store = app.extensions["redis_store"]
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    store.client.client_kill_filter(_id=watch.connection_id)
    rename_without_telling(course, "After")
    store.client.incr(VERSION_KEY)  # unheard by the dropped connection
    eventually(lambda: watch.current() == catalog_cache.catalog_version())
    assert names(client) == ["After"]
