"""`make run`: the site on 127.0.0.1:5000 with a worker beside it, or alone with inline jobs."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from werkzeug.serving import run_simple

from app import create_app

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

    app = create_app()
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f" * Database: {database.split('@')[-1] if '@' in database else database}")
    worker = None
    if app.config.get("REDIS_EMBEDDED"):
        print(" * Redis: embedded in this process; jobs run inline (one web process only)")
    else:
        print(f" * Redis: {app.config['REDIS_URL']}; starting a worker (python worker.py)")
        worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT)  # noqa: S603
    print(f" * Open http://{args.host}:{args.port}/  (demo / demo12345, admin / admin12345)")
    try:
        # One process, threaded: an embedded Redis lives in this process's memory.
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
