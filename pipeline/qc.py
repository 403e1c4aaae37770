"""Quality control: what a listener would hear wrong, measured on the finished (decoded) files.

Each check has a name, a measured value, the limit it is held to and a
verdict. Limits come from the track's loudness profile and its manifest
(what the script asked for). Files are decoded and checked block by block in
one pass, so memory does not grow with their length. A file that cannot be
read is reported and the run goes on with the rest.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, frame_peaks
from .errors import ConfigError, DriftError, Source
from .export.decode import decoded, read_blocks
from .files import file_sha256
from .loudness import Loudness, ProgrammeMeter
from .manifest import Layout, Manifest
from .master import Profile, profile_named
from .mix import BALANCE_TOLERANCE_DB, voice_over_bed
from .speech.text import PACE_MIN_WORDS

AUDIO_SUFFIXES = (".flac", ".wav", ".mp3", ".opus", ".ogg", ".m4a")
LOUDNESS_TOLERANCE = 1.0
"""LU either side of the target (Apple's ±1 for podcasts; a tighter profile could set its own)."""
SILENCE_DBFS = -60.0
EXTRA_SILENCE_S = 2.0
"""Dead air longer than the longest silence the script asked for, plus this, is a defect."""
CLICK_RATIO = 8.0
CLICK_FLOOR = 0.05
"""Steps smaller than this are the bed's own texture (a raindrop), not a broken join."""
CLIP_LEVEL = 0.999
ADVISORY = {"pace": ("speaking rate", "phrase pace"), "balance": ("voice over bed",)}
"""Checks of taste rather than delivery: ``--warn-only pace,balance`` makes them warnings. Every other check
(loudness, peaks, clipping, non-finite samples, clicks, dead air, duration) always fails the track."""


@dataclass(frozen=True)
class Check:
    name: str
    value: float | str | None
    """None: not a number (the file holds NaN or infinite samples)."""
    limit: str
    ok: bool


@dataclass(frozen=True)
class QcReport:
    """What the checks found in one file: every check's figure against its limit, or why it could not be read."""

    path: str
    checks: tuple[Check, ...] = ()
    error: str = ""
    warn_only: frozenset[str] = frozenset()
    """Names of advisory checks whose failure is a warning."""

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.ok and c.name not in self.warn_only)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if not c.ok and c.name in self.warn_only)

    @property
    def ok(self) -> bool:
        return not self.error and not self.failures

    def as_dict(self) -> dict:
        return {
            "file": self.path,
            "ok": self.ok,
            "error": self.error,
            "warnings": list(self.warnings),
            "checks": [
                {"name": c.name, "value": _json_number(c.value), "limit": c.limit, "ok": c.ok} for c in self.checks
            ],
        }


def _json_number(value):
    """JSON has no NaN or infinity: such a reading is null."""
    return None if isinstance(value, float) and not np.isfinite(value) else value


def advisory_checks(kinds: tuple[str, ...], where: Source | None = None) -> frozenset[str]:
    """``--warn-only pace,balance`` → the names of the checks that become warnings."""
    unknown = [k for k in kinds if k not in ADVISORY]
    if unknown:
        raise ConfigError(
            f"'{unknown[0]}' is not an advisory check (advisory: {', '.join(ADVISORY)}); "
            "loudness, peaks, clipping and dead air always fail a track",
            where,
        )
    return frozenset(name for kind in kinds for name in ADVISORY[kind])


def find_tracks(paths: list[Path]) -> list[Path]:
    """Finished tracks among the paths (folders searched), stems and previews left out."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.suffix in AUDIO_SUFFIXES and is_master(p) and "preview" not in p.parts
            )
        elif path.exists():
            found.append(path)
        else:
            raise ConfigError("no such file or folder", Source(str(path)))
    if not found:
        raise ConfigError(f"no finished tracks ({', '.join(AUDIO_SUFFIXES)}) here", Source(", ".join(map(str, paths))))
    return found


def is_master(path: Path) -> bool:
    """A finished track itself, not one of its stems."""
    return Layout.of_file(path)[1] is None


def qc_file(path: Path, profile_name: str | None = None, warn_only: frozenset[str] = frozenset()) -> QcReport:
    try:
        manifest = _manifest(path)
        profile = profile_named(
            profile_name or (manifest.loudness.profile if manifest else "podcast"),
            Source("--profile") if profile_name else None,
        )
        if manifest and manifest.draft:  # a Piper stand-in speaks at its own pace: drafts are for the words
            warn_only |= frozenset(ADVISORY["pace"])
        return QcReport(str(path), tuple(run_checks(path, manifest, profile)), warn_only=warn_only)
    except DriftError as error:
        return QcReport(str(path), error=str(error.message))


def qc_files(
    paths: list[Path], profile_name: str | None = None, warn_only: frozenset[str] = frozenset()
) -> list[QcReport]:
    """``qc_file`` for each path, one thread per core: decoding, filtering and oversampling run without the GIL."""
    with ThreadPoolExecutor(max(1, min(len(paths), os.cpu_count() or 1))) as pool:
        return list(pool.map(lambda path: qc_file(path, profile_name, warn_only), paths))


def _manifest(path: Path) -> Manifest | None:
    """The track's manifest (None if there is none), which must still vouch for this file."""
    manifest_path = Layout.of_file(path)[0].manifest
    if not manifest_path.exists():
        return None
    manifest = Manifest.read(manifest_path)
    recorded = manifest.files.get(path.name)
    if recorded and recorded.sha256 != file_sha256(path):
        raise ConfigError(f"file does not match its manifest ({manifest_path.name}): it changed after rendering")
    return manifest


def run_checks(path: Path, manifest: Manifest | None, profile: Profile) -> list[Check]:
    scan = Scan(_join_places(manifest))
    for block in read_blocks(path):
        scan.feed(block)
    figures = scan.finish()
    level = profile.reading(figures)
    checks = [
        Check(
            "loudness",
            level,
            f"{profile.target:g} ±{LOUDNESS_TOLERANCE:g} {profile.unit}",
            abs(level - profile.target) <= LOUDNESS_TOLERANCE,
        ),
        Check(
            "true peak",
            figures.true_peak_dbtp,
            f"≤ {profile.ceiling_dbtp:g} dBTP",
            figures.true_peak_dbtp <= profile.ceiling_dbtp,
        ),
        Check("loudness range", figures.range_lu, "reported", True),
        Check("sample peak", figures.sample_peak_dbfs, "≤ 0 dBFS", figures.sample_peak_dbfs < 0),
        scan.dc(),
        scan.clipping(),
        scan.non_finite(),
        scan.clicks.check(),
        _dead_air(scan.meter.loudness.step_powers(), manifest),
    ]
    if profile.by_rms:
        checks.append(Check("noise floor", figures.noise_floor_dbfs, "≤ -60 dBFS RMS", figures.noise_floor_dbfs <= -60))
    checks += _from_manifest(path, manifest, profile)
    return checks


def _join_places(manifest: Manifest | None) -> Iterable[int]:
    """Frames where phrases start and end (a bad join clicks at the clip's edge), or, without a manifest, everywhere."""
    places = sorted(int(t * SAMPLE_RATE) for span in manifest.speech.spans_s for t in span) if manifest else []
    return places or itertools.count(_CLICK_WINDOW, 2 * _CLICK_WINDOW)  # windows that tile the file: one count a click


class Scan:
    """Everything qc reads from the audio, gathered in one pass over its blocks."""

    def __init__(self, click_places: Iterable[int]):
        self.meter: ProgrammeMeter | None = None  # made for the file's channel count, at its first block
        self.clicks = _Clicks(click_places)
        self.frames, self.sums, self.clipped, self.non_finite_samples = 0, np.zeros(1), 0, 0
        self.pinned = np.zeros(0, dtype=bool)

    def feed(self, block: np.ndarray) -> None:
        if self.meter is None:
            self.meter = ProgrammeMeter(block.shape[1])
        finite = np.isfinite(block)
        if not finite.all():  # counted as a failure, then measured as silence so every other figure stays a number
            self.non_finite_samples += int(block.size - np.count_nonzero(finite))
            block = np.where(finite, block, np.float32(0))
        self.meter.feed(block)
        self.clicks.feed(block, self.frames)
        self.frames += len(block)
        self.sums = self.sums + block.sum(axis=0, dtype=np.float64)
        pinned = np.concatenate([self.pinned, frame_peaks(block) >= CLIP_LEVEL])  # runs may cross blocks
        self.clipped += int(np.count_nonzero(pinned[2:] & pinned[1:-1] & pinned[:-2]))
        self.pinned = pinned[-2:]

    def finish(self) -> Loudness:
        """After the last block: judge the joins near the end, and read the delivery figures."""
        self.clicks.finish(self.frames)
        return self.meter.figures()

    def non_finite(self) -> Check:
        """NaN or infinite samples: a player turns them into full-scale noise or silence."""
        return Check("non-finite samples", self.non_finite_samples, "0", self.non_finite_samples == 0)

    def dc(self) -> Check:
        db = 20 * float(np.log10(max(float(np.abs(self.sums / max(self.frames, 1)).max()), 1e-12)))
        return Check("DC offset", round(db, 1), "≤ -50 dBFS", db <= -50)

    def clipping(self) -> Check:
        """Runs of three or more samples pinned at full scale: the shape a clipped waveform leaves."""
        return Check("clipped samples", self.clipped, "0", self.clipped == 0)


_CLICK_WINDOW, _CLICK_NEAR = int(0.01 * SAMPLE_RATE), int(0.005 * SAMPLE_RATE)
_CLICK_REACH = _CLICK_WINDOW + _CLICK_NEAR + 2


class _Clicks:
    """Isolated steps: a sample whose curvature stands far above everything within 5 ms of it.

    A plosive is loud in the high band for milliseconds; a click is one or two
    samples. Each place is judged as soon as the audio around it has streamed past.
    """

    def __init__(self, places: Iterable[int]):
        self.places = iter(places)
        self.place = next(self.places, None)
        self.audio, self.audio_start = None, 0
        self.found = 0

    def feed(self, block: np.ndarray, start: int) -> None:
        self.audio = block if self.audio is None else np.concatenate([self.audio, block])
        self.curvature = np.abs(np.diff(self.audio.mean(axis=1, dtype=np.float64), 2))  # [i] spans frames i…i+2
        self._judge_until(start + len(block) - _CLICK_REACH)
        keep_from = self.place - _CLICK_REACH if self.place is not None else start + len(block)
        drop = min(max(keep_from - self.audio_start, 0), len(self.audio))
        self.audio, self.audio_start = self.audio[drop:], self.audio_start + drop

    def finish(self, total: int) -> None:
        self._judge_until(total - _CLICK_WINDOW)

    def _judge_until(self, last: int) -> None:
        while self.place is not None and self.place <= last:
            lo = max(self.place - _CLICK_REACH, self.audio_start)
            around = self.curvature[lo - self.audio_start : self.place + _CLICK_REACH - self.audio_start - 2]
            self.found += _click_at(around, self.place - lo)
            self.place = next(self.places, None)

    def check(self) -> Check:
        return Check("clicks at joins", self.found, "0", self.found == 0)


def _click_at(curvature: np.ndarray, place: int) -> bool:
    lo, hi = max(place - _CLICK_WINDOW, 0), min(place + _CLICK_WINDOW, len(curvature))
    if hi - lo < _CLICK_NEAR:
        return False
    peak = lo + int(np.argmax(curvature[lo:hi]))
    before, after = curvature[max(peak - _CLICK_NEAR, 0) : max(peak - 2, 0)], curvature[peak + 3 : peak + _CLICK_NEAR]
    around = np.concatenate([before, after])
    return bool(len(around) and curvature[peak] > max(CLICK_FLOOR, CLICK_RATIO * _percentile_95(around)))


def _percentile_95(values: np.ndarray) -> float:
    """``np.percentile(values, 95)`` (linear), by partition: a tenth of the cost on these short windows."""
    rank = 0.95 * (len(values) - 1)
    low, high = int(rank), min(int(rank) + 1, len(values) - 1)
    part = np.partition(values, (low, high))
    return float(part[low] + (part[high] - part[low]) * (rank - low))


def _dead_air(powers: np.ndarray, manifest: Manifest | None) -> Check:
    """The longest stretch of near-digital silence (100 ms powers), against the longest silence the script asked for."""
    silent = 10 * np.log10(np.maximum(powers, 1e-20)) < SILENCE_DBFS
    silent[:20] = silent[-20:] = False  # the fade in and out are silence by design
    longest, run = 0, 0
    for quiet in silent:
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    seconds = longest * 0.1
    allowed = manifest.speech.longest_silence_s + EXTRA_SILENCE_S if manifest else 10.0
    return Check("dead air", round(seconds, 1), f"≤ {allowed:.1f} s", seconds <= allowed)


def _from_manifest(path: Path, manifest: Manifest | None, profile: Profile) -> list[Check]:
    if not manifest:
        return [Check("manifest", "missing", "present", False)]
    checks = list(_pace(manifest.speech, manifest.speech.pace_wpm or profile.pace_wpm))
    target = manifest.target_duration_s
    if target:
        duration = manifest.duration_s
        checks.append(Check("duration", duration, f"{target:g} s ±1 s", abs(duration - target) <= 1.0))
    ratio = voice_to_bed(path, manifest) if manifest.ambiences else None  # no bed: no balance to judge
    if ratio is not None:
        setting = manifest.mix.voice_to_bed_setting_db  # what the mix was asked for, ± what a listener forgives
        low, high = setting - BALANCE_TOLERANCE_DB, setting + BALANCE_TOLERANCE_DB
        checks.append(Check("voice over bed", round(ratio, 1), f"{low:g}–{high:g} dB", low <= ratio <= high))
    return checks


def _pace(speech, bounds: tuple[float, float]) -> list[Check]:
    """The words a minute of the phrases of ``PACE_MIN_WORDS`` or more: taken together (the track's speaking rate)
    and each on its own, within the pace. Shorter phrases swing too much to judge."""
    low, high = bounds
    limit = f"{low:g}–{high:g} wpm"
    measured = [
        (number, words, end - start)
        for number, (words, (start, end)) in enumerate(zip(speech.words_each, speech.heard_s), start=1)
        if words >= PACE_MIN_WORDS and end > start
    ]
    if not measured:
        return [Check("speaking rate", "no phrase to judge", f"phrases of {PACE_MIN_WORDS}+ words", True)]
    wpm = round(60 * sum(words for _, words, _ in measured) / sum(seconds for *_, seconds in measured), 1)
    rates = [(number, 60 * words / seconds) for number, words, seconds in measured]
    outside = [(number, rate) for number, rate in rates if not low <= rate <= high]
    worst = max(outside, key=lambda item: abs(item[1] - (low + high) / 2), default=None)
    value = f"{len(outside)} of {len(rates)} outside" + (f" (phrase {worst[0]}: {worst[1]:.0f} wpm)" if worst else "")
    return [
        Check("speaking rate", wpm, limit, low <= wpm <= high),
        Check("phrase pace", value, f"every phrase of {PACE_MIN_WORDS}+ words {limit}", not outside),
    ]


def voice_to_bed(path: Path, manifest: Manifest) -> float | None:
    """The voice over the bed as the mix measured it (``mix.voice_over_bed``, its median over the spoken phrases),
    read again from the stems beside the track; None without them, or with no bed under any phrase."""
    layout = Layout.of_file(path)[0]
    voice, bed = layout.stem("voice"), layout.stem("bed")
    if not (voice.exists() and bed.exists()):
        return None
    speech = manifest.speech
    spoken = [
        span
        for number, span in enumerate(speech.spans_s)
        if number >= len(speech.words_each) or speech.words_each[number]
    ]  # an inserted sound says no word
    frames = sorted((int(a * SAMPLE_RATE), int(b * SAMPLE_RATE)) for a, b in spoken)
    balance = voice_over_bed(decoded(voice), decoded(bed), frames)
    return balance.median_db if balance else None
