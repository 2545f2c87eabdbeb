"""RQ job functions. Each runs inside an app context of its own, in a worker or inline.

Jobs are enqueued through `app.extensions.queue.enqueue_after_commit`, never before the commit
that makes them necessary. A job takes ids, never model instances.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

_worker_app: Flask | None = None


def use_app(app: Flask) -> None:
    """The worker's one app, made once for its whole life (worker.py)."""
    global _worker_app
    _worker_app = app


@contextmanager
def job_context() -> Iterator[Flask]:
    """A fresh app context (and so a fresh database session) for one job."""
    if has_app_context():  # inline: run beside the request, never inside its session
        app = current_app._get_current_object()
    elif _worker_app is not None:
        app = _worker_app
    else:
        from app import create_app

        app = create_app()
        use_app(app)
    with app.app_context():
        from app.extensions import db

        try:
            yield app
        finally:
            db.session.remove()


def ping(value: str) -> str:
    """A job that only answers: the worker's health check and the queue's own test."""
    with job_context():
        return value


def redeliver_sandbox_notification(notification: dict[str, str]) -> str:
    """Hand a sandbox notification to the notify handler again; failing raises, so RQ retries
    it with backoff, as Alipay retries a notification not answered `success`."""
    from app import unit_of_work
    from app.models.types import utcnow
    from app.services.payments.notifications import apply_notification

    with job_context() as app:
        answer = unit_of_work.run(lambda: apply_notification(app, notification, utcnow()).answer)
    if answer != "success":
        raise RuntimeError(f"the shop answered {answer!r}")
    return answer


def close_expired_orders() -> int:
    """Expire pending orders past their payment time and release their coupons (periodic).
    Several workers may run it at once: each order moves once, by a conditional UPDATE."""
    from app import unit_of_work
    from app.models.types import utcnow
    from app.services.orders import expire_overdue_orders

    with job_context():
        return unit_of_work.run(lambda: expire_overdue_orders(utcnow()))


def count_best_sellers() -> int:
    """Count the dashboard's best sellers over every paid order line and keep the count
    (app/services/reports.py); asked for by the dashboard when its count is old."""
    from app.models.types import utcnow
    from app.services.reports import count_best_sellers as count

    with job_context():
        return len(count(utcnow()).items)


def rebuild_homepage() -> dict[str, str]:
    """Render the homepage into STATIC_INDEX_DIR, one file per language (app/services/homepage.py).

    Enqueued, coalesced, after every commit that changed the catalog and when the worker
    starts (`homepage.request_rebuild`). It drops the "pending" flag before it reads the
    catalog, so that a change committed while it runs asks for the next rebuild. A failure
    raises: RQ retries it with backoff, and the old files stay in place meanwhile."""
    from app.services import homepage

    with job_context():
        try:
            written = homepage.rebuild()
        except Exception:
            log.exception("the homepage rebuild failed")  # also when run inline
            raise
    return {language: Path(path).name for language, path in written.items()}
