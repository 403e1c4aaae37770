"""Our mix + master vs the chain a user would otherwise script: pydub overlays, then ffmpeg loudnorm in two passes.

Both sides get the same clips at the same places over the same bed, and must
deliver a −16 LUFS / −1 dBTP file. Ratio = our seconds / their seconds: once for mix and master in this
process, and once end to end as the user meets it, ``drift render --force`` as a process (every clip cached,
WAV only), with the quality checks and without them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from pipeline.blocks import scratch
from pipeline.job import RenderOptions, prepare
from pipeline.master import PROFILES, master
from pipeline.mix import MixSettings, bed_signal, mix
from pipeline.pacing import place
from pipeline.speech import ClipCache, default_cache_dir, synthesize

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "being-with-what-is.txt"


def ours(job, clips, timeline) -> float:
    start = time.perf_counter()
    with scratch() as work:
        stems = mix(timeline, clips, job.voices, job.beds, work=work)
        master(stems.mix, PROFILES["podcast"], work=work)
    return time.perf_counter() - start


def theirs(clips, timeline, bed: np.ndarray, folder: Path) -> float:
    from pydub import AudioSegment

    def segment(audio: np.ndarray) -> AudioSegment:
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
        return AudioSegment(pcm.tobytes(), frame_rate=48_000, sample_width=2, channels=audio.shape[1])

    bed_segment = segment(bed)
    speech = [(p.start / 48, segment(np.repeat(clips[p.clip].audio, 2, axis=1))) for p in timeline.phrases]
    start = time.perf_counter()
    programme = bed_segment
    for position_ms, clip in speech:
        programme = programme.overlay(clip, position=int(position_ms))
    programme.export(folder / "pydub.wav", format="wav")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    first = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-i",
            str(folder / "pydub.wav"),
            "-af",
            "loudnorm=I=-16:TP=-1:LRA=11:print_format=json",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    measured = json.loads(first[first.rindex("{") : first.rindex("}") + 1])
    second = (
        f"loudnorm=I=-16:TP=-1:LRA=11:measured_I={measured['input_i']}:measured_TP={measured['input_tp']}:"
        f"measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}:linear=true"
    )
    subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-y",
            "-i",
            str(folder / "pydub.wav"),
            "-af",
            second,
            "-ar",
            "48000",
            str(folder / "loudnorm.wav"),
        ],
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def as_process(folder: Path, qc: bool) -> float:
    """``drift render --force`` of SCRIPT to WAV, start to exit, as the user runs it."""
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "render",
            str(SCRIPT),
            "-o",
            str(folder),
            "--format",
            "wav",
            "--force",
            "-q",
            *([] if qc else ["--no-qc"]),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def run() -> dict:
    job = prepare(SCRIPT, RenderOptions())
    clips = synthesize(job.script, job.voices, ClipCache(default_cache_dir()))
    timeline = place(job.script, [clip.frames for clip in clips], job.pauses)
    bed = bed_signal(timeline, job.beds, MixSettings(duck_db=0.0), -15.0)[:]  # the bed alone, not ducked, for theirs
    with tempfile.TemporaryDirectory() as folder:
        our_s, their_s = ours(job, clips, timeline), theirs(clips, timeline, bed * 0.1, Path(folder))
        process_s, no_qc_s = as_process(Path(folder) / "qc", True), as_process(Path(folder) / "no-qc", False)
    return {
        "script": SCRIPT.name,
        "track_s": round(timeline.duration_s, 1),
        "ours_s": round(our_s, 2),
        "pydub_plus_loudnorm_s": round(their_s, 2),
        "ours_over_theirs": round(our_s / their_s, 3),
        "process_s": round(process_s, 2),
        "process_over_theirs": round(process_s / their_s, 3),
        "process_no_qc_s": round(no_qc_s, 2),
        "process_no_qc_over_theirs": round(no_qc_s / their_s, 3),
        "qc_s": round(process_s - no_qc_s, 2),
        "note": "ours: mix and master in process (voice chain, ducking, bed, tones, true-peak limiter); process: "
        "drift render --force as a process, every clip cached, WAV only (start-up, speech from the cache, "
        "mix, master, encode, qc, exit); theirs overlays and normalises",
    }
