"""A cold render of a library script vs calling Piper's own API on the same sentences."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from piper import SynthesisConfig

from pipeline.library import RenderOptions, render_track
from pipeline.parse import parse_file
from pipeline.speech import engine_for, load_voice

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "turning-toward.txt"


def run() -> dict:
    script = parse_file(SCRIPT)
    voice = load_voice(script.meta.voice)
    engine = engine_for(voice)  # loaded once for both sides, so loading time is excluded
    config = SynthesisConfig(normalize_audio=False, length_scale=1 / voice.rate,
                             noise_scale=voice.noise_scale, noise_w_scale=voice.noise_w_scale)
    start = time.perf_counter()
    for phrase in script.phrases:
        list(engine.voice.synthesize(phrase.text, config))
    piper_only = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as scratch:
        options = RenderOptions(out_dir=Path(scratch) / "build", cache_dir=Path(scratch) / "cache", force=True)
        start = time.perf_counter()
        cold = render_track(SCRIPT, options)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        render_track(SCRIPT, options)
        warm_s = time.perf_counter() - start
    duration = cold.manifest["duration_s"]
    return {
        "script": SCRIPT.name,
        "track_s": duration,
        "cold_render_over_piper_only": round(cold_s / piper_only, 3),
        "pipeline_overhead_pct": round(100 * (cold_s - piper_only) / piper_only, 1),
        "warm_render_over_cold_pct": round(100 * warm_s / cold_s, 1),
        "cold_render_x_realtime": round(duration / cold_s, 2),
    }
