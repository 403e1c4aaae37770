"""Block processing: fixed-size blocks, disk-backed scratch arrays, a streaming look-ahead gain.

Long sessions (an hour is 173 million stereo frames) are never held whole in
memory: stages read and write ``(frames, channels)`` float32 arrays that live
in unnamed scratch files, one block at a time, as soundfile's ``blocks`` and
pedalboard's ``AudioFile`` do.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

BLOCK = 1 << 16
"""Frames per processing block (1.37 s at 48 kHz): large enough for numpy, small enough for memory."""
MAX_REDUCTION_DB = 60.0
"""Gain curves never dip further; this bounds how far a look-ahead must read."""


class DiskArray:
    """A float32 (frames, channels) array kept in a file, read and written by frame ranges.

    Unlike a memory map, what it has read does not stay in the process's
    resident memory: an hour of stems costs a few blocks of RAM, not gigabytes.
    The file has no name (O_TMPFILE, or unlinked at once where that is missing),
    so the system reclaims it when the render ends however it ends: a killed
    render cannot leave gigabytes of scratch behind.
    Supports ``len``, ``shape``, ``a[start:end]`` and ``a[start:end] = block`` (so ``+=`` too).
    """

    def __init__(self, frames: int, channels: int, folder: Path | None = None):
        self.shape = (frames, channels)
        self.dtype = np.dtype(np.float32)
        self.handle = tempfile.TemporaryFile(dir=folder, buffering=0)
        self.handle.truncate(frames * channels * 4)

    def __len__(self) -> int:
        return self.shape[0]

    def _range(self, key) -> tuple[int, int]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("DiskArray supports contiguous frame ranges only")
        start, stop, _ = key.indices(self.shape[0])
        return start, max(stop, start)

    def __getitem__(self, key) -> np.ndarray:
        start, stop = self._range(key)
        block = np.empty((stop - start, self.shape[1]), dtype=np.float32)
        view, offset = memoryview(block).cast("B"), start * self.shape[1] * 4
        while len(view):  # straight into the array: no intermediate bytes
            done = os.preadv(self.handle.fileno(), [view], offset)
            if not done:
                raise EOFError("a scratch file is shorter than its array")
            view, offset = view[done:], offset + done
        return block

    def __setitem__(self, key, values) -> None:
        start, stop = self._range(key)
        values = np.asarray(values, dtype=np.float32)
        block = np.ascontiguousarray(np.broadcast_to(values, (stop - start, self.shape[1])))
        view, offset = memoryview(block).cast("B"), start * self.shape[1] * 4
        while len(view):
            done = os.pwrite(self.handle.fileno(), view, offset)
            view, offset = view[done:], offset + done

    def close(self) -> None:
        self.handle.close()


class Scratch:
    """The disk-backed arrays of one render, in ``folder`` (the system's temporary folder by default)."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self.arrays: list[DiskArray] = []

    def zeros(self, frames: int, channels: int = 2) -> DiskArray:
        array = DiskArray(frames, channels, self.folder)
        self.arrays.append(array)
        return array


@contextmanager
def scratch(folder: Path | None = None) -> Iterator[Scratch]:
    """Scratch arrays whose disk space is given back when the block ends."""
    work = Scratch(folder)
    try:
        yield work
    finally:
        for array in work.arrays:
            array.close()


class Rechunker:
    """Serves any number of frames, front to back, from a source that makes pieces of its own size."""

    def __init__(self, make_piece: Callable[[], np.ndarray], channels: int = 2):
        self.make_piece = make_piece
        self.buffer = np.zeros((0, channels), dtype=np.float32)

    def take(self, count: int) -> np.ndarray:
        while len(self.buffer) < count:
            self.buffer = np.concatenate([self.buffer, self.make_piece()])
        piece, self.buffer = self.buffer[:count], self.buffer[count:]
        return piece


def scaled(audio, gain: float, work: "Scratch"):
    """A disk-backed copy of ``audio`` times ``gain``, made block by block."""
    out = work.zeros(len(audio), audio.shape[1])
    for start, end in spans(len(audio)):
        out[start:end] = np.asarray(audio[start:end]) * np.float32(gain)
    return out


CONTROL_STEP = 256
"""Slow curves (swells, fades, ducking, level cues) are computed every 256 frames (5 ms) and interpolated."""
_RAMP = np.arange(CONTROL_STEP, dtype=np.float32) / CONTROL_STEP


def control_frames(start: int, count: int) -> np.ndarray:
    """Frame numbers every CONTROL_STEP from ``start``, one past ``start + count``: where a slow curve is evaluated."""
    return start + CONTROL_STEP * np.arange(count // CONTROL_STEP + 2, dtype=np.float64)


def at_audio_rate(values: np.ndarray, count: int) -> np.ndarray:
    """A curve given at ``control_frames``, filled in linearly for every frame (float32).

    Several times cheaper than ``np.interp``: the step is fixed, so it is one broadcast multiply-add."""
    values = np.asarray(values, dtype=np.float32)
    return (values[:-1, None] + np.diff(values)[:, None] * _RAMP).ravel()[:count]


def spans(total: int, size: int = BLOCK) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(start + size, total)


class GainSmoother:
    """Streaming form of the look-ahead gain curve (dB) used by the limiter and the voice's peak tamer.

    The curve is the highest one that never exceeds the required gain, falls at
    most ``attack`` dB per frame ahead of a peak and recovers at most
    ``release`` dB per frame after it. Feed it consecutive blocks of required
    gain together with the ``lookahead`` frames that follow each block; it is
    exact, block size does not change the result.
    """

    def __init__(self, attack_db_per_frame: float, release_db_per_frame: float):
        self.attack = attack_db_per_frame
        self.release = release_db_per_frame
        self.lookahead = int(np.ceil(MAX_REDUCTION_DB / attack_db_per_frame)) + 1
        self.carry = 0.0

    def process(self, required: np.ndarray, following: np.ndarray) -> np.ndarray:
        required = np.maximum(required.astype(np.float64), -MAX_REDUCTION_DB)
        ahead = np.concatenate([required, np.maximum(following[: self.lookahead], -MAX_REDUCTION_DB)])
        n = np.arange(len(ahead), dtype=np.float64)
        before_peak = (np.minimum.accumulate((ahead + n * self.attack)[::-1])[::-1] - n * self.attack)[: len(required)]
        k = n[: len(required)]
        after_peak = np.minimum.accumulate(required - k * self.release) + k * self.release
        after_peak = np.minimum(after_peak, self.carry + (k + 1) * self.release)
        gain = np.minimum(np.minimum(after_peak, before_peak), 0.0)
        if len(gain):
            self.carry = float(after_peak[-1])
        return gain
