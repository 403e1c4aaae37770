"""Mix → ``Master``: loudness profiles, BS.1770 measurement, one gain, a true-peak limiter.

This module owns delivery loudness. Measuring (``loudness``) and changing gain
are separate, as in pyloudnorm: the programme is measured once as a whole, given one
linear gain to its profile's target, then passed through a look-ahead limiter
that works on the 4× oversampled peak envelope so inter-sample peaks respect
the ceiling too. Every figure is kept for the manifest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE, db_to_gain
from .blocks import BLOCK, GainSmoother, Generated, Memory, Scratch, Signal, curve_gain, spans
from .errors import ConfigError, Source, did_you_mean
from .loudness import TRUE_PEAK_CONTEXT, Loudness, ProgrammeMeter, measure, oversampled_peaks
from .progress import Percent

LIMITER_MARGIN_DB = 0.5
"""Headroom under the ceiling: lossy encoders raise inter-sample peaks by a few tenths of a dB."""
ATTACK_DB_PER_S = 1500.0
"""Gain falls at most this fast ahead of a peak (6 dB in 4 ms)."""
RELEASE_DB_PER_S = 20.0
"""Gain recovers at most this fast after one (6 dB in 300 ms): slow enough not to pump."""


@dataclass(frozen=True, kw_only=True)
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
        Profile(
            name="podcast",
            target=-16.0,
            ceiling_dbtp=-1.0,
            description="Apple Podcasts: −16 LUFS, −1 dBTP (the default)",
        ),
        Profile(
            name="streaming", target=-14.0, ceiling_dbtp=-1.0, description="Spotify-style streaming: −14 LUFS, −1 dBTP"
        ),
        Profile(name="meditation", target=-19.0, ceiling_dbtp=-1.5, description="Quiet listening: −19 LUFS, −1.5 dBTP"),
        Profile(name="broadcast", target=-23.0, ceiling_dbtp=-1.0, description="EBU R128: −23 LUFS, −1 dBTP"),
        Profile(
            name="acx",
            target=-20.0,
            ceiling_dbtp=-3.0,
            description="ACX/Audible: −20 dB RMS (−23…−18), −3 dB peak, noise floor under −60 dB",
            by_rms=True,
            pace_wpm=(110.0, 190.0),
        ),
    )
}


def profile_named(name: str, where: Source | None = None) -> Profile:
    if name not in PROFILES:
        hint = did_you_mean(name, PROFILES) or f" (available: {', '.join(PROFILES)})"
        raise ConfigError(f"unknown loudness profile '{name}'{hint}", where)
    return PROFILES[name]


@dataclass(frozen=True, kw_only=True)
class Master:
    """The finished programme at SAMPLE_RATE (a signal: stored, or made from the mix as it is read) and every
    figure of how it was made."""

    audio: Signal
    profile: Profile
    mix_lufs: float
    """Integrated loudness of the mix before its gain."""
    after: Loudness
    gain_db: float
    limiter_max_reduction_db: float


class Limited(Generated):
    """Look-ahead true-peak limiter as a signal: ``limited(mix × gain)``, made front to back as it is read.

    The gain falls ahead of each peak of the 4× oversampled signal, so inter-sample peaks respect the
    ceiling too. ``reduction_db`` is the deepest gain reduction made so far (the same on every pass: the
    limiter is a pure function of the mix).
    """

    def __init__(self, mix: Signal, ceiling_db: float, gain_db: float = 0.0, rate: int = SAMPLE_RATE):
        self.reduction_db = 0.0
        super().__init__(len(mix), mix.shape[1], lambda: self._blocks(mix, ceiling_db, gain_db, rate))

    def _blocks(self, mix: Signal, ceiling_db: float, gain_db: float, rate: int) -> Iterator[np.ndarray]:
        smoother = GainSmoother(ATTACK_DB_PER_S / rate, RELEASE_DB_PER_S / rate)
        gain = float(db_to_gain(gain_db))
        floor = (
            float(db_to_gain(ceiling_db)) / gain
        )  # input peaks below this need no reduction: no need to oversample them
        for start, end in spans(len(mix)):
            ahead = min(end + smoother.lookahead + 1, len(mix))  # +1: the span to the frame after the look-ahead too
            lo, hi = max(0, start - TRUE_PEAK_CONTEXT), min(len(mix), ahead + TRUE_PEAK_CONTEXT)
            chunk = np.asarray(mix[lo:hi])  # one read of the mix per block, with the context true peak needs
            peaks = oversampled_peaks(chunk, start - lo, ahead - lo, floor) * gain
            peaks = np.maximum(peaks, np.append(peaks[1:], peaks[-1:]))
            required = np.minimum(0.0, ceiling_db - 20 * np.log10(np.maximum(peaks, 1e-12)))
            curve = smoother.process(required[: end - start], required[end - start :])
            if len(curve):
                self.reduction_db = max(self.reduction_db, round(-float(curve.min()), 2))
            yield chunk[start - lo : end - lo] * (gain * curve_gain(curve)).astype(np.float32)[:, None]


def master(
    mix: Signal, profile: Profile, work: Scratch | None = None, progress: Callable[[int, int], None] | None = None
) -> Master:
    """Gain the mix to the profile's target, then limit to its ceiling.

    Limiting lowers the loudness a little; if it cost more than a tenth of a
    LU the gain is corrected and the limiter run again (once is nearly always
    enough, as the voice chain has already tamed the speech peaks). The
    master is kept in ``work`` if its budget has room, else made again (from
    the mix) wherever it is read. ``progress`` hears (blocks done, blocks in
    the passes so far) at each whole percent.
    """
    work = work or Memory()
    blocks = -(-len(mix) // BLOCK)
    step = Percent(progress or (lambda done, total: None), 2 * blocks)  # measuring, then (nearly always) one limiting
    before = measure(mix, peaks=False, listen=step)
    gain_db = profile.target - profile.reading(before)
    ceiling = profile.ceiling_dbtp - LIMITER_MARGIN_DB
    for tries_left in reversed(range(3)):
        limited = Limited(mix, ceiling, gain_db)
        audio, after = _kept_and_measured(limited, work, step)
        shortfall = profile.target - profile.reading(after)
        if limited.reduction_db == 0.0 or abs(shortfall) < 0.1 or not tries_left:
            break
        work.release(audio)
        gain_db += shortfall
        step.grow(blocks)
    return Master(
        audio=audio,
        profile=profile,
        mix_lufs=before.integrated_lufs,
        after=after,
        gain_db=round(gain_db, 2),
        limiter_max_reduction_db=limited.reduction_db,
    )


def _kept_and_measured(limited: Limited, work: Scratch, step: Percent) -> tuple[Signal, Loudness]:
    """The limiter's output (kept if the budget allows), measured on the other core while it is being made."""
    meter = ProgrammeMeter(limited.shape[1])
    pending: deque[Future] = deque()

    def listen(block: np.ndarray) -> None:
        step()
        pending.append(other_core.submit(meter.feed, block))
        while len(pending) > 4:  # the limiter may run ahead of the meter, but only by a few blocks of memory
            pending.popleft().result()

    with ThreadPoolExecutor(1) as other_core:  # one worker: blocks are measured in order
        audio = work.keep(limited, listen)
        for future in pending:
            future.result()
    return audio, meter.figures()
