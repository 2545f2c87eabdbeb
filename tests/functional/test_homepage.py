"""The pre-rendered homepage: one file per language, rebuilt after catalog changes (coalesced),
served by `/` with caching headers, never half-written, never personal."""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import g, render_template_string
from rq import Queue

from app.blueprints.main.homepage_files import HomepageFiles
from app.extensions import db
from app.i18n import LANG_COOKIE
from app.jobs import rebuild_homepage
from app.models import Course
from app.services import homepage
from tests.factories import CategoryFactory, CourseFactory, DegreeCourseFactory, UserFactory
from tests.pages import html, sign_in

NONCE = re.compile(r"'nonce-")


def files(app) -> dict[str, str]:
    """The pre-rendered pages as they are on disk now (missing ones left out)."""
    found = {}
    for language in app.config["LANGUAGES"]:
        path = homepage.page_path(language)
        if path.exists():
            found[language] = path.read_text(encoding="utf-8")
    return found


def remove_files(app) -> None:
    for language in app.config["LANGUAGES"]:
        homepage.page_path(language).unlink(missing_ok=True)


def rename(course_id: int, name: str) -> None:
    db.session.get(Course, course_id).name = name
    db.session.commit()


def rebuild_jobs(app) -> list:
    queue = Queue("default", connection=app.extensions["redis_store"].raw)
    return [job for job in queue.get_jobs() if job.func_name == "app.jobs.rebuild_homepage"]


# --- the files --------------------------------------------------------------------------------


def test_a_rebuild_writes_one_file_per_language(app):
    CategoryFactory(name="人工智能", name_en="Artificial intelligence")
    CourseFactory(name="机器学习")
    DegreeCourseFactory(name="AI 学位")
    assert files(app) == {}
    assert rebuild_homepage() == {"zh": "index.zh.html", "en": "index.en.html"}
    pages = files(app)
    assert set(pages) == {"zh", "en"}
    assert '<html lang="zh-CN">' in pages["zh"]
    assert "精选课程" in pages["zh"]
    assert "人工智能" in pages["zh"]
    assert '<html lang="en">' in pages["en"]
    assert "Featured courses" in pages["en"]
    assert "Artificial intelligence" in pages["en"]
    for page in pages.values():
        assert "机器学习" in page
        assert "AI 学位" in page
    # What a web server may serve from disk: readable by others, no temporary file left over.
    for language in ("zh", "en"):
        assert homepage.page_path(language).stat().st_mode & 0o044 == 0o044
    assert sorted(p.name for p in homepage.directory().iterdir()) == [
        "index.en.html",
        "index.zh.html",
    ]


def test_the_files_are_rebuilt_after_a_catalog_change(app, client):
    course = CourseFactory(name="Before the change", brief="A course.")
    html(client.get("/"))  # the first visit makes the files
    assert all("Before the change" in page for page in files(app).values())
    rename(course.id, "After the change")  # jobs run inline in tests: rebuilt on commit
    pages = files(app)
    assert set(pages) == {"zh", "en"}
    for page in pages.values():
        assert "After the change" in page
        assert "Before the change" not in page


def test_a_change_that_is_rolled_back_rebuilds_nothing(app, client):
    course = CourseFactory(name="Kept")
    html(client.get("/"))
    before = homepage.page_path("zh").stat().st_mtime_ns
    db.session.get(Course, course.id).name = "Never committed"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert homepage.page_path("zh").stat().st_mtime_ns == before
    assert "Never committed" not in files(app)["zh"]


def test_nothing_is_written_when_a_language_fails_to_render(app, monkeypatch):
    CourseFactory(name="Old")
    rebuild_homepage()
    before = files(app)
    original = homepage.render_page

    def english_breaks(language: str) -> str:
        if language == "en":
            raise RuntimeError("template error")
        return original(language)

    monkeypatch.setattr(homepage, "render_page", english_breaks)
    with pytest.raises(RuntimeError):
        homepage.write_pages()
    assert files(app) == before


# --- serving ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "language"),
    [
        ({}, "zh"),
        ({"headers": {"Accept-Language": "en-US,en;q=0.9"}}, "en"),
        ({"headers": {"Accept-Language": "fr-FR"}}, "zh"),
        ({"query_string": {"lang": "en"}}, "en"),
        ({"cookie": "en"}, "en"),
        ({"cookie": "en", "query_string": {"lang": "zh"}}, "zh"),
    ],
)
def test_the_homepage_is_the_file_of_the_visitors_language(app, client, how, language):
    CourseFactory()
    rebuild_homepage()
    # Marked on disk, so the answer can only have come from the file.
    for code in ("zh", "en"):
        path = homepage.page_path(code)
        path.write_text(path.read_text(encoding="utf-8") + f"<!-- file {code} -->")
    how = dict(how)
    if "cookie" in how:
        client.set_cookie(LANG_COOKIE, how.pop("cookie"))
    page = html(client.get("/", **how))
    assert page.endswith(f"<!-- file {language} -->")


def test_the_homepage_has_caching_headers_and_the_security_headers(app, client):
    CourseFactory()
    rebuild_homepage()
    response = client.get("/")
    assert response.status_code == 200
    body = homepage.page_path("zh").read_bytes()
    assert response.get_data() == body
    assert response.headers["ETag"] == f'"{homepage.etag_of(body)}"'
    modified = datetime.fromtimestamp(int(homepage.page_path("zh").stat().st_mtime), UTC)
    assert response.last_modified == modified
    assert response.cache_control.public
    assert response.cache_control.max_age == 60
    assert {"Cookie", "Accept-Language"} <= set(response.vary)
    assert "Set-Cookie" not in response.headers  # nothing per visitor, no session started
    # The same security headers as every page; the policy names no nonce, since this one
    # answer may be kept by caches for everyone (the page has no inline script).
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert not NONCE.search(policy)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_conditional_request_is_answered_304(app, client):
    CourseFactory()
    rebuild_homepage()
    first = client.get("/")
    etag = first.headers["ETag"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert "Content-Security-Policy" in again.headers
    since = client.get("/", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    # Another language is another file, with another tag.
    english = client.get("/", headers={"If-None-Match": etag, "Accept-Language": "en"})
    assert english.status_code == 200
    assert english.headers["ETag"] != etag


def test_a_rebuilt_page_is_no_longer_answered_304(app, client):
    course = CourseFactory(name="First")
    rebuild_homepage()
    etag = client.get("/").headers["ETag"]
    rename(course.id, "Second")
    response = client.get("/", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "Second" in response.get_data(as_text=True)
    assert response.headers["ETag"] != etag


def test_a_missing_file_is_rendered_live_and_rebuilt(app, client):
    CourseFactory(name="Shown at once")
    assert files(app) == {}
    page = html(client.get("/", headers={"Accept-Language": "en"}))
    assert "Shown at once" in page
    assert set(files(app)) == {"zh", "en"}  # inline: the rebuild ran during the request
    assert files(app)["en"] == page


def test_a_missing_file_with_a_worker_is_rendered_live_and_a_rebuild_enqueued(app_with, real_redis):
    with app_with(RQ_INLINE=False) as app:
        CourseFactory(name="Live render")
        app.extensions["redis_store"].raw.flushdb()  # the factory's commit enqueued one
        client = app.test_client()
        for _ in range(3):
            response = client.get("/")
            assert "Live render" in html(response)
            assert response.headers["ETag"] == f'"{homepage.etag_of(response.get_data())}"'
            assert not NONCE.search(response.headers["Content-Security-Policy"])
        assert files(app) == {}  # the worker writes it, not the request
        jobs = rebuild_jobs(app)
        assert len(jobs) == 1  # three visits, one rebuild asked for
        jobs[0].perform()  # what the worker will do
        assert "Live render" in files(app)["zh"]
        assert html(client.get("/")) == files(app)["zh"]


def test_the_live_render_is_the_same_page_as_the_file(app, client):
    CourseFactory()
    DegreeCourseFactory()
    remove_files(app)
    with app.test_request_context("/"):
        live = homepage.render_page("zh")
    rebuild_homepage()
    assert files(app)["zh"] == live


def test_the_live_render_reads_a_fixed_number_of_queries(app, client, count_queries):
    """The fallback (here with the inline rebuild of both languages) costs the same number of
    queries for 5 courses as for 100."""
    categories = [CategoryFactory() for _ in range(3)]

    def queries_for(count: int) -> int:
        # The files go first: while they exist, every course's commit rebuilds them inline.
        remove_files(app)
        for number in range(count):
            CourseFactory(category=categories[number % 3], policies=[(30, "9.00"), (0, "99.00")])
        app.extensions["redis_store"].raw.flushdb()  # a cold cache: the queries really run
        with count_queries() as counter:
            html(client.get("/"))
        return counter.count

    few = queries_for(5)
    many = queries_for(95)
    assert few > 0
    assert few == many


# --- nothing personal -------------------------------------------------------------------------


@pytest.mark.parametrize("file_exists", [True, False])
def test_a_signed_in_users_name_never_appears(app, client, file_exists):
    CourseFactory()
    user = UserFactory(username="alice_unique_name")
    sign_in(client, user)
    assert "alice_unique_name" in html(client.get("/courses"))  # signed in indeed
    if file_exists:
        rebuild_homepage()
    else:
        remove_files(app)
    page = html(client.get("/"))
    assert "alice_unique_name" not in page
    assert "csrf" not in page.lower()
    assert 'href="/login"' in page
    for written in files(app).values():
        assert "alice_unique_name" not in written


def test_a_rebuild_starts_no_session(app):
    CourseFactory()
    redis = app.extensions["redis_store"].raw
    redis.flushdb()
    rebuild_homepage()
    assert list(redis.scan_iter("session:*")) == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ csrf_token() }}",
        "{{ csp_nonce() }}",
        "{% set _ = session.__setitem__('x', 1) %}",
    ],
)
def test_a_page_that_asks_for_anything_per_request_is_refused(app, monkeypatch, source):
    monkeypatch.setattr(
        homepage, "render_template", lambda name, **context: render_template_string(source)
    )
    with pytest.raises(homepage.PersonalContentError):
        homepage.render_page("zh")
    with pytest.raises(homepage.PersonalContentError):
        homepage.write_pages()
    assert files(app) == {}


def test_the_page_is_rendered_apart_from_the_request_being_served(app):
    CourseFactory()
    with app.test_request_context("/courses?q=secret", headers={"Accept-Language": "en"}):
        g.csrf_token = "a token of this request"  # as if the request had made one
        page = homepage.render_page("zh")
        assert g.csrf_token == "a token of this request"
    assert "secret" not in page
    assert '<html lang="zh-CN">' in page


# --- coalescing with a real queue -------------------------------------------------------------


def test_a_burst_of_catalog_commits_enqueues_one_rebuild(app_with, real_redis):
    with app_with(RQ_INLINE=False) as app:
        courses = [CourseFactory() for _ in range(3)]
        for number in range(10):
            rename(courses[number % 3].id, f"Edit {number}")
        jobs = rebuild_jobs(app)
        assert len(jobs) == 1
        job = jobs[0]
        # Retried with backoff like every job.
        assert job.retries_left == 3
        assert job.retry_intervals == [10, 60, 300]
        assert files(app) == {}

        job.perform()  # the worker runs it: the flag is dropped before the catalog is read
        assert "Edit 9" in files(app)["zh"]
        assert rebuild_jobs(app) == [job]  # perform() leaves the queue as it was

        rename(courses[0].id, "After the rebuild")
        assert len(rebuild_jobs(app)) == 2  # a change after the rebuild started asks again


def test_a_change_made_while_the_rebuild_runs_asks_for_another(app_with, real_redis, monkeypatch):
    with app_with(RQ_INLINE=False) as app:
        course = CourseFactory(name="Before")
        redis = app.extensions["redis_store"].raw
        redis.flushdb()
        assert homepage.request_rebuild() is True
        assert homepage.request_rebuild() is False  # one is waiting already
        original = homepage.write_pages

        def edit_meanwhile():
            rename(course.id, "During")  # after the job dropped the flag
            return original()

        monkeypatch.setattr(homepage, "write_pages", edit_meanwhile)
        rebuild_jobs(app)[0].perform()
        assert len(rebuild_jobs(app)) == 2


def test_a_queue_that_refuses_the_job_does_not_block_later_rebuilds(
    app_with, real_redis, monkeypatch
):
    with app_with(RQ_INLINE=False) as app:
        from app.extensions import queue

        def broken(*args, **kwargs):
            raise ConnectionError("Redis went away")

        monkeypatch.setattr(queue, "enqueue", broken)
        course = CourseFactory(name="Committed anyway")  # the commit itself succeeds
        assert db.session.get(Course, course.id).name == "Committed anyway"
        monkeypatch.undo()
        rename(course.id, "Next change")
        assert len(rebuild_jobs(app)) == 1


# --- never half-written -----------------------------------------------------------------------


def test_a_reader_never_sees_a_half_written_page(app):
    """A reader keeps reading the file (as `/` and a web server do) while rebuilds replace it
    with pages of very different sizes: every read is a whole page."""
    courses = [CourseFactory() for _ in range(4)]
    rebuild_homepage()
    path = homepage.page_path("zh")
    stop = threading.Event()
    started = threading.Event()
    reads: list[bytes] = []
    problems: list[str] = []

    def reader() -> None:
        with app.app_context():
            while not stop.is_set():
                for body in (homepage.read_page("zh").body, path.read_bytes()):
                    reads.append(body)
                    text = body.decode("utf-8", "replace").strip()
                    if not (text.startswith("<!doctype html>") and text.endswith("</html>")):
                        problems.append(text[-200:])
                started.set()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert started.wait(timeout=60)
        for number in range(40):
            # Briefs of 1 to 20000 characters: each rebuild changes the file's size a lot.
            db.session.get(Course, courses[number % 4].id).brief = "简" * (
                1 + (number * 7919) % 20000
            )
            db.session.commit()  # rebuilt inline, on commit
            os.sched_yield()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert problems == []
    assert len(reads) > 40
    assert len(set(reads)) > 1  # it did read while the page kept changing


def test_the_last_modified_time_is_the_files(app, client):
    CourseFactory()
    rebuild_homepage()
    path = homepage.page_path("zh")
    old = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    os.utime(path, (old.timestamp(), old.timestamp()))
    response = client.get("/")
    assert response.last_modified == old
    later = (old + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert client.get("/", headers={"If-Modified-Since": later}).status_code == 304


def test_a_rebuild_removes_what_a_dead_writer_left_but_not_a_live_write(app):
    folder = homepage.directory()
    folder.mkdir(parents=True, exist_ok=True)
    dead, live = folder / ".index.zh.html.dead.tmp", folder / ".index.en.html.live.tmp"
    for leftover in (dead, live):
        leftover.write_bytes(b"<!doctype html><html><body>half")
    an_hour_ago = datetime.now(UTC).timestamp() - 3600
    os.utime(dead, (an_hour_ago, an_hour_ago))
    homepage.write_pages()
    assert not dead.exists()
    assert live.exists()
    assert sorted(p.name for p in folder.glob("index.*.html")) == ["index.en.html", "index.zh.html"]


# --- "/" answered before Flask (app/blueprints/main/homepage_files.py) ----------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept-Language": "en"},
        {"Cookie": "lang=en; session=abc"},
        {"If-None-Match": "match"},
        {"If-Modified-Since": "match"},
        {"If-None-Match": '"other"'},
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_files_are_answered_as_the_view_would(app, client, monkeypatch, headers, method):
    """The same status, headers and body as the Flask view gives (which answers when a file is
    missing), without going through Flask."""
    CourseFactory()
    rebuild_homepage()
    first = client.get("/")
    headers = {
        name: {"match": first.headers[source]}.get(value, value)
        for name, value in headers.items()
        for source in ["ETag" if name == "If-None-Match" else "Last-Modified"]
    }
    answered = client.open("/", method=method, headers=headers)
    # Flask's own way: the layer hands every request on.
    monkeypatch.setattr(HomepageFiles, "__call__", lambda layer, *call: layer.wsgi_app(*call))
    by_view = client.open("/", method=method, headers=headers)
    assert answered.status == by_view.status
    assert answered.get_data() == by_view.get_data()
    assert undated(answered) == undated(by_view)


def undated(response) -> list[tuple[str, str]]:
    """A response's headers but its Date (present): two answers may straddle a second."""
    assert response.headers.get("Date")
    return sorted((name, value) for name, value in response.headers.items() if name != "Date")


def test_the_homepage_runs_no_request_hook_when_its_file_exists(app, client, monkeypatch):
    CourseFactory()
    rebuild_homepage()
    ran = []
    hooks = [*app.before_request_funcs.get(None, []), lambda: ran.append(1)]
    monkeypatch.setitem(app.before_request_funcs, None, hooks)  # put back after the test
    client.get("/")
    assert ran == []
    remove_files(app)
    client.get("/")  # no file: the view renders it live (and rebuilds)
    assert ran == [1]
    assert files(app)


def test_a_file_replaced_on_disk_is_answered_at_once(app, client):
    CourseFactory()
    rebuild_homepage()
    client.get("/")
    path = homepage.page_path("zh")
    homepage.write_atomically(path, b"<p>new</p>")
    assert client.get("/").get_data() == b"<p>new</p>"
