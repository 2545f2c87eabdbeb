"""Cost of growth (issue 14): the same requests on the small store and on a big one.

    .venv/bin/python bench/growth.py                     # build what is missing, measure both
    .venv/bin/python bench/growth.py --scale 0.05        # a twentieth of the big store
    .venv/bin/python bench/growth.py --app-root /tmp/x   # measure another checkout's code
    .venv/bin/python bench/growth.py --help

Two MariaDB databases of their own: `growth_small` (`seed-demo`: 22 courses, plus 20 paid
orders of the demo student) and `growth_bench` (the same plus, at scale 1, 10,000 courses,
50,000 students and 1,000,000 orders with ~1.4M lines, bulk-loaded by bench/growth_data.py
in a few minutes). Both are kept between runs (`growth_meta` records the scale; `--rebuild`
makes them again); each run first brings them to the measured code's newest migration.
Redis dbs 8 (small) and 9 (big) are flushed at the start (`--redis-url` for another Redis).

Every request is measured inside one process (the Flask test client, the production
settings, `wsgi:app` of `--app-root`), one at a time: wall time per request (p50, p99), req/s
of that single client (1000 / mean ms), and the SQL statements each sent. Catalog reads are
measured as cache misses (the catalog version is bumped before each request, outside the
timing), which is what a crawler of 10k course pages meets. The export is one request reading
its whole stream: seconds, rows and the process's peak RSS growth. The two stores' processes
run side by side, each kind of request in `--rounds` slices taken by the stores in turn, so
the shared machine's swings fall on both (`--rounds 1`: one store after the other).
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
from pathlib import Path

from harness import ROOT, git_commit, machine

SMALL, BIG = "growth_small", "growth_bench"
# the growth helper's Redis db (never 0 nor 15); GROWTH_REDIS_URL or --redis-url: another
REDIS_URL = os.environ.get("GROWTH_REDIS_URL", "redis://127.0.0.1:6379/8")
FULL = {"courses": 10_000, "students": 50_000, "orders": 1_000_000}
RESULTS = ROOT / "bench" / "results"
STATE = Path(tempfile.gettempdir()) / "growth-bench"  # the app's instance folders


# --- building -------------------------------------------------------------------------------


MARIADB_PORT = int(os.environ.get("GROWTH_MARIADB_PORT", "3306"))


def _mariadb():
    from appenv import MariaDB

    return MariaDB(port=MARIADB_PORT)


def _redis_url(database: str) -> str:
    """REDIS_URL's database for the small store, the next one for the big store: the two
    measuring processes run side by side and must not share a catalog version."""
    base, _, number = REDIS_URL.rpartition("/")
    return f"{base}/{int(number or 0) + (database == BIG)}"


def _env(database: str, app_root: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_"))}
    return {
        **base,
        "APP_ENV": "production",
        "SECRET_KEY": "growth-bench-" + "x" * 40,
        "PAYMENT_SANDBOX": "0",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",  # never contacted
        "DATABASE_URL": _mariadb().url(database),
        "REDIS_URL": _redis_url(database),
        "INSTANCE_DIR": str(STATE / "instance"),
        "STATIC_INDEX_DIR": str(STATE / "generated"),
        "UPLOAD_FOLDER": str(STATE / "uploads"),
        "PYTHONPATH": str(app_root),
        "FLASK_DEBUG": "0",
    }


def _flask(database: str, app_root: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=app_root,
        env=_env(database, app_root),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} on {database} failed:\n{done.stderr[-3000:]}")


def _meta(database: str) -> dict | None:
    try:
        conn = _mariadb().connect(database)
    except Exception:
        return None
    with conn, conn.cursor() as cur:
        try:
            cur.execute("SELECT value FROM growth_meta WHERE name = 'build'")
        except Exception:
            return None
        row = cur.fetchone()
        return json.loads(row[0]) if row else None


def build(database: str, sizes: dict[str, int], rebuild: bool, app_root: Path) -> dict:
    """The store of these sizes in `database`, built unless it is there already, with the
    schema and demo data of `app_root`'s code."""
    import growth_data

    found = _meta(database)
    if found and found["sizes"] == sizes and not rebuild:
        print(f"{database}: kept ({found['made']})")
        return found
    print(f"{database}: building {sizes}")
    started = time.monotonic()
    _mariadb().recreate(database)
    _flask(database, app_root, "db", "upgrade")
    _flask(database, app_root, "seed-demo")
    conn = _mariadb().connect(database)
    conn.autocommit(False)
    with conn:
        made = growth_data.build(conn, **sizes)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE growth_meta (name VARCHAR(32) PRIMARY KEY, value TEXT)")
            found = {"sizes": sizes, "made": made, "seconds": round(time.monotonic() - started)}
            cur.execute("INSERT INTO growth_meta VALUES ('build', %s)", (json.dumps(found),))
        conn.commit()
    print(f"{database}: built in {found['seconds']} s: {made}")
    return found


# --- measuring (runs in a child process, inside --app-root) ---------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reply(found: dict) -> None:
    print("@@" + json.dumps(found), flush=True)


def summary(got: dict) -> dict:
    """A kind's samples as the table shows them."""
    times = got["times"]
    mean = statistics.fmean(times)
    return {
        "path": got["path"],
        "status": got["status"],
        "n": len(times),
        "rps": round(1000 / mean, 1),
        "mean_ms": round(mean, 2),
        "p50_ms": round(_percentile(times, 0.5), 2),
        "p99_ms": round(_percentile(times, 0.99), 2),
        "statements": round(statistics.fmean(got["counts"]), 1),
        "statements_max": max(got["counts"]),
        "sql_ms": round(statistics.median(got["sql_ms"]), 2),
    }


def measure_here(
    store: str, requests: int, skip: set[str], budget: float, serve: bool = False
) -> dict:
    """Inside the app's root with its environment: every request of the issue's table."""
    sys.path.insert(0, os.getcwd())
    from sqlalchemy import event, select

    from app.extensions import db
    from app.models import Course, Order, User
    from app.services import catalog_cache, tokens
    from wsgi import app

    statements: list[str] = []
    with app.app_context():
        sql_time = [0.0]
        started: list[float] = []
        event.listen(
            db.engine,
            "before_cursor_execute",
            lambda *a: (statements.append(a[2]), started.append(time.perf_counter())),
        )
        event.listen(
            db.engine,
            "after_cursor_execute",
            lambda *a: sql_time.__setitem__(0, sql_time[0] + time.perf_counter() - started.pop()),
        )
        admin = db.session.scalar(select(User).where(User.username_key == "admin"))
        demo = db.session.scalar(select(User).where(User.username_key == "demo"))
        key, _ = tokens.issue_token(demo)
        db.session.commit()
        staff_id = admin.get_id()
        order_no = db.session.scalar(select(Order.order_no).order_by(Order.id.desc()).limit(1))
        student = db.session.scalar(
            select(User.username).where(User.is_staff.is_(False)).order_by(User.id.desc()).limit(1)
        )
        course_ids = db.session.scalars(
            select(Course.id).where(Course.status == "online").order_by(Course.id.desc())
        ).all()

    def bump() -> None:
        with app.app_context():
            catalog_cache.bump_catalog_version()

    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    staff = app.test_client()
    staff.environ_base["wsgi.url_scheme"] = "https"
    with staff.session_transaction() as session:
        session["_user_id"] = staff_id
        session["_fresh"] = True
    bearer = {"Authorization": f"Bearer {key}"}

    words = ["Python", "爬虫", "数据分析", "Linux 运维", "机器学习", "Go", "前端", "Docker",
             "人工智能", "Redis", "实战", "Django"]  # fmt: skip
    pages = max(1, min(400, len(course_ids) // 12))
    listed = "/api/v1/courses?sort={}&page={}"
    plan = [
        ("price_sort_pages", client, lambda i: listed.format("price_asc", 1 + i % pages), True),
        ("search_q", client, lambda i: f"/api/v1/courses?q={words[i % len(words)]}", True),
        (
            "course_detail_miss",
            client,
            lambda i: f"/api/v1/courses/{course_ids[i % len(course_ids)]}",
            True,
        ),
        ("page_1", client, lambda i: "/api/v1/courses?page=1", True),  # page_500's yardstick
        ("page_500", client, lambda i: "/api/v1/courses?page=500", True),
        ("popular_sort", client, lambda i: listed.format("popular", 1 + i % pages), True),
        ("staff_orders_list", staff, lambda i: "/admin/orders/", False),
        ("staff_search_number", staff, lambda i: f"/admin/orders/?search={order_no}", False),
        ("staff_search_username", staff, lambda i: f"/admin/orders/?search={student}", False),
        ("staff_dashboard", staff, lambda i: "/admin/", False),
        ("student_orders", client, lambda i: "/api/v1/orders?per_page=12", False),
    ]
    by_name = {name: (who, path, miss) for name, who, path, miss in plan}

    def run(name: str, first: int, count: int, budget_left: float) -> dict:
        """Requests first..first+count-1 of one kind (or fewer, once `budget_left` s are
        spent): their raw samples."""
        who, path, miss = by_name[name]
        headers = bearer if name == "student_orders" else {}
        got: dict = {"path": path(0), "times": [], "counts": [], "sql_ms": [], "status": None}
        spent = 0.0
        for i in range(first, first + count):
            if miss:
                bump()
            del statements[:]
            sql_time[0] = 0.0
            start = time.perf_counter()
            response = who.get(path(i), headers=headers)
            response.get_data()
            elapsed = time.perf_counter() - start
            got["status"] = response.status_code
            got["times"].append(elapsed * 1000)
            got["counts"].append(len(statements))
            got["sql_ms"].append(sql_time[0] * 1000)
            spent += elapsed
            if spent > budget_left:
                break
        return got

    kinds = [name for name, *_ in plan if name not in skip]
    results: dict[str, dict] = {}
    if serve:  # the parent interleaves the two stores' requests: commands on stdin
        _reply({"kinds": kinds})
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] != "run":
                break
            _reply(run(command["kind"], command["first"], command["count"], command["budget"]))
    else:
        for name in kinds:
            results[name] = summary(run(name, 0, requests, budget))
            print(f"  {store:5s} {name:22s} {results[name]}", file=sys.stderr, flush=True)

    # The dashboard's best-seller count itself (a job since this work; per view before).
    with app.app_context():
        from app.models.types import utcnow
        from app.services import reports

        if hasattr(reports, "count_best_sellers") and "best_sellers_count" not in skip:
            start = time.perf_counter()
            reports.count_best_sellers(utcnow())
            results["best_sellers_count"] = {"seconds": round(time.perf_counter() - start, 2)}

    if "export" not in skip:
        rss = _peak_rss_mb()
        del statements[:]
        start = time.perf_counter()
        response = staff.get("/admin/orders/export/csv/", buffered=False)
        lines = 0
        first = None
        for chunk in response.response:
            if first is None:
                first = time.perf_counter() - start
            lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
            if time.perf_counter() - start > budget * 10:
                break
        response.close()
        results["export_csv"] = {
            "status": response.status_code,
            "rows": max(0, lines - 1),
            "seconds": round(time.perf_counter() - start, 1),
            "first_byte_s": round(first or 0, 2),
            "statements": len(statements),
            "peak_rss_growth_mb": round(_peak_rss_mb() - rss, 1),
        }
        print(f"  {store:5s} export_csv {results['export_csv']}", file=sys.stderr, flush=True)
    return results


# --- the run ----------------------------------------------------------------------------------


def _child(database: str, store: str, app_root: Path, args, *extra: str) -> list[str]:
    return [
        sys.executable, str(Path(__file__).resolve()), "--child", store,
        "--requests", str(args.requests), "--budget", str(args.budget),
        "--skip", ",".join(args.skip), *extra,
    ]  # fmt: skip


def _replies(lines) -> dict:
    for line in lines:
        if line.startswith("@@"):
            return json.loads(line[2:])
    raise SystemExit("a measuring process ended without an answer")


def run_child(database: str, store: str, app_root: Path, args) -> dict:
    done = subprocess.run(
        _child(database, store, app_root, args),
        cwd=app_root,
        env=_env(database, app_root),
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring {store} failed")
    return _replies(done.stdout.splitlines())


def run_interleaved(databases: dict[str, str], app_root: Path, args) -> dict[str, dict]:
    """Both stores' processes side by side: each kind of request runs in `--rounds` slices,
    small and big in turn (which goes first alternating), so a busy minute on the shared
    machine falls on both stores rather than on one; then each finishes on its own (the
    best-seller count, the export)."""
    procs = {
        name: subprocess.Popen(
            _child(database, name, app_root, args, "--serve"),
            cwd=app_root,
            env=_env(database, app_root),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, database in databases.items()
    }

    def ask(name: str, command: dict | None = None) -> dict:
        proc = procs[name]
        if command is not None:
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()
        return _replies(iter(proc.stdout.readline, ""))

    try:
        names = list(procs)
        kinds = {name: ask(name)["kinds"] for name in names}[names[0]]  # each says it is ready
        got = {name: {} for name in names}
        per_round = max(1, -(-args.requests // args.rounds))
        for kind in kinds:
            for r in range(args.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    so_far = got[name].get(kind)
                    spent = sum(so_far["times"]) / 1000 if so_far else 0.0
                    if spent > args.budget:
                        continue
                    command = {"op": "run", "kind": kind, "first": r * per_round}
                    command |= {"count": per_round, "budget": args.budget - spent}
                    part = ask(name, command)
                    if so_far is None:
                        got[name][kind] = part
                    else:
                        for key in ("times", "counts", "sql_ms"):
                            so_far[key] += part[key]
                        so_far["status"] = part["status"]
            for name in names:
                found = summary(got[name][kind])
                print(f"  {name:5s} {kind:22s} {found}", file=sys.stderr, flush=True)
        results = {}
        for name in names:
            results[name] = {kind: summary(got[name][kind]) for kind in kinds}
            results[name].update(ask(name, {"op": "finish"}))
            procs[name].stdin.close()
            if procs[name].wait() != 0:
                raise SystemExit(f"measuring {name} failed")
        return results
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()


TABLE = [
    ("price_sort_pages", "GET /api/v1/courses?sort=price_asc, many pages (miss)"),
    ("search_q", "GET /api/v1/courses?q=<words> (miss)"),
    ("course_detail_miss", "course detail (miss)"),
    ("page_1", "GET /api/v1/courses?page=1 (miss)"),
    ("page_500", "GET /api/v1/courses?page=500 (miss)"),
    ("popular_sort", "GET /api/v1/courses?sort=popular (miss)"),
    ("staff_orders_list", "staff /admin/orders/"),
    ("staff_search_number", "staff order search by number"),
    ("staff_search_username", "staff order search by username"),
    ("staff_dashboard", "staff dashboard /admin/"),
    ("student_orders", "student GET /api/v1/orders (12)"),
]


def report(results: dict[str, dict]) -> None:
    small, big = results.get("small", {}), results.get("big", {})
    print()
    head = f"{'rps':>10s} {'p99 ms':>8s} {'SQL':>5s} {'SQL ms':>6s}"
    print(f"{'request (small, then big)':52s} {head} {head} {'big/small':>9s} {'p50 b/s':>7s}")
    for key, label in TABLE:
        s, b = small.get(key), big.get(key)

        def cols(r):
            if not r:
                return f"{'—':>10s} {'—':>8s} {'—':>5s} {'—':>6s}"
            flag = "" if r["status"] == 200 else f"!{r['status']}"
            return (
                f"{r['rps']:>10.1f} {r['p99_ms']:>8.1f} {r['statements']:>5.1f}"
                f" {r.get('sql_ms', 0):>6.1f}{flag}"
            )

        ratio = f"{s['mean_ms'] and b['mean_ms'] / s['mean_ms']:9.2f}" if s and b else f"{'—':>9s}"
        median = f"{b['p50_ms'] / s['p50_ms']:7.2f}" if s and b and s["p50_ms"] else f"{'—':>7s}"
        print(f"{label:52s} {cols(s)} {cols(b)[1:]} {ratio} {median}")
    for name in ("small", "big"):
        extra = results.get(name, {})
        if "export_csv" in extra:
            print(f"{name} export: {extra['export_csv']}")
        if "best_sellers_count" in extra:
            print(f"{name} best-seller count (the job): {extra['best_sellers_count']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the big store (1.0)")
    parser.add_argument("--rebuild", action="store_true", help="build both stores again")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--stores", default="small,big", help="small,big (both)")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the code measured")
    parser.add_argument("--no-upgrade", action="store_true", help="leave the schema as it is")
    parser.add_argument("--requests", type=int, default=40, help="per request kind (40)")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per kind (30)")
    parser.add_argument("--skip", type=lambda s: set(filter(None, s.split(","))), default=set())
    parser.add_argument("--mariadb-port", type=int, help="MariaDB's port (3306)")
    parser.add_argument("--redis-url", help="Redis for the app (redis://127.0.0.1:6379/8)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="slices of each kind, stores in turn (5; 1: apart)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mariadb_port:  # children get it through DATABASE_URL
        global MARIADB_PORT
        MARIADB_PORT = args.mariadb_port
    if args.redis_url:  # likewise through REDIS_URL
        global REDIS_URL
        REDIS_URL = args.redis_url

    if args.child:
        _reply(measure_here(args.child, args.requests, args.skip, args.budget, args.serve))
        return 0

    sizes = {k: max(1, round(v * args.scale)) for k, v in FULL.items()}
    stores = {"small": (SMALL, {"courses": 0, "students": 0, "orders": 20}), "big": (BIG, sizes)}
    wanted = [s for s in args.stores.split(",") if s]
    app_root = args.app_root.resolve()
    sys.path.insert(0, str(app_root))  # growth_data uses the measured code's app.models
    built = {name: build(*stores[name], args.rebuild, app_root) for name in wanted}
    if args.build_only:
        return 0
    import redis

    for database in (SMALL, BIG):
        redis.Redis.from_url(_redis_url(database)).flushdb()
    results: dict[str, dict] = {}
    for name in wanted:
        database = stores[name][0]
        if not args.no_upgrade:
            started = time.monotonic()
            _flask(database, app_root, "db", "upgrade")
            print(f"{database}: db upgrade {time.monotonic() - started:.0f} s")
    if len(wanted) > 1 and args.rounds > 1:
        results = run_interleaved({name: stores[name][0] for name in wanted}, app_root, args)
    else:
        for name in wanted:
            results[name] = run_child(stores[name][0], name, app_root, args)
    report(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"growth-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    out.write_text(
        json.dumps(
            {
                "git": git_commit(),
                "app_root": str(app_root),
                "machine": machine(),
                "stores": built,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\n{out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
