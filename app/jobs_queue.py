"""RQ queue access, and jobs held back until the transaction that needs them has committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING = "pending_jobs"


def default_retry() -> Retry:
    """Every job's retries, the periodic ones included (worker.py): three more tries, after
    10 seconds, a minute and five minutes; then the job stays in RQ's failed registry."""
    return Retry(max=3, interval=[10, 60, 300])


class JobQueue:
    """`enqueue_after_commit` is how services ask for a job: it runs only if the data it needs
    was committed, and never when the transaction rolls back."""

    name = "default"

    def __init__(self) -> None:
        self._app: Flask | None = None

    def init_app(self, app: Flask) -> None:
        self._app = app
        app.extensions["job_queue"] = self
        if not event.contains(Session, "after_commit", _dispatch_pending):
            event.listen(Session, "after_commit", _dispatch_pending)
            event.listen(Session, "after_soft_rollback", _discard_pending)

    @property
    def inline(self) -> bool:
        return bool(self._app and self._app.config.get("RQ_INLINE"))

    def rq_queue(self, app: Flask | None = None) -> Queue:
        app = app or self._app
        store = app.extensions["redis_store"]
        return Queue(self.name, connection=store.raw, is_async=not app.config.get("RQ_INLINE"))

    def enqueue(self, func: Callable[..., Any], *args: Any, **options: Any):
        """Put a job on the queue now (inline mode runs it now, in a context of its own)."""
        options.setdefault("retry", default_retry())
        if self.inline:
            options.pop("retry")
        return self.rq_queue().enqueue(func, *args, **options)

    def enqueue_after_commit(
        self, session: Session, func: Callable[..., Any], *args: Any, **options: Any
    ) -> None:
        session.info.setdefault(PENDING, []).append((self, func, args, options))


def _dispatch_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, [])
    for job_queue, func, args, options in pending:
        try:
            job_queue.enqueue(func, *args, **options)
        except Exception:
            # The data is committed; a lost job is repaired by the periodic jobs, never by
            # failing the request that already succeeded.
            log.exception("could not enqueue %s after commit", getattr(func, "__name__", func))


def _discard_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(PENDING, None)
