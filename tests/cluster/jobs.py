"""A job the cluster fault test puts on the workers' queue: slow enough to be killed midway."""

from __future__ import annotations

import time

from rq import get_current_job


def slow_mark(key: str, seconds: float) -> None:
    """Work for `seconds`, then say so in Redis (a job killed midway never says it)."""
    job = get_current_job()
    job.connection.incr(f"{key}:started")
    time.sleep(seconds)
    job.connection.set(key, "done")
