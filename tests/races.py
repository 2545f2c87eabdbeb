"""Races in tests: `run_together(count, work)` runs `work(i)` in `count` threads let go at the
same moment by a barrier, and gives back what each returned (an exception is raised)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor


def run_together(count: int, work):
    barrier = threading.Barrier(count)

    def runner(i):
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(runner, range(count)))
