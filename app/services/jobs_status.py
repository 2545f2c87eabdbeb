"""What staff see of the worker's queues: how many jobs wait, run, wait for a retry or failed,
and the failed jobs themselves, which they may put back on the queue or delete.

A failed job is retried with backoff (`jobs_queue.default_retry`) and lands in RQ's failed
registry only once its retries are used up; while it waits for a retry it counts as scheduled.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from app.services.errors import N_, NotFound

FAILED_JOBS_SHOWN = 100


def _connection() -> Redis:
    return current_app.extensions["redis_store"].raw


def _queues() -> list[Queue]:
    """The app's queue, and any other queue RQ knows of in this Redis."""
    connection = _connection()
    from app.extensions import queue

    names = {queue.name} | {q.name for q in Queue.all(connection=connection)}
    return [Queue(name, connection=connection) for name in sorted(names)]


def queue_counts() -> list[dict[str, Any]]:
    """Per queue: jobs waiting (`queued`), running (`started`), waiting for their time or a
    retry (`scheduled`), waiting for another job (`deferred`) and out of retries (`failed`)."""
    return [
        {
            "name": q.name,
            "queued": q.count,
            "started": q.started_job_registry.count,
            "scheduled": q.scheduled_job_registry.count,
            "deferred": q.deferred_job_registry.count,
            "failed": q.failed_job_registry.count,
        }
        for q in _queues()
    ]


def failed_jobs(limit: int = FAILED_JOBS_SHOWN) -> list[dict[str, Any]]:
    """The failed jobs, the latest first: `id`, `queue`, `function`, `error` (the last line of
    the exception) and `failed_at` (aware UTC, or None if RQ did not record it)."""
    if limit < 1:
        return []
    connection = _connection()
    found = []
    for q in _queues():
        ids = _latest_failed_ids(q.failed_job_registry, limit)
        for job in Job.fetch_many(ids, connection=connection):
            if job is not None:  # its hash expired before the registry noticed
                found.append(_failed_job(job, q.name))
    found.sort(key=lambda job: job["failed_at"] or datetime.min.replace(tzinfo=UTC), reverse=True)
    return found[:limit]


def _latest_failed_ids(registry: FailedJobRegistry, limit: int) -> list[str]:
    """The ids of the `limit` latest failures, and of any that failed in the same second as the
    last of them: the registry orders by whole seconds, the exact times sort them afterwards."""
    registry.cleanup()
    connection = registry.connection
    latest = connection.zrange(registry.key, 0, limit - 1, desc=True, withscores=True)
    ids = {registry.parse_job_id(member) for member, _ in latest}
    if len(latest) == limit:
        last_score = latest[-1][1]
        ties = connection.zrangebyscore(registry.key, last_score, last_score)
        ids.update(registry.parse_job_id(member) for member in ties)
    return sorted(ids)


def _failed_job(job: Job, queue_name: str) -> dict[str, Any]:
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    failed_at = job.ended_at or (result.created_at if result is not None else None)
    return {
        "id": job.id,
        "queue": queue_name,
        "function": job.func_name,
        "error": lines[-1].strip() if lines else "",
        "failed_at": _aware(failed_at),
    }


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _registry_holding(job_id: str) -> FailedJobRegistry:
    """The failed registry that holds `job_id`; NotFound for any other id, however written."""
    if isinstance(job_id, str) and job_id:
        for q in _queues():
            registry = q.failed_job_registry
            if job_id in registry:
                return registry
    raise NotFound(N_("No such failed job."))


def requeue_failed(job_id: str) -> None:
    """Put a failed job back on its queue (it runs once more; RQ's retries are not renewed)."""
    registry = _registry_holding(job_id)
    try:
        registry.requeue(job_id)
    except NoSuchJobError as exc:  # its data expired: the registry entry goes too
        registry.remove(job_id)
        raise NotFound(N_("No such failed job.")) from exc
    except InvalidJobOperation as exc:  # requeued or deleted by someone else meanwhile
        raise NotFound(N_("No such failed job.")) from exc


def delete_failed(job_id: str) -> None:
    """Forget a failed job: out of the failed registry, and its data deleted."""
    registry = _registry_holding(job_id)
    # Its data may have expired, or someone deleted it meanwhile: gone either way.
    with contextlib.suppress(NoSuchJobError):
        registry.remove(job_id, delete_job=True)
