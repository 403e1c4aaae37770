"""Audio reduced to what a picture needs: a waveform's min and max per column, and short-term loudness over
time. The preview page and ``drift plot`` draw from these; both read block by block, so an hour costs what a
minute does."""

from __future__ import annotations

import numpy as np

from .blocks import spans
from .loudness import LoudnessMeter, lufs


def waveform(audio: np.ndarray, columns: int = 1200) -> list[list[float]]:
    """Min and max per page column, so the page draws an hour as quickly as a minute; read block by block."""
    total = len(audio)
    columns = min(columns, max(total, 1))
    edges = np.linspace(0, total, columns + 1).astype(int)
    low, high = np.full(columns, np.inf), np.full(columns, -np.inf)
    for a, b in spans(total):
        block = np.asarray(audio[a:b])
        mono = block[:, 0].copy()
        for channel in range(1, block.shape[1]):
            mono += block[:, channel]
        mono /= block.shape[1]
        first, last = np.searchsorted(edges, [a, b - 1], side="right") - 1
        starts = np.maximum(edges[first : last + 1], a) - a
        low[first : last + 1] = np.minimum(low[first : last + 1], np.minimum.reduceat(mono, starts))
        high[first : last + 1] = np.maximum(high[first : last + 1], np.maximum.reduceat(mono, starts))
    if not total:
        return [[0.0, 0.0]]
    return [[round(float(lo), 3), round(float(hi), 3)] for lo, hi in zip(low, high)]


def loudness_series(audio, every_s: float = 0.5) -> list[list[float]]:
    """Short-term loudness (3 s windows) every half second: [time, LUFS]."""
    meter = LoudnessMeter(audio.shape[1])
    for a, b in spans(len(audio)):
        meter.feed(np.asarray(audio[a:b]))
    windows = meter.windows(30)
    step = max(int(every_s / 0.1), 1)
    return [[round((i + 30) * 0.1, 2), round(float(lufs(w)), 2)] for i, w in enumerate(windows) if i % step == 0]
