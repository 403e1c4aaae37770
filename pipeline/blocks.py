"""Block processing: fixed-size blocks, signals made where they are read, sparse scratch arrays, a streaming
look-ahead gain.

Long sessions (an hour is 173 million stereo frames; a sleep session runs eight) are never held whole in
memory, nor whole on disk: stages read ``(frames, channels)`` float32 signals one block at a time, as
soundfile's ``blocks`` and pedalboard's ``AudioFile`` do. A signal is an array, a ``DiskArray`` (scratch that
stores only the blocks that hold sound), or a recipe (``Computed``, ``Generated``) that makes the frames asked
for. ``Scratch.keep`` stores a recipe's output while the render's scratch budget has room, and otherwise hands
the recipe back to be made again by each reader: the same samples either way, so the budget decides only
disk against time.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ConfigError
from .kernels import smooth_gain

BLOCK = 1 << 16
"""Frames per processing block (1.37 s at 48 kHz): large enough for numpy, small enough for memory."""
MAX_REDUCTION_DB = 60.0
"""Gain curves never dip further; this bounds how far a look-ahead must read."""
SCRATCH_BUDGET_MB = 2048
"""Scratch a render may fill with signals it could make again (``$DRIFT_SCRATCH_MB``): a 30-minute track keeps
them all; an eight-hour sleep session makes its bed again for each pass, and its master from the bed and the
limiter's recorded peaks, instead of storing 11 GB."""


class Signal(Protocol):
    """What every stage reads: a (frames, channels) float32 source that serves contiguous frame ranges."""

    shape: tuple[int, int]

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice) -> np.ndarray: ...


def _range(key, frames: int) -> tuple[int, int]:
    if not isinstance(key, slice) or key.step not in (None, 1):
        raise TypeError("signals serve contiguous frame ranges only")
    start, stop, _ = key.indices(frames)
    return start, max(stop, start)


class DiskArray:
    """A float32 (frames, channels) array kept in a file, read and written by frame ranges.

    Unlike a memory map, what it has read does not stay in the process's resident memory. The file
    holds only the blocks that were ever written with sound (a block of zeros is never stored), so a
    voice stem of ten minutes of words in an eight-hour session costs ten minutes of disk. The file
    has no name (O_TMPFILE, or unlinked at once where that is missing), so the system reclaims it
    when the render ends however it ends.
    Supports ``len``, ``shape``, ``a[start:end]`` and ``a[start:end] = block`` (so ``+=`` too).
    """

    def __init__(self, frames: int, channels: int, folder: Path | None = None):
        self.shape = (frames, channels)
        self.dtype = np.dtype(np.float32)
        self.handle = tempfile.TemporaryFile(dir=folder, buffering=0)
        self.slots: dict[int, int] = {}
        """Block number → where in the file it is stored."""
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def stored_bytes(self) -> int:
        return len(self.slots) * BLOCK * self.shape[1] * 4

    def _pieces(self, start: int, stop: int) -> Iterator[tuple[int, int, int]]:
        """(block number, first frame, end frame) of each block the range touches."""
        for number in range(start // BLOCK, -(-stop // BLOCK)):
            yield number, max(start, number * BLOCK), min(stop, (number + 1) * BLOCK)

    def _offset(self, slot: int, frame: int) -> int:
        return (slot * BLOCK + frame % BLOCK) * self.shape[1] * 4

    def __getitem__(self, key) -> np.ndarray:
        start, stop = _range(key, self.shape[0])
        out = np.empty((stop - start, self.shape[1]), dtype=np.float32)  # each piece is read or zeroed once
        for number, a, b in self._pieces(start, stop):
            if (slot := self.slots.get(number)) is not None:
                _read_into(self.handle.fileno(), out[a - start : b - start], self._offset(slot, a))
            else:
                out[a - start : b - start] = 0.0
        return out

    def __setitem__(self, key, values) -> None:
        start, stop = _range(key, self.shape[0])
        values = np.asarray(values, dtype=np.float32)
        block = np.ascontiguousarray(np.broadcast_to(values, (stop - start, self.shape[1])))
        for number, a, b in self._pieces(start, stop):
            piece = block[a - start : b - start]
            with self.lock:
                slot = self.slots.get(number)
                if slot is None:
                    if not piece.any():
                        continue  # silence is what an unstored block reads as
                    slot = self.slots[number] = len(self.slots)
            _write_from(self.handle.fileno(), piece, self._offset(slot, a))

    def close(self) -> None:
        self.handle.close()


def _read_into(fd: int, out: np.ndarray, offset: int) -> None:
    view = memoryview(out).cast("B")
    while len(view):  # straight into the array: no intermediate bytes; a hole in the file reads as zeros
        done = os.preadv(fd, [view], offset)
        if not done:
            view[:] = bytes(len(view))  # past the end of the file: never written, so zeros
            return
        view, offset = view[done:], offset + done


def _write_from(fd: int, piece: np.ndarray, offset: int) -> None:
    view = memoryview(np.ascontiguousarray(piece)).cast("B")
    while len(view):
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


class Computed:
    """A signal made on demand, any range in any order and from any thread, by ``make(start, end)``."""

    def __init__(self, frames: int, channels: int, make: Callable[[int, int], np.ndarray]):
        self.shape = (frames, channels)
        self.make = make

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        start, stop = _range(key, self.shape[0])
        return self.make(start, stop) if stop > start else np.zeros((0, self.shape[1]), np.float32)


HISTORY = 1 << 13
"""Frames a ``Generated`` signal keeps behind its last read: the look-aheads and the true-peak context overlap
consecutive reads by less than this."""


class Generated:
    """A signal made front to back by a generator of blocks, for sources with state (filters, random noise).

    Any range may be read, cheapest in order: each thread reads with its own cursor, and a read that
    starts before what the cursor still holds makes the generator start again from the beginning
    (``restarts`` counts those, for tests and benchmarks).
    """

    def __init__(self, frames: int, channels: int, blocks: Callable[[], Iterator[np.ndarray]]):
        self.shape = (frames, channels)
        self.blocks = blocks
        self.local = threading.local()
        self.restarts = 0

    def __len__(self) -> int:
        return self.shape[0]

    def _cursor(self, start: int):
        cursor = getattr(self.local, "cursor", None)
        if cursor is None or start < cursor[1]:
            if cursor is not None:
                self.restarts += 1
            cursor = self.local.cursor = [self.blocks(), 0, np.zeros((0, self.shape[1]), np.float32)]
        return cursor  # [generator, frame of buffer[0], buffer]

    def __getitem__(self, key) -> np.ndarray:
        start, stop = _range(key, self.shape[0])
        cursor = self._cursor(start)
        generator, first, buffer = cursor
        pieces = [buffer]
        held = first + len(buffer)
        while held < stop:
            piece = next(generator)
            pieces.append(piece)
            held += len(piece)
        buffer = np.concatenate(pieces) if len(pieces) > 1 else buffer
        out = buffer[start - first : stop - first].copy()  # a reader may change its block in place
        keep_from = max(min(start, held - HISTORY), first)
        cursor[1], cursor[2] = keep_from, buffer[keep_from - first :]
        return out


class Scratch:
    """The disk-backed arrays of one render, in ``folder`` (the system's temporary folder by default), and the
    budget (bytes) for signals kept only to save making them again."""

    def __init__(self, folder: Path | None = None, budget: int | None = None):
        self.folder = folder
        self.budget = scratch_budget() if budget is None else budget
        self.arrays: list[DiskArray] = []

    def zeros(self, frames: int, channels: int = 2) -> DiskArray:
        array = DiskArray(frames, channels, self.folder)
        self.arrays.append(array)
        return array

    @property
    def stored_bytes(self) -> int:
        return sum(array.stored_bytes for array in self.arrays)

    def keep(self, signal: Signal, listen: Callable[[np.ndarray], None] | None = None) -> Signal:
        """Read ``signal`` once, front to back, handing each block to ``listen``; return a stored copy if the
        budget has room for all of it, else the signal itself (made again wherever it is read)."""
        frames, channels = signal.shape
        stored = self.zeros(frames, channels) if self.stored_bytes + frames * channels * 4 <= self.budget else None
        if stored is None and listen is None:
            return signal
        for start, end in spans(frames):
            block = np.asarray(signal[start:end])
            if stored is not None:
                stored[start:end] = block
            if listen is not None:
                listen(block)
        return signal if stored is None else stored

    def release(self, signal: Signal) -> None:
        """Give back a stored copy's disk (anything else is left alone)."""
        if any(array is signal for array in self.arrays):
            self.arrays = [array for array in self.arrays if array is not signal]
            signal.close()


class Memory(Scratch):
    """Scratch in memory, without limit: for short renders (auditions, tests) that want plain arrays."""

    def __init__(self):
        super().__init__(budget=1 << 62)

    def zeros(self, frames: int, channels: int = 2) -> np.ndarray:
        return np.zeros((frames, channels), dtype=np.float32)

    @property
    def stored_bytes(self) -> int:
        return 0


def scratch_budget() -> int:
    setting = os.environ.get("DRIFT_SCRATCH_MB", str(SCRATCH_BUDGET_MB))
    try:
        megabytes = float(setting)
    except ValueError:
        megabytes = -1.0
    if not megabytes >= 0:
        raise ConfigError(f"$DRIFT_SCRATCH_MB: '{setting}' is not a number of megabytes")
    return int(megabytes * 2**20)


@contextmanager
def scratch(folder: Path | None = None, budget: int | None = None) -> Iterator[Scratch]:
    """Scratch arrays whose disk space is given back when the block ends."""
    work = Scratch(folder, budget)
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
        pieces, held = [self.buffer], len(self.buffer)
        while held < count:  # gathered, then joined once: joining piece by piece copied a block several times
            pieces.append(self.make_piece())
            held += len(pieces[-1])
        joined = np.concatenate(pieces) if len(pieces) > 1 else self.buffer
        piece, self.buffer = joined[:count], joined[count:]
        return piece


def scaled(audio: Signal, gain: float) -> Computed:
    """``audio`` times ``gain``, made as it is read."""
    return Computed(len(audio), audio.shape[1], lambda start, end: np.asarray(audio[start:end]) * np.float32(gain))


def counted(signal: Signal, tick: Callable[[], None]) -> Computed:
    """``signal``, calling ``tick`` after each read: the progress of a pass that reads it block by block."""

    def read(start: int, end: int) -> np.ndarray:
        block = np.asarray(signal[start:end])
        tick()
        return block

    return Computed(len(signal), signal.shape[1], read)


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
        ahead = np.concatenate([required, following[: self.lookahead]]).astype(np.float64)
        ahead = np.maximum(ahead, -MAX_REDUCTION_DB)
        gain, self.carry = smooth_gain(ahead, len(required), self.attack, self.release, self.carry)
        return gain


def curve_gain(curve_db: np.ndarray) -> np.ndarray:
    """A gain curve in dB (never above 0) as linear gain: the same values as ``10 ** (dB / 20)``, but the power
    is taken only where the curve dips. A limiter or peak tamer leaves most frames at 0 dB, and the power was
    the costliest part of applying its curve."""
    gain = np.ones(len(curve_db), dtype=np.float64)
    dips = np.flatnonzero(curve_db)
    if len(dips):
        gain[dips] = 10.0 ** (curve_db[dips] / 20.0)
    return gain
