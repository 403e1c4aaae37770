"""Mix → ``Master``: loudness profiles, BS.1770 measurement, one gain, a true-peak limiter.

This module owns delivery loudness. Measuring (``loudness``) and changing gain
are separate, as in pyloudnorm: the programme is measured once as a whole, given one
linear gain to its profile's target, then passed through a look-ahead limiter
that works on the 4× oversampled peak envelope so inter-sample peaks respect
the ceiling too. Every figure is kept for the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE, db_to_gain
from .errors import ConfigError, Source
from .loudness import Loudness, integrated_loudness, measure, oversampled_peaks

LIMITER_MARGIN_DB = 0.5
"""Headroom under the ceiling: lossy encoders raise inter-sample peaks by a few tenths of a dB."""
ATTACK_DB_PER_S = 1500.0
"""Gain falls at most this fast ahead of a peak (6 dB in 4 ms)."""
RELEASE_DB_PER_S = 20.0
"""Gain recovers at most this fast after one (6 dB in 300 ms): slow enough not to pump."""


@dataclass(frozen=True)
class Profile:
    name: str
    target_lufs: float
    ceiling_dbtp: float
    description: str


PROFILES = {
    p.name: p
    for p in (
        Profile("podcast", -16.0, -1.0, "Apple Podcasts: −16 LUFS, −1 dBTP (the default)"),
        Profile("streaming", -14.0, -1.0, "Spotify-style streaming: −14 LUFS, −1 dBTP"),
        Profile("meditation", -19.0, -1.5, "Quiet listening: −19 LUFS, −1.5 dBTP"),
        Profile("broadcast", -23.0, -1.0, "EBU R128: −23 LUFS, −1 dBTP"),
    )
}


def profile_named(name: str, where: Source | None = None) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown loudness profile '{name}' (available: {', '.join(PROFILES)})", where)
    return PROFILES[name]


@dataclass(frozen=True)
class Master:
    audio: np.ndarray
    sample_rate: int
    profile: Profile
    before: Loudness
    after: Loudness
    gain_db: float
    limiter_max_reduction_db: float


def limit(audio: np.ndarray, ceiling_db: float, rate: int = SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """Look-ahead true-peak limiter. Returns the limited audio and its largest gain reduction (dB)."""
    peaks = oversampled_peaks(audio)
    peaks = np.maximum(peaks, np.concatenate([peaks[1:], peaks[-1:]]))  # the span to the next frame too
    required = np.minimum(0.0, ceiling_db - 20 * np.log10(np.maximum(peaks, 1e-12)))
    if required.min() >= 0:
        return audio, 0.0
    gain_db = smooth_gain_db(required, ATTACK_DB_PER_S / rate, RELEASE_DB_PER_S / rate)
    limited = audio * db_to_gain(gain_db).astype(np.float32)[:, None]
    return limited, round(float(-gain_db.min()), 2)


def smooth_gain_db(required_db: np.ndarray, attack_db: float, release_db: float) -> np.ndarray:
    """The highest gain curve that never exceeds ``required_db`` and moves at most
    ``attack_db`` per frame going down and ``release_db`` per frame coming back up.

    The programme is known in advance, so the curve can fall ahead of each peak
    (look-ahead for free): it is two running minimums, with no per-frame loop.
    """
    n = np.arange(len(required_db), dtype=np.float64)
    after_peak = np.minimum.accumulate(required_db - n * release_db) + n * release_db
    before_peak = np.minimum.accumulate((required_db + n * attack_db)[::-1])[::-1] - n * attack_db
    return np.minimum(after_peak, before_peak)


def master(mix: np.ndarray, profile: Profile, rate: int = SAMPLE_RATE) -> Master:
    """Gain the mix to the profile's target, then limit to its ceiling.

    Limiting lowers the loudness a little; if it cost more than a tenth of a
    LU the gain is corrected and the limiter run again (once is nearly always
    enough, as the voice chain has already tamed the speech peaks).
    """
    before = measure(mix, rate)
    gain_db = profile.target_lufs - before.integrated_lufs
    for _ in range(3):
        audio = (mix * np.float32(db_to_gain(gain_db))).astype(np.float32)
        audio, reduction = limit(audio, profile.ceiling_dbtp - LIMITER_MARGIN_DB, rate)
        shortfall = profile.target_lufs - integrated_loudness(audio, rate)
        if reduction == 0.0 or abs(shortfall) < 0.1:
            break
        gain_db += shortfall
    return Master(audio, rate, profile, before, measure(audio, rate), round(gain_db, 2), reduction)

