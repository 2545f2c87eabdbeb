"""The unit of work: one commit, one more try after a deadlock or lock wait timeout, then a 409;
a rollback on anything else; after-commit work only after a commit."""

from __future__ import annotations

import pymysql
import pytest
import redis
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app import unit_of_work
from app.extensions import db
from app.models import CourseCategory
from app.services.errors import Conflict, InvalidInput, NotFound
from tests.api import ok
from tests.conftest import SAVEPOINT_SQL
from tests.factories import CourseFactory


def failure(number: int) -> OperationalError:
    return OperationalError("UPDATE ...", {}, pymysql.err.OperationalError(number, "x"))


def flaky(*errors, writes: str | None = None):
    """A fake service that fails with each of `errors` in turn (after writing a category named
    `writes`, when given), then answers how often it ran."""
    calls = []

    def work():
        calls.append(None)
        if writes is not None:
            db.session.add(CourseCategory(name=f"{writes}{len(calls)}", name_en=writes))
            db.session.flush()
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return len(calls)

    return work, calls


@pytest.fixture
def commits(app):
    """How many times a session committed during the test."""
    counted = []

    def count(session):
        counted.append(session)

    event.listen(Session, "after_commit", count)
    yield counted
    event.remove(Session, "after_commit", count)


def categories(name_en: str) -> list[str]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(CourseCategory.name)
            .where(CourseCategory.name_en == name_en)
            .order_by(CourseCategory.name)
        )
    )


def test_the_work_is_committed_once_and_its_answer_returned(app, commits):
    work, _ = flaky(writes="once")
    assert unit_of_work.run(work) == 1
    assert len(commits) == 1
    assert categories("once") == ["once1"]


@pytest.mark.parametrize("number", [1213, 1205], ids=["deadlock", "lock-wait-timeout"])
def test_a_lock_failure_runs_the_whole_work_again_from_nothing(app, commits, number):
    work, _ = flaky(failure(number), writes="again")
    assert unit_of_work.run(work) == 2
    assert len(commits) == 1
    assert categories("again") == ["again2"]  # the first try's write was rolled back


def test_a_second_lock_failure_is_a_409_and_nothing_is_written(app, commits):
    work, calls = flaky(failure(1213), failure(1205), failure(1213), writes="busy")
    with pytest.raises(Conflict) as refused:
        unit_of_work.run(work)
    assert refused.value.status == 409
    assert len(calls) == 2
    assert commits == []
    assert categories("busy") == []


def test_the_caller_may_say_what_busy_means(app):
    work, calls = flaky(failure(1213), failure(1213))
    busy = lambda: Conflict("taken", slug="coupon_unavailable")  # noqa: E731
    with pytest.raises(Conflict) as refused:
        unit_of_work.run(work, busy=busy)
    assert refused.value.slug == "coupon_unavailable"
    work, calls = flaky(failure(1213))
    with pytest.raises(NotFound):
        unit_of_work.run(work, attempts=1, busy=NotFound)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, pymysql.err.OperationalError(2013, "Lost connection")),
        IntegrityError("INSERT", {}, Exception("dup")),
        redis.ConnectionError("Redis is down"),
        InvalidInput(),
        ValueError("a bug"),
    ],
    ids=["database-down", "integrity", "redis-down", "refusal", "bug"],
)
def test_any_other_error_rolls_back_and_is_raised_as_it_is(app, commits, error):
    work, calls = flaky(error, writes="half")
    with pytest.raises(type(error)) as raised:
        unit_of_work.run(work)
    assert raised.value is error  # a down service reaches the error handlers (a 503) unchanged
    assert len(calls) == 1
    assert commits == []
    assert categories("half") == []  # nothing half-written


def test_after_commit_work_runs_once_after_the_commit(app):
    done = []

    def work():
        unit_of_work.after_commit(done.append, "cart cleaned")
        assert done == []  # not yet: the transaction has not committed
        db.session.add(CourseCategory(name="after", name_en="after"))
        return "ok"

    assert unit_of_work.run(work) == "ok"
    assert done == ["cart cleaned"]


def test_after_commit_work_is_dropped_when_the_work_fails(app):
    done = []

    def work():
        unit_of_work.after_commit(done.append, "cart cleaned")
        raise InvalidInput()

    with pytest.raises(InvalidInput):
        unit_of_work.run(work)
    unit_of_work.run(lambda: db.session.add(CourseCategory(name="later", name_en="later")))
    assert done == []  # not by this commit either


def test_after_commit_work_of_a_try_that_deadlocked_is_dropped(app):
    done, tries = [], []

    def work():
        tries.append(None)
        unit_of_work.after_commit(done.append, len(tries))
        if len(tries) == 1:
            raise failure(1213)

    unit_of_work.run(work)
    assert done == [2]


def test_a_failing_after_commit_work_leaves_the_commit_standing(app, caplog):
    def broken():
        raise redis.ConnectionError("Redis is down")

    def work():
        unit_of_work.after_commit(broken)
        db.session.add(CourseCategory(name="stands", name_en="stands"))
        return "answered"

    assert unit_of_work.run(work) == "answered"
    assert categories("stands") == ["stands"]
    assert "after-commit work broken failed" in caplog.text


@pytest.fixture
def database_gone_after_commit(monkeypatch):
    """`database_gone_after_commit()`: from the next commit on, every statement fails as if the
    connection were lost."""
    real_commit = db.session.commit

    def lost(conn, cursor, statement, *args):
        if not statement.startswith(SAVEPOINT_SQL):  # the test's own transaction (conftest)
            raise OperationalError(statement, {}, pymysql.err.OperationalError(2013, "Lost"))

    def commit():
        real_commit()
        event.listen(db.engine, "before_cursor_execute", lost)

    yield lambda: monkeypatch.setattr(db.session, "commit", commit)
    if event.contains(db.engine, "before_cursor_execute", lost):
        event.remove(db.engine, "before_cursor_execute", lost)


@pytest.mark.parametrize("amount", ["99.00", "0.00"], ids=["pending", "paid-at-once"])
def test_a_placed_order_is_answered_even_if_the_database_goes_after_the_commit(
    app, client, headers, database_gone_after_commit, amount
):
    course = CourseFactory(policies=[(30, amount)])
    line = {"item_type": "course", "item_id": course.id}
    body = {
        "items": [{**line, "price_policy_id": course.price_policies[0].id}],
        "expected_amount": amount,
        "payment_method": "sandbox",
    }
    database_gone_after_commit()
    order = ok(client.post("/api/v1/orders", json=body, headers=headers), 201)
    assert order["amount"] == amount
    assert [line["item_id"] for line in order["lines"]] == [line["item_id"]]


def test_what_counts_as_a_lock_failure():
    assert unit_of_work.is_lock_failure(failure(1213))
    assert unit_of_work.is_lock_failure(failure(1205))
    assert not unit_of_work.is_lock_failure(failure(2006))
    assert not unit_of_work.is_lock_failure(
        OperationalError("x", {}, Exception("database is locked"))
    )
    assert not unit_of_work.is_lock_failure(ValueError())


def test_no_view_commits_by_itself():
    """Every write of a view or staff page goes through the unit of work."""
    from pathlib import Path

    app_dir = Path(unit_of_work.__file__).parent
    committing = [
        str(path.relative_to(app_dir))
        for folder in ("blueprints", "admin", "services")
        for path in (app_dir / folder).rglob("*.py")
        if ".commit()" in path.read_text(encoding="utf-8")
    ]
    assert committing == []
