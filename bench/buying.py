"""The buying path benchmark: cart, quote and order under concurrent users, and SQL per request."""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import appenv
from harness import (
    BENCH_DIR,
    HOST,
    ROOT,
    GunicornServer,
    ServerSettings,
    git_commit,
    machine,
    percentile,
)

RESULTS_DIR = BENCH_DIR / "results"
DATABASE = "luffy_bench_buying"
REDIS_DB = 6  # never 0 (make run), 14 (bench/catalog.py) nor 15 (the tests)
API = "/api/v1"
PASSWORD = "bench-buying-pass-2026"  # noqa: S105  (throwaway users of a throwaway database)
CART_SIZES = (1, 5, 20)
EXTRA_COURSES = 200
QUERY_ENDPOINTS = ("GET /cart", "POST /cart", "POST /settlement/quote", "POST /orders")
# Each flow cancels its order, so that the same course can be ordered again (one pending order
# per student and course).
FLOW = (
    "POST /cart",
    "POST /settlement/quote",
    "POST /orders",
    "POST /orders/<no>/cancel",
    "DELETE /cart",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 s per concurrency, 1 s warm-up")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per concurrency")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up load")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--users", type=int, default=50, help="benchmark users to create")
    parser.add_argument("--max-flows", type=int, default=100_000, help="flows per run, at most")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--database", choices=("auto", "mariadb", "sqlite"), default="auto")
    parser.add_argument("--internal", choices=("prepare", "queries"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 5.0, 1.0
    args.users = max(args.users, max(args.concurrency))
    return args


# --- run inside the bench environment (a subprocess with its variables) ------------------------


def _buyable_lines(limit: int | None = None) -> list[dict]:
    """Online courses the app itself accepts in a cart, each with a paid price policy."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from app.extensions import db
    from app.models import Course, ProductStatus
    from app.services.errors import InvalidInput
    from app.services.offers import LineRef, check_offers

    courses = db.session.scalars(
        select(Course)
        .where(Course.status == ProductStatus.ONLINE)
        .options(selectinload(Course.price_policies))
        .order_by(Course.id)
    ).all()
    lines = []
    for course in courses:
        for policy in sorted(course.price_policies, key=lambda p: p.price):
            if policy.price <= 0:
                continue
            ref = LineRef(course.item_type, course.id, policy.id)
            try:
                check_offers(None, [ref])
            except (InvalidInput, Exception):  # noqa: S112  (not buyable: skip it)
                continue
            lines.append(
                {"item_type": ref.item_type, "item_id": ref.item_id, "price_policy_id": policy.id}
            )
            break
        if limit and len(lines) >= limit:
            break
    return lines


def internal_prepare(users: int) -> int:
    """Create the benchmark users with the app's own service; print the buyable lines."""
    from app import create_app
    from app.extensions import db
    from app.services import accounts

    app = create_app()
    with app.app_context():
        for i in range(users):
            accounts.create_user(f"bench_{i:03d}", PASSWORD)
        db.session.commit()
        lines = _buyable_lines()
    print(json.dumps({"users": [f"bench_{i:03d}" for i in range(users)], "lines": lines}))
    return 0


def _add_courses(count: int) -> None:
    from decimal import Decimal

    from app.extensions import db
    from app.models import Course, PricePolicy

    for i in range(count):
        course = Course(
            name=f"附加课程 {i + 1}",
            slug=f"bench-extra-{i + 1}",
            brief="基准测试用的附加课程。",
            status="online",
            sort_order=1000 + i,
        )
        course.price_policies.append(PricePolicy(valid_period=30, price=Decimal("49.00")))
        db.session.add(course)
    db.session.commit()


def internal_queries() -> int:
    """SQL statements per request, in the process (Flask test client), by cart and catalog size."""
    from sqlalchemy import event, func, select

    from app import create_app
    from app.extensions import db
    from app.models import Course, ProductStatus
    from app.services import accounts

    app = create_app()
    statements: list[str] = []
    client = app.test_client()

    def count(method: str, path: str, token: str, body=None, headers=None):
        statements.clear()
        response = client.open(
            API + path,
            method=method,
            json=body,
            headers={"Authorization": f"Token {token}", **(headers or {})},
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data()!r}")
        return len(statements), list(statements), response.get_json()["data"]

    table: dict[str, dict[str, dict[str, int]]] = {name: {} for name in QUERY_ENDPOINTS}
    detail: dict[str, dict[str, list[str]]] = {name: {} for name in QUERY_ENDPOINTS}
    notes: list[str] = []
    catalog_sizes: dict[str, int] = {}
    with app.app_context():

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            statements.append(" ".join(statement.split())[:160])

        lines = _buyable_lines()
        largest = min(max(CART_SIZES), len(lines))
        if largest < max(CART_SIZES):
            notes.append(f"only {len(lines)} buyable courses: the largest cart has {largest}")
        sizes = sorted({min(size, largest) for size in CART_SIZES})
        for phase in ("seed", f"seed+{EXTRA_COURSES}"):
            if phase != "seed":
                _add_courses(EXTRA_COURSES)
            online = Course.status == ProductStatus.ONLINE
            catalog_sizes[phase] = db.session.scalar(
                select(func.count()).select_from(Course).where(online)
            )
            db.session.remove()
            for size in sizes:
                username = f"q_{len(catalog_sizes)}_{size}"
                accounts.create_user(username, PASSWORD)
                db.session.commit()
                db.session.remove()
                login = client.post(
                    f"{API}/auth/login", json={"username": username, "password": PASSWORD}
                )
                token = login.get_json()["data"]["token"]
                cell = f"{phase} catalog ({catalog_sizes[phase]} courses), cart {size}"
                wanted = lines[:size]
                for line in wanted[:-1]:
                    count("POST", "/cart", token, line)
                n, sql, _ = count("POST", "/cart", token, wanted[-1])  # the size-th line
                table["POST /cart"][cell], detail["POST /cart"][cell] = n, sql
                for name, method, path in (("GET /cart", "GET", "/cart"),):
                    count(method, path, token)  # warm (token cache, catalog cache)
                    n, sql, _ = count(method, path, token)
                    table[name][cell], detail[name][cell] = n, sql
                count("POST", "/settlement/quote", token, {"items": wanted})
                n, sql, quote = count("POST", "/settlement/quote", token, {"items": wanted})
                table["POST /settlement/quote"][cell] = n
                detail["POST /settlement/quote"][cell] = sql
                order = {
                    "items": wanted,
                    "expected_amount": quote["amount"],
                    "payment_method": "sandbox",
                }
                for _ in range(2):  # the first one warms; the second is counted
                    key = {"Idempotency-Key": uuid.uuid4().hex}
                    n, sql, placed = count("POST", "/orders", token, order, key)
                    count("POST", f"/orders/{placed['order_no']}/cancel", token)
                table["POST /orders"][cell], detail["POST /orders"][cell] = n, sql
                db.session.remove()
    flat = {name: len(set(cells.values())) == 1 for name, cells in table.items()}
    growing = {
        name: {cell: detail[name][cell] for cell in table[name]}
        for name, ok in flat.items()
        if not ok
    }
    print(
        json.dumps(
            {
                "cart_sizes": sizes,
                "catalog_sizes": catalog_sizes,
                "queries": table,
                "flat": flat,
                "statements_where_growing": growing,
                "statements_sample": {
                    name: next(iter(detail[name].values()), []) for name in QUERY_ENDPOINTS
                },
                "notes": notes,
            },
            ensure_ascii=False,
        )
    )
    return 0


# --- the load: virtual users looping over the buying path --------------------------------------


class Client:
    """One keep-alive connection to the server on 127.0.0.1 (reopened when it closes)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30.0) -> None:
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict | None]:
        head = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            head["Authorization"] = f"Token {self.token}"
        payload = None if body is None else json.dumps(body)
        try:
            self.conn.request(method, API + path, body=payload, headers=head)
            response = self.conn.getresponse()
            raw = response.read()
            if response.will_close:
                self.conn.close()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0, None
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    def close(self) -> None:
        self.conn.close()


def login_all(port: int, usernames: list[str]) -> list[str]:
    client = Client(port)
    tokens = []
    for username in usernames:
        status, body = client.call(
            "POST", "/auth/login", {"username": username, "password": PASSWORD}
        )
        if status != 200 or not body:
            raise RuntimeError(f"login of {username} failed: {status} {body}")
        tokens.append(body["data"]["token"])
    client.close()
    return tokens


def run_flows(
    port: int, tokens: list[str], lines: list[dict], users: int, duration: float, max_flows: int
) -> dict:
    """`users` threads, each a user looping over the flow until the deadline or its share."""
    per_user = max(1, max_flows // users)
    latencies = [{name: [] for name in FLOW} for _ in range(users)]
    errors = [{name: {} for name in FLOW} for _ in range(users)]
    flows = [0] * users
    gate = threading.Event()
    deadline: list[float] = []

    def user(index: int) -> None:
        client = Client(port, tokens[index])
        mine, failed = latencies[index], errors[index]

        def step(name: str, method: str, path: str, body=None, headers=None):
            began = time.perf_counter()
            status, answer = client.call(method, path, body, headers)
            if 200 <= status < 300:
                mine[name].append((time.perf_counter() - began) * 1000)
                return answer
            key = str(status or "connect_or_read")
            if answer and isinstance(answer, dict) and answer.get("slug"):
                key += f" {answer['slug']}"
            failed[name][key] = failed[name].get(key, 0) + 1
            return None

        gate.wait()
        n = index
        for _ in range(per_user):
            if time.monotonic() >= deadline[0]:
                break
            line = lines[n % len(lines)]
            n += 1
            if step("POST /cart", "POST", "/cart", line) is None:
                continue
            quote = step("POST /settlement/quote", "POST", "/settlement/quote", {"items": [line]})
            order = None
            if quote is not None:
                body = {
                    "items": [line],
                    "expected_amount": quote["data"]["amount"],
                    "payment_method": "sandbox",
                }
                key = {"Idempotency-Key": uuid.uuid4().hex}
                order = step("POST /orders", "POST", "/orders", body, key)
            if order is not None:
                number = order["data"]["order_no"]
                order = step("POST /orders/<no>/cancel", "POST", f"/orders/{number}/cancel")
            path = f"/cart/{line['item_type']}/{line['item_id']}"
            removed = step("DELETE /cart", "DELETE", path)
            if order is not None and removed is not None:
                flows[index] += 1
        client.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline.append(began + duration)
    gate.set()
    for thread in threads:
        thread.join(timeout=duration + 60)
    seconds = time.monotonic() - began
    endpoints = {}
    for name in FLOW:
        merged = sorted(x for mine in latencies for x in mine[name])
        detail: dict[str, int] = {}
        for failed in errors:
            for key, value in failed[name].items():
                detail[key] = detail.get(key, 0) + value
        endpoints[name] = {
            "requests": len(merged) + sum(detail.values()),
            "rps": round(len(merged) / seconds, 1),
            "p50_ms": _round(percentile(merged, 50)),
            "p99_ms": _round(percentile(merged, 99)),
            "errors": sum(detail.values()),
            "error_detail": detail,
        }
    total = sum(e["requests"] for e in endpoints.values())
    return {
        "users": users,
        "duration_s": round(seconds, 3),
        "flows": sum(flows),
        "flows_per_s": round(sum(flows) / seconds, 1),
        "requests_per_s": round(total / seconds, 1),
        "endpoints": endpoints,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- the run ------------------------------------------------------------------------------------


def _internal(env: appenv.AppEnvironment, *args: str) -> dict:
    done = env.python(str(Path(__file__).resolve()), "--internal", *args, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"bench/buying.py --internal {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare_store(env: appenv.AppEnvironment, users: int) -> dict:
    for step in (("db", "upgrade"), ("seed-demo",)):
        done = env.flask(*step)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
    return _internal(env, "prepare", "--users", str(users))


def print_summary(runs: list[dict], queries: dict) -> None:
    print()
    header = f"{'users':>5}  {'endpoint':<24}{'rps':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for run in runs:
        for name, e in run["endpoints"].items():
            print(
                f"{run['users']:>5}  {name:<24}{e['rps']:>8.1f}{_ms(e['p50_ms']):>9}"
                f"{_ms(e['p99_ms']):>9}{e['errors']:>8}"
            )
        flow = f"whole flow ({len(FLOW)} requests)"
        print(
            f"{run['users']:>5}  {flow:<24}{run['flows_per_s']:>8.1f}"
            f"{'':>18}{'':>8}   ({run['requests_per_s']} requests/s in all)"
        )
    print()
    cells = list(next(iter(queries["queries"].values())).keys())
    print("SQL queries per request (in-process, Flask test client):")
    labels = [("seed" if c.startswith("seed ") else "+200") + " x" + c.split()[-1] for c in cells]
    print(f"  {'endpoint':<24}" + "".join(f"{label:>10}" for label in labels))
    for name, row in queries["queries"].items():
        verdict = "flat" if queries["flat"][name] else "GROWS"
        print(f"  {name:<24}" + "".join(f"{row[c]:>10}" for c in cells) + f"   {verdict}")
    print("  (columns: catalog at seed size / after +200 courses x lines in the cart;")
    print(f"   catalog sizes {queries['catalog_sizes']})")
    for note in queries["notes"]:
        print(f"  note: {note}")
    verdict = "HOLDS" if queries["holds"] else "DOES NOT HOLD"
    print(f"\nqueries per request do not grow with cart or catalog: {verdict}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.internal == "prepare":
        return internal_prepare(args.users)
    if args.internal == "queries":
        return internal_queries()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC)
    load_at_start = machine()["load_average"]
    env = appenv.prepare(database=args.database, database_name=DATABASE, redis_db=REDIS_DB)
    # Production settings except the environment name: production refuses PAYMENT_SANDBOX=1,
    # and the load pays with the sandbox gateway; captcha and rate limits off for the logins.
    env.env.update(
        APP_ENV="development",
        PAYMENT_SANDBOX="1",
        CAPTCHA_ENABLED="0",
        RATELIMIT_ENABLED="0",
        SECRET_KEY=secrets.token_urlsafe(48),
    )
    settings = ServerSettings(
        workers=args.workers, worker_class=args.worker_class, threads=args.threads
    )
    server: GunicornServer | None = None
    try:
        print(f"store: {env.describe()}")
        prepared = prepare_store(env, args.users)
        lines = prepared["lines"]
        print(f"  {len(prepared['users'])} users, {len(lines)} buyable courses")
        if not lines:
            raise RuntimeError("no buyable course after seed-demo")
        server = GunicornServer(
            "wsgi:app",
            settings=settings,
            name="buying-store",
            env=env.process_env(),
            log_dir=env.workdir,
            ready_path=f"{API}/categories",
        )
        server.start()
        print(f"gunicorn {' '.join(settings.args())}  {server.base_url}")
        tokens = login_all(server.port, prepared["users"])
        print(f"  {len(tokens)} users logged in through {API}/auth/login")
        if args.warmup:
            run_flows(server.port, tokens, lines, min(args.concurrency), args.warmup, 10_000)
        runs = []
        for users in args.concurrency:
            print(f"  {users} concurrent users for {args.duration:g} s ...", flush=True)
            runs.append(run_flows(server.port, tokens, lines, users, args.duration, args.max_flows))
        if server.process is None or server.process.poll() is not None:
            print(f"warning: the server exited during the run:\n{server.log_tail()}")
        server.stop()
        server = None

        print("  counting SQL queries per request in the process ...", flush=True)
        queries = _internal(env, "queries")
        queries["holds"] = all(queries["flat"].values())
        print_summary(runs, queries)
        if any(e["errors"] for run in runs for e in run["endpoints"].values()):
            print("warning: some requests failed; see error_detail in the results file")

        result = {
            "benchmark": "buying",
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "git": git_commit(),
            "machine": {**machine(), "load_average_at_start": load_at_start},
            "generator": f"python {sys.version.split()[0]} threads + http.client keep-alive",
            "load": {
                "concurrency": args.concurrency,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "max_flows": args.max_flows,
                "users_created": len(prepared["users"]),
                "buyable_courses": len(lines),
                "flow": list(FLOW),
            },
            "gunicorn": settings.describe(),
            "store": {
                **env.describe(),
                "captcha_enabled": False,
                "ratelimit_enabled": False,
                "why_development": "production refuses PAYMENT_SANDBOX=1; otherwise production "
                "settings (MariaDB, Redis, a generated SECRET_KEY, DEBUG off)",
            },
            "runs": runs,
            "queries_per_request": queries,
            "queries_do_not_grow": queries["holds"],
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"buying-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"results: {path.relative_to(ROOT)}")
    finally:
        if server is not None:
            server.stop()
        env.cleanup()
    return 0


if __name__ == "__main__":
    began = time.monotonic()
    try:
        code = main()
    except subprocess.TimeoutExpired as exc:
        print(f"timed out: {exc}", file=sys.stderr)
        code = 1
    if "--internal" not in sys.argv:
        print(f"took {time.monotonic() - began:.0f} s")
    sys.exit(code)
