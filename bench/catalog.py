"""Catalog reads (list, detail) in requests per second beside a hello-world Flask app."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import appenv
from harness import (
    BENCH_DIR,
    GunicornServer,
    LoadGenerator,
    LoadResult,
    LoadSpec,
    ServerSettings,
    get,
    git_commit,
    machine,
    median,
)

GOAL = 0.6  # the catalog's rps over hello world's, per endpoint
HOMEPAGE_GOAL = 0.9  # the pre-rendered homepage through the app
# The two gunicorn settings every run measures (the issue's): name -> (settings, connections).
SETTINGS = {
    "gthread": (ServerSettings(workers=2, worker_class="gthread", threads=4), 32),
    "sync": (ServerSettings(workers=2, worker_class="sync"), 8),
}
RESULTS_DIR = BENCH_DIR / "results"
DETAIL_IDS = 8  # detail pages are read over this many courses


@dataclass
class Endpoint:
    """One thing measured: a name and the paths its load cycles over."""

    name: str
    paths: list[str]
    goal: float = GOAL
    runs: list[LoadResult] = field(default_factory=list)
    hello_runs: list[LoadResult] = field(default_factory=list)
    versus_runs: list[LoadResult] = field(default_factory=list)  # --versus: the other tree

    def summary(self) -> dict[str, object]:
        app_rps = median(r.rps for r in self.runs)
        hello_rps = median(r.rps for r in self.hello_runs)
        # Each round's store run sits right beside its hello run: the ratio of each pair
        # cancels most of the machine's drift; their median is the endpoint's ratio.
        pairs = zip(self.runs, self.hello_runs, strict=True)
        paired = [s.rps / h.rps if h.rps else 0.0 for s, h in pairs]
        ratio = median(paired)
        return {
            "name": self.name,
            "paths": self.paths,
            "rps": round(app_rps, 1),
            "p50_ms": _median_or_none(r.p50_ms for r in self.runs),
            "p99_ms": _median_or_none(r.p99_ms for r in self.runs),
            "errors": sum(r.errors for r in self.runs),
            "hello_rps": round(hello_rps, 1),
            "hello_p50_ms": _median_or_none(r.p50_ms for r in self.hello_runs),
            "hello_p99_ms": _median_or_none(r.p99_ms for r in self.hello_runs),
            "hello_errors": sum(r.errors for r in self.hello_runs),
            "ratio": round(ratio, 3),
            "ratio_per_round": [round(r, 3) for r in paired],
            "ratio_of_medians": round(app_rps / hello_rps, 3) if hello_rps else 0.0,
            "goal": self.goal,
            "goal_met": ratio >= self.goal,
            "rounds": [r.to_dict() for r in self.runs],
            "hello_rounds": [r.to_dict() for r in self.hello_runs],
            **(self._versus() if self.versus_runs else {}),
        }

    def _versus(self) -> dict[str, object]:
        pairs = zip(self.versus_runs, self.hello_runs, strict=True)
        paired = [s.rps / h.rps if h.rps else 0.0 for s, h in pairs]
        return {
            "versus_rps": round(median(r.rps for r in self.versus_runs), 1),
            "versus_ratio": round(median(paired), 3),
            "versus_ratio_per_round": [round(r, 3) for r in paired],
            "versus_rounds": [r.to_dict() for r in self.versus_runs],
        }


def _median_or_none(values) -> float | None:
    present = [v for v in values if v is not None]
    return round(median(present), 3) if present else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per target")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (3); median")
    parser.add_argument(
        "--settings",
        choices=("both", *SETTINGS, "custom"),
        default="both",
        help="gthread: 2 workers x 4 threads, 32 connections; sync: 2 sync workers, 8 "
        "connections; both (the default) runs one after the other; custom: the options below",
    )
    parser.add_argument("--connections", type=int, default=8, help="connections (custom)")
    parser.add_argument(
        "--max-requests", type=int, default=500_000, help="request limit of one run"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (custom)")
    parser.add_argument("--worker-class", default="sync", help="worker class (custom)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread (custom)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-install-wrk", action="store_true", help="never apt-get wrk")
    parser.add_argument("--database", choices=("auto", "mariadb", "sqlite"), default="auto")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s: a smoke run")
    parser.add_argument(
        "--versus",
        metavar="TREE",
        help="also serve the store from another checkout (e.g. a copy with one change undone) "
        "and measure it in every round beside this one and hello world: an A/B under the same "
        "load",
    )
    parser.add_argument(
        "--only", default="", help="measure only endpoints whose name contains this (e.g. api)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 3.0, 1.0, 1
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1:
        parser.error("rounds, duration and connections must be positive")
    return args


# --- preparing the store ----------------------------------------------------------------------


def prepare_store(env: appenv.AppEnvironment) -> dict[str, object]:
    """Migrate, seed (seed-demo, else the stand-in catalog); returns where the data came from."""
    step = env.flask("db", "upgrade")
    if step.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{step.stdout}\n{step.stderr}")
    seeded = env.flask("seed-demo")
    seed_note = "ok" if seeded.returncode == 0 else _last_line(seeded.stderr or seeded.stdout)
    if seeded.returncode != 0:
        print(f"  seed-demo failed ({seed_note}); using bench/catalog_data.py")
    filled = env.python(str(BENCH_DIR / "catalog_data.py"))
    if filled.returncode != 0:
        raise RuntimeError(f"bench/catalog_data.py failed:\n{filled.stdout}\n{filled.stderr}")
    counts = json.loads(filled.stdout.strip().splitlines()[-1])
    # The homepage's files, as the worker writes them (the benchmark runs no worker).
    built = env.python(
        "-c",
        "from wsgi import app\nfrom app.services import homepage\n"
        "with app.app_context(): homepage.write_pages()",
    )
    if built.returncode != 0:
        raise RuntimeError(f"writing the homepage failed:\n{built.stdout}\n{built.stderr}")
    source = "seed-demo" if counts["added"] == 0 else "bench/catalog_data.py"
    if seeded.returncode == 0 and counts["added"]:
        print("  seed-demo made no online course; using bench/catalog_data.py")
    return {"source": source, "seed_demo": seed_note, "online_courses": counts["online"]}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def _json(server: GunicornServer, path: str) -> dict:
    status, body = get(server.url(path), timeout=30)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    payload = json.loads(body)
    if payload.get("code") != 1000:
        raise RuntimeError(f"GET {path} answered code {payload.get('code')}")
    return payload["data"]


def _all_ok(server: GunicornServer, paths: list[str]) -> tuple[bool, str]:
    for path in paths:
        status, _body = get(server.url(path), timeout=30)
        if status != 200:
            return False, f"GET {path} answered {status}"
    return True, "ok"


def endpoints_of(server: GunicornServer) -> tuple[list[Endpoint], list[str]]:
    """What to measure, found from the running store; also notes on what was left out."""
    notes: list[str] = []
    listing = _json(server, "/api/v1/courses?page=1&per_page=100")
    ids = [item["id"] for item in listing["items"]][:DETAIL_IDS]
    if not ids:
        raise RuntimeError("the catalog has no online course to read")
    categories = _json(server, "/api/v1/categories")
    category = categories[0]["id"] if categories else 0
    endpoints = [
        Endpoint("api list", ["/api/v1/courses?page=1&per_page=12"]),
        Endpoint(
            "api list filtered",
            [
                f"/api/v1/courses?category_id={category}&page=1&per_page=12",
                "/api/v1/courses?level=beginner&sort=price_asc&page=1&per_page=12",
                "/api/v1/courses?sort=newest&page=1&per_page=12",
                "/api/v1/courses?q=Python&page=1&per_page=12",
            ],
        ),
        Endpoint("api detail", [f"/api/v1/courses/{i}" for i in ids]),
        Endpoint("html list", ["/courses"]),
        Endpoint("html detail", [f"/courses/{i}" for i in ids]),
        # The pre-rendered file (zh, the default language) through the app.
        Endpoint("homepage", ["/"], goal=HOMEPAGE_GOAL),
    ]
    kept = []
    for endpoint in endpoints:
        ok, why = _all_ok(server, endpoint.paths)
        if ok:
            kept.append(endpoint)
        elif endpoint.name.startswith("html"):
            notes.append(f"{endpoint.name} left out: {why}")
        else:
            raise RuntimeError(f"{endpoint.name}: {why}")
    return kept, notes


# --- measuring --------------------------------------------------------------------------------


def measure(
    endpoints: list[Endpoint],
    store: GunicornServer,
    hello: GunicornServer,
    generator: LoadGenerator,
    args: argparse.Namespace,
    connections: int,
    versus: GunicornServer | None = None,
) -> None:
    """Warm everything up, then each round runs every endpoint right beside a hello-world run
    of the same length, same generator and same concurrency, alternating which goes first."""
    spec = LoadSpec(duration=args.duration, connections=connections, max_requests=args.max_requests)
    if args.warmup > 0:
        warm = LoadSpec(
            duration=args.warmup, connections=connections, max_requests=args.max_requests
        )
        print(f"warming up ({args.warmup:g} s per target) ...", flush=True)
        generator.run(hello.base_url, ["/"], warm)
        for endpoint in endpoints:
            for server in (store, versus) if versus is not None else (store,):
                generator.run(server.base_url, endpoint.paths, warm)
    for round_no in range(args.rounds):
        print(f"round {round_no + 1}/{args.rounds}", flush=True)
        for endpoint in endpoints:
            pair = [("hello", hello, ["/"]), ("store", store, endpoint.paths)]
            if versus is not None:
                pair.append(("versus", versus, endpoint.paths))
            if round_no % 2:
                pair.reverse()
            for who, server, paths in pair:
                result = generator.run(server.base_url, paths, spec)
                runs = {"hello": endpoint.hello_runs, "store": endpoint.runs}
                runs.get(who, endpoint.versus_runs).append(result)
                print(
                    f"  {endpoint.name:<18} {who:<6} {result.rps:>9.1f} rps  "
                    f"p50 {_ms(result.p50_ms)}  p99 {_ms(result.p99_ms)}  "
                    f"errors {result.errors}",
                    flush=True,
                )


def _ms(value: float | None) -> str:
    return f"{value:7.2f} ms" if value is not None else "     - ms"


def print_table(title: str, summaries: list[dict], goal_met: bool) -> None:
    header = (
        f"{'endpoint':<18} {'store rps':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'hello rps':>10} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  goal"
    )
    print()
    print(title)
    print(header)
    print("-" * len(header))
    for s in summaries:
        print(
            f"{s['name']:<18} {s['rps']:>10.1f} {_num(s['p50_ms'])} {_num(s['p99_ms'])} "
            f"{s['hello_rps']:>10.1f} {_num(s['hello_p50_ms'])} {_num(s['hello_p99_ms'])} "
            f"{s['ratio']:>6.2f}  {'met' if s['goal_met'] else 'MISSED'} (>= {s['goal']})"
            + (f"  ({s['errors']} errors)" if s["errors"] else "")
            + (
                f"  versus: {s['versus_rps']:.1f} rps, ratio {s['versus_ratio']:.2f}"
                if "versus_ratio" in s
                else ""
            )
        )
    print()
    verdict = "MET" if goal_met else "NOT MET"
    print(f"GOAL (catalog >= {GOAL}, homepage >= {HOMEPAGE_GOAL}): {verdict}")


def _num(value: float | None) -> str:
    return f"{value:>8.2f}" if value is not None else f"{'-':>8}"


def chosen_settings(args: argparse.Namespace) -> list[tuple[str, ServerSettings, int]]:
    if args.settings == "custom":
        custom = ServerSettings(
            workers=args.workers, worker_class=args.worker_class, threads=args.threads
        )
        return [("custom", custom, args.connections)]
    names = list(SETTINGS) if args.settings == "both" else [args.settings]
    return [(name, *SETTINGS[name]) for name in names]


def measure_setting(
    env: appenv.AppEnvironment,
    settings: ServerSettings,
    connections: int,
    generator: LoadGenerator,
    args: argparse.Namespace,
) -> tuple[list[dict], list[str]]:
    """Start the store and hello world with `settings`, measure every endpoint, stop both."""
    servers: list[GunicornServer] = []
    try:
        store = GunicornServer(
            "wsgi:app",
            settings=settings,
            name="store",
            env=env.process_env(),
            log_dir=env.workdir,
            ready_path="/api/v1/categories",
        )
        hello = GunicornServer(
            "bench.hello:app",
            settings=settings,
            name="hello",
            env=env.process_env(),
            log_dir=env.workdir,
            ready_path="/",
        )
        to_start = [store, hello]
        versus = None
        if args.versus:
            tree = Path(args.versus).resolve()
            versus = GunicornServer(
                "wsgi:app",
                settings=settings,
                name="versus",
                env={**env.process_env(), "PYTHONPATH": str(tree)},
                cwd=tree,
                log_dir=env.workdir,
                ready_path="/api/v1/categories",
            )
            to_start.append(versus)
        for server in to_start:
            servers.append(server)
            server.start()
        print(f"gunicorn {' '.join(settings.args())}  ({connections} connections)")
        print(f"  store {store.base_url}  hello {hello.base_url}")
        endpoints, notes = endpoints_of(store)
        if args.only:
            endpoints = [e for e in endpoints if args.only in e.name]
            notes.append(f"only endpoints matching {args.only!r}")
        for note in notes:
            print(f"  note: {note}")
        measure(endpoints, store, hello, generator, args, connections, versus)
        for server in servers:
            if server.process is None or server.process.poll() is not None:
                print(f"warning: {server.name} exited during the run:\n{server.log_tail()}")
        return [endpoint.summary() for endpoint in endpoints], notes
    finally:
        for server in servers:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain `kill` too runs the clean-up below (servers stopped, database dropped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC)
    generator = LoadGenerator(args.generator, install_wrk=not args.no_install_wrk)
    print(f"load generator: {generator.describe()}")
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    busy = load_at_start[0]
    if busy > 0.5:
        print(f"  note: load average {busy:.2f} before starting: other work skews the numbers")
    if generator.name == "python":
        print("  (the Python generator may itself be the limit: compare ratios, not rps)")

    env = appenv.prepare(database=args.database)
    try:
        print(f"store: {env.describe()}")
        print("migrating and seeding ...", flush=True)
        data = prepare_store(env)
        print(f"  catalog: {data['online_courses']} online courses from {data['source']}")
        runs = []
        for name, settings, connections in chosen_settings(args):
            summaries, notes = measure_setting(env, settings, connections, generator, args)
            runs.append(
                {
                    "name": name,
                    "gunicorn": settings.describe(),
                    "connections": connections,
                    "notes": notes,
                    "endpoints": summaries,
                    "goal_met": all(s["goal_met"] for s in summaries),
                }
            )
        goal_met = all(run["goal_met"] for run in runs)
        for run in runs:
            title = (
                f"[{run['name']}] {run['gunicorn']['workers']} workers x "
                f"{run['gunicorn']['threads']} threads ({run['gunicorn']['worker_class']}), "
                f"{run['connections']} connections"
            )
            print_table(title, run["endpoints"], run["goal_met"])
            if any(s["errors"] or s["hello_errors"] for s in run["endpoints"]):
                print("warning: some requests failed; see the results file for details")

        result = {
            "benchmark": "catalog",
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "goal": {"ratio_at_least": GOAL, "homepage_at_least": HOMEPAGE_GOAL, "met": goal_met},
            "git": git_commit(),
            "machine": {
                **machine(),
                "load_average_at_start": load_at_start,
            },
            "generator": generator.describe(),
            "load": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "rounds": args.rounds,
                "max_requests": args.max_requests,
                "order": "per round, each endpoint beside a hello run, alternating which is first",
            },
            "store": {**env.describe(), **data},
            "settings": runs,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"catalog-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    finally:
        env.cleanup()
    return 0  # the goal is reported, never a failure of the run


if __name__ == "__main__":
    began = time.monotonic()
    code = main()
    print(f"took {time.monotonic() - began:.0f} s")
    sys.exit(code)
