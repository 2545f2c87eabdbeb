"""Catalog reads on a MariaDB replica (`DATABASE_REPLICA_URL`), falling back to the primary.

The replica is the second SQLAlchemy bind, `replica`. Only reads that may be a few seconds old
go there: `read_from_replica(build)` runs `build` (a catalog read, see catalog_cache) in a
session of its own on the replica, and everything else (whatever a student writes and reads
back) stays on the primary. The replica is skipped for a while when it does not answer, when
its replication has stopped, or when it lags more than DATABASE_REPLICA_MAX_LAG seconds; a read
that fails on it is done again on the primary, so a stopped replica costs a moment, not an error.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

EXTENSION = "replica"
BIND = "replica"
# How long a verdict on the replica (usable or not) is kept before it is asked again.
CHECK_EVERY = 2.0
# How long a replica that failed is left alone.
DOWN_FOR = 5.0
# The replica must answer quicker than the primary is waited for: the primary is the fallback.
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 3


def replica_bind(config: dict[str, Any], url: str) -> dict[str, Any]:
    """The replica's bind options (Flask-SQLAlchemy's SQLALCHEMY_BINDS form)."""
    options: dict[str, Any] = {"url": url, "pool_pre_ping": True, "pool_recycle": 3600}
    if url.startswith("mysql"):
        options["isolation_level"] = "READ COMMITTED"
        options["connect_args"] = {
            "connect_timeout": min(CONNECT_TIMEOUT, config["DB_CONNECT_TIMEOUT"]),
            "read_timeout": min(READ_TIMEOUT, config["DB_READ_TIMEOUT"]),
        }
        options["pool_timeout"] = CONNECT_TIMEOUT
    return options


class ReplicaState:
    """Whether this process reads from the replica now: checked at most every CHECK_EVERY s."""

    def __init__(self, app: Flask) -> None:
        self.max_lag = float(app.config["DATABASE_REPLICA_MAX_LAG"])
        self._usable_until = 0.0
        self._down_until = 0.0
        self._lock = threading.Lock()

    def usable(self) -> bool:
        now = time.monotonic()
        if now < self._usable_until:
            return True
        if now < self._down_until:
            return False
        with self._lock:
            if time.monotonic() < self._usable_until:
                return True
            problem = self._problem()
            if problem is None:
                self._usable_until = time.monotonic() + CHECK_EVERY
                return True
            self.mark_down(problem)
            return False

    def mark_down(self, why: str) -> None:
        if time.monotonic() >= self._down_until:
            log.warning("replica skipped for %ss, reading the primary: %s", DOWN_FOR, why)
        self._usable_until = 0.0
        self._down_until = time.monotonic() + DOWN_FOR

    def _problem(self) -> str | None:
        """None when the replica replicates and is at most `max_lag` seconds behind."""
        engine = db.engines[BIND]
        try:
            with engine.connect() as conn:
                if conn.dialect.name != "mysql":
                    return None
                row = conn.execute(text("SHOW SLAVE STATUS")).mappings().first()
        except (DBAPIError, PoolTimeout) as exc:
            return f"it does not answer ({one_line(exc)})"
        if row is None:
            return None  # not replicating from anything: a copy kept some other way
        if row.get("Slave_SQL_Running") != "Yes" or row.get("Slave_IO_Running") != "Yes":
            return "its replication is stopped"
        lag = row.get("Seconds_Behind_Master")
        if lag is None or lag > self.max_lag:
            return f"it lags {lag} s behind the primary"
        return None


def one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"[:300]


def read_from_replica(build: Callable[[], T]) -> T:
    """`build()` run on the replica when there is one and it is usable, else on the primary."""
    state: ReplicaState | None = current_app.extensions.get(EXTENSION)
    if state is None or not state.usable():
        return build()
    registry = db.session.registry
    primary = registry()
    replica = Session(bind=db.engines[BIND], autoflush=False, expire_on_commit=False)
    registry.set(replica)  # `db.session` is the replica's while `build` runs
    try:
        return build()
    except (DBAPIError, PoolTimeout) as exc:
        state.mark_down(one_line(exc))
    finally:
        registry.set(primary)
        with contextlib.suppress(Exception):  # a broken connection is dropped all the same
            replica.close()
    return build()


def init_app(app: Flask) -> None:
    if app.config.get("DATABASE_REPLICA_URL"):
        app.extensions[EXTENSION] = ReplicaState(app)
