"""`/healthz`'s checks: the database and Redis asked at once, each on a connection of its own
with short timeouts, so that the answer comes within 3 seconds even when a server is frozen
(accepts connections, answers nothing), whatever the app's own, longer timeouts are."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from app.redis_store import connect

log = logging.getLogger(__name__)

EXTENSION = "health"
TIMEOUT = 1  # seconds, per connect and per read
DEADLINE = 2.5  # seconds for the whole check: a late answer counts as none
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="healthz")


class HealthChecks:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._engine: Engine | None = None
        self._redis = None

    def engine(self) -> Engine:
        if self._engine is None:
            url = self.app.config["SQLALCHEMY_DATABASE_URI"]
            if url.startswith("mysql"):
                args = {"connect_timeout": TIMEOUT, "read_timeout": TIMEOUT, "write_timeout": 1}
                self._engine = create_engine(url, poolclass=NullPool, connect_args=args)
            else:  # SQLite: a file, never frozen; the app's own engine will do
                from app.extensions import db

                with self.app.app_context():
                    self._engine = db.engine
        return self._engine

    def redis(self):
        store = self.app.extensions["redis_store"]
        if store.embedded:
            return store.client
        if self._redis is None:
            self._redis, _raw = connect(self.app.config, timeout=TIMEOUT)
        return self._redis

    def database_answers(self) -> None:
        with self.engine().connect() as conn:
            conn.execute(text("SELECT 1"))

    def redis_answers(self) -> None:
        self.redis().ping()

    def status(self) -> dict[str, str]:
        checks = {"db": self.database_answers, "redis": self.redis_answers}
        futures = {name: _pool.submit(check) for name, check in checks.items()}
        status: dict[str, Any] = {}
        for name, future in futures.items():
            try:
                future.result(timeout=DEADLINE)
            except Late:
                log.warning("health check: %s did not answer within %ss", name, DEADLINE)
                status[name] = "unavailable"
            except Exception as exc:
                log.warning("health check: %s does not answer (%s)", name, exc)
                status[name] = "unavailable"
            else:
                status[name] = "ok"
        return status


def status(app: Flask) -> dict[str, str]:
    checks = app.extensions.get(EXTENSION)
    if checks is None:
        checks = app.extensions[EXTENSION] = HealthChecks(app)
    return checks.status()
