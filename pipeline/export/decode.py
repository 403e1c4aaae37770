"""Finished files read back as a listener's player decodes them: every format a track is written in (M4A through
ffmpeg, the rest through libsndfile), at 48 kHz, in blocks. ``drift qc`` and ``drift plot`` read through here, so
whatever one can read the other can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile

from ..audio import SAMPLE_RATE, resample_blocks
from ..blocks import BLOCK, Generated, Signal
from ..errors import ConfigError, Source


def read_blocks(path: Path) -> Iterator[np.ndarray]:
    """The file at 48 kHz, every channel (mono as two, as a player plays it), in blocks: an hour costs what a minute
    does. A file that cannot be decoded, or holds no audio, is a ``ConfigError`` naming it."""
    path = Path(path)
    try:
        found = False
        for block in _ffmpeg_blocks(path) if path.suffix == ".m4a" else _libsndfile_blocks(path):
            found = found or len(block) > 0
            yield block if block.shape[1] > 1 else np.repeat(block, 2, axis=1)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise ConfigError(f"not readable audio ({exc})", Source(str(path))) from None
    if not found:
        raise ConfigError("no audio in the file (truncated?)", Source(str(path)))


def decoded(path: Path) -> Signal:
    """The file as a signal, decoded front to back where it is read (an eight-hour track is 11 GB as float32).
    Its length is the header's where libsndfile reads the file at our rate, else counted in one decoding pass."""
    path = Path(path)
    try:
        info = soundfile.info(path) if path.suffix != ".m4a" else None
    except (soundfile.LibsndfileError, OSError) as exc:
        raise ConfigError(f"not readable audio ({exc})", Source(str(path))) from None
    if info is not None and info.samplerate == SAMPLE_RATE:
        frames = info.frames
    else:
        frames = sum(len(block) for block in read_blocks(path))
    return Generated(frames, 2, lambda: _then_silence(read_blocks(path)))


def _then_silence(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The blocks, then silence: a decoder that stops short of the header's length reads as quiet, not as an error."""
    yield from blocks
    while True:
        yield np.zeros((BLOCK, 2), np.float32)


def _libsndfile_blocks(path: Path) -> Iterator[np.ndarray]:
    with soundfile.SoundFile(path) as reader:
        yield from resample_blocks(
            reader.blocks(BLOCK, dtype="float32", always_2d=True), reader.samplerate, reader.channels
        )


def _ffmpeg_blocks(path: Path) -> Iterator[np.ndarray]:
    import subprocess

    import imageio_ffmpeg

    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-i",
        str(path),
        "-f",
        "f32le",
        "-ac",
        "2",
        "-ar",
        str(SAMPLE_RATE),
        "-",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        while chunk := process.stdout.read(BLOCK * 8):
            yield np.frombuffer(chunk[: len(chunk) // 8 * 8], dtype="<f4").reshape(-1, 2)
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait():
            raise RuntimeError(error.splitlines()[-1] if error else f"ffmpeg exited with {process.returncode}")
