"""Mixing and mastering speed as a multiple of real time, and our true-peak meter vs the naive one."""

from __future__ import annotations

import numpy as np
from scipy import signal

from pipeline.audio import SAMPLE_RATE, frames
from pipeline.beds import load_bed
from pipeline.errors import Source
from pipeline.loudness import true_peak_db
from pipeline.master import PROFILES, master
from pipeline.mix import mix
from pipeline.pacing import PlacedPhrase, Timeline
from pipeline.speech import Clip

from .timing import best_of

MINUTES = 10


def synthetic_session(minutes: float):
    """A voice-like clip every 8 s (4 s of modulated noise), as the mixer sees real speech."""
    rng = np.random.default_rng(0)
    clip_audio = (rng.standard_normal((frames(4.0), 1)) * 0.1).astype(np.float32)
    clip_audio *= np.abs(np.sin(np.linspace(0, 40, len(clip_audio))))[:, None].astype(np.float32)
    starts = range(frames(6), frames(minutes * 60 - 12), frames(8))
    phrases = tuple(PlacedPhrase(s, len(clip_audio), "x", Source("bench"), 0) for s in starts)
    return Timeline(SAMPLE_RATE, frames(minutes * 60), phrases, ()), (Clip("x", clip_audio),)


def run() -> dict:
    timeline, clips = synthetic_session(MINUTES)
    bed = load_bed("hearth")
    beds = {'hearth': bed}
    stems = mix(timeline, clips, {}, beds, 'hearth', 0)
    seconds_mix = best_of(2, lambda: mix(timeline, clips, {}, beds, 'hearth', 0))
    seconds_master = best_of(2, lambda: master(stems.mix, PROFILES["podcast"]))
    audio = stems.mix
    ours = best_of(2, lambda: true_peak_db(audio))
    naive = best_of(1, lambda: np.abs(signal.resample_poly(audio, 4, 1, axis=0)).max())
    duration = MINUTES * 60
    return {
        "track_minutes": MINUTES,
        "mix_x_realtime": round(duration / seconds_mix, 1),
        "master_x_realtime": round(duration / seconds_master, 1),
        "mix_plus_master_x_realtime": round(duration / (seconds_mix + seconds_master), 1),
        "true_peak_naive_over_ours": round(naive / ours, 2),
        "note": "naive = scipy resample_poly 4x over the whole array (default 81-tap filter)",
    }
