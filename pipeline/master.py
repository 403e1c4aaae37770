"""Mix → ``Master``: loudness profiles, BS.1770 measurement, one gain, a true-peak limiter.

This module owns delivery loudness. Measuring (``loudness``) and changing gain
are separate, as in pyloudnorm: the programme is measured once as a whole, given one
linear gain to its profile's target, then passed through a look-ahead limiter
that works on the 4× oversampled peak envelope so inter-sample peaks respect
the ceiling too. Every figure is kept for the manifest.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .audio import SAMPLE_RATE, db_to_gain
from .blocks import GainSmoother, Scratch, spans
from .errors import ConfigError, Source
from .loudness import Loudness, ProgrammeMeter, measure, oversampled_peaks

LIMITER_MARGIN_DB = 0.5
"""Headroom under the ceiling: lossy encoders raise inter-sample peaks by a few tenths of a dB."""
ATTACK_DB_PER_S = 1500.0
"""Gain falls at most this fast ahead of a peak (6 dB in 4 ms)."""
RELEASE_DB_PER_S = 20.0
"""Gain recovers at most this fast after one (6 dB in 300 ms): slow enough not to pump."""


@dataclass(frozen=True)
class Profile:
    name: str
    target: float
    """The level to reach, in ``unit``: integrated loudness, or RMS level when ``by_rms``."""
    ceiling_dbtp: float
    description: str
    by_rms: bool = False
    pace_wpm: tuple[float, float] = (95.0, 140.0)
    """The words a minute every phrase of a track is held to (qc's pace check): guided sessions are delivered at
    110–130, and a script may set its own with ``pace:``."""

    @property
    def unit(self) -> str:
        return "dBFS RMS" if self.by_rms else "LUFS"

    def reading(self, loudness: Loudness) -> float:
        """The figure this profile is held to."""
        return loudness.rms_dbfs if self.by_rms else loudness.integrated_lufs


PROFILES = {
    p.name: p
    for p in (
        Profile("podcast", -16.0, -1.0, "Apple Podcasts: −16 LUFS, −1 dBTP (the default)"),
        Profile("streaming", -14.0, -1.0, "Spotify-style streaming: −14 LUFS, −1 dBTP"),
        Profile("meditation", -19.0, -1.5, "Quiet listening: −19 LUFS, −1.5 dBTP"),
        Profile("broadcast", -23.0, -1.0, "EBU R128: −23 LUFS, −1 dBTP"),
        Profile("acx", -20.0, -3.0, "ACX/Audible: −20 dB RMS (−23…−18), −3 dB peak, noise floor under −60 dB", by_rms=True,
                pace_wpm=(110.0, 190.0)),
    )
}


def profile_named(name: str, where: Source | None = None) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown loudness profile '{name}' (available: {', '.join(PROFILES)})", where)
    return PROFILES[name]


@dataclass(frozen=True)
class Master:
    """The finished programme at SAMPLE_RATE (an array or a disk array) and every figure of how it was made."""

    audio: np.ndarray
    profile: Profile
    mix_lufs: float
    """Integrated loudness of the mix before its gain."""
    after: Loudness
    gain_db: float
    limiter_max_reduction_db: float


class InputPeaks:
    """The mix's 4× oversampled peak per frame, computed once (where it can matter) and reused by every limiter pass."""

    def __init__(self, audio: np.ndarray, below_db: float, work: Scratch | None = None):
        """Exact wherever a true peak could come within ``below_db`` of 0 dBFS; sample peaks elsewhere."""
        self.peaks = work.zeros(len(audio), 1) if work else np.zeros((len(audio), 1), dtype=np.float32)
        floor = float(db_to_gain(-below_db))

        def peaks_of(span: tuple[int, int]) -> None:
            self.peaks[span[0] : span[1]] = oversampled_peaks(audio, *span, floor)[:, None]

        with ThreadPoolExecutor(os.cpu_count() or 1) as cores:  # blocks are independent; scipy lets go of the GIL
            list(cores.map(peaks_of, spans(len(audio))))

    def required_db(self, start: int, end: int, gain: float, ceiling_db: float) -> np.ndarray:
        peaks = np.asarray(self.peaks[start:end])[:, 0] * gain
        peaks = np.maximum(peaks, np.append(peaks[1:], peaks[-1:]))  # the span to the next frame too
        return np.minimum(0.0, ceiling_db - 20 * np.log10(np.maximum(peaks, 1e-12)))


def limit(audio: np.ndarray, ceiling_db: float, gain_db: float = 0.0, out: np.ndarray | None = None,
          rate: int = SAMPLE_RATE, peaks: InputPeaks | None = None,
          listen: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, float]:
    """Look-ahead true-peak limiter, block by block: ``out = limited(audio × gain)``.

    Returns the output and the largest gain reduction (dB). ``out`` may be a
    memory map; by default a new array is made. ``listen`` is handed each
    output block in order, as it is made.
    """
    out = np.empty_like(audio) if out is None else out
    peaks = peaks or InputPeaks(audio, gain_db - ceiling_db)
    smoother = GainSmoother(ATTACK_DB_PER_S / rate, RELEASE_DB_PER_S / rate)
    gain = float(db_to_gain(gain_db))
    deepest = 0.0
    for start, end in spans(len(audio)):
        required = peaks.required_db(start, end + smoother.lookahead, gain, ceiling_db)
        curve = smoother.process(required[: end - start], required[end - start :])
        block = audio[start:end] * (gain * db_to_gain(curve)).astype(np.float32)[:, None]
        out[start:end] = block
        if listen:
            listen(block)
        deepest = min(deepest, float(curve.min()) if len(curve) else 0.0)
    return out, round(-deepest, 2)


def master(mix: np.ndarray, profile: Profile, rate: int = SAMPLE_RATE, work: Scratch | None = None) -> Master:
    """Gain the mix to the profile's target, then limit to its ceiling.

    Limiting lowers the loudness a little; if it cost more than a tenth of a
    LU the gain is corrected and the limiter run again (once is nearly always
    enough, as the voice chain has already tamed the speech peaks).
    """
    before = measure(mix, rate, peaks=False)
    mix_lufs = before.integrated_lufs
    gain_db = profile.target - profile.reading(before)
    out = work.zeros(len(mix), mix.shape[1]) if work else np.empty_like(mix)
    ceiling = profile.ceiling_dbtp - LIMITER_MARGIN_DB
    peaks = InputPeaks(mix, gain_db + 3.0 - ceiling, work)  # 3 dB of room for the gain corrections below
    for _ in range(3):
        audio, reduction, after = _limit_and_measure(mix, ceiling, gain_db, out, rate, peaks)
        shortfall = profile.target - profile.reading(after)
        if reduction == 0.0 or abs(shortfall) < 0.1:
            break
        gain_db += shortfall
    return Master(audio, profile, mix_lufs, after, round(gain_db, 2), reduction)


def _limit_and_measure(mix: np.ndarray, ceiling: float, gain_db: float, out: np.ndarray, rate: int,
                       peaks: InputPeaks) -> tuple[np.ndarray, float, Loudness]:
    """The limiter's output, measured on the other core while it is being made (not read back after)."""
    meter = ProgrammeMeter(mix.shape[1], rate)
    pending: deque[Future] = deque()

    def listen(block: np.ndarray) -> None:
        pending.append(other_core.submit(meter.feed, block))
        while len(pending) > 4:  # the limiter may run ahead of the meter, but only by a few blocks of memory
            pending.popleft().result()

    with ThreadPoolExecutor(1) as other_core:  # one worker: blocks are measured in order
        audio, reduction = limit(mix, ceiling, gain_db, out, rate, peaks, listen)
        for future in pending:
            future.result()
    return audio, reduction, meter.figures()
