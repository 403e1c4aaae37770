"""Library builds: a no-op rebuild of 20 tracks, --jobs 2 over --jobs 1, and a personalised batch vs separate
renders."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pipeline.job import RenderOptions
from pipeline.library import build, plan, render_track

SCRIPT = """---
title: Bench {n}
voice: steady
vars: {{name: friend}}
---
## Arrival
Let your eyes close, {{name}}. [pause 2s] Rest here, number {n}.

## Return
Welcome back. [pause 1s] Take your time.
"""


def _library(folder: Path, count: int) -> list[Path]:
    scripts = folder / "scripts"
    scripts.mkdir()
    for n in range(count):
        (scripts / f"s{n:02d}.txt").write_text(SCRIPT.format(n=n))
    return sorted(scripts.iterdir())


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        scripts = _library(root, 20)
        options = RenderOptions(out_dir=root / "build", cache_dir=root / "cache")
        cold_one = _timed(
            lambda: render_track(scripts[0], RenderOptions(out_dir=root / "one", cache_dir=root / "cold"))
        )
        build(plan(scripts), options, jobs=2)
        noop = _timed(lambda: build(plan(scripts), options, jobs=2))

        forced = RenderOptions(out_dir=root / "build", cache_dir=root / "cache", force=True)
        four = plan(scripts[:4])
        serial = _timed(lambda: build(four, forced, jobs=1))
        parallel = _timed(lambda: build(four, forced, jobs=2))

        listeners = root / "listeners"
        listeners.mkdir()
        for n in range(10):
            (listeners / f"l{n}.yaml").write_text(f"name: Listener {n}\n")
        batch = _timed(
            lambda: build(
                plan(scripts[:1], listeners), RenderOptions(out_dir=root / "batch", cache_dir=root / "b"), jobs=1
            )
        )
        separate = _timed(
            lambda: [
                render_track(
                    scripts[0],
                    RenderOptions(
                        out_dir=root / f"sep{n}", cache_dir=root / f"c{n}", variables={"name": f"Listener {n}"}
                    ),
                )
                for n in range(10)
            ]
        )
    return {
        "noop_rebuild_20_tracks_s": round(noop, 2),
        "one_cold_track_s": round(cold_one, 2),
        "noop_over_one_cold_track": round(noop / cold_one, 3),
        "jobs2_speedup_over_jobs1": round(serial / parallel, 2),
        "batch_10_listeners_s": round(batch, 2),
        "ten_separate_renders_s": round(separate, 2),
        "batch_over_separate": round(batch / separate, 3),
    }
