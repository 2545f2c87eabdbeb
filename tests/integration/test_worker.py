"""A real `python worker.py` process takes jobs from the real Redis and runs them in the app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Queue

from app.jobs import ping

# A worker process (or threads) with connections of its own: real commits.
pytestmark = pytest.mark.real_commits

ROOT = Path(__file__).resolve().parents[2]


def worker_env(services, tmp_path: Path) -> dict[str, str]:
    """The worker on the test's own database and Redis db, writing the homepage under tmp_path
    (the same directory as the test's app: `test_config` in conftest.py)."""
    return {
        **os.environ,
        "APP_ENV": "testing",
        "TEST_DATABASE_URL": services.database_url,
        "TEST_REDIS_URL": services.redis_url,
        "INSTANCE_DIR": str(tmp_path),
        "STATIC_INDEX_DIR": str(tmp_path / "generated"),
    }


def start_worker(services, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=worker_env(services, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=15)


def test_the_worker_runs_a_queued_job(app, services, real_redis, tmp_path):
    connection = redis.Redis.from_url(services.redis_url)
    job = Queue("default", connection=connection).enqueue(ping, "pong")
    worker = start_worker(services, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not job.is_finished:
            assert not job.is_failed, job.latest_result()
            assert worker.poll() is None, worker.stdout.read().decode()
            time.sleep(0.2)
            job.refresh()
        assert job.is_finished
        assert job.return_value() == "pong"
    finally:
        stop_worker(worker)
        connection.flushdb()


def test_the_worker_expires_overdue_orders_on_its_own(app, services, real_redis, tmp_path):
    from datetime import timedelta
    from decimal import Decimal

    from app.extensions import db
    from app.models import Order
    from app.models.types import utcnow
    from tests.factories import UserFactory

    user = UserFactory()
    now = utcnow()
    order = Order(
        order_no="20260101000000000001",
        user_id=user.id,
        payment_method="sandbox",
        original_amount=Decimal("1.00"),
        discount_amount=Decimal("0.00"),
        actual_amount=Decimal("1.00"),
        created_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=1),
    )
    db.session.add(order)
    db.session.commit()
    worker = start_worker(services, tmp_path)
    try:
        deadline = time.monotonic() + 30
        status = "pending"
        while time.monotonic() < deadline and status == "pending":
            assert worker.poll() is None, worker.stdout.read().decode()
            time.sleep(0.5)
            db.session.rollback()
            status = db.session.scalar(db.select(Order.status).where(Order.id == order.id))
        assert status == "expired"
    finally:
        stop_worker(worker)


def test_the_worker_rebuilds_the_homepage_after_a_catalog_change(
    app_with, services, real_redis, tmp_path
):
    """At start the worker writes the homepage files; a catalog change committed here (the
    web side, enqueueing to the real queue) reaches them through the worker."""
    from app.extensions import db
    from app.models import Course
    from app.services import homepage
    from tests.factories import CourseFactory

    with app_with(RQ_INLINE=False) as app:
        course = CourseFactory(name="Written by the worker", brief="A course.")
        zh, en = homepage.page_path("zh"), homepage.page_path("en")
        assert zh.parent == tmp_path / "generated"
        assert not zh.exists()
        worker = start_worker(services, tmp_path)
        try:
            wait_for_text(worker, zh, "Written by the worker")  # the rebuild at start
            wait_for_text(worker, en, "Written by the worker")

            db.session.get(Course, course.id).name = "Renamed in the catalog"
            db.session.commit()
            wait_for_text(worker, zh, "Renamed in the catalog")
            wait_for_text(worker, en, "Renamed in the catalog")
            assert "Written by the worker" not in en.read_text(encoding="utf-8")

            page = app.test_client().get("/", headers={"Accept-Language": "en"})
            assert page.get_data() == en.read_bytes()  # "/" serves what the worker wrote
        finally:
            stop_worker(worker)


def wait_for_text(worker: subprocess.Popen, path: Path, text: str, limit: float = 60) -> None:
    """Poll until `path` holds `text` (a generous limit: the machine may be busy)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.stdout.read().decode()
        if path.exists() and text in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never held {text!r}")
