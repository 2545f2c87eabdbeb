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
