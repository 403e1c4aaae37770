"""Mixing plus mastering a long session: speed as a multiple of real time, and peak memory by length.

Each length runs in its own process so its peak resident memory is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from bench.timing import peak_rss_mb
from pipeline.audio import frames
from pipeline.beds import load_bed
from pipeline.blocks import scratch
from pipeline.errors import Source
from pipeline.master import PROFILES, master
from pipeline.mix import mix
from pipeline.pacing import PlacedPhrase, Timeline
from pipeline.speech import Clip, load_voice

MINUTES = (10, 30, 60)


def synthetic_session(minutes: float):
    """A voice-like clip every 8 s (4 s of modulated noise), as the mixer sees real speech."""
    rng = np.random.default_rng(0)
    clip_audio = (rng.standard_normal((frames(4.0), 1)) * 0.1).astype(np.float32)
    clip_audio *= np.abs(np.sin(np.linspace(0, 40, len(clip_audio))))[:, None].astype(np.float32)
    starts = range(frames(6), frames(minutes * 60 - 12), frames(8))
    phrases = tuple(PlacedPhrase(s, len(clip_audio), "x", Source("bench"), 0, voice="default") for s in starts)
    return Timeline(frames(minutes * 60), phrases, (), opening_bed="hearth"), (Clip("x", clip_audio),)


def one(minutes: float) -> dict:
    timeline, clips = synthetic_session(minutes)
    voices, beds = {"default": load_voice("default")}, {"hearth": load_bed("hearth")}
    with scratch() as work:
        start = time.perf_counter()
        stems = mix(timeline, clips, voices, beds, work=work)
        mixed = time.perf_counter()
        master(stems.mix_into(work.zeros(timeline.frames)), PROFILES["podcast"], work=work)
        done = time.perf_counter()
    whole_float64_mb = timeline.frames * 2 * 8 / 2**20
    return {"minutes": minutes, "mix_s": round(mixed - start, 2), "master_s": round(done - mixed, 2),
            "x_realtime": round(minutes * 60 / (done - start), 1),
            "peak_rss_mb": peak_rss_mb(),
            "one_stem_whole_float64_mb": round(whole_float64_mb, 1)}


def run() -> dict:
    rows = []
    for minutes in MINUTES:
        output = subprocess.run([sys.executable, "-c", f"import json; from bench.bench_master import one; print(json.dumps(one({minutes})))"],
                                capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    return {"lengths": rows, "note": "x_realtime = session length / (mix + master) time; synthetic voice clips, hearth bed"}
