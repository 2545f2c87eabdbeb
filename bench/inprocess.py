"""One request's cost inside the process (no network, no gunicorn), and where it goes.

    .venv/bin/python bench/inprocess.py                 # best-of timings of the catalog reads
    .venv/bin/python bench/inprocess.py --profile /courses/1   # cProfile of one path

The store runs in production on the benchmark's throwaway state (appenv: luffy_bench, Redis
db 14), migrated and seeded like bench/catalog.py does; do not run it beside catalog.py.
Requests come from the Flask test client with no cookie, like wrk's.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import appenv
from catalog import prepare_store
from harness import ROOT

PATHS = [
    "/healthz",
    "/api/v1/courses?page=1&per_page=12",
    "/api/v1/courses/{id}",
    "/courses",
    "/courses/{id}",
]


def best_of(client, path: str, repeat: int, number: int) -> float:
    """The best mean time of `number` requests to `path`, over `repeat` tries, in ms."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", metavar="PATH", help="cProfile this path instead")
    parser.add_argument("--requests", type=int, default=2000, help="requests profiled (2000)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=300)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime)")
    parser.add_argument("--lines", type=int, default=45)
    args = parser.parse_args(argv)

    env = appenv.prepare()
    try:
        prepare_store(env)
        os.environ.update(env.env)
        sys.path.insert(0, str(ROOT))
        from hello import app as hello_app

        from wsgi import app

        client = app.test_client(use_cookies=False)
        course_id = client.get("/api/v1/courses?per_page=1").get_json()["data"]["items"][0]["id"]
        paths = [p.format(id=course_id) for p in PATHS]
        if args.profile:
            path = args.profile.format(id=course_id)
            best_of(client, path, 1, 50)  # warm
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                client.get(path)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats(args.sort).print_stats(args.lines)
            return 0
        hello = hello_app.test_client()
        print(f"{'hello world /':45s} {best_of(hello, '/', args.repeat, args.number):7.3f} ms")
        for path in paths:
            best_of(client, path, 1, 50)  # warm
            print(f"{path:45s} {best_of(client, path, args.repeat, args.number):7.3f} ms")
    finally:
        env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
