"""The lock-failure retry: once more after a deadlock or lock wait timeout, then a 409."""

from __future__ import annotations

import pymysql
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from app.services.errors import Conflict, NotFound
from app.services.retry import is_lock_failure, retry_on_deadlock


def failure(number: int) -> OperationalError:
    return OperationalError("UPDATE ...", {}, pymysql.err.OperationalError(number, "x"))


def flaky(*errors):
    """A transaction that fails with each of `errors` in turn, then answers how often it ran."""
    calls = []

    def attempt():
        calls.append(None)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return len(calls)

    return attempt, calls


@pytest.mark.parametrize("number", [1213, 1205])
def test_a_lock_failure_is_run_again(app, number):
    attempt, _ = flaky(failure(number))
    assert retry_on_deadlock(attempt) == 2


def test_after_the_last_try_a_409(app):
    attempt, calls = flaky(failure(1213), failure(1205), failure(1213))
    with pytest.raises(Conflict):
        retry_on_deadlock(attempt)
    assert len(calls) == 2


def test_more_tries_and_another_refusal(app):
    attempt, calls = flaky(failure(1213), failure(1213))
    assert retry_on_deadlock(attempt, attempts=3) == 3
    attempt, calls = flaky(failure(1213))
    with pytest.raises(NotFound):
        retry_on_deadlock(attempt, attempts=1, busy=NotFound)
    assert len(calls) == 1


def test_other_errors_are_not_retried(app):
    lost = OperationalError("SELECT 1", {}, pymysql.err.OperationalError(2013, "Lost connection"))
    for error in (lost, IntegrityError("INSERT", {}, Exception("dup")), NotFound()):
        attempt, calls = flaky(error)
        with pytest.raises(type(error)):
            retry_on_deadlock(attempt)
        assert len(calls) == 1


def test_what_counts_as_a_lock_failure():
    assert is_lock_failure(failure(1213))
    assert is_lock_failure(failure(1205))
    assert not is_lock_failure(failure(2006))
    assert not is_lock_failure(OperationalError("x", {}, Exception("database is locked")))
    assert not is_lock_failure(ValueError())
