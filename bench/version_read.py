"""What one read of the catalog's version costs: the client's MGET against catalog_cache's
VersionReader (the same MGET, packed once, on a socket of the thread's own), in CPU time of this
process (waiting for Redis left out, so a busy machine skews it little) and in wall time.

    .venv/bin/python bench/version_read.py [--reads 20000] [--repeat 5]

Uses the benchmark's Redis (BENCH_REDIS_PORT, BENCH_REDIS_DB; two keys, deleted after).
"""

from __future__ import annotations

import argparse
import sys
import time

import appenv
import redis
from harness import ROOT


def best_of(read, reads: int, repeat: int) -> tuple[float, float]:
    """Best mean CPU and wall time of one read, in microseconds."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        for _ in range(reads):
            read()
        wall = min(wall, (time.perf_counter() - started) / reads)
        cpu = min(cpu, (time.process_time() - started_cpu) / reads)
    return cpu * 1e6, wall * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from app.services.catalog_cache import EPOCH_KEY, VERSION_KEY, VersionReader

    url = f"redis://127.0.0.1:{appenv.BENCH_REDIS_PORT}/{appenv.BENCH_REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.set(EPOCH_KEY, "e" * 32)
    client.set(VERSION_KEY, 1)
    reader = VersionReader(client)
    try:
        assert reader.read() == client.mget(EPOCH_KEY, VERSION_KEY)
        print(f"{'one version read':32s} {'cpu us':>8s} {'wall us':>8s}")
        for name, read in (
            ("client.mget (pooled client)", lambda: client.mget(EPOCH_KEY, VERSION_KEY)),
            ("VersionReader.read", reader.read),
        ):
            read()
            cpu, wall = best_of(read, args.reads, args.repeat)
            print(f"{name:32s} {cpu:8.1f} {wall:8.1f}")
    finally:
        client.delete(EPOCH_KEY, VERSION_KEY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
