"""What the admin shows of the worker: queue lengths, failed jobs, requeue and delete; and that
failing jobs, the periodic ones included, are retried with backoff before they count as failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from app.extensions import queue
from app.jobs import close_expired_orders, ping
from app.services import jobs_status
from app.services.errors import NotFound


def explode(message: str = "boom") -> None:
    """A job that always fails, with a traceback of several lines."""
    raise ValueError(f"first line of the story\n{message}")


@pytest.fixture
def worker_app(app_with, real_redis):
    """An app whose jobs go on the real Redis queue instead of running inline."""
    with app_with(RQ_INLINE=False) as app:
        yield app


def rq_queue(app) -> Queue:
    return Queue("default", connection=app.extensions["redis_store"].raw)


class BurstWorker(SimpleWorker):
    """RQ's worker without its command channel: a burst in the test's own process takes no
    commands, and RQ's listening thread, stopped racing its last message, held each burst up to
    the second it waits for that thread."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def work_once(app) -> None:
    """Run what is on the queue now, in this process (as the worker would, without a fork)."""
    connection = app.extensions["redis_store"].raw
    BurstWorker([rq_queue(app)], connection=connection).work(burst=True, with_scheduler=False)


def counts(name: str = "default") -> dict:
    return next(found for found in jobs_status.queue_counts() if found["name"] == name)


def fail_for_good(app, message: str = "boom") -> Job:
    """A job enqueued without retries, run once: it lands in the failed registry."""
    job = queue.enqueue(explode, message, retry=None)
    work_once(app)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    return job


# --- counts -----------------------------------------------------------------------------------


def test_an_empty_queue_counts_nothing(worker_app):
    assert counts() == {
        "name": "default",
        "queued": 0,
        "started": 0,
        "scheduled": 0,
        "deferred": 0,
        "failed": 0,
    }
    assert jobs_status.failed_jobs() == []


def test_queued_jobs_are_counted(worker_app):
    queue.enqueue(ping, "a")
    queue.enqueue(ping, "b")
    assert counts()["queued"] == 2
    work_once(worker_app)
    assert counts()["queued"] == 0
    assert counts()["failed"] == 0


def test_a_failing_job_waits_for_a_retry_before_it_counts_as_failed(worker_app):
    job = queue.enqueue(explode)  # with the default retries
    assert job.retries_left == 3
    assert job.retry_intervals == [10, 60, 300]
    before = datetime.now(UTC)
    work_once(worker_app)
    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 2
    retry_at = rq_queue(worker_app).scheduled_job_registry.get_scheduled_time(job)
    assert before + timedelta(seconds=9) <= retry_at <= datetime.now(UTC) + timedelta(seconds=11)
    assert counts()["scheduled"] == 1
    assert counts()["failed"] == 0
    assert jobs_status.failed_jobs() == []


def test_a_job_out_of_retries_is_listed_as_failed(worker_app):
    job = fail_for_good(worker_app, "the real reason")
    assert counts()["failed"] == 1
    assert counts()["queued"] == 0
    [failed] = jobs_status.failed_jobs()
    assert failed["id"] == job.id
    assert failed["queue"] == "default"
    assert failed["function"] == "tests.functional.test_jobs_status.explode"
    assert failed["error"] == "the real reason"  # the exception's last line
    assert failed["failed_at"].tzinfo is not None
    assert abs(failed["failed_at"] - datetime.now(UTC)) < timedelta(minutes=5)


def test_failed_jobs_come_latest_first(worker_app):
    first = fail_for_good(worker_app, "first")
    second = fail_for_good(worker_app, "second")
    assert [job["id"] for job in jobs_status.failed_jobs()] == [second.id, first.id]
    assert [job["id"] for job in jobs_status.failed_jobs(limit=1)] == [second.id]
    assert jobs_status.failed_jobs(limit=0) == []


# --- requeue and delete -----------------------------------------------------------------------


def test_a_failed_job_is_requeued(worker_app):
    job = fail_for_good(worker_app)
    jobs_status.requeue_failed(job.id)
    assert counts()["failed"] == 0
    assert counts()["queued"] == 1
    assert jobs_status.failed_jobs() == []
    job.refresh()
    assert job.get_status() == JobStatus.QUEUED
    work_once(worker_app)  # it fails again, and is listed again
    assert [found["id"] for found in jobs_status.failed_jobs()] == [job.id]


def test_a_failed_job_is_deleted(worker_app):
    job = fail_for_good(worker_app)
    jobs_status.delete_failed(job.id)
    assert counts()["failed"] == 0
    assert counts()["queued"] == 0
    assert jobs_status.failed_jobs() == []
    with pytest.raises(NoSuchJobError):
        Job.fetch(job.id, connection=worker_app.extensions["redis_store"].raw)


@pytest.mark.parametrize("action", [jobs_status.requeue_failed, jobs_status.delete_failed])
@pytest.mark.parametrize(
    "job_id", ["", "no-such-job", "../../etc", "a b", "*", "rq:job:x", "é" * 300, None, 42]
)
def test_an_unknown_job_is_not_found(worker_app, action, job_id):
    fail_for_good(worker_app)
    with pytest.raises(NotFound):
        action(job_id)
    assert counts()["failed"] == 1


@pytest.mark.parametrize("action", [jobs_status.requeue_failed, jobs_status.delete_failed])
def test_a_job_that_did_not_fail_is_not_touched(worker_app, action):
    waiting = queue.enqueue(ping, "still waiting")
    with pytest.raises(NotFound):
        action(waiting.id)
    waiting.refresh()
    assert waiting.get_status() == JobStatus.QUEUED
    assert counts()["queued"] == 1


@pytest.mark.parametrize("action", [jobs_status.requeue_failed, jobs_status.delete_failed])
def test_the_second_of_two_clicks_is_not_found(worker_app, action):
    job = fail_for_good(worker_app)
    action(job.id)
    with pytest.raises(NotFound):
        action(job.id)
    assert counts()["queued"] == (1 if action is jobs_status.requeue_failed else 0)


def test_a_failed_job_whose_data_expired_is_not_found_and_forgotten(worker_app):
    job = fail_for_good(worker_app)
    worker_app.extensions["redis_store"].raw.delete(job.key)  # as its failure_ttl would
    with pytest.raises(NotFound):
        jobs_status.requeue_failed(job.id)
    assert jobs_status.failed_jobs() == []
    assert counts()["failed"] == 0


def test_other_queues_are_counted_too(worker_app):
    connection = worker_app.extensions["redis_store"].raw
    Queue("emails", connection=connection).enqueue(ping, "x")
    assert counts("emails")["queued"] == 1
    assert counts("default")["queued"] == 0


# --- the periodic jobs retry too ----------------------------------------------------------------


def test_the_periodic_jobs_are_enqueued_with_retries():
    from worker import PERIODIC, ThreadedCronScheduler

    connection = fakeredis.FakeRedis()
    cron = ThreadedCronScheduler(connection=connection, name="test-cron")
    for func, seconds in PERIODIC:
        cron.register(func, "default", interval=seconds)
    enqueued = cron.enqueue_jobs()
    assert [job.func_name for job in enqueued] == ["app.jobs.close_expired_orders"]
    cron.save()  # what RQ keeps for monitoring stays JSON (a Retry is not)
    [job] = Queue("default", connection=connection).get_jobs()
    assert job.func_name == f"{close_expired_orders.__module__}.{close_expired_orders.__name__}"
    assert job.retries_left == 3
    assert job.retry_intervals == [10, 60, 300]
    assert "retry" not in cron.get_jobs()[0].job_options
