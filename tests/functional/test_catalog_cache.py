"""Catalog reads come from the process or Redis until the catalog changes, then never stale."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import redis
from flask import jsonify
from sqlalchemy import update

from app.blueprints.api.envelope import JSONData, ok_response
from app.extensions import db
from app.models import Course, PricePolicy, Product
from app.schemas import catalog_reads
from app.services import catalog, catalog_cache
from app.services.catalog_cache import EPOCH_KEY, VERSION_KEY, LocalEntries, catalog_version
from tests.factories import CourseFactory, TeacherFactory


def names(client):
    return [c["name"] for c in client.get("/api/v1/courses").get_json()["data"]["items"]]


def rename_without_telling(course, name: str) -> None:
    """Raw SQL: the catalog's version stays, so only a read of the database can see it."""
    db.session.execute(update(Product).where(Product.id == course.id).values(name=name))
    db.session.commit()


def test_reads_are_served_from_the_cache(client, count_queries):
    CourseFactory(name="Cached")
    names(client)
    client.get("/api/v1/categories")
    with count_queries() as counter:
        assert names(client) == ["Cached"]
        client.get("/api/v1/categories")
    assert counter.count == 0


def test_a_write_that_bypasses_the_orm_is_not_seen_until_a_catalog_change(client):
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    # Raw SQL tells nobody: the cached list stays (which is why writes go through the ORM).
    rename_without_telling(course, "Raw")
    assert names(client) == ["Before"]
    CourseFactory(name="Another")  # any catalog change bumps the version
    assert sorted(names(client)) == ["Another", "Raw"]


def test_editing_a_price_invalidates_at_once(client):
    course = CourseFactory(policies=[(30, "99.00")])
    client.get(f"/api/v1/courses/{course.id}")
    version = catalog_version()
    policy = db.session.get(PricePolicy, course.price_policies[0].id)
    policy.price = Decimal("79.00")
    db.session.commit()
    assert catalog_version() != version
    got = client.get(f"/api/v1/courses/{course.id}").get_json()["data"]
    assert got["price_policies"][0]["price"] == "79.00"
    assert (
        client.get("/api/v1/courses").get_json()["data"]["items"][0]["price_policies"][0]["price"]
        == "79.00"
    )


def test_hiding_a_course_takes_effect_at_once(client):
    course = CourseFactory()
    assert client.get(f"/api/v1/courses/{course.id}").status_code == 200
    course.status = "offline"
    db.session.commit()
    assert client.get(f"/api/v1/courses/{course.id}").status_code == 404
    assert names(client) == []


def test_linking_a_teacher_invalidates(client):
    course = CourseFactory()
    client.get(f"/api/v1/courses/{course.id}")
    teacher = TeacherFactory(name="Alex")
    course.teachers.append(teacher)
    db.session.commit()
    got = client.get(f"/api/v1/courses/{course.id}").get_json()["data"]
    assert [t["name"] for t in got["teachers"]] == ["Alex"]


def test_a_rolled_back_change_does_not_bump(app):
    CourseFactory()
    version = catalog_version()
    db.session.add(Course(name="Never", slug="never"))
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert catalog_version() == version


def test_a_change_outside_the_catalog_does_not_bump(app):
    from tests.factories import UserFactory

    version = catalog_version()
    UserFactory()
    assert catalog_version() == version


# --- the version --------------------------------------------------------------------------------


def test_every_bump_gives_a_version_never_seen_before(app):
    seen = {catalog_version()}
    for number in range(5):
        CourseFactory(name=f"Course {number}")
        seen.add(catalog_version())
    assert len(seen) == 6


def test_a_lost_version_is_replaced_by_a_new_one_not_an_old_one(app):
    redis = app.extensions["redis_store"].client
    seen = {catalog_version()}
    for _ in range(3):
        redis.delete(EPOCH_KEY, VERSION_KEY)  # a flush, or a restart without persistence
        version = catalog_version()
        assert version not in seen
        assert catalog_version() == version  # and it stays
        seen.add(version)


def test_the_change_count_stays_a_number_for_earlier_releases(app):
    redis = app.extensions["redis_store"].client
    CourseFactory()
    before = int(redis.get(VERSION_KEY))
    CourseFactory()
    assert int(redis.get(VERSION_KEY)) > before


# --- this process's entries ---------------------------------------------------------------------


def test_a_flush_of_redis_never_serves_what_the_process_kept(app, client):
    # A counter would start again after the flush, meet the version the process kept its
    # entries under, and serve them: the version is a random token instead.
    redis = app.extensions["redis_store"].raw
    course = CourseFactory(name="Before")
    redis.flushdb()
    assert names(client) == ["Before"]  # kept under the version made after the flush
    rename_without_telling(course, "After")
    redis.flushdb()
    assert names(client) == ["After"]
    assert "After" in client.get(f"/courses/{course.id}").get_data(as_text=True)


def test_another_process_bump_is_seen_at_once(make_app, app, client):
    course = CourseFactory(name="Before", brief="A course.")
    assert names(client) == ["Before"]
    other = make_app()  # another process: its own entries, the same Redis and database
    with other.app_context():
        assert names(other.test_client()) == ["Before"]
        changed = db.session.get(Course, course.id)
        changed.name = "After"
        db.session.commit()
    assert names(client) == ["After"]
    page = client.get("/courses").get_data(as_text=True)
    assert "After" in page
    assert "Before" not in page


def test_a_bump_by_an_earlier_release_is_seen_at_once(app, client):
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    rename_without_telling(course, "After")
    app.extensions["redis_store"].client.incr(VERSION_KEY)  # all that an earlier release did
    assert names(client) == ["After"]


def test_a_warm_read_makes_one_redis_round_trip(app, client, request):
    course = CourseFactory()
    urls = ["/api/v1/courses", f"/api/v1/courses/{course.id}", "/courses", f"/courses/{course.id}"]
    for url in urls:
        client.get(url)
    sent = request.getfixturevalue("redis_commands")  # from here on
    mget = redis.connection.Connection().pack_command("MGET", EPOCH_KEY, VERSION_KEY)[0]
    for url in urls:
        sent.clear()
        assert client.get(url).status_code == 200
        assert [c for c in sent if b"catalog:" in c] == [mget], url


def test_the_version_is_read_again_after_redis_dropped_the_connection(
    real_redis, app, client, caplog
):
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    # Redis closes every idle connection (a timeout, a restart): the next read makes a new one.
    # Only this app's database's: other test processes share the server.
    killer = redis.Redis.from_url(app.config["REDIS_URL"])
    own = killer.client_id()
    database = killer.connection_pool.connection_kwargs["db"]
    for held in killer.client_list():
        if held["id"] != str(own) and held["db"] == str(database):
            killer.client_kill_filter(_id=held["id"])
    killer.close()
    db.session.get(Course, course.id).name = "After"
    db.session.commit()
    assert names(client) == ["After"]  # on a new connection, with the new version
    assert "catalog cache unavailable" not in caplog.text  # not the database as a fallback


def test_a_request_reads_the_version_once(app, client, monkeypatch):
    CourseFactory()
    reads = []
    original = catalog_cache.catalog_version

    def counting():
        reads.append(1)
        return original()

    monkeypatch.setattr(catalog_cache, "catalog_version", counting)
    # Three catalog reads: the page's kept fragment, the course list and the categories ("/"
    # is a pre-rendered file now, which reads no catalog).
    assert client.get("/courses").status_code == 200
    assert len(reads) == 1


def test_a_change_committed_by_the_request_itself_is_read_at_the_new_version(app):
    course = CourseFactory(name="Before")
    with app.test_request_context("/"):
        assert catalog_reads.get_course(course.id)["name"] == "Before"
        db.session.get(Course, course.id).name = "After"
        db.session.commit()
        assert catalog_reads.get_course(course.id)["name"] == "After"


def test_the_process_keeps_a_bounded_number_of_entries(app, make_app):
    small = make_app(CATALOG_LOCAL_ENTRIES=3)  # `app` cleans the database and Redis after
    with small.app_context():
        CourseFactory()
        client = small.test_client()
        for page in range(1, 6):
            client.get(f"/api/v1/courses?page={page}")
        assert len(small.extensions[catalog_cache.EXTENSION]) == 3


def test_the_least_recently_used_entry_goes_first():
    entries = LocalEntries(max_entries=2, max_age=60)
    assert entries.get("v1", "a") is None
    entries.put("v1", "a", "A")
    entries.put("v1", "b", "B")
    assert entries.get("v1", "a") == "A"  # now b is the least recently used
    entries.put("v1", "c", "C")
    assert entries.get("v1", "b") is None
    assert entries.get("v1", "a") == "A"
    assert entries.get("v1", "c") == "C"


def test_a_new_version_drops_the_entries_of_the_old_one():
    entries = LocalEntries(max_entries=10, max_age=60)
    entries.get("v1", "a")
    entries.put("v1", "a", "A")
    assert entries.get("v2", "a") is None
    assert len(entries) == 0
    entries.put("v1", "a", "A")  # a late reader of the old version keeps nothing
    assert entries.get("v2", "a") is None


def test_entries_age_out_like_those_in_redis(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(catalog_cache.time, "monotonic", lambda: now[0])
    entries = LocalEntries(max_entries=10, max_age=600)
    entries.get("v1", "a")
    entries.put("v1", "a", "A")
    now[0] += 599
    assert entries.get("v1", "a") == "A"
    now[0] += 2
    assert entries.get("v1", "a") is None


# --- JSON and pages -----------------------------------------------------------------------------


def test_the_encoded_answer_is_what_jsonify_writes(app, client):
    course = CourseFactory(name="课程 “quoted”", policies=[(30, "99.00"), (0, "199.00")])
    for url, read in [
        (f"/api/v1/courses/{course.id}", lambda: catalog_reads.get_course(course.id)),
        ("/api/v1/courses?lang=en", lambda: catalog_reads.list_courses(catalog.CourseQuery())),
        ("/api/v1/categories", catalog_reads.list_categories),
    ]:
        for _ in range(2):  # as built, then as kept
            answer = client.get(url)
            with app.app_context(), app.test_request_context(url):  # a `g` of its own
                expected = jsonify({"code": 1000, "data": read(), "msg": "ok"})
            assert answer.get_data() == expected.get_data()
            assert answer.headers["Content-Type"] == expected.headers["Content-Type"]


def test_the_envelope_indents_encoded_data_when_jsonify_would(make_app):
    app = make_app(DEBUG=True)
    with app.test_request_context("/"):
        data = {"b": [1, 2], "a": "x"}
        answer = ok_response(JSONData(json.dumps(data).encode()))
        assert answer.get_data() == jsonify({"code": 1000, "data": data, "msg": "ok"}).get_data()
        assert b"\n  " in answer.get_data()


@pytest.mark.parametrize("path", ["/courses", "/courses/{id}"])
def test_a_page_shows_a_change_at_once(client, path):
    course = CourseFactory(name="Before", policies=[(30, "99.00")])
    url = path.format(id=course.id)
    assert "¥99.00" in client.get(url).get_data(as_text=True)
    policy = db.session.get(PricePolicy, course.price_policies[0].id)
    policy.price = Decimal("79.00")
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "¥79.00" in page
    assert "¥99.00" not in page


def test_kept_pages_follow_the_language_and_the_query(client):
    CourseFactory(level="advanced")
    zh = client.get("/courses").get_data(as_text=True)
    en = client.get("/courses?lang=en").get_data(as_text=True)
    assert "高级" in zh
    assert "Advanced" in en
    assert 'href="/courses?lang=en&amp;page=2"' not in en  # nothing from another page's links
    second = client.get("/courses?per_page=1&foo=bar").get_data(as_text=True)
    assert 'name="per_page" value="1"' in second
    assert "foo=bar" in second


def test_a_kept_course_page_still_gives_each_visitor_a_buy_area_of_their_own(app, make_app):
    with_csrf = make_app(WTF_CSRF_ENABLED=True)  # `app` cleans the database and Redis after
    with with_csrf.app_context():
        course = CourseFactory()
        pages = [
            with_csrf.test_client().get(f"/courses/{course.id}").get_data(as_text=True)
            for _ in range(2)
        ]
    tokens = [page.split('name="csrf_token" value="')[1].split('"')[0] for page in pages]
    assert tokens[0] != tokens[1]
    assert pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
