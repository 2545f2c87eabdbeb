"""The RQ worker: `python worker.py` runs the app's queues, with RQ's scheduler, in one app.

At start it asks for a homepage rebuild (the catalog may have changed while no worker ran).
Every job, the periodic ones included, is retried with backoff when it fails
(`jobs_queue.default_retry`); RQ's scheduler, run by the worker, puts each retry back on the
queue when its time comes, and a job that has used up its retries stays in the failed registry
(app/services/jobs_status.py shows it to staff).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

from redis import Redis
from rq import Worker
from rq.cron import CronJob, CronScheduler
from rq.job import Job

from app import create_app, redis_store
from app.extensions import db, queue
from app.jobs import close_expired_orders, use_app
from app.jobs_queue import default_retry
from app.services import homepage

# Periodic jobs: (function, every how many seconds).
PERIODIC = ((close_expired_orders, 60),)


class RetryingCronJob(CronJob):
    """A periodic job enqueued with the retries every other job gets.

    RQ's CronJob takes no `retry`. The option is added only for the enqueue itself: the cron
    job's other options are also saved to Redis as JSON for monitoring, which a Retry is not."""

    def enqueue(self, connection: Redis) -> Job:
        self.job_options["retry"] = default_retry()
        try:
            return super().enqueue(connection)
        finally:
            del self.job_options["retry"]


class ThreadedCronScheduler(CronScheduler):
    """RQ's cron, run beside the worker in a thread (signal handlers stay the worker's), whose
    jobs are retried with backoff like every other job."""

    def _install_signal_handlers(self) -> None:
        pass

    def register(self, func, queue_name: str, **options: Any) -> CronJob:
        cron_job = RetryingCronJob(queue_name=queue_name, func=func, **options)
        self.get_jobs().append(cron_job)
        return cron_job


def start_cron(connection, queue_name: str) -> threading.Thread:
    cron = ThreadedCronScheduler(connection=connection, name=f"cron-{threading.get_ident()}")
    for func, seconds in PERIODIC:
        cron.register(func, queue_name, interval=seconds)
    thread = threading.Thread(target=cron.start, name="rq-cron", daemon=True)
    thread.start()
    return thread


def seconds(variable: str, default: int) -> int:
    """One of the worker's timings: from the environment (docs/operations.md) or its default."""
    return int(os.environ.get(variable) or default)


# RQ waits for a job with a blocking pop of `worker_ttl - 15` seconds; the app's Redis clients
# give up on any reply after REDIS_SOCKET_TIMEOUT (3 s), which would cut every such wait short
# ("Timeout reading from socket", then RQ backs off for up to a minute before listening again).
# The worker listens on a connection of its own whose timeout outlasts the wait by 10 s.
WORKER_TTL = seconds("WORKER_TTL", 35)  # a 20 s wait for a job, then a heartbeat
WORKER_SOCKET_TIMEOUT = max(WORKER_TTL - 15, 1) + 10
# A job whose worker was killed outright stays "started" until its heartbeat (every
# JOB_MONITORING seconds, valid HEARTBEAT_GRACE seconds longer) lapses and a worker's
# maintenance (every MAINTENANCE seconds, between two waits for a job; RQ's default is 10
# minutes) hands it to its retries: about 70-100 s with these defaults.
JOB_MONITORING = seconds("WORKER_JOB_MONITORING", 10)
MAINTENANCE = seconds("WORKER_MAINTENANCE", 30)
HEARTBEAT_GRACE = seconds("WORKER_HEARTBEAT_GRACE", 60)  # RQ's own


class AppWorker(Worker):
    """Forks a work horse per job; the horse must not reuse the parent's DB connections."""

    flask_app = None

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """As RQ's (until the next heartbeat, or the job's timeout when sooner), with
        HEARTBEAT_GRACE seconds to spare where RQ has a fixed 60."""
        until_next = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            until_next = min(job.timeout - working_time, until_next)
        return int(until_next) + HEARTBEAT_GRACE

    def main_work_horse(self, *args, **kwargs):
        with self.flask_app.app_context():
            db.engine.dispose(close=False)  # the parent's sockets stay the parent's
        return super().main_work_horse(*args, **kwargs)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app({"RQ_INLINE": False})  # the worker is where queued jobs run: never inline
    if app.config.get("REDIS_EMBEDDED"):
        print(
            "No Redis answers: jobs run inline in the web process, no worker is needed.",
            file=sys.stderr,
        )
        return 1
    use_app(app)
    AppWorker.flask_app = app
    with app.app_context():
        rq_queue = queue.rq_queue(app)
        homepage.request_rebuild(force=True)
        start_cron(rq_queue.connection, rq_queue.name)
        _, listening = redis_store.connect(app.config, timeout=WORKER_SOCKET_TIMEOUT)
        worker = AppWorker(
            [rq_queue.name],
            connection=listening,
            worker_ttl=WORKER_TTL,
            job_monitoring_interval=JOB_MONITORING,
            maintenance_interval=MAINTENANCE,
        )
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
