"""The RQ worker: `python worker.py` runs the app's queues, with RQ's scheduler, in one app."""

from __future__ import annotations

import logging
import sys
import threading

from rq import Worker
from rq.cron import CronScheduler

from app import create_app
from app.extensions import db, queue
from app.jobs import close_expired_orders, use_app

# Periodic jobs: (function, every how many seconds).
PERIODIC = ((close_expired_orders, 60),)


class ThreadedCronScheduler(CronScheduler):
    """RQ's cron, run beside the worker in a thread (signal handlers stay the worker's)."""

    def _install_signal_handlers(self) -> None:
        pass


def start_cron(connection, queue_name: str) -> threading.Thread:
    cron = ThreadedCronScheduler(connection=connection, name=f"cron-{threading.get_ident()}")
    for func, seconds in PERIODIC:
        cron.register(func, queue_name, interval=seconds)
    thread = threading.Thread(target=cron.start, name="rq-cron", daemon=True)
    thread.start()
    return thread


class AppWorker(Worker):
    """Forks a work horse per job; the horse must not reuse the parent's DB connections."""

    flask_app = None

    def main_work_horse(self, *args, **kwargs):
        with self.flask_app.app_context():
            db.engine.dispose(close=False)  # the parent's sockets stay the parent's
        return super().main_work_horse(*args, **kwargs)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app()
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
        start_cron(rq_queue.connection, rq_queue.name)
        worker = AppWorker([rq_queue], connection=rq_queue.connection)
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
