"""One unit of work: a view's service call and its answer in one transaction, committed once.

Every view and Flask-Admin hook that writes goes through `run`; nothing else commits::

    from app import unit_of_work

    answer = unit_of_work.run(
        lambda: order_out(orders.cancel_order(user.id, order_no, utcnow()))
    )

- `work` takes no arguments: it calls the service and shapes the answer (the JSON dict, or the
  plain values a page needs) *inside* the transaction, and returns it. After the commit nothing
  reads the database, so a connection lost after a successful commit cannot turn a done deed
  into an error (and nothing is loaded twice).
- The commit happens once, after `work` returns.
- A MariaDB deadlock or lock wait timeout, in `work` or in the commit, rolls back and runs
  `work` again from nothing, once; when that fails too, the caller gets `busy()` (a 409
  Conflict; pass your own for a more precise slug and message), never a 500.
- Any exception rolls the session back and is raised as it is: a `DomainError` for the view to
  show, a database or Redis that is down (`OperationalError`, `redis.RedisError`) for the error
  handlers (a 503). Nothing is swallowed.
- `after_commit(func, *args)`, called from `work` or from any service it calls, runs
  `func(*args)` once the transaction has committed, and never when it rolls back (a first try
  that hit a deadlock included). Use it for Redis clean-up (the cart); jobs go through
  `queue.enqueue_after_commit(db.session, ...)`, which follows the same rule. After-commit work
  must not use the database session; a failure in it is logged, not raised: the commit stands.
  It also follows a commit made by Flask-Admin's own views.

A service never commits: when it must report an outside party's answer that has to outlive a
rollback (a gateway refusing a refund), it raises an error carrying what to record, and the
view records it in a second unit of work (see `app/admin/refunds.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.extensions import db
from app.services.errors import N_, Conflict, DomainError

log = logging.getLogger(__name__)

T = TypeVar("T")

# MariaDB/MySQL error numbers: ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT.
DEADLOCK = 1213
LOCK_WAIT_TIMEOUT = 1205
RETRYABLE = frozenset({DEADLOCK, LOCK_WAIT_TIMEOUT})
ATTEMPTS = 2  # the first try and one more

AFTER_COMMIT = "after_commit_work"


def is_lock_failure(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a transaction over locks (worth one more try)."""
    if not isinstance(exc, OperationalError):
        return False
    args = getattr(exc.orig, "args", ())
    return bool(args) and args[0] in RETRYABLE


def busy() -> Conflict:
    """The answer when the transaction lost to a lock twice."""
    return Conflict(N_("Many people are doing the same thing right now; please try again."))


def run(
    work: Callable[[], T],
    *,
    busy: Callable[[], DomainError] = busy,
    attempts: int = ATTEMPTS,
) -> T:
    """Run `work` and commit once; see the module's docstring."""
    session = db.session
    for number in range(1, attempts + 1):
        try:
            answer = work()
            session.commit()
        except OperationalError as exc:
            _roll_back(session)
            if not is_lock_failure(exc):
                raise
            log.warning("lock failure (try %d of %d): %s", number, attempts, exc.orig)
        except BaseException:
            _roll_back(session)
            raise
        else:
            return answer
    raise busy()


def _roll_back(session: Session) -> None:
    # The pop covers work registered before the transaction began (no rollback event then).
    session.info.pop(AFTER_COMMIT, None)
    session.rollback()


def after_commit(func: Callable[..., Any], *args: Any) -> None:
    """Run `func(*args)` once the current transaction commits; drop it if it rolls back."""
    db.session.info.setdefault(AFTER_COMMIT, []).append((func, args))


def _run_after_commit(session: Session) -> None:
    for func, args in session.info.pop(AFTER_COMMIT, []):
        try:
            func(*args)
        except Exception:
            # The data is committed: a lost clean-up must not fail a request that succeeded.
            log.exception("after-commit work %s failed", getattr(func, "__name__", func))


def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(AFTER_COMMIT, None)


if not event.contains(Session, "after_commit", _run_after_commit):
    event.listen(Session, "after_commit", _run_after_commit)
    event.listen(Session, "after_soft_rollback", _drop_after_commit)
