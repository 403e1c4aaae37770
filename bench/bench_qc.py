"""drift qc on a 60-minute track: speed as a multiple of real time, and peak memory against a 10-minute one
(each checked in its own process, so its peak resident memory is its own)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.timing import peak_rss_mb
from pipeline.blocks import spans
from pipeline.export import write_audio


def one(path: str) -> dict:
    from pipeline.qc import qc_file

    start = time.perf_counter()
    report = qc_file(Path(path))
    return {"qc_s": time.perf_counter() - start, "checks": len(report.checks), "peak_rss_mb": peak_rss_mb()}


def _in_process(path: Path) -> dict:
    code = f"import json; from bench.bench_qc import one; print(json.dumps(one({str(path)!r})))"
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def _noise_track(path: Path, minutes: int) -> None:
    """White noise at −26 dBFS RMS, written block by block (no manifest: clicks are looked for everywhere)."""
    from pipeline.blocks import scratch

    rng = np.random.default_rng(0)
    with scratch() as work:
        audio = work.zeros(minutes * 60 * 48_000)
        for a, b in spans(len(audio)):
            audio[a:b] = (rng.standard_normal((b - a, 2)) * 0.05).astype(np.float32)
        write_audio(path, audio, 48_000, "flac")


def run() -> dict:
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for minutes in (10, 60):
            path = Path(folder) / f"long-{minutes}.flac"
            _noise_track(path, minutes)
            rows[minutes] = _in_process(path)
    long = rows[60]
    return {
        "track_minutes": 60,
        "qc_s": round(long["qc_s"], 1),
        "x_realtime": round(3600 / long["qc_s"], 1),
        "checks": long["checks"],
        "peak_rss_mb_10min": rows[10]["peak_rss_mb"],
        "peak_rss_mb_60min": long["peak_rss_mb"],
    }
