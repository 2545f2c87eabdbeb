"""The store on its production topology (deploy/cluster), students browsing and buying through
nginx while parts of it fail, one after another:

1. an app server is killed (SIGKILL), and started again;
2. the Redis master is killed and the Sentinels promote its replica;
3. the MariaDB replica stops, then the primary is frozen (SIGSTOP) for a few seconds;
4. a worker's job is killed midway (its work horse, SIGKILL), then a whole worker.

Afterwards: every order a client was told was placed exists, every paid order has its
enrollments, no coupon record is used by two orders, and every answer during the faults was a
success or a 503 with the envelope (counted): never a 500, a 502, or a hang past the timeouts.
The figures (requests, answers by status and fault, recovery seconds) are printed and written
to artifacts/cluster_faults.json.

Loopback only; bounded to a few minutes (most of it is starting MariaDB twice)."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pymysql
import pytest
import requests
from redis.sentinel import Sentinel
from rq import Queue, Retry, Worker

from tests import DEMO_MEDIA_CACHE
from tests.cluster import load_cluster_module
from tests.servers import free_ports

REPO = Path(__file__).resolve().parents[2]
STUDENTS = 4
# What a student spends reading a page between two rounds of shopping: traffic all through
# every fault, without the clients and servers taking the whole machine (the rest of the suite
# runs beside this test, and an app server started again must not wait for the CPU).
THINK_SECONDS = 0.5
# How long each fault (or calm) lasts while the students shop: long enough for each of them to
# go through several rounds in it.
HOLD_SECONDS = 2
# A client gives up after this long: past DB_READ_TIMEOUT (15 s), where the app answers 503.
CLIENT_TIMEOUT = 25
ARTIFACT = REPO / "artifacts" / "cluster_faults.json"
NEEDED = ("nginx", "mariadbd", "mariadb-install-db", "redis-server")
# Ports of its own (low, high, how many in a row), apart from the faults helper's
# (tests/servers.py) and from deploy/cluster's defaults (a cluster started by hand), so that
# the other tests run beside it.
PORTS = {
    "CLUSTER_HTTP_PORT": (5280, 5299, 3),
    "CLUSTER_DB_PORT": (3460, 3479, 2),
    "CLUSTER_REDIS_PORT": (6460, 6479, 2),
    "CLUSTER_SENTINEL_PORT": (26460, 26479, 3),
}
# The workers' timings (worker.py, docs/operations.md), shortened so that a job whose worker
# was killed outright is handed to its retries within seconds, not the production minute or two.
QUICK_WORKERS = {
    "WORKER_TTL": "20",
    "WORKER_JOB_MONITORING": "2",
    "WORKER_HEARTBEAT_GRACE": "5",
    "WORKER_MAINTENANCE": "3",
}


def _have(binary: str) -> bool:
    return bool(shutil.which(binary) or Path(f"/usr/sbin/{binary}").exists())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = [binary for binary in NEEDED if not _have(binary)]
    if missing:
        reason = f"the cluster needs {', '.join(missing)} (Debian packages; .ci/run installs them)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("cluster")
    ports = {name: str(free_ports(*where)) for name, where in PORTS.items()}
    env = {
        **os.environ,
        **ports,
        **QUICK_WORKERS,
        "CLUSTER_DIR": str(base),
        "CAPTCHA_ENABLED": "0",
        "RATELIMIT_ENABLED": "0",
        # One gunicorn worker an app server: two servers are what nginx fails over between,
        # and each worker started (again) is two seconds of CPU taken from the rest of the suite.
        "CLUSTER_APP_WORKERS": "1",
        "DEMO_MEDIA_CACHE": str(DEMO_MEDIA_CACHE),  # the seed's lessons, encoded once
    }
    up = subprocess.run(  # noqa: S603
        [str(REPO / "deploy" / "cluster"), "up"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    try:
        lines = up.stdout.strip().splitlines()
        assert up.returncode == 0, up.stdout + up.stderr
        assert lines[-1].startswith("READY http://127.0.0.1:"), up.stdout
        state = json.loads((base / "state.json").read_text())
        module = load_cluster_module()
        handle = module.Cluster(base)
        handle.processes, handle.ports = state["processes"], state["ports"]
        yield {"url": lines[-1].split()[1], "state": state, "handle": handle, "module": module}
    finally:
        subprocess.run(  # noqa: S603
            [str(REPO / "deploy" / "cluster"), "down"], cwd=REPO, env=env, check=False, timeout=120
        )


# --- what the students saw ----------------------------------------------------------------------


class Record:
    """Every answer, by the fault going on when it was asked for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "calm"
        self.by_phase: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.bad: list[str] = []  # answers the contract forbids
        self.placed: set[str] = set()  # order numbers a client was told were placed
        self.paid_told: set[str] = set()  # orders whose payment the gateway page went through
        self.requests = 0
        self.slowest: dict[str, float] = {}  # seconds, the longest answer of each phase
        self.killed_at = float("inf")
        self.signed_in = 0

    def note(self, phase, asked_at, method, url, response: requests.Response | None, error=None):
        took = time.monotonic() - asked_at
        with self.lock:
            self.requests += 1
            counter = self.by_phase[phase]
            self.slowest[phase] = max(self.slowest.get(phase, 0.0), round(took, 2))
            in_flight_at_the_kill = asked_at < self.killed_at + 2 <= asked_at + took + 2
            if response is None:
                counter[f"client-{type(error).__name__}"] += 1
                cut = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
                if in_flight_at_the_kill and isinstance(error, cut):
                    # Its answer was being sent when its server was killed outright: nginx had
                    # passed the headers on and can only cut the body short (the client asks
                    # again, like after a 502).
                    counter["cut short on the killed server"] += 1
                else:
                    self.bad.append(f"{phase}: {method} {url}: {error!r}")
                return
            status = response.status_code
            counter[str(status)] += 1
            if status == 502 and in_flight_at_the_kill:
                # In flight on the server that was killed (nginx never sends a POST twice): the
                # client tries again, with its Idempotency-Key for an order.
                counter["502 in flight on the killed server"] += 1
            elif status >= 500 and status != 503:
                self.bad.append(f"{phase}: {method} {url}: {status} {response.text[:200]}")
            elif status == 503:
                counter["503 with the envelope" if is_unavailable(response) else "503 page"] += 1
                if "/api/" in url and not is_unavailable(response):
                    self.bad.append(f"{phase}: {method} {url}: 503 without the envelope")


def is_unavailable(response: requests.Response) -> bool:
    with contextlib.suppress(ValueError):
        body = response.json()
        return body.get("code") == 1030 and body.get("error") == "unavailable"
    return False


class Student(threading.Thread):
    def __init__(self, number: int, base: str, record: Record, stop: threading.Event) -> None:
        super().__init__(name=f"student-{number}", daemon=True)
        self.base, self.record, self.stop = base, record, stop
        self.http = requests.Session()
        self.username = f"fault{number}_{secrets.token_hex(3)}"
        self.password = "fault-password-1"
        self.token: str | None = None

    def call(self, method: str, path: str, **kwargs) -> requests.Response | None:
        url = path if path.startswith("http") else self.base + path
        headers = kwargs.pop("headers", {})
        if self.token and "/api/" in url:
            headers["Authorization"] = f"Token {self.token}"
        phase, asked_at = self.record.phase, time.monotonic()
        try:
            response = self.http.request(
                method, url, headers=headers, timeout=CLIENT_TIMEOUT, **kwargs
            )
        except requests.RequestException as exc:
            self.record.note(phase, asked_at, method, url, None, exc)
            return None
        self.record.note(phase, asked_at, method, url, response)
        return response

    def until_ok(self, method: str, path: str, tries: int = 30, **kwargs):
        """A client that tries again after a 503 (as Retry-After says), a bounded number of
        times."""
        for _ in range(tries):
            if self.stop.is_set() and tries > 5:
                tries = 5
            response = self.call(method, path, **kwargs)
            if response is not None and response.status_code not in (502, 503):
                return response
            time.sleep(0.5)
        return None

    def sign_up(self) -> None:
        body = {"username": self.username, "password": self.password}
        self.until_ok("POST", "/api/v1/auth/register", json=body)
        response = self.until_ok("POST", "/api/v1/auth/login", json=body)
        if response is None or response.status_code != 200:
            raise RuntimeError(f"{self.username} could not log in: {response}")
        self.token = response.json()["data"]["token"]
        with self.record.lock:
            self.record.signed_in += 1

    def run(self) -> None:
        try:
            self.sign_up()
            while not self.stop.is_set():
                self.shop_once()
                self.stop.wait(THINK_SECONDS)
        except Exception as exc:  # a student's own bug must fail the test, not vanish
            with self.record.lock:
                self.record.bad.append(f"{self.name} crashed: {exc!r}")

    def shop_once(self) -> None:
        page = secrets.randbelow(2) + 1
        listing = self.call("GET", f"/api/v1/courses?page={page}&per_page=12")
        self.call("GET", "/" if secrets.randbelow(2) else "/?lang=en")
        self.call("GET", "/courses")
        if listing is None or listing.status_code != 200:
            time.sleep(0.3)
            return
        courses = listing.json()["data"]["items"]
        if not courses:
            return
        course = courses[secrets.randbelow(len(courses))]
        self.call("GET", f"/api/v1/courses/{course['id']}")
        policies = course["price_policies"]
        if not policies:
            return
        policy = policies[secrets.randbelow(len(policies))]
        self.buy(course, policy)

    def buy(self, course: dict, policy: dict) -> None:
        body = {
            "items": [
                {"item_type": "course", "item_id": course["id"], "price_policy_id": policy["id"]}
            ],
            "expected_amount": policy["price"],
            "payment_method": "sandbox",
        }
        record = self.global_coupon()
        if record is not None:
            quote = self.call(
                "POST",
                "/api/v1/settlement/quote",
                json={"items": body["items"], "global_coupon_record_id": record},
            )
            if quote is not None and quote.status_code == 200:
                body["global_coupon_record_id"] = record
                body["expected_amount"] = quote.json()["data"]["amount"]
        key = secrets.token_hex(12)
        placed = self.until_ok(
            "POST", "/api/v1/orders", json=body, headers={"Idempotency-Key": key}
        )
        if placed is None or placed.status_code not in (200, 201):
            return
        order = placed.json()["data"]
        with self.record.lock:
            self.record.placed.add(order["order_no"])
        if order["pay_url"]:
            self.pay(order["pay_url"], order["order_no"])

    def global_coupon(self) -> int | None:
        mine = self.call("GET", "/api/v1/coupons/mine?status=unused")
        if mine is None or mine.status_code != 200:
            return None
        for item in mine.json()["data"]:
            if item["coupon"]["product"] is None:
                return item["id"]
        offered = self.call("GET", "/api/v1/coupons/available")
        if offered is None or offered.status_code != 200:
            return None
        for coupon in offered.json()["data"]:
            if coupon["product"] is None:
                claimed = self.call("POST", f"/api/v1/coupons/{coupon['id']}/claim")
                if claimed is not None and claimed.status_code == 201:
                    return claimed.json()["data"]["id"]
        return None

    def pay(self, pay_url: str, order_no: str) -> None:
        page = self.until_ok("GET", pay_url)
        if page is None or page.status_code != 200:
            return
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        signed = re.search(r'name="signed_request" value="([^"]+)"', page.text)
        if not token or not signed:
            return
        form = {"csrf_token": token.group(1), "signed_request": _unescape(signed.group(1))}
        paid = self.until_ok(
            "POST", "/payments/sandbox/gateway/pay", data=form, allow_redirects=False
        )
        if paid is not None and paid.status_code in (302, 303):
            with self.record.lock:
                self.record.paid_told.add(order_no)


def _unescape(text: str) -> str:
    return (
        text.replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", '"')
        .replace("&quot;", '"')
    )


# --- the faults ---------------------------------------------------------------------------------


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def signal_one(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


# A job held by the worker killed outright waits for RQ's abandoned-job clean-up (worker.py:
# with QUICK_WORKERS its heartbeat lapses after 12 s, maintenance runs every 3-5 s); the horse
# killed alone is retried at once. A generous bound: the test goes on as soon as they are done.
JOBS_RECOVER_WITHIN = 90


def recovered_after(check, started: float, limit: float = 60.0) -> float:
    """Seconds from `started` until `check()` is true (polled), or `limit` when never."""
    while time.monotonic() - started < limit:
        with contextlib.suppress(Exception):
            if check():
                return round(time.monotonic() - started, 1)
        time.sleep(0.2)
    return limit


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_buying_through_nginx_while_parts_fail(cluster):
    url, state, handle = cluster["url"], cluster["state"], cluster["handle"]
    processes = state["processes"]
    record, stop = Record(), threading.Event()
    sentinel = Sentinel([("127.0.0.1", p) for p in state["ports"]["sentinels"]], socket_timeout=1)
    probe = requests.Session()
    recovery: dict[str, float] = {}

    def api_ok(path: str) -> bool:
        return probe.get(url + path, timeout=5).status_code == 200

    students = [Student(n, url, record, stop) for n in range(STUDENTS)]
    for student in students:
        student.start()
    deadline = time.monotonic() + 120
    while record.signed_in < STUDENTS and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(HOLD_SECONDS)

    # 1. An app server dies; nginx takes it out and the other answers.
    record.killed_at = time.monotonic()
    record.phase = "app server killed"
    kill_group(processes["app1"]["pid"])
    started = time.monotonic()
    time.sleep(HOLD_SECONDS)
    handle.app_server("app1")  # started again, as a supervisor would
    recovery["app server back"] = recovered_after(
        lambda: requests.get(f"http://127.0.0.1:{state['ports']['app1']}/healthz", timeout=2).ok,
        started,
    )
    time.sleep(HOLD_SECONDS)

    # 2. The Redis master dies; the Sentinels promote the replica; every Redis user follows.
    record.phase = "redis master killed"
    old_master = sentinel.discover_master("luffy")
    kill_group(processes["redis_master"]["pid"])
    started = time.monotonic()
    recovery["redis failover (sentinel)"] = recovered_after(
        lambda: sentinel.discover_master("luffy") != old_master, started
    )
    recovery["redis: carts answer again"] = recovered_after(
        lambda: api_ok("/api/v1/coupons/available") and api_ok("/healthz"), started
    )
    time.sleep(HOLD_SECONDS)

    # 3. The MariaDB replica stops (catalog reads fall back to the primary); then the primary
    #    is frozen for a few seconds.
    record.phase = "db replica stopped"
    kill_group(processes["db_replica"]["pid"], signal.SIGTERM)
    time.sleep(HOLD_SECONDS)
    record.phase = "db primary frozen"
    signal_one(processes["db_primary"]["pid"], signal.SIGSTOP)
    time.sleep(HOLD_SECONDS)
    signal_one(processes["db_primary"]["pid"], signal.SIGCONT)
    started = time.monotonic()
    recovery["db primary thawed: healthz ok"] = recovered_after(lambda: api_ok("/healthz"), started)
    record.phase = "db recovered"
    time.sleep(HOLD_SECONDS)

    # 4. A job is killed midway (its work horse), then a whole worker; the jobs still get done.
    record.phase = "worker killed mid-job"
    master = sentinel.master_for("luffy", socket_timeout=5)
    queue = Queue("default", connection=master)
    keys = [f"faults:job:{secrets.token_hex(4)}" for _ in range(4)]
    for key in keys:
        # Retried at once: a retry due later waits for RQ's scheduler, whose lock the killed
        # worker may hold for a fixed 60 s (RQ's), which is not what this phase is about.
        queue.enqueue("tests.cluster.jobs.slow_mark", key, 3, retry=Retry(max=3), job_timeout=60)
    horse = None
    deadline = time.monotonic() + 30
    while horse is None and time.monotonic() < deadline:
        for worker in Worker.all(connection=master):
            job_id = worker.get_current_job_id()
            job_key = job_id and master.hget(f"rq:job:{job_id}", "description")
            if job_key and b"slow_mark" in job_key and children(worker.pid):
                horse = children(worker.pid)[0]
                break
        time.sleep(0.1)
    assert horse is not None, "no worker started a job"
    signal_one(horse, signal.SIGKILL)  # the process doing the job dies midway
    started = time.monotonic()
    time.sleep(1)
    kill_group(processes["worker2"]["pid"])  # and a whole worker: the other goes on
    recovery["jobs done after a kill"] = recovered_after(
        lambda: all(master.get(key) == b"done" for key in keys), started, limit=JOBS_RECOVER_WITHIN
    )
    record.phase = "calm again"
    time.sleep(HOLD_SECONDS)
    stop.set()
    for student in students:
        student.join(CLIENT_TIMEOUT * 3)

    # --- afterwards ------------------------------------------------------------------------------
    handle.processes = processes
    conn = pymysql.connect(
        unix_socket=processes["db_primary"]["socket"], user="root", database="luffy"
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT order_no, status FROM orders")
        orders = dict(cur.fetchall())
        cur.execute(
            "SELECT o.order_no, l.product_id FROM orders o JOIN order_lines l ON l.order_id = o.id "
            "LEFT JOIN enrollments e ON e.user_id = o.user_id AND e.product_id = l.product_id "
            "WHERE o.status = 'paid' AND e.id IS NULL"
        )
        paid_without_enrollment = cur.fetchall()
        cur.execute(
            "SELECT coupon_record_id, COUNT(DISTINCT order_id) FROM order_lines "
            "WHERE coupon_record_id IS NOT NULL GROUP BY coupon_record_id HAVING COUNT(*) > 1"
        )
        lines_twice = cur.fetchall()
        cur.execute(
            "SELECT r.id, COUNT(*) FROM coupon_records r JOIN orders o ON o.id = r.order_id "
            "WHERE r.status = 'used' AND o.status NOT IN ('paid', 'refund_requested', 'refunded') "
            "GROUP BY r.id"
        )
        used_by_unpaid = cur.fetchall()

    figures = {
        "requests": record.requests,
        "answers_by_fault": {phase: dict(counter) for phase, counter in record.by_phase.items()},
        "orders_told_placed": len(record.placed),
        "orders_told_paid": len(record.paid_told),
        "orders_paid_in_database": sum(1 for s in orders.values() if s == "paid"),
        # Paid at the gateway, the notification not yet applied (its redelivery job is due).
        "orders_told_paid_still_pending": sorted(
            n for n in record.paid_told if orders.get(n) != "paid"
        ),
        "recovery_seconds": recovery,
        "slowest_answer_seconds": record.slowest,
        "forbidden_answers": record.bad[:20],
    }
    print("\ncluster fault test:", json.dumps(figures, indent=2, ensure_ascii=False))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2, ensure_ascii=False))

    assert record.placed, "no order was placed at all"
    assert not (record.placed - set(orders)), "an order a client was told was placed is missing"
    assert not paid_without_enrollment, paid_without_enrollment
    assert not lines_twice, lines_twice
    assert not used_by_unpaid, used_by_unpaid
    assert not record.bad, record.bad[:20]
    assert recovery["jobs done after a kill"] < JOBS_RECOVER_WITHIN
