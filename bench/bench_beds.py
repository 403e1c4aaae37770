"""Every ambience preset: a 60-minute stereo bed as a multiple of real time (one core), and peak memory
for 10 and 60 minutes (each in its own process), which should not grow with the length."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.timing import peak_rss_mb
from pipeline import presets
from pipeline.audio import SAMPLE_RATE
from pipeline.beds import bed_blocks, load_bed


def one(name: str, minutes: float) -> dict:
    preset = load_bed(name)
    start = time.perf_counter()
    for _ in bed_blocks(preset, int(minutes * 60 * SAMPLE_RATE), 0):
        pass
    seconds = time.perf_counter() - start
    return {"x_realtime": round(minutes * 60 / seconds, 1), "peak_rss_mb": peak_rss_mb()}


def _in_process(name: str, minutes: float) -> dict:
    code = f"import json; from bench.bench_beds import one; print(json.dumps(one({name!r}, {minutes})))"
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def run() -> dict:
    rows = {}
    for name in presets.available("ambience"):
        short, long = _in_process(name, 10), _in_process(name, 60)
        rows[name] = {
            "x_realtime_60min": long["x_realtime"],
            "peak_rss_mb_10min": short["peak_rss_mb"],
            "peak_rss_mb_60min": long["peak_rss_mb"],
        }
    return {"presets": rows, "goal": "at least 200x real time on one core; memory independent of length"}
