"""drift qc on a 60-minute track, as a multiple of real time."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.export import write_audio
from pipeline.qc import qc_file


def run() -> dict:
    rng = np.random.default_rng(0)
    minutes = 60
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "long.flac"
        audio = (rng.standard_normal((minutes * 60 * 48_000, 2)) * 0.05).astype(np.float32)
        write_audio(path, audio, 48_000, "flac")
        del audio
        start = time.perf_counter()
        report = qc_file(path)
        seconds = time.perf_counter() - start
    return {"track_minutes": minutes, "qc_s": round(seconds, 1), "x_realtime": round(minutes * 60 / seconds, 1),
            "checks": len(report.checks)}
