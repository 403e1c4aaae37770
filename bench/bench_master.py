"""Mixing plus mastering a long session: speed as a multiple of real time, and peak memory by length; and a
sleep session (ten minutes of words, then rain until eight hours) rendered whole by ``drift render``, with the
scratch disk and memory it took.

Each length runs in its own process so its peak resident memory is its own. The sleep session's scratch is
read from the free space of its own tmpfs folder (scratch files have no name, so ``du`` cannot see them),
sampled every half second, and its memory from the resident set of the render's process tree.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
SLEEP_HOURS = (1, 8)
SCRATCH_FS = Path("/dev/shm")
"""A memory file system of its own: its used space is this render's scratch and nothing else's."""
SLEEP_SCRIPT = """---
title: Sleep {hours} h
voice: steady
ambience: rain-on-leaves
---
## Settling
{words}
[end {hours}:00:00]
"""
LINE = "Let the rain carry you a little further down, softer with every breath. [pause 6s]"


def synthetic_session(minutes: float):
    """A voice-like clip every 8 s (4 s of modulated noise), as the mixer sees real speech."""
    rng = np.random.default_rng(0)
    clip_audio = (rng.standard_normal((frames(4.0), 1)) * 0.1).astype(np.float32)
    clip_audio *= np.abs(np.sin(np.linspace(0, 40, len(clip_audio))))[:, None].astype(np.float32)
    starts = range(frames(6), frames(minutes * 60 - 12), frames(8))
    phrases = tuple(
        PlacedPhrase(start=s, frames=len(clip_audio), text="x", source=Source("bench"), clip=0, voice="default")
        for s in starts
    )
    timeline = Timeline(frames=frames(minutes * 60), phrases=phrases, sections=(), opening_bed="hearth")
    return timeline, (Clip("x", clip_audio),)


def one(minutes: float) -> dict:
    timeline, clips = synthetic_session(minutes)
    voices, beds = {"default": load_voice("default")}, {"hearth": load_bed("hearth")}
    with scratch() as work:
        start = time.perf_counter()
        stems = mix(timeline, clips, voices, beds, work=work)
        mixed = time.perf_counter()
        master(stems.mix, PROFILES["podcast"], work=work)
        done = time.perf_counter()
    whole_float64_mb = timeline.frames * 2 * 8 / 2**20
    return {
        "minutes": minutes,
        "mix_s": round(mixed - start, 2),
        "master_s": round(done - mixed, 2),
        "x_realtime": round(minutes * 60 / (done - start), 1),
        "peak_rss_mb": peak_rss_mb(),
        "one_stem_whole_float64_mb": round(whole_float64_mb, 1),
    }


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def sleep_session(hours: int, cache: Path) -> dict:
    """``drift render`` of ten minutes of words and the bed until ``hours``, with FLAC and MP3 and qc."""
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory(dir=SCRATCH_FS) as scratch_dir:
        script = Path(folder) / f"sleep-{hours}h.txt"
        script.write_text(SLEEP_SCRIPT.format(hours=hours, words="\n".join([LINE] * 60)))
        load = os.getloadavg()[0]
        base = shutil.disk_usage(SCRATCH_FS).used
        started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "render",
                str(script),
                "-o",
                f"{folder}/out",
                "--cache",
                str(cache),
                "--format",
                "flac,mp3",
                "-q",
            ],
            env={**os.environ, "TMPDIR": scratch_dir},
        )
        scratch_mb = rss_mb = 0.0
        while process.poll() is None:
            scratch_mb = max(scratch_mb, (shutil.disk_usage(SCRATCH_FS).used - base) / 2**20)
            rss_mb = max(rss_mb, _tree_rss_mb(process.pid))
            time.sleep(0.5)
        wall = time.perf_counter() - started
        done = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
        if process.returncode != 0:
            raise RuntimeError(f"the {hours} h sleep session failed")
        manifest = json.loads((Path(folder) / "out" / f"sleep-{hours}h.json").read_text())
    old_design_gb = hours * 3600 * 48_000 * 44 / 1e9
    return {
        "hours": hours,
        "wall_s": round(wall, 1),
        "x_realtime": round(hours * 3600 / wall, 1),
        "cpu_s": round(cpu, 1),
        "x_realtime_per_core": round(hours * 3600 / cpu, 1),
        "load_at_start": round(load, 1),
        "peak_scratch_mb": round(scratch_mb, 1),
        "peak_rss_mb": round(rss_mb, 1),
        "integrated_lufs": manifest["loudness"]["integrated_lufs"],
        "true_peak_dbtp": manifest["loudness"]["true_peak_dbtp"],
        "qc_passed": manifest["qc"]["passed"],
        "stored_design_scratch_gb": round(old_design_gb, 1),
    }


def run() -> dict:
    rows = []
    for minutes in MINUTES:
        output = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import json; from bench.bench_master import one; print(json.dumps(one({minutes})))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    with tempfile.TemporaryDirectory() as cache:
        sleep = [sleep_session(hours, Path(cache)) for hours in SLEEP_HOURS]
    return {
        "lengths": rows,
        "sleep_sessions": sleep,
        "note": "lengths: x_realtime = session length / (mix + master) time; synthetic voice clips, hearth bed. "
        "sleep_sessions: the whole of drift render (speech, mix, master, FLAC and MP3, qc), 10 minutes of "
        "words then rain-on-leaves; peak_scratch_mb from the free space of a tmpfs TMPDIR; "
        "stored_design_scratch_gb: what storing every stem, the mix, the master and the limiter's peaks "
        "(44 bytes a frame, the design before this one) would have taken",
    }
