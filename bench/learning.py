"""Learning benchmarks: progress reports (what 200 students reporting every 15 s cost, and how
far it goes on this machine) and media serving (1 MB ranges through the app beside nginx's
X-Accel-Redirect).

    .venv/bin/python bench/learning.py                 # both, about two minutes
    .venv/bin/python bench/learning.py --only progress
    .venv/bin/python bench/learning.py --only media --seconds 5

The store runs in production (bench/appenv.py) on throwaway state: database `learning_bench`
(MariaDB when it answers, else SQLite), Redis db 10, servers on ports 5120-5123 only.
Results go to bench/results/learning-<UTC time>.json; bench/README.md has the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appenv
from harness import (
    BENCH_DIR,
    HOST,
    GunicornServer,
    ServerSettings,
    git_commit,
    machine,
    percentile,
)

STUDENTS = 200
REPORT_EVERY_S = 15
APP_PORT, NGINX_PORT, ACCEL_APP_PORT = 5120, 5121, 5122
RANGE = 1024 * 1024
VISITOR = "0123456789abcdef0123456789abcdef"


class FixedPortServer(GunicornServer):
    """A GunicornServer on a port of ours (the helpers share the machine's ports)."""

    def __init__(self, *args, port: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_port = port

    def start(self, ready_timeout: float = 60.0) -> GunicornServer:
        self.port = self.fixed_port
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if not self.wait_ready(ready_timeout):
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
        return self


# --- progress --------------------------------------------------------------------------------


def _put(conn, token: str, section: int, position: int) -> tuple[int, float]:
    body = json.dumps({"position_s": position})
    started = time.perf_counter()
    conn.request(
        "PUT",
        f"/api/v1/sections/{section}/progress",
        body=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def progress_closed_loop(port, tokens, section, duration, seconds, connections) -> dict:
    """As many reports as `connections` clients can send back to back: the ceiling."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        mine, bad = [], 0
        while time.monotonic() < deadline:
            status, ms = _put(conn, random.choice(tokens), section, random.randint(0, duration))
            mine.append(ms)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "connections": connections,
        "reports": len(latencies),
        "reports_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": errors[0],
        "students_at_one_report_per_15s": int(len(latencies) / seconds * REPORT_EVERY_S),
    }


def progress_open_loop(port, tokens, section, duration, seconds) -> dict:
    """200 students, each reporting every 15 s, their reports spread evenly: 13.3 a second."""
    rate = len(tokens) / REPORT_EVERY_S
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.monotonic()

    def one(index: int) -> None:
        time.sleep(max(0.0, start + index / rate - time.monotonic()))
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        status, ms = _put(conn, tokens[index % len(tokens)], section, index % (duration + 1))
        conn.close()
        with lock:
            latencies.append(ms)
            errors[0] += status != 200

    threads = [threading.Thread(target=one, args=(i,)) for i in range(total)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "students": len(tokens),
        "reports_per_s": round(rate, 1),
        "reports": total,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "errors": errors[0],
    }


# --- media -------------------------------------------------------------------------------------

_WRK_RANGES = """
local size = %(size)d
local span = %(span)d
math.randomseed(os.time())
function request()
  local start = math.random(0, (size - span) / span) * span
  return wrk.format("GET", "%(path)s", {
    ["Range"] = "bytes=" .. start .. "-" .. (start + span - 1),
    ["Cookie"] = "lesson_visitor=%(visitor)s",
  })
end
function done(summary, latency, requests)
  io.write(string.format("WRK_JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, " ..
    "\\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"bytes\\": %%d, \\"errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.bytes, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def media_token(port: int, section: int) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request(
        "GET", f"/api/v1/sections/{section}/media", headers={"Cookie": f"lesson_visitor={VISITOR}"}
    )
    answer = json.loads(conn.getresponse().read())
    return answer["data"]["url"]


def wrk_ranges(port: int, path: str, size: int, seconds: float, connections: int) -> dict:
    script = _WRK_RANGES % {"size": size, "span": RANGE, "path": path, "visitor": VISITOR}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    out = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{int(seconds)}s",
            "-s",
            fh.name,
            f"http://{HOST}:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    Path(fh.name).unlink(missing_ok=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {out.stdout[-1500:]} {out.stderr[-1500:]}")
    got = json.loads(line.removeprefix("WRK_JSON "))
    secs = got["duration_us"] / 1e6
    return {
        "connections": connections,
        "requests_per_s": round(got["requests"] / secs, 1),
        "MB_per_s": round(got["bytes"] / secs / 1e6, 1),
        "p50_ms": round(got["p50_us"] / 1000, 1),
        "p99_ms": round(got["p99_us"] / 1000, 1),
        "errors": got["errors"],
    }


NGINX_CONF = """
# root: the store's throwaway folders are 0700 (mkdtemp); a deployment runs nginx as its own
# user with MEDIA_FOLDER readable by it.
user root;
worker_processes 2;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  sendfile on;
  upstream store { server 127.0.0.1:%(app_port)d; keepalive 16; }
  server {
    listen 127.0.0.1:%(port)d;
    location /_protected_media/ { internal; alias %(media)s/; }
    location / {
      proxy_pass http://store;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
"""


def with_nginx(media_folder: str, work: Path):
    folder = work / "nginx"
    folder.mkdir(exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(
        NGINX_CONF
        % {"dir": folder, "app_port": ACCEL_APP_PORT, "port": NGINX_PORT, "media": media_folder}
    )
    process = subprocess.Popen(
        ["nginx", "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(1)
    return process


# --- the run --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["progress", "media"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    env = appenv.prepare(database_name="learning_bench", redis_db=10)
    results: dict = {"commit": git_commit(), "machine": machine(), "store": env.describe()}
    try:
        for step in (("db", "upgrade"), ("seed-demo",)):
            done = env.flask(*step)
            if done.returncode:
                raise RuntimeError(done.stderr[-2000:])
        made = env.python("bench/learning_data.py", str(STUDENTS))
        if made.returncode:
            raise RuntimeError(made.stderr[-2000:])
        data = json.loads(made.stdout.strip().splitlines()[-1])
        settings = ServerSettings(workers=args.workers)
        store_env = env.process_env()
        if args.only in (None, "progress"):
            with FixedPortServer(
                "wsgi:app",
                settings=settings,
                env=store_env,
                ready_path="/healthz",
                port=APP_PORT,
                name="learning-progress",
            ):
                tokens, section = data["tokens"], data["section_id"]
                duration = data["duration"] or 600
                results["progress_200_students"] = progress_open_loop(
                    APP_PORT, tokens, section, duration, args.seconds * 2
                )
                results["progress_ceiling"] = [
                    progress_closed_loop(APP_PORT, tokens, section, duration, args.seconds, c)
                    for c in (4, 16)
                ]
            print(
                json.dumps({k: results[k] for k in results if k.startswith("progress")}, indent=1)
            )
        if args.only in (None, "media"):
            with FixedPortServer(
                "wsgi:app",
                settings=settings,
                env=store_env,
                ready_path="/healthz",
                port=APP_PORT,
                name="learning-media",
            ):
                path = media_token(APP_PORT, data["big_section_id"])
                results["media_through_app"] = [
                    wrk_ranges(APP_PORT, path, data["big_size"], args.seconds, c) for c in (4, 16)
                ]
            accel_env = {**store_env, "MEDIA_ACCEL_REDIRECT": "/_protected_media/"}
            with FixedPortServer(
                "wsgi:app",
                settings=settings,
                env=accel_env,
                ready_path="/healthz",
                port=ACCEL_APP_PORT,
                name="learning-accel",
            ):
                nginx = with_nginx(data["media_folder"], env.workdir)
                try:
                    path = media_token(NGINX_PORT, data["big_section_id"])
                    results["media_x_accel_redirect"] = [
                        wrk_ranges(NGINX_PORT, path, data["big_size"], args.seconds, c)
                        for c in (4, 16)
                    ]
                finally:
                    nginx.terminate()
                    nginx.wait(timeout=10)
            print(json.dumps({k: results[k] for k in results if k.startswith("media")}, indent=1))
    finally:
        env.cleanup()
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"learning-{stamp}.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
