"""The MP3 of a 30-minute master: one LAME (pedalboard, today's encoder for short tracks) against parallel segments
(``pipeline/export/mp3.py``: ffmpeg's libmp3lame on every core), wall time and CPU (this process and its
children) each; and the segments on one worker, which is the segmented encoder's own cost without the
parallelism. The load average is recorded: on a shared machine the ratio is what the free cores allowed."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.blocks import spans
from pipeline.export import audio as export_audio
from pipeline.export import mp3

MINUTES = 30
RATE = 48_000


def _master(work) -> np.ndarray:
    """A pad-like master: three slow tones and a little noise, stored in scratch as a render's master is."""
    frames = MINUTES * 60 * RATE
    audio = work.zeros(frames)
    rng = np.random.default_rng(0)
    for a, b in spans(frames):
        t = np.arange(a, b) / RATE
        tones = sum(0.1 * np.sin(2 * np.pi * f * t + 0.3 * np.sin(0.05 * t)) for f in (110, 165, 330))
        audio[a:b] = (tones[:, None] + 0.01 * rng.standard_normal((b - a, 2))).astype(np.float32)
    return audio


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process (reading the master, pedalboard's LAME, writing raw segments) and of its
    children (the segments' ffmpeg)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _timed(encode) -> dict:
    wall, (own, children) = time.perf_counter(), _cpu()
    encode()
    wall, (own_after, children_after) = time.perf_counter() - wall, _cpu()
    own, children = own_after - own, children_after - children
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(own + children, 1),
        "cpu_s_this_process": round(own, 1),
        "cpu_s_children": round(children, 1),
    }


def run() -> dict:
    from pipeline.blocks import scratch

    with scratch() as work, tempfile.TemporaryDirectory() as folder:
        audio = _master(work)
        frames = len(audio)

        def blocks():
            return (audio[a:b] for a, b in spans(frames))

        load = os.getloadavg()[0]
        single = _timed(lambda: export_audio._encode_mp3(Path(folder) / "single.mp3", blocks(), 2, RATE))
        parallel = _timed(lambda: mp3.encode_segmented(Path(folder) / "parallel.mp3", blocks(), frames, 2, RATE))
        one = _timed(lambda: mp3.encode_segmented(Path(folder) / "one.mp3", blocks(), frames, 2, RATE, workers=1))
        sizes = {name: (Path(folder) / f"{name}.mp3").stat().st_size for name in ("single", "parallel", "one")}
        heard = {name: _heard(Path(folder) / f"{name}.mp3", audio) for name in ("single", "parallel")}
    return {
        "track_minutes": MINUTES,
        "cores": os.cpu_count(),
        "load_average_1min_at_start": round(load, 2),
        "segment_s": mp3.SEGMENT_S,
        "single_pedalboard": single,
        "segments_all_cores": parallel,
        "segments_one_worker": one,
        "wall_ratio_single_over_segments": round(single["wall_s"] / parallel["wall_s"], 2),
        "x_realtime_single": round(MINUTES * 60 / single["wall_s"], 1),
        "x_realtime_segments": round(MINUTES * 60 / parallel["wall_s"], 1),
        "bytes": sizes,
        "first_3_minutes_decoded": heard,
    }


def _heard(path: Path, audio) -> dict:
    """How the first three minutes decode (ffmpeg): the error against the master below 15 kHz, and the level of
    16–19 kHz against the master's (the two encoders' LAMEs differ: pedalboard's 3.100 and ffmpeg's 4.1 alpha)."""
    import imageio_ffmpeg

    frames = 180 * RATE
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-t", "180", "-f", "f32le", "-"]
    decoded = np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, "<f4").reshape(-1, 2)
    source = np.asarray(audio[0:frames])[RATE:, 0]
    decoded = decoded[RATE:frames, 0]
    freqs = np.fft.rfftfreq(len(source), 1 / RATE)
    source_power, error_power = np.abs(np.fft.rfft(source)) ** 2, np.abs(np.fft.rfft(decoded - source)) ** 2
    decoded_power = np.abs(np.fft.rfft(decoded)) ** 2
    low, high = freqs < 15_000, (freqs >= 16_000) & (freqs < 19_000)
    return {
        "error_below_15k_db": round(float(10 * np.log10(error_power[low].sum() / source_power[low].sum())), 2),
        "level_16_19k_vs_master_db": round(
            float(10 * np.log10(decoded_power[high].sum() / source_power[high].sum())), 2
        ),
    }
