"""Servers a fault test may break: a Redis of its own, and a "frozen" server (a port that
accepts connections and never answers, as a server stopped with SIGSTOP does).

Never the shared servers: these run on the faults helper's ports (6450-6459, 5150-5199), each
test process (pytest-xdist worker) in a part of each range of its own, so that two never pick
the same free port at the same moment."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis


def own_share(low: int, high: int) -> range:
    """This test process's part of the ports low..high: all of them without xdist, else an
    equal slice per worker (gw0 the first)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or workers < 2:
        return range(low, high + 1)
    size = (high - low + 1) // workers
    start = low + int(worker[2:]) % workers * size
    return range(start, start + size)


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(low: int, high: int, count: int) -> int:
    """The first of `count` consecutive free ports in this process's share of low..high."""
    share = own_share(low, high)
    for port in range(share.start, share.stop - count + 1):
        if all(is_free(port + n) for n in range(count)):
            return port
    raise RuntimeError(f"no {count} free ports in a row in {share.start}-{share.stop - 1}")


def free_port(low: int, high: int) -> int:
    return free_ports(low, high, 1)


class OwnRedis:
    """A redis-server on a port of its own, which a test may stop, freeze and thaw."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.dir = tempfile.mkdtemp(prefix="faults-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(  # noqa: S603
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            with contextlib.suppress(redis.RedisError):
                client.ping()
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def own_redis(low: int = 6450, high: int = 6459) -> Iterator[OwnRedis]:
    server = OwnRedis(free_port(low, high)).start()
    try:
        yield server
    finally:
        server.cleanup()


@contextlib.contextmanager
def frozen_server(low: int = 5150, high: int = 5199) -> Iterator[int]:
    """A port whose server accepts connections (the kernel does, into the backlog) and never
    says a word: what a client sees of a server stopped with SIGSTOP."""
    listener = socket.socket()
    port = free_port(low, high)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    try:
        yield port
    finally:
        listener.close()


def closed_port(low: int = 5150, high: int = 5199) -> int:
    """A port nothing listens on: connections are refused at once (a server that is down)."""
    return free_port(low, high)
