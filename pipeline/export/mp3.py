"""A long track's MP3 encoded in parallel segments whose frames join into one gapless stream.

LAME runs about 52 times real time on one core, so an eight-hour MP3 is nine CPU minutes: the largest single
cost of a long session. MPEG-1 Layer III is cut into frames of 1152 samples; at a constant bitrate with the
bit reservoir off, each frame's main data starts in the frame itself (``main_data_begin`` is 0), so frames
from separate encodings may be laid end to end. The master is cut into segments at multiples of 1152 frames;
each segment is encoded by its own LAME (ffmpeg's libmp3lame, which can turn the reservoir off, where
pedalboard cannot) together with a few frames of the audio before it (pre-roll: the filterbank's overlap and
the psychoacoustic model start warm, as they would be in one long encoding) and after it (post-roll: the
encoder's look-ahead sees what follows). From each segment's output we keep exactly the frames whose time span
is the segment's, so frame ``i`` of the joined stream is the frame ``i`` one long encoding would have made, up
to the quantisation noise, and one Info frame with a LAME tag (frame count, bytes, encoder delay and padding)
heads the whole file for gapless players.

The master is read once, front to back (it is often made as it is read, behind a ``Tee`` shared with the other
formats): each segment's samples are written to a raw file beside the output and encoded while the next are
read. At most ``workers`` encodings and two filling segments exist at once, so the scratch is bounded.

The two paths are different LAMEs: pedalboard's is 3.100, imageio-ffmpeg's libmp3lame 4.1 alpha, which at the same
256 kbit/s and default quality measured 1.4–3 dB more error below 15 kHz and, on a rain bed, 15 dB less at 16–19 kHz
(``bench/results/mp3-segments.json`` and the commit that added it). The reservoir itself costs nothing measurable at
this bitrate (ffmpeg's LAME gave the same error with it on or off).
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RenderError

FRAME = 1152
"""Samples per MPEG-1 Layer III frame."""
BITRATE = 256
"""kbit/s, constant: the same as the single encoder's (``ENCODER_SETTINGS["mp3"]``)."""
SEGMENTED_FROM_S = 60 * 60
"""Tracks this long or longer are encoded in segments: sleep sessions, mostly bed, where the MP3 is the largest cost
(an hour is ~70 CPU s in one LAME). Shorter tracks keep pedalboard's LAME, its high end and its bytes: the segments'
LAME is another build, with less above 16 kHz on a rain bed (see above), a price paid only where the time is."""
SEGMENT_S = 60
"""Seconds of audio per segment (rounded down to whole frames): an eight-hour session is 480 segments, each
costing 12 frames (0.3 s) of extra encoding for its pre- and post-roll, 0.5 % more CPU; and a segment's raw
samples are 23 MB, so the scratch in flight stays a few hundred megabytes on a 16-core machine."""
PRE_ROLL = 8
"""Frames encoded before a segment and dropped: the MDCT overlaps one granule, the polyphase filterbank 512
samples and LAME's delay is 1105 samples; the psychoacoustic model smooths over a few granules more."""
POST_ROLL = 4
"""Frames encoded after a segment and dropped: LAME's look-ahead (its delay, one frame) and its block-switching
decision for the segment's last frame see the audio that follows, as in one long encoding."""
ENCODER_DELAY = 576
"""Samples LAME puts before the track (its LAME tag's delay; the decoder adds its own 529, which players know):
the same in every encoding, which is why a segment's frames line up with the segment's samples."""
_SAMPLE_RATES = {48_000: 1, 32_000: 2}
"""MPEG-1 rates whose 256 kbit/s frames have a whole number of bytes (44.1 kHz pads some frames by one byte)."""


def frame_bytes(rate: int) -> int:
    return 144 * BITRATE * 1000 // rate


def worth_it(frames: int, rate: int, channels: int) -> bool:
    """Whether a track is encoded in segments: long enough, on more than one core, in a rate and layout whose
    frames all have the same size."""
    return frames >= SEGMENTED_FROM_S * rate and cores() > 1 and rate in _SAMPLE_RATES and channels in (1, 2)


def cores() -> int:
    """The cores this process may run on (a container's share, where ``os.cpu_count`` says the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Segment:
    """One encoding: samples ``[read_start, read_end)`` of the master, whose frames ``[skip, skip + keep)`` are
    kept (``keep`` None: all from ``skip``, for the last segment, whose end LAME pads and flushes)."""

    read_start: int
    read_end: int
    skip: int
    keep: int | None


def plan(frames: int, segment: int) -> list[Segment]:
    """The segments of a ``frames``-long master, each ``segment`` samples (a multiple of ``FRAME``) but the last."""
    if segment <= 0 or segment % FRAME:
        raise ValueError(f"segments must be whole MP3 frames ({FRAME} samples), not {segment}")
    starts = list(range(0, frames, segment)) or [0]
    out = []
    for number, start in enumerate(starts):
        last = number == len(starts) - 1
        pre = min(PRE_ROLL * FRAME, start)
        end = frames if last else min(start + segment + POST_ROLL * FRAME, frames)
        out.append(Segment(start - pre, end, pre // FRAME, None if last else segment // FRAME))
    return out


def encode_segmented(
    path: Path,
    blocks: Iterable[np.ndarray],
    frames: int,
    channels: int,
    rate: int,
    *,
    segment: int | None = None,
    workers: int | None = None,
) -> None:
    """Write ``blocks`` (``frames`` samples of ``channels`` in all) to ``path`` as one CBR MP3 encoded in parallel
    segments of ``segment`` samples (``SEGMENT_S`` by default), ``workers`` at a time (every core by default)."""
    import imageio_ffmpeg

    size = frame_bytes(rate)
    segment = segment or SEGMENT_S * rate // FRAME * FRAME
    workers = workers or cores()
    segments = plan(frames, segment)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    crc, kept, first = 0, 0, None
    with (
        tempfile.TemporaryDirectory(dir=path.parent, prefix=".mp3-segments-") as folder,
        ThreadPoolExecutor(workers) as pool,
        open(path, "wb") as out,
    ):
        out.write(bytes(size))  # the Info frame's place, filled in once the frames are counted
        pending: deque[Future] = deque()
        filling: list[tuple[Segment, object]] = []
        upcoming = iter(enumerate(segments))
        following = next(upcoming, None)
        position = 0

        def take_oldest() -> None:
            nonlocal crc, kept, first
            data, crcs = pending.popleft().result()
            first = first or data[:4]
            out.write(data)
            crc = crc_join(crc, crcs, size)
            kept += len(crcs)

        try:
            for block in blocks:
                end = position + len(block)
                while following is not None and following[1].read_start < end:
                    while len(pending) >= workers:  # at most `workers` encodings and their raw samples at once
                        take_oldest()
                    number, seg = following
                    filling.append((seg, open(Path(folder) / f"{number}.raw", "wb")))
                    following = next(upcoming, None)
                for seg, raw in filling:
                    a, b = max(seg.read_start, position), min(seg.read_end, end)
                    if b > a:
                        raw.write(np.ascontiguousarray(block[a - position : b - position], dtype="<f4").data)
                for seg, raw in [item for item in filling if item[0].read_end <= end]:
                    raw.close()
                    filling.remove((seg, raw))
                    pending.append(pool.submit(_encode, ffmpeg, Path(raw.name), seg, channels, rate))
                position = end
            if position != frames or filling or following is not None:
                raise RenderError(f"the master gave {position} frames where {frames} were expected")
            while pending:
                take_oldest()
        except BaseException:
            for future in pending:
                future.cancel()
            for _, raw in filling:
                raw.close()
            raise
        out.seek(0)
        out.write(info_frame(first, kept, frames, rate, channels, crc))


def _encode(ffmpeg: str, raw: Path, seg: Segment, channels: int, rate: int) -> tuple[bytes, np.ndarray]:
    """One segment through LAME: its kept frames, and each frame's CRC-16 (for the LAME tag's music CRC)."""
    mp3 = raw.with_suffix(".mp3")
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", str(raw)]
    # CBR with the reservoir off: every frame's main data is its own (main_data_begin 0), so frames join anywhere.
    # No ID3 tag nor Info frame: the file is frames only, and the whole file's Info frame is written once.
    command += ["-c:a", "libmp3lame", "-b:a", f"{BITRATE}k", "-reservoir", "0"]
    command += ["-write_xing", "0", "-id3v2_version", "0", "-f", "mp3", str(mp3)]
    try:
        done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            error = done.stderr.decode(errors="replace").strip()
            raise RenderError(f"ffmpeg could not encode MP3: {error.splitlines()[-1] if error else 'unknown error'}")
        data = mp3.read_bytes()
    finally:
        raw.unlink(missing_ok=True)
        mp3.unlink(missing_ok=True)
    size = frame_bytes(rate)
    count = len(data) // size
    end = count if seg.keep is None else seg.skip + seg.keep
    if len(data) % size or end > count:
        raise RenderError(f"LAME made {len(data)} bytes for a segment, not {end} frames of {size} bytes")
    frames = np.frombuffer(data, np.uint8).reshape(count, size)[seg.skip : end]
    if frames.size and not ((frames[:, 0] == 0xFF) & (frames[:, 1] & 0xE0 == 0xE0)).all():
        raise RenderError("LAME's output is not whole frames of one size")
    return frames.tobytes(), frame_crcs(frames)


def main_data_begin(frame: bytes) -> int:
    """Bytes of this frame's main data that lie in earlier frames (MPEG-1: the 9 bits after the header, and after
    the CRC where the frame has one)."""
    at = 4 if frame[1] & 1 else 6
    return (frame[at] << 1) | (frame[at + 1] >> 7)


# CRC-16/ARC (LAME's and ffmpeg's CRC for the LAME tag): reflected polynomial 0xA001, starting from 0.
_TABLE = np.zeros(256, np.uint16)
for _byte in range(256):
    _value = _byte
    for _ in range(8):
        _value = (_value >> 1) ^ 0xA001 if _value & 1 else _value >> 1
    _TABLE[_byte] = _value


def crc16(data: bytes, crc: int = 0) -> int:
    for byte in data:
        crc = (crc >> 8) ^ int(_TABLE[(crc ^ byte) & 0xFF])
    return crc


def frame_crcs(frames: np.ndarray) -> np.ndarray:
    """The CRC of each row of ``frames`` (uint8, one frame a row), all rows at once."""
    crc = np.zeros(len(frames), np.uint16)
    for column in frames.T:
        crc = (crc >> 8) ^ _TABLE[(crc ^ column) & 0xFF]
    return crc


_SHIFTS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def crc_join(crc: int, crcs: np.ndarray, size: int) -> int:
    """The CRC of the bytes so far (``crc``) followed by frames of ``size`` bytes whose own CRCs are ``crcs``. The
    CRC is linear, so running a frame's worth of zeros through it (one table for each byte of it) and adding the
    frame's own CRC is the same as running the frame's bytes, at a table look-up a frame instead of 768."""
    if size not in _SHIFTS:
        _SHIFTS[size] = _zero_shift(size)
    low, high = _SHIFTS[size]
    for value in crcs.tolist():
        crc = int(low[crc & 0xFF] ^ high[crc >> 8]) ^ value
    return crc


def _zero_shift(size: int) -> tuple[np.ndarray, np.ndarray]:
    state = np.concatenate([np.arange(256), np.arange(256) << 8]).astype(np.uint16)
    for _ in range(size):
        state = (state >> 8) ^ _TABLE[state & 0xFF]
    return state[:256].copy(), state[256:].copy()


def info_frame(first: bytes, frames: int, samples: int, rate: int, channels: int, music_crc: int) -> bytes:
    """The Info frame (Xing header for CBR) with a LAME tag that heads the joined stream: ``frames`` audio frames
    after it, ``samples`` samples of track in them (the rest is LAME's delay before and padding after).

    Written as LAME writes it, so that players trim the delay and padding (gapless) and mutagen, which reads only a
    tag whose version string says LAME, gives the track's true length."""
    size = frame_bytes(rate)
    frame = bytearray(size)
    frame[0:4] = bytes([0xFF, 0xFB, first[2] & 0xFC, first[3]])  # no CRC, no padding bit; the stream's rate, mode
    at = 4 + (32 if channels == 2 else 17)  # after the side information
    total = (frames + 1) * size
    toc = bytes(min(255, round(256 * i / 100)) for i in range(100))  # CBR: bytes grow evenly with time
    frame[at : at + 120] = b"Info" + struct.pack(">III", 0x0F, frames, total) + toc + struct.pack(">I", 0)
    padding = frames * FRAME - ENCODER_DELAY - samples
    if not 0 <= padding < 1 << 12:
        raise RenderError(f"the joined MP3 has {frames} frames for {samples} samples: it cannot be gapless")
    lowpass = 0  # unknown: ffmpeg does not say what LAME chose
    tag = b"LAME4.1a\x00"  # the version libmp3lame reports in the frames it writes ("LAME4.1 (alpha 0)")
    tag += bytes([0x01, lowpass]) + bytes(8)  # tag revision 0, CBR; no peak nor replay gain
    tag += bytes([0x00, min(BITRATE, 255)])  # no encoding flags; the bitrate
    tag += (ENCODER_DELAY << 12 | padding).to_bytes(3, "big")
    tag += bytes([0x00, 0x00]) + bytes(2)  # misc, MP3 gain, surround and preset
    tag += struct.pack(">IH", total, music_crc)
    start = at + 120
    frame[start : start + len(tag)] = tag
    end = start + len(tag)
    frame[end : end + 2] = struct.pack(">H", crc16(bytes(frame[:end])))  # 190 bytes in stereo
    return bytes(frame)
