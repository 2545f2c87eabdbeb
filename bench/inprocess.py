"""One request's cost inside the process (no network, no gunicorn), and where it goes.

    .venv/bin/python bench/inprocess.py                 # best-of timings of the catalog reads
    .venv/bin/python bench/inprocess.py --profile /courses/1   # cProfile of one path

The store runs in production on the benchmark's throwaway state (appenv: luffy_bench, Redis
db 14), migrated and seeded like bench/catalog.py does; do not run it beside catalog.py.
Requests come from the Flask test client with no cookie, like wrk's; `--session` gives them a
visitor's session first (a course added to the cart), as a returning visitor or a student has.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
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


def best_of(client, path: str, repeat: int, number: int) -> tuple[float, float]:
    """The best mean wall time and the best mean CPU time of this process (which leaves out
    waiting: for Redis, for other processes on a busy machine) of `number` requests to `path`,
    over `repeat` tries, in ms."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
        wall = min(wall, (time.perf_counter() - start) / number)
        cpu = min(cpu, (time.process_time() - start_cpu) / number)
    return wall * 1000, cpu * 1000


def start_session(client, course_id: int) -> None:
    """Put the course in the client's cart (a POST with the page's form), so it has a session."""
    page = client.get(f"/courses/{course_id}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|item_type|item_id)" value="([^"]*)"', page))
    fields["price_policy_id"] = re.search(r'name="price_policy_id"[^>]*value="(\d+)"', page)[1]
    response = client.post("/cart/add", data=fields)
    if response.status_code != 302 or client.get_cookie("session") is None:
        raise RuntimeError(f"no session: POST /cart/add answered {response.status_code}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", metavar="PATH", help="cProfile this path instead")
    parser.add_argument("--requests", type=int, default=2000, help="requests profiled (2000)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=300)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime)")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--session", action="store_true", help="requests carry a session")
    args = parser.parse_args(argv)

    env = appenv.prepare()
    try:
        prepare_store(env)
        os.environ.update(env.env)
        sys.path.insert(0, str(ROOT))
        from hello import app as hello_app

        from wsgi import app

        client = app.test_client(use_cookies=args.session)
        client.environ_base["wsgi.url_scheme"] = "https"  # production's cookies are Secure
        course_id = client.get("/api/v1/courses?per_page=1").get_json()["data"]["items"][0]["id"]
        if args.session:
            start_session(client, course_id)
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
        print(f"{'request':45s} {'wall ms':>8s} {'cpu ms':>8s}")
        for name, target, path in [("hello world /", hello, "/")] + [(p, client, p) for p in paths]:
            best_of(target, path, 1, 50)  # warm
            wall, cpu = best_of(target, path, args.repeat, args.number)
            print(f"{name:45s} {wall:8.3f} {cpu:8.3f}")
    finally:
        env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
