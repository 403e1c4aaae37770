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
from .blocks import BLOCK, Computed, GainSmoother, Generated, Memory, Scratch, Signal, curve_gain, spans
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
    limiter is a pure function of the mix). ``peaks`` keeps, per block, what the costly part of a pass found
    (the smoother's carry and the frames whose true peak needs reduction), so ``replayed`` can make the same
    samples again from the mix without oversampling it; it is None once that record outgrows
    ``PEAK_RECORD_ENTRIES``.
    """

    def __init__(self, mix: Signal, ceiling_db: float, gain_db: float = 0.0, rate: int = SAMPLE_RATE):
        self.reduction_db = 0.0
        self.mix, self.gain_db, self.rate = mix, gain_db, rate
        self.peaks: list[_BlockPeaks] | None = []
        super().__init__(len(mix), mix.shape[1], lambda: self._blocks(mix, ceiling_db, gain_db, rate))

    def _blocks(self, mix: Signal, ceiling_db: float, gain_db: float, rate: int) -> Iterator[np.ndarray]:
        smoother = GainSmoother(ATTACK_DB_PER_S / rate, RELEASE_DB_PER_S / rate)
        gain = float(db_to_gain(gain_db))
        floor = (
            float(db_to_gain(ceiling_db)) / gain
        )  # input peaks below this need no reduction: no need to oversample them
        record: list[_BlockPeaks] | None = []
        entries = 0
        for start, end in spans(len(mix)):
            ahead = min(end + smoother.lookahead + 1, len(mix))  # +1: the span to the frame after the look-ahead too
            lo, hi = max(0, start - TRUE_PEAK_CONTEXT), min(len(mix), ahead + TRUE_PEAK_CONTEXT)
            chunk = np.asarray(mix[lo:hi])  # one read of the mix per block, with the context true peak needs
            peaks = oversampled_peaks(chunk, start - lo, ahead - lo, floor) * gain
            peaks = np.maximum(peaks, np.append(peaks[1:], peaks[-1:]))
            required = np.minimum(0.0, ceiling_db - 20 * np.log10(np.maximum(peaks, 1e-12)))
            if record is not None:
                where = np.flatnonzero(required).astype(np.int32)
                record.append(_BlockPeaks(smoother.carry, len(required), where, required[where]))
                entries += len(where)
                record = record if entries <= PEAK_RECORD_ENTRIES else None
            curve = smoother.process(required[: end - start], required[end - start :])
            if len(curve):
                self.reduction_db = max(self.reduction_db, round(-float(curve.min()), 2))
            if end == len(mix):
                self.peaks = record  # a whole pass's record only (the generator is not resumed after its last block)
            yield chunk[start - lo : end - lo] * (gain * curve_gain(curve)).astype(np.float32)[:, None]

    def replayed(self) -> Signal:
        """The same samples as this limiter's (after one whole pass), made from the mix and the recorded peaks:
        a read of the mix and the gain curve, without the oversampling that is most of a pass's cost."""
        if not self.peaks or len(self.peaks) != -(-len(self) // BLOCK):
            return self
        record, mix, gain = self.peaks, self.mix, float(db_to_gain(self.gain_db))
        attack, release = ATTACK_DB_PER_S / self.rate, RELEASE_DB_PER_S / self.rate

        def make(start: int, end: int) -> np.ndarray:
            out = np.empty((end - start, mix.shape[1]), np.float32)
            for number in range(start // BLOCK, -(-end // BLOCK)):
                a, b = number * BLOCK, min((number + 1) * BLOCK, len(mix))
                block = record[number]
                required = np.zeros(block.length)
                required[block.where] = block.required
                smoother = GainSmoother(attack, release)
                smoother.carry = block.carry
                curve = smoother.process(required[: b - a], required[b - a :])
                lo, hi = max(a, start), min(b, end)
                factor = (gain * curve_gain(curve[lo - a : hi - a])).astype(np.float32)[:, None]
                out[lo - start : hi - start] = np.asarray(mix[lo:hi]) * factor
            return out

        return Computed(len(mix), mix.shape[1], make)


PEAK_RECORD_ENTRIES = 1 << 23
"""Most frames needing reduction a limiter pass records for ``Limited.replayed`` (12 bytes each: 100 MB); a
programme whose peaks need more is made again by each reader instead."""


@dataclass(frozen=True)
class _BlockPeaks:
    carry: float
    length: int
    """Frames of required gain the block's curve reads (the block and its look-ahead)."""
    where: np.ndarray
    required: np.ndarray


def master(
    mix: Signal, profile: Profile, work: Scratch | None = None, progress: Callable[[int, int], None] | None = None
) -> Master:
    """Gain the mix to the profile's target, then limit to its ceiling.

    Limiting lowers the loudness a little: the first gain allows for what it
    foresees (``_first_gain``), and if the pass still missed by more than a
    tenth of a LU the gain is corrected and the limiter run again (once is nearly always
    enough, as the voice chain has already tamed the speech peaks). The
    master is kept in ``work`` if its budget has room, else made again from
    the mix and the last pass's recorded peaks (``Limited.replayed``: the same
    samples, without running the limiter again) wherever it is read.
    ``progress`` hears (blocks done, blocks in the passes so far) at each
    whole percent.
    """
    work = work or Memory()
    blocks = -(-len(mix) // BLOCK)
    step = Percent(progress or (lambda done, total: None), 2 * blocks)  # measuring, then (nearly always) one limiting
    sample = _Sample(blocks)

    def listen(block: np.ndarray) -> None:
        step()
        sample.feed(block)

    before = measure(mix, peaks=False, listen=listen)
    ceiling = profile.ceiling_dbtp - LIMITER_MARGIN_DB
    gain_db = _first_gain(profile, before, sample.stretches, ceiling)
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
        audio=limited.replayed() if audio is limited else audio,
        profile=profile,
        mix_lufs=before.integrated_lufs,
        after=after,
        gain_db=round(gain_db, 2),
        limiter_max_reduction_db=limited.reduction_db,
    )


SAMPLE_STRETCHES = 32
"""Blocks (1.4 s) kept from the measuring pass, evenly spread, to foresee the limiter's loss: at most every other
block of a short programme; of a long one, a few percent of a limiter pass, where a second pass costs all of one."""
SETTLE = 1 << 14
"""Frames (0.34 s) before each sampled block that the limiter is run over first, so its release has settled."""
FORESEEN_LOSS_LU = 0.05
"""A foreseen loss under this leaves the gain where the measurement puts it (the limiter barely acts)."""


class _Sample:
    """Evenly spaced blocks of a programme, each with the ``SETTLE`` frames before it, gathered as it is read."""

    def __init__(self, blocks: int):
        count = min(SAMPLE_STRETCHES, blocks // 2)
        self.wanted = {(j * blocks) // count + 1 for j in range(count)} if count else set()
        self.number, self.previous = 0, None
        self.stretches: list[np.ndarray] = []

    def feed(self, block: np.ndarray) -> None:
        if self.number in self.wanted and self.previous is not None:
            self.stretches.append(np.concatenate([self.previous[-SETTLE:], block]))
        self.previous = block if self.number + 1 in self.wanted else None
        self.number += 1


def _first_gain(profile: Profile, before: Loudness, stretches: list[np.ndarray], ceiling: float) -> float:
    """The gain that should bring the limited programme to the target at the first try.

    The gain the measurement asks for, raised by what limiting at that gain will cost: the loss is foreseen by
    limiting the sampled stretches and measuring them (after their settling frames) before and after, three
    times at most as a higher gain is limited harder. A long bed whose transients the limiter catches (rain)
    loses a few tenths of a LU, and that cost a whole second pass over an hour-long session.
    """
    planned = profile.target - profile.reading(before)
    gain_db = planned
    for _ in range(3):
        loss = _sampled_loss(profile, stretches, ceiling, gain_db)
        if gain_db == planned and loss < FORESEEN_LOSS_LU:
            return planned
        if abs(planned + loss - gain_db) < 0.02:
            break
        gain_db = planned + loss
    return gain_db


def _sampled_loss(profile: Profile, stretches: list[np.ndarray], ceiling: float, gain_db: float) -> float:
    """How much limiting at ``gain_db`` lowers the sampled stretches' reading, in LU (or dB for RMS)."""
    gain, made = np.float32(db_to_gain(gain_db)), []
    for stretch in stretches:
        limiter = Limited(stretch, ceiling, gain_db)
        made.append(limiter[:][SETTLE:])
        if limiter.reduction_db == 0.0:
            made[-1] = None  # untouched: the same as the stretch times the gain
    if all(m is None for m in made):
        return 0.0
    unlimited, limited = (ProgrammeMeter(stretches[0].shape[1], oversample=False) for _ in range(2))
    for stretch, output in zip(stretches, made):
        gained = stretch[SETTLE:] * gain
        unlimited.feed(gained)
        limited.feed(gained if output is None else output)
    loss = profile.reading(unlimited.figures()) - profile.reading(limited.figures())
    return max(loss, 0.0) if np.isfinite(loss) else 0.0


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
