"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import time
import tracemalloc
from typing import Callable


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """The fastest of several runs: the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_python_memory_mb(work: Callable[[], object]) -> float:
    """Peak memory allocated through Python's allocators (numpy included) while ``work`` runs."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
