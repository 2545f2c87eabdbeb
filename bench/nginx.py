"""The homepage and the catalog through nginx (deploy/), beside hello world under gunicorn.

    .venv/bin/python bench/nginx.py                     # 3 rounds x 5 s, 32 connections
    .venv/bin/python bench/nginx.py --rounds 5 --duration 10 --connections 8

Starts the production topology with `deploy/cluster up` (nginx in front of two gunicorn app
servers, MariaDB primary + replica, Redis + Sentinels, two workers; its ports and folder are
CLUSTER_* and CLUSTER_DIR, defaulting to a folder of its own here), waits until a worker has
written the homepage's files, then in each round measures, one after the other with the same
load: hello world (bench/hello.py under gunicorn, 2 gthread workers x 4 threads), `GET /?lang=zh`
through nginx (nginx sends the pre-rendered file itself: `try_files`), `GET /` with no language
(nginx asks the app, whose homepage layer answers from the file), and the API's course list
and a course's detail through nginx (proxied to the app servers, answered by their kept
answers). Ratios are store rps / hello rps of the same round; the median is printed.
`deploy/cluster down` stops everything at the end (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from harness import ROOT, GunicornServer, LoadGenerator, LoadSpec, ServerSettings, machine

CLUSTER = ROOT / "deploy" / "cluster"


def cluster_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CLUSTER_DIR", str(Path(tempfile.gettempdir()) / "luffy-bench-nginx"))
    env.setdefault("CLUSTER_HTTP_PORT", "5380")
    env.setdefault("CLUSTER_DB_PORT", "3650")
    env.setdefault("CLUSTER_REDIS_PORT", "6650")
    env.setdefault("CLUSTER_SENTINEL_PORT", "26650")
    return env


def wait_for_homepage(base_dir: Path, url: str, seconds: float = 120) -> None:
    give_up = time.monotonic() + seconds
    while not list((base_dir / "generated").glob("index.*.html")):
        if time.monotonic() > give_up:
            raise RuntimeError("no homepage file was written by the workers")
        time.sleep(1)
    with urllib.request.urlopen(url + "/", timeout=5) as answer:  # noqa: S310 (127.0.0.1 only)
        answer.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    env = cluster_env()
    print(f"machine: {json.dumps(machine())}")
    up = subprocess.run([str(CLUSTER), "up"], env=env, capture_output=True, text=True, check=False)
    if up.returncode != 0:
        print(up.stdout[-3000:], up.stderr[-3000:], file=sys.stderr)
        return 1
    url = up.stdout.strip().splitlines()[-1].removeprefix("READY ").strip()
    results: dict[str, list[float]] = {}
    try:
        wait_for_homepage(Path(env["CLUSTER_DIR"]), url)
        with urllib.request.urlopen(url + "/api/v1/courses?per_page=1", timeout=5) as answer:  # noqa: S310
            course_id = json.load(answer)["data"]["items"][0]["id"]
        targets = {
            "homepage (nginx file)": ["/?lang=zh"],
            "homepage (no language: app)": ["/"],
            "api list (nginx -> app)": ["/api/v1/courses?page=1&per_page=12"],
            "api detail (nginx -> app)": [f"/api/v1/courses/{course_id}"],
        }
        settings = ServerSettings(worker_class="gthread", threads=4)
        load = LoadGenerator()
        spec = LoadSpec(duration=args.duration, connections=args.connections)
        with GunicornServer("bench.hello:app", settings=settings, name="hello") as hello:
            for paths in targets.values():  # warm-up
                load.run(url, paths, LoadSpec(duration=1, connections=args.connections))
            for number in range(1, args.rounds + 1):
                print(f"round {number}/{args.rounds}")
                for name, paths in targets.items():
                    base = load.run(hello.base_url, ["/"], spec)
                    got = load.run(url, paths, spec)
                    ratio = got.rps / base.rps if base.rps else 0.0
                    results.setdefault(name, []).append(ratio)
                    print(
                        f"  {name:28s} {got.rps:9.1f} rps (errors {got.errors})  hello "
                        f"{base.rps:9.1f} rps  ratio {ratio:.2f}"
                    )
    finally:
        subprocess.run([str(CLUSTER), "down"], env=env, capture_output=True, check=False)
    print()
    for name, ratios in results.items():
        each = " / ".join(f"{r:.2f}" for r in ratios)
        print(f"{name:28s} median ratio {statistics.median(ratios):.2f} ({each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
