"""Quality control: what a listener would hear wrong, measured on the finished (decoded) files.

Each check has a name, a measured value, the limit it is held to and a
verdict. Limits come from the track's loudness profile and its manifest
(what the script asked for). A file that cannot be read is reported and the
run goes on with the rest.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from .audio import SAMPLE_RATE, frame_peaks, resample
from .errors import ConfigError, DriftError, Source
from .files import file_sha256
from .loudness import integrated_loudness, measure
from .master import Profile, profile_named

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
VOICE_TO_BED_DB = (12.0, 18.0)
WPM_SPOKEN = (90.0, 210.0)
"""Words per minute of speech (pauses excluded): below, the voice drags; above, it rushes."""


@dataclass(frozen=True)
class Check:
    name: str
    value: float | str
    limit: str
    ok: bool


@dataclass(frozen=True)
class Report:
    path: str
    checks: tuple[Check, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)

    def as_dict(self) -> dict:
        return {"file": self.path, "ok": self.ok, "error": self.error,
                "checks": [{"name": c.name, "value": c.value, "limit": c.limit, "ok": c.ok} for c in self.checks]}


def find_tracks(paths: list[Path]) -> list[Path]:
    """Finished tracks among the paths (folders searched), stems and previews left out."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in AUDIO_SUFFIXES and p.stem.count(".") == 0
                            and "preview" not in p.parts)
        elif path.exists():
            found.append(path)
        else:
            raise ConfigError("no such file or folder", Source(str(path)))
    return found


def qc_file(path: Path, profile_name: str | None = None) -> Report:
    try:
        manifest = _manifest(path)
        profile = profile_named(profile_name or manifest.get("loudness", {}).get("profile", "podcast"),
                                Source("--profile") if profile_name else None)
        audio = decode(path)
        return Report(str(path), tuple(run_checks(path, audio, manifest, profile)))
    except DriftError as error:
        return Report(str(path), error=str(error.message))


def qc_files(paths: list[Path], profile_name: str | None = None) -> list[Report]:
    """``qc_file`` for each path, one thread per core: decoding, filtering and oversampling run without the GIL."""
    with ThreadPoolExecutor(max(1, min(len(paths), os.cpu_count() or 1))) as pool:
        return list(pool.map(lambda path: qc_file(path, profile_name), paths))


def decode(path: Path) -> np.ndarray:
    """The file as a listener's player decodes it, at 48 kHz stereo."""
    try:
        if path.suffix == ".m4a":
            data, rate = _decode_with_ffmpeg(path)
        else:
            data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise ConfigError(f"not readable audio ({exc})") from None
    if not len(data):
        raise ConfigError("no audio in the file (truncated?)")
    data = resample(data, rate)
    return data if data.shape[1] == 2 else np.repeat(data[:, :1], 2, axis=1)


def _decode_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    import subprocess

    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2",
                             "-ar", str(SAMPLE_RATE), "-"], capture_output=True)
    if result.returncode:
        raise RuntimeError(result.stderr.decode(errors="replace").strip().splitlines()[-1:])
    return np.frombuffer(result.stdout, dtype="<f4").reshape(-1, 2), SAMPLE_RATE


def _manifest(path: Path) -> dict:
    manifest_path = path.with_name(path.name.split(".")[0] + ".json")
    if not manifest_path.exists():
        return {}
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"manifest {manifest_path.name} is not readable JSON") from None
    recorded = manifest.get("files", {}).get(path.name, {}).get("sha256")
    if recorded and recorded != file_sha256(path):
        raise ConfigError(f"file does not match its manifest ({manifest_path.name}): it changed after rendering")
    return manifest


def run_checks(path: Path, audio: np.ndarray, manifest: dict, profile: Profile) -> list[Check]:
    figures = measure(audio)
    level = figures.rms_dbfs if profile.by_rms else figures.integrated_lufs
    unit = "dB RMS" if profile.by_rms else "LUFS"
    checks = [
        Check("loudness", level, f"{profile.target_lufs:g} ±{LOUDNESS_TOLERANCE:g} {unit}",
              abs(level - profile.target_lufs) <= LOUDNESS_TOLERANCE),
        Check("true peak", figures.true_peak_dbtp, f"≤ {profile.ceiling_dbtp:g} dBTP", figures.true_peak_dbtp <= profile.ceiling_dbtp),
        Check("loudness range", figures.range_lu, "reported", True),
        Check("sample peak", figures.sample_peak_dbfs, "≤ 0 dBFS", figures.sample_peak_dbfs < 0),
        _dc(audio), _clipping(audio), _clicks(audio, manifest), _dead_air(audio, manifest),
    ]
    if profile.by_rms:
        checks.append(Check("noise floor", figures.noise_floor_dbfs, "≤ -60 dB RMS", figures.noise_floor_dbfs <= -60))
    checks += _from_manifest(path, manifest)
    return checks


def _dc(audio: np.ndarray) -> Check:
    offset = float(np.abs(np.mean(audio, axis=0, dtype=np.float64)).max())
    db = 20 * np.log10(max(offset, 1e-12))
    return Check("DC offset", round(db, 1), "≤ -50 dBFS", db <= -50)


def _clipping(audio: np.ndarray) -> Check:
    """Runs of three or more samples pinned at full scale: the shape a clipped waveform leaves."""
    pinned = frame_peaks(audio) >= CLIP_LEVEL
    runs = int(np.count_nonzero(pinned[2:] & pinned[1:-1] & pinned[:-2]))
    return Check("clipped samples", runs, "0", runs == 0)


def _clicks(audio: np.ndarray, manifest: dict) -> Check:
    """Isolated steps: a sample whose curvature stands far above everything within 5 ms of it.

    A plosive is loud in the high band for milliseconds; a click is one or two
    samples. Looked for where phrases join (or everywhere, without a manifest).
    """
    places = [int(t * SAMPLE_RATE) for span in manifest.get("speech", {}).get("spans_s", []) for t in span]
    if places:  # a bad join clicks at the clip's edge: only the audio around each edge is needed
        reach = _CLICK_WINDOW + _CLICK_NEAR + 2
        found = sum(_click_at(_curvature(audio, max(p - reach, 0), p + reach), p - max(p - reach, 0)) for p in places)
    else:  # no manifest: look everywhere
        curvature = _curvature(audio, 0, len(audio))
        found = sum(_click_at(curvature, p) for p in range(_CLICK_WINDOW, len(audio) - _CLICK_WINDOW, _CLICK_WINDOW))
    return Check("clicks at joins", found, "0", found == 0)


_CLICK_WINDOW, _CLICK_NEAR = int(0.01 * SAMPLE_RATE), int(0.005 * SAMPLE_RATE)


def _curvature(audio: np.ndarray, start: int, end: int) -> np.ndarray:
    return np.abs(np.diff(audio[start:end].mean(axis=1, dtype=np.float64), 2))


def _click_at(curvature: np.ndarray, place: int) -> bool:
    lo, hi = max(place - _CLICK_WINDOW, 0), min(place + _CLICK_WINDOW, len(curvature))
    if hi - lo < _CLICK_NEAR:
        return False
    peak = lo + int(np.argmax(curvature[lo:hi]))
    before, after = curvature[max(peak - _CLICK_NEAR, 0) : max(peak - 2, 0)], curvature[peak + 3 : peak + _CLICK_NEAR]
    around = np.concatenate([before, after])
    return bool(len(around) and curvature[peak] > max(CLICK_FLOOR, CLICK_RATIO * np.percentile(around, 95)))


def _dead_air(audio: np.ndarray, manifest: dict) -> Check:
    """The longest stretch of near-digital silence, against the longest silence the script asked for."""
    step = int(0.1 * SAMPLE_RATE)
    usable = len(audio) // step * step
    squares = np.square(audio[:usable, 0]) + np.square(audio[:usable, 1])
    power = squares.reshape(-1, step).mean(axis=1, dtype=np.float64) / 2
    silent = 10 * np.log10(np.maximum(power, 1e-20)) < SILENCE_DBFS
    silent[:20] = silent[-20:] = False  # the fade in and out are silence by design
    longest, run = 0, 0
    for quiet in silent:
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    seconds = longest * 0.1
    allowed = manifest.get("speech", {}).get("longest_silence_s", 0.0) + EXTRA_SILENCE_S if manifest else 10.0
    return Check("dead air", round(seconds, 1), f"≤ {allowed:.1f} s", seconds <= allowed)


def _from_manifest(path: Path, manifest: dict) -> list[Check]:
    if not manifest:
        return [Check("manifest", "missing", "present", False)]
    checks = []
    wpm = manifest.get("speech", {}).get("words_per_minute_spoken", 0.0)
    checks.append(Check("speaking rate", wpm, f"{WPM_SPOKEN[0]:g}–{WPM_SPOKEN[1]:g} wpm", WPM_SPOKEN[0] <= wpm <= WPM_SPOKEN[1]))
    target = manifest.get("target_duration_s")
    if target:
        duration = manifest.get("duration_s", 0.0)
        checks.append(Check("duration", duration, f"{target:g} s ±1 s", abs(duration - target) <= 1.0))
    ratio = voice_to_bed(path, manifest)
    if ratio is not None:
        low, high = VOICE_TO_BED_DB
        checks.append(Check("voice over bed", round(ratio, 1), f"{low:g}–{high:g} dB", low <= ratio <= high))
    return checks


def voice_to_bed(path: Path, manifest: dict) -> float | None:
    """Voice loudness over the bed's while words are spoken, from the stems beside the track."""
    base = path.name.split(".")[0]
    voice, bed = (path.with_name(f"{base}.{stem}{path.suffix}") for stem in ("voice", "bed"))
    if not (voice.exists() and bed.exists()):
        return None
    spans_s = manifest.get("speech", {}).get("spans_s", [])
    pick = lambda audio: np.concatenate([audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in spans_s])
    voice_audio, bed_audio = decode(voice), decode(bed)
    return integrated_loudness(pick(voice_audio)) - integrated_loudness(pick(bed_audio))

