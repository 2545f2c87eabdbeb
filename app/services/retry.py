"""Running a transaction again when MariaDB gives up on it: a deadlock or a lock wait timeout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.services.errors import N_, Conflict, DomainError

log = logging.getLogger(__name__)

T = TypeVar("T")

# MariaDB/MySQL error numbers: ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT.
DEADLOCK = 1213
LOCK_WAIT_TIMEOUT = 1205
RETRYABLE = frozenset({DEADLOCK, LOCK_WAIT_TIMEOUT})


def is_lock_failure(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a transaction over locks (worth one more try)."""
    if not isinstance(exc, OperationalError):
        return False
    args = getattr(exc.orig, "args", ())
    return bool(args) and args[0] in RETRYABLE


def retry_on_deadlock(
    attempt: Callable[[], T],
    attempts: int = 2,
    busy: Callable[[], DomainError] | None = None,
) -> T:
    """Run `attempt` (a whole transaction: its writes and its commit) up to `attempts` times.

    A deadlock or lock wait timeout rolls the session back and runs it again; after the last
    try the caller gets `busy()` (a 409 by default), never a 500. Every other error is raised
    as it is. `attempt` must start from nothing: the rollback undoes all the session holds.
    """
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except OperationalError as exc:
            if not is_lock_failure(exc):
                raise
            db.session.rollback()
            log.warning("lock failure (try %d of %d): %s", number, attempts, exc.orig)
    raise (busy or _busy)()


def _busy() -> Conflict:
    return Conflict(N_("Many people are doing the same thing right now; please try again."))
