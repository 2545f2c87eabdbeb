"""A real `python worker.py` process takes jobs from the real Redis and runs them in the app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from rq import Queue

from app.jobs import ping

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_runs_a_queued_job(services, real_redis, tmp_path):
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "TEST_DATABASE_URL": services.database_url,
        "TEST_REDIS_URL": services.redis_url,
        "INSTANCE_DIR": str(tmp_path),
    }
    connection = redis.Redis.from_url(services.redis_url)
    job = Queue("default", connection=connection).enqueue(ping, "pong")
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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
        worker.terminate()
        worker.wait(timeout=15)
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
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "TEST_DATABASE_URL": services.database_url,
        "TEST_REDIS_URL": services.redis_url,
        "INSTANCE_DIR": str(tmp_path),
    }
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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
        worker.terminate()
        worker.wait(timeout=15)
