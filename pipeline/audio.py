"""The one audio type and its few shared helpers.

Audio everywhere in the pipeline is a float32 numpy array shaped
(frames, channels) at ``SAMPLE_RATE``; anything arriving at another rate goes
through ``resample`` (soxr) exactly once, at the edge where it enters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

SAMPLE_RATE = 48_000


def frames(seconds: float, rate: int = SAMPLE_RATE) -> int:
    return int(round(seconds * rate))


def clock(seconds: float, decimals: int = 3, hours: bool = False, separator: str = ".") -> str:
    """A time as people read it: ``1:02.500``; with ``hours``, ``00:01:02.500`` (captions, chapters).

    Rounded once, in whole units of the last digit, so 59.9996 s reads 1:00.000, never 0:60.000."""
    units = 10**decimals
    whole, fraction = divmod(round(seconds * units), units)
    minutes, secs = divmod(whole, 60)
    tail = f"{separator}{fraction:0{decimals}d}" if decimals else ""
    if hours:
        return f"{minutes // 60:02d}:{minutes % 60:02d}:{secs:02d}{tail}"
    return f"{minutes}:{secs:02d}{tail}"


def db_to_gain(db):
    """Decibels to linear amplitude; works on floats and arrays alike."""
    return 10.0 ** (db / 20.0)


def as_frames(samples: np.ndarray) -> np.ndarray:
    """Shape mono 1-D samples as (frames, 1) float32; pass 2-D through as float32."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples[:, None] if samples.ndim == 1 else samples


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Convert to the internal rate with soxr's high-quality filter."""
    import soxr

    audio = as_frames(audio)
    if rate == target:
        return audio
    return as_frames(soxr.resample(audio, rate, target, quality="HQ"))


def resample_blocks(
    blocks: Iterable[np.ndarray], rate: int, channels: int, target: int = SAMPLE_RATE
) -> Iterator[np.ndarray]:
    """``resample`` for audio arriving in (frames, channels) float32 blocks: soxr's stream, the same filter, no
    seams."""
    import soxr

    if rate == target:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, target, channels, dtype="float32", quality="HQ")
    for block in blocks:
        yield stream.resample_chunk(block)
    yield stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)


def equal_power_fades(a: int, b: int, length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Gains for frames [a, b) of a stretch ``length`` long that fades in over its first ``fade_in`` frames and
    out over its last ``fade_out``: equal-power (sine) curves, so a crossfade keeps its loudness. Shaped (frames, 1)."""
    gains = np.ones((b - a, 1), dtype=np.float32)
    if fade_in and a < fade_in:
        index = np.arange(a, min(b, fade_in), dtype=np.float64)
        gains[: len(index), 0] *= np.sin(0.5 * np.pi * (index + 0.5) / fade_in)
    if fade_out and b > length - fade_out:
        index = np.arange(max(a, length - fade_out), b, dtype=np.float64)
        gains[len(gains) - len(index) :, 0] *= np.sin(0.5 * np.pi * np.clip((length - index - 0.5) / fade_out, 0, 1))
    return gains


def apply_fades(audio: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Fade the ends in place (returns the same array for chaining)."""
    fade_in, fade_out = min(fade_in, len(audio)), min(fade_out, len(audio))
    if fade_in:
        audio[:fade_in] *= equal_power_fades(0, fade_in, fade_in, fade_in, 0)
    if fade_out:
        audio[len(audio) - fade_out :] *= equal_power_fades(0, fade_out, fade_out, 0, fade_out)
    return audio


def frame_peaks(audio: np.ndarray) -> np.ndarray:
    """|sample| of the loudest channel per frame (numpy's max over a 2-wide axis is ~10× slower)."""
    peaks = np.abs(audio[:, 0])
    for channel in range(1, audio.shape[1]):
        np.maximum(peaks, np.abs(audio[:, channel]), out=peaks)
    return peaks
