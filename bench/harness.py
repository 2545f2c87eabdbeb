"""Reusable benchmark pieces: gunicorn servers on free ports, a bounded load generator, stats."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # every server binds here and every request goes here, nowhere else


# --- servers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSettings:
    """The gunicorn settings shared by every server of one comparison."""

    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1
    timeout: int = 30
    keepalive: int = 2
    backlog: int = 2048

    def args(self) -> list[str]:
        args = [
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--timeout",
            str(self.timeout),
            "--keep-alive",
            str(self.keepalive),
            "--backlog",
            str(self.backlog),
            "--log-level",
            "warning",
            # gunicorn 27 opens a control socket under ~/.gunicorn/: two servers collide on it.
            "--no-control-socket",
        ]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args  # no --access-logfile: the access log stays off

    def describe(self) -> dict[str, object]:
        return {**asdict(self), "access_log": False, "control_socket": False}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now: any, or one of
    `BENCH_PORTS` (e.g. `5230-5239`) when several people share the machine."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    for port in range(int(low), int(high or low) + 1) if low else ():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    if low:
        raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# No proxy from the environment: requests go straight to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET (status, body); any HTTP status is an answer, a refused connection raises."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"the benchmark only talks to {HOST}: {url}")
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class GunicornServer:
    """`gunicorn APP` on a free port of 127.0.0.1, logging to a file; a context manager."""

    def __init__(
        self,
        app: str,
        *,
        settings: ServerSettings,
        name: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        pythonpath: Sequence[Path] = (),
        log_dir: Path | None = None,
        ready_path: str = "/",
    ) -> None:
        self.app = app
        self.settings = settings
        self.name = name or app
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.pythonpath = list(pythonpath)
        self.log_dir = log_dir or Path(tempfile.gettempdir())
        self.ready_path = ready_path
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.log_path = self.log_dir / f"gunicorn-{self.name.replace(':', '-')}.log"

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def command(self) -> list[str]:
        cmd = [str(VENV_BIN / "gunicorn"), *self.settings.args(), "--bind", f"{HOST}:{self.port}"]
        for path in self.pythonpath:
            cmd += ["--pythonpath", str(path)]
        return [*cmd, self.app]

    def start(self, ready_timeout: float = 60.0) -> GunicornServer:
        for _attempt in range(3):  # another process may take the free port before we bind it
            self.port = free_port()
            log = self.log_path.open("ab")
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped together, by id
            )
            log.close()
            if self.wait_ready(ready_timeout):
                return self
            self.stop()
        raise RuntimeError(f"{self.name} did not start; its log:\n{self.log_tail()}")

    def wait_ready(self, timeout: float) -> bool:
        """Poll `ready_path` until any HTTP answer; False when the server died or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                get(self.url(self.ready_path), timeout=2.0)
                return True
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
        return False

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # the arbiter stops its workers gracefully
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own group, made at start
            process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- load -------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one load run measured; latencies in milliseconds."""

    generator: str
    duration_s: float
    connections: int
    requests: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    error_detail: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class LoadSpec:
    """C connections for at most `duration` seconds and `max_requests` requests, over `paths`."""

    duration: float = 10.0
    connections: int = 8
    max_requests: int = 1_000_000
    timeout: float = 10.0  # one request's limit


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, round(pct / 100 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def ensure_wrk(install: bool = True) -> str | None:
    """wrk's path; when it is missing and apt works (as root), install Debian's package once."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return None
    print("wrk is missing: installing Debian's package wrk ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "-qq", "update"], [apt, "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  could not install wrk ({exc}); using the Python load generator")
            return None
    return shutil.which("wrk")


_WRK_SCRIPT = """
local paths = {%(paths)s}
local limit = %(limit)d
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  n = id
  done_count = 0
end

function request()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end

function response(status, headers, body)
  done_count = done_count + 1
  if done_count >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write("WRK_JSON " .. string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout) .. "\\n")
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(wrk: str, base_url: str, paths: Sequence[str], spec: LoadSpec) -> LoadResult:
    """wrk with a Lua script that cycles over `paths` and stops at the request limit."""
    threads = max(1, min(os.cpu_count() or 1, spec.connections))
    script = _WRK_SCRIPT % {
        "paths": ", ".join(_lua_string(p) for p in paths),
        "limit": max(1, spec.max_requests // threads),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        script_path = fh.name
    try:
        cmd = [
            wrk,
            f"--threads={threads}",
            f"--connections={spec.connections}",
            f"--duration={max(1, round(spec.duration))}s",
            f"--timeout={max(1, round(spec.timeout))}s",
            f"--script={script_path}",
            base_url + paths[0],
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=spec.duration + spec.timeout + 30
        )
    finally:
        os.unlink(script_path)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    detail = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    return LoadResult(
        generator="wrk",
        duration_s=round(seconds, 3),
        connections=spec.connections,
        requests=raw["requests"],
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=round(raw["p50_us"] / 1000, 3),
        p99_ms=round(raw["p99_us"] / 1000, 3),
        errors=sum(detail.values()),
        error_detail=detail,
    )


def run_python_load(base_url: str, paths: Sequence[str], spec: LoadSpec) -> LoadResult:
    """The fallback: one thread per connection, http.client keep-alive (reconnecting when the
    server closes), each thread stopping at the deadline or at its share of the request limit.
    The GIL caps it at a few thousand requests a second: it may be the bottleneck."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    if host != HOST:
        raise ValueError(f"the benchmark only talks to {HOST}")
    per_thread = max(1, spec.max_requests // spec.connections)
    latencies: list[list[float]] = [[] for _ in range(spec.connections)]
    errors: list[dict[str, int]] = [{} for _ in range(spec.connections)]
    start_gate = threading.Event()
    deadline_box: list[float] = []

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=spec.timeout)
        mine, failed = latencies[index], errors[index]
        n = index
        start_gate.wait()
        deadline = deadline_box[0]
        for _ in range(per_thread):
            if time.monotonic() >= deadline:
                break
            path = paths[n % len(paths)]
            n += 1
            began = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    failed["status"] = failed.get("status", 0) + 1
                    continue
            except (OSError, http.client.HTTPException):
                failed["connect_or_read"] = failed.get("connect_or_read", 0) + 1
                conn.close()
                continue
            mine.append((time.perf_counter() - began) * 1000)
        conn.close()

    workers = [
        threading.Thread(target=worker, args=(i,), daemon=True) for i in range(spec.connections)
    ]
    for thread in workers:
        thread.start()
    began = time.monotonic()
    deadline_box.append(began + spec.duration)
    start_gate.set()
    for thread in workers:
        thread.join(timeout=spec.duration + spec.timeout + 5)
    seconds = time.monotonic() - began
    merged = sorted(x for mine in latencies for x in mine)
    detail: dict[str, int] = {}
    for failed in errors:
        for key, count in failed.items():
            detail[key] = detail.get(key, 0) + count
    done = len(merged)
    return LoadResult(
        generator="python",
        duration_s=round(seconds, 3),
        connections=spec.connections,
        requests=done + sum(detail.values()),
        rps=round(done / seconds, 1) if seconds else 0.0,
        p50_ms=None if not merged else round(percentile(merged, 50), 3),
        p99_ms=None if not merged else round(percentile(merged, 99), 3),
        errors=sum(detail.values()),
        error_detail=detail,
    )


class LoadGenerator:
    """Runs a load with wrk when it is there (or can be installed), else in Python."""

    def __init__(self, prefer: str = "auto", install_wrk: bool = True) -> None:
        self.wrk = None if prefer == "python" else ensure_wrk(install=install_wrk)
        if prefer == "wrk" and self.wrk is None:
            raise RuntimeError("wrk was asked for and is not available")
        self.name = "wrk" if self.wrk else "python"

    def run(self, base_url: str, paths: Sequence[str], spec: LoadSpec) -> LoadResult:
        if not base_url.startswith(f"http://{HOST}:"):
            raise ValueError(f"the benchmark only talks to {HOST}: {base_url}")
        if self.wrk:
            return run_wrk(self.wrk, base_url, paths, spec)
        return run_python_load(base_url, paths, spec)

    def describe(self) -> str:
        if self.wrk:
            version = subprocess.run(
                [self.wrk, "--version"], capture_output=True, text=True, timeout=10
            )
            first = (version.stdout or version.stderr).splitlines()
            return first[0].strip() if first else "wrk"
        return f"python {sys.version.split()[0]} threads + http.client"


# --- odds and ends ----------------------------------------------------------------------------


def git_commit() -> dict[str, object]:
    """The checkout's commit and whether the work tree differs from it."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "load_average": [round(x, 2) for x in os.getloadavg()],  # 1, 5, 15 minutes
    }
