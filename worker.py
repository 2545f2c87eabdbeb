"""The RQ worker: `python worker.py` runs the app's queues, with RQ's scheduler, in one app."""

from __future__ import annotations

import logging
import sys

from rq import Worker

from app import create_app
from app.extensions import db, queue
from app.jobs import use_app


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
        worker = AppWorker([rq_queue], connection=rq_queue.connection)
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
