"""Compiled inner loops (numba) for per-frame recurrences that numpy can only do in many passes.

The look-ahead gain curve (``GainSmoother``) is two running minima over every frame of a session, run by the
voice's peak tamer and by each limiter pass: in numpy that was ten passes over float64 arrays a block long,
here it is two loops with the same float64 operations in the same order, so the curve is the same bit for bit.
numba is imported on first use, not with the package, and its machine code is cached beside this file, so a
render pays the compile once per installation rather than once per run.
"""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def _compiled():
    import numba

    @numba.njit(cache=True, nogil=True)
    def smooth_gain(ahead, count, attack, release, carry):  # pragma: no cover - runs as machine code
        """The look-ahead gain curve of ``GainSmoother.process`` over ``ahead`` (required gain, then the frames
        after the block), for its first ``count`` frames; and the new carry."""
        total = len(ahead)
        before = np.empty(total)
        lowest = np.inf
        for n in range(total - 1, -1, -1):  # the tightest fall needed to reach any later peak in time
            lowest = min(lowest, ahead[n] + n * attack)
            before[n] = lowest
        gain = np.empty(count)
        floor = np.inf
        after = carry
        for k in range(count):  # the slowest recovery from every earlier peak, and from the last block's
            floor = min(floor, ahead[k] - k * release)
            after = min(floor + k * release, carry + (k + 1) * release)
            gain[k] = min(min(after, before[k] - k * attack), 0.0)
        return gain, after

    return smooth_gain


def smooth_gain(ahead: np.ndarray, count: int, attack: float, release: float, carry: float) -> tuple[np.ndarray, float]:
    gain, after = _compiled()(np.ascontiguousarray(ahead, dtype=np.float64), count, attack, release, carry)
    return gain, float(after)
