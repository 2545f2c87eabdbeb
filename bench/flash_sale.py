"""A flash sale (限时抢券): many signed-in students claim one coupon of a small quantity at once,
and each winner orders with it. Logins per second, claims per second, the order's p99, and the
outcome checked in the database: exactly the coupon's quantity claimed and used, no 5xx.

    .venv/bin/python bench/flash_sale.py                       # 1,000 students, 200 threads
    .venv/bin/python bench/flash_sale.py --legacy-hashes       # passwords hashed as before
    .venv/bin/python bench/flash_sale.py --help

Phases, each with `--threads` client threads over `--students` students:
1. logins: every student signs in through the API (`POST /api/v1/auth/login`), each from an
   address of their own (`X-Forwarded-For`, `PROXY_FIX_X_FOR=1`: the rate limits stay on, per
   student, as behind a proxy); the captcha is off (solving 1,000 proof-of-work challenges
   would measure the client);
2. the sale: every student claims the coupon (`POST /api/v1/coupons/<id>/claim`) and, when
   they got one, orders a course with it at once (`POST /api/v1/orders`).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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

RESULTS_DIR = BENCH_DIR / "results"
API = "/api/v1"
PASSWORD = "flash-sale-pass-2026"  # noqa: S105  (throwaway users of a throwaway database)
COUPON_VALUE = Decimal("10.00")
GOALS = {"logins_per_s": 40.0, "claims_per_s": 400.0, "order_p99_ms": 500.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=200, help="client threads (200)")
    parser.add_argument("--quantity", type=int, default=100, help="the coupon's quantity")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument(
        "--legacy-hashes",
        action="store_true",
        help="store the passwords as argon2-cffi's defaults hash them (t=3, 64 MiB, p=4), as "
        "the store did before: each first login verifies that and rehashes",
    )
    parser.add_argument(
        "--login-cost",
        action="store_true",
        help="only measure one login's CPU time in the process (Flask test client, best of 5 x 10)",
    )
    parser.add_argument(
        "--internal", choices=("prepare", "check", "login-cost"), help=argparse.SUPPRESS
    )
    parser.add_argument("--coupon", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- run inside the bench environment (a subprocess with its variables) ------------------------


def internal_prepare(students: int, quantity: int, legacy: bool) -> int:
    """Students (one hash for all: hashing 1,000 passwords would take minutes), the coupon, and
    the course line to order with its amount after the coupon."""
    from datetime import timedelta

    from argon2 import PasswordHasher

    from app import create_app
    from app.extensions import db
    from app.models import Coupon, User
    from app.services import accounts

    sys.path.insert(0, str(BENCH_DIR))
    from buying import _buyable_lines

    app = create_app()
    with app.app_context():
        hashed = PasswordHasher().hash(PASSWORD) if legacy else accounts.hash_password(PASSWORD)
        names = [f"flash_{i:04d}" for i in range(students)]
        db.session.add_all(User(username=name, password_hash=hashed) for name in names)
        now = datetime.now(UTC)
        coupon = Coupon(
            name="限时抢券",
            kind="money_off",
            value=COUPON_VALUE,
            quantity=quantity,
            claim_start=now - timedelta(hours=1),
            claim_end=now + timedelta(days=1),
            valid_days=7,
        )
        db.session.add(coupon)
        db.session.commit()
        line = next(
            line for line in _buyable_lines() if _price(line) > COUPON_VALUE
        )  # a course dearer than the coupon
        amount = _price(line) - COUPON_VALUE
        print(
            json.dumps(
                {"students": names, "coupon": coupon.id, "line": line, "amount": str(amount)}
            )
        )
    return 0


def _price(line: dict) -> Decimal:
    from app.extensions import db
    from app.models import PricePolicy

    return db.session.get(PricePolicy, line["price_policy_id"]).price


def login_cost(legacy: bool) -> int:
    """CPU time of one `POST /api/v1/auth/login` in this process (waiting for the database
    and Redis left out): what limits logins per second on a busy machine."""
    from argon2 import PasswordHasher

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.services import accounts

    app = create_app()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    best = float("inf")
    with app.app_context():
        hashed = PasswordHasher().hash(PASSWORD) if legacy else accounts.hash_password(PASSWORD)
        users = [User(username=f"cost_{i:03d}", password_hash=hashed) for i in range(50)]
        db.session.add_all(users)
        db.session.commit()
        names = [user.username for user in users]
    for round_no in range(5):
        batch = names[round_no * 10 : round_no * 10 + 10]
        started = time.process_time()
        for index, name in enumerate(batch):
            body = {"username": name, "password": PASSWORD}
            headers = {"X-Forwarded-For": address_of(round_no * 10 + index)}
            response = client.post(f"{API}/auth/login", json=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"login answered {response.status_code}: {response.data!r}")
        best = min(best, (time.process_time() - started) / len(batch))
    print(json.dumps({"login_cpu_ms": round(best * 1000, 1), "legacy_hashes": legacy}))
    return 0


def internal_check(coupon_id: int) -> int:
    """What the database holds after the sale."""
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Coupon, CouponRecord, Order

    app = create_app()
    with app.app_context():
        coupon = db.session.get(Coupon, coupon_id)
        of_coupon = CouponRecord.coupon_id == coupon_id
        records = db.session.scalar(select(func.count()).select_from(CouponRecord).where(of_coupon))
        used = db.session.scalar(
            select(func.count())
            .select_from(CouponRecord)
            .where(of_coupon, CouponRecord.order_id.is_not(None))
        )
        orders = db.session.scalar(select(func.count()).select_from(Order))
        print(
            json.dumps(
                {
                    "claimed": coupon.claimed,
                    "records": records,
                    "records_used": used,
                    "orders": orders,
                }
            )
        )
    return 0


# --- the load ----------------------------------------------------------------------------------


class Client:
    """One keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port: int, address: str) -> None:
        self.port, self.address = port, address
        self.token: str | None = None
        self.conn = http.client.HTTPConnection(HOST, port, timeout=900)  # queues are long before

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict | None]:
        head = {"Content-Type": "application/json", "X-Forwarded-For": self.address}
        if self.token:
            head["Authorization"] = f"Token {self.token}"
        head.update(headers or {})
        try:
            self.conn.request(method, API + path, body=json.dumps(body or {}), headers=head)
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


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in set(pids):
        for child in [pid, *_children(pid)]:
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def _server_pids(server: GunicornServer) -> list[int]:
    """The store (gunicorn and its workers) and, when the benchmark has its own, MariaDB and
    Redis (their pid files under BENCH_PIDS, comma-separated)."""
    pids = [server.process.pid] if server.process is not None else []
    for pid_file in filter(None, os.environ.get("BENCH_PIDS", "").split(",")):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(Path(pid_file).read_text().strip()))
    return pids


def address_of(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256 + 1}"


def run_phase(threads: int, students: list[int], work) -> float:
    """`work(index)` for every student, over `threads` threads started together; seconds."""
    queue = list(reversed(students))
    lock = threading.Lock()
    gate = threading.Event()

    def worker() -> None:
        gate.wait()
        while True:
            with lock:
                if not queue:
                    return
                index = queue.pop()
            work(index)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    began = time.monotonic()
    gate.set()
    for thread in pool:
        thread.join()
    return time.monotonic() - began


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.answers: dict[str, dict[str, int]] = {}

    def add(self, name: str, status: int, body: dict | None, ms: float) -> None:
        key = str(status or "no answer")
        if body and isinstance(body, dict) and body.get("error"):
            key += f" {body['error']}"
        with self.lock:
            self.latencies.setdefault(name, []).append(ms)
            answers = self.answers.setdefault(name, {})
            answers[key] = answers.get(key, 0) + 1

    def summary(self, name: str, seconds: float) -> dict:
        values = sorted(self.latencies.get(name, []))
        answers = self.answers.get(name, {})
        return {
            "requests": len(values),
            "per_s": round(len(values) / seconds, 1) if seconds else 0.0,
            "p50_ms": _round(percentile(values, 50)),
            "p99_ms": _round(percentile(values, 99)),
            "max_ms": _round(values[-1] if values else None),
            "answers": answers,
            "5xx": sum(n for key, n in answers.items() if key[:1] == "5" or key == "no answer"),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def timed(tally: Tally, name: str, client: Client, *call) -> tuple[int, dict | None]:
    began = time.perf_counter()
    status, body = client.call(*call)
    tally.add(name, status, body, (time.perf_counter() - began) * 1000)
    return status, body


# --- the run -----------------------------------------------------------------------------------


def _internal(env: appenv.AppEnvironment, *args: str) -> dict:
    done = env.python(str(Path(__file__).resolve()), "--internal", *args, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"flash_sale.py --internal {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_login_cost(legacy: bool) -> int:
    env = appenv.prepare(database_name=appenv.BENCH_DATABASE + "_login")
    env.env.update(CAPTCHA_ENABLED="0", PROXY_FIX_X_FOR="1")
    try:
        for step in (("db", "upgrade"),):
            done = env.flask(*step)
            if done.returncode != 0:
                raise RuntimeError(f"flask {' '.join(step)} failed:\n{done.stderr[-2000:]}")
        cost = _internal(env, "login-cost", *(["--legacy-hashes"] if legacy else []))
        print(f"one login: {cost['login_cpu_ms']} ms of CPU (legacy hashes: {legacy})")
    finally:
        env.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.internal == "prepare":
        return internal_prepare(args.students, args.quantity, args.legacy_hashes)
    if args.internal == "check":
        return internal_check(args.coupon)
    if args.internal == "login-cost":
        return login_cost(args.legacy_hashes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.login_cost:
        return measure_login_cost(args.legacy_hashes)
    started = datetime.now(UTC)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    env = appenv.prepare(database_name=appenv.BENCH_DATABASE + "_flash")
    # Production settings but the environment's name (production refuses the sandbox gateway,
    # which the orders pay with) and the captcha; rate limits on, per student's address.
    env.env.update(
        APP_ENV="development",
        PAYMENT_SANDBOX="1",
        CAPTCHA_ENABLED="0",
        RATELIMIT_ENABLED="1",
        PROXY_FIX_X_FOR="1",
        SECRET_KEY=secrets.token_urlsafe(48),
    )
    settings = ServerSettings(
        workers=args.workers, worker_class=args.worker_class, threads=args.worker_threads
    )
    server: GunicornServer | None = None
    try:
        print(f"store: {env.describe()}", flush=True)
        for step in (("db", "upgrade"), ("seed-demo",)):
            done = env.flask(*step)
            if done.returncode != 0:
                raise RuntimeError(f"flask {' '.join(step)} failed:\n{done.stderr[-2000:]}")
        prepared = _internal(
            env,
            "prepare",
            "--students",
            str(args.students),
            "--quantity",
            str(args.quantity),
            *(["--legacy-hashes"] if args.legacy_hashes else []),
        )
        names, coupon_id = prepared["students"], prepared["coupon"]
        server = GunicornServer(
            "wsgi:app",
            settings=settings,
            name="flash-store",
            env=env.process_env(),
            log_dir=env.workdir,
            ready_path=f"{API}/categories",
        )
        server.start()
        print(f"gunicorn {' '.join(settings.args())}  {server.base_url}", flush=True)
        port = server.port
        assert port is not None
        clients = [Client(port, address_of(i)) for i in range(len(names))]
        tally = Tally()

        def login(index: int) -> None:
            client = clients[index]
            body = {"username": names[index], "password": PASSWORD}
            status, answer = timed(tally, "login", client, "POST", "/auth/login", body)
            if status == 200 and answer:
                client.token = answer["data"]["token"]
            client.conn.close()  # a student's next request comes later, on a new connection

        print(f"logging {len(names)} students in ({args.threads} threads) ...", flush=True)
        pids = _server_pids(server)
        cpu_before = cpu_seconds(pids)
        login_s = run_phase(args.threads, list(range(len(names))), login)
        login_cpu = cpu_seconds(pids) - cpu_before
        signed_in = [i for i, c in enumerate(clients) if c.token]

        def buy(index: int) -> None:
            client = clients[index]
            status, answer = timed(
                tally, "claim", client, "POST", f"/coupons/{coupon_id}/claim", None
            )
            if status != 201 or not answer:
                return
            order = {
                "items": [prepared["line"]],
                "global_coupon_record_id": answer["data"]["id"],
                "expected_amount": prepared["amount"],
                "payment_method": "sandbox",
            }
            key = {"Idempotency-Key": uuid.uuid4().hex}
            timed(tally, "order", client, "POST", "/orders", order, key)

        print(f"the sale: {len(signed_in)} students claim and order ...", flush=True)
        cpu_before = cpu_seconds(pids)
        sale_s = run_phase(args.threads, signed_in, buy)
        sale_cpu = cpu_seconds(pids) - cpu_before
        for client in clients:
            client.conn.close()
        outcome = _internal(env, "check", "--coupon", str(coupon_id))
        logins = tally.summary("login", login_s)
        claims = tally.summary("claim", sale_s)
        orders = tally.summary("order", sale_s)
        wins = claims["answers"].get("201", 0)
        checks = {
            "claims_201": wins == args.quantity,
            "sold_out_409": claims["answers"].get("409 coupon_sold_out", 0)
            == len(signed_in) - args.quantity,
            "orders_201": orders["answers"].get("201", 0) == args.quantity,
            "no_5xx": logins["5xx"] + claims["5xx"] + orders["5xx"] == 0,
            "database": outcome
            == {
                "claimed": args.quantity,
                "records": args.quantity,
                "records_used": args.quantity,
                "orders": args.quantity,
            },
        }
        goals = {
            "logins_per_s": logins["per_s"] >= GOALS["logins_per_s"],
            "claims_per_s": claims["per_s"] >= GOALS["claims_per_s"],
            "order_p99_ms": (orders["p99_ms"] or 0) < GOALS["order_p99_ms"],
        }
        print()
        print(f"{'phase':<8}{'requests':>9}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}  answers")
        for name, row, seconds in (
            ("login", logins, login_s),
            ("claim", claims, sale_s),
            ("order", orders, sale_s),
        ):
            print(
                f"{name:<8}{row['requests']:>9}{row['per_s']:>8.1f}{_ms(row['p50_ms'])}"
                f"{_ms(row['p99_ms'])}  {row['answers']}  ({seconds:.1f} s)"
            )
        # What the server side spent (store, and MariaDB/Redis when BENCH_PIDS names them):
        # on a busy machine the rates above measure the machine; this, what each request costs.
        cpu = {
            "login_ms_each": round(login_cpu * 1000 / max(1, logins["requests"]), 1),
            "sale_ms_per_claim": round(sale_cpu * 1000 / max(1, claims["requests"]), 1),
            "processes": len(pids),
        }
        cpu["logins_per_s_on_2_cores"] = round(2000 / cpu["login_ms_each"], 1)
        cpu["claims_per_s_on_2_cores"] = round(2000 / max(0.1, cpu["sale_ms_per_claim"]), 1)
        print(
            f"server CPU: {cpu['login_ms_each']} ms a login, {cpu['sale_ms_per_claim']} ms a "
            f"claim (its order included): on 2 free cores at most "
            f"{cpu['logins_per_s_on_2_cores']} logins/s, {cpu['claims_per_s_on_2_cores']} claims/s"
        )
        print(f"database after the sale: {outcome}")
        print(f"correct: {all(checks.values())} {checks}")
        print(
            f"goals (logins >= 40/s, claims >= 400/s, order p99 < 500 ms): "
            f"{'MET' if all(goals.values()) else 'NOT MET'} {goals}"
        )
        result = {
            "benchmark": "flash_sale",
            "started_at": started.isoformat(),
            "git": git_commit(),
            "machine": {**machine(), "load_average_at_start": load_at_start},
            "gunicorn": settings.describe(),
            "students": len(names),
            "threads": args.threads,
            "quantity": args.quantity,
            "legacy_hashes": args.legacy_hashes,
            "seconds": {"logins": round(login_s, 2), "sale": round(sale_s, 2)},
            "login": logins,
            "claim": claims,
            "order": orders,
            "database": outcome,
            "server_cpu": cpu,
            "checks": checks,
            "goals": goals,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"flash-sale-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"results: {path.relative_to(BENCH_DIR.parent)}")
    finally:
        if server is not None:
            server.stop()
        env.cleanup()
    return 0


def _ms(value: float | None) -> str:
    return f"{'-':>9}" if value is None else f"{value:>9.1f}"


if __name__ == "__main__":
    sys.exit(main())
