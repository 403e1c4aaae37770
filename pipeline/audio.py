"""The one audio type and its few shared helpers.

Audio everywhere in the pipeline is a float32 numpy array shaped
(frames, channels) at ``SAMPLE_RATE``; anything arriving at another rate goes
through ``resample`` (soxr) exactly once, at the edge where it enters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import soxr

SAMPLE_RATE = 48_000


def frames(seconds: float, rate: int = SAMPLE_RATE) -> int:
    return int(round(seconds * rate))


def db_to_gain(db):
    """Decibels to linear amplitude; works on floats and arrays alike."""
    return 10.0 ** (db / 20.0)


def as_frames(samples: np.ndarray) -> np.ndarray:
    """Shape mono 1-D samples as (frames, 1) float32; pass 2-D through as float32."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples[:, None] if samples.ndim == 1 else samples


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Convert to the internal rate with soxr's high-quality filter."""
    audio = as_frames(audio)
    if rate == target:
        return audio
    return as_frames(soxr.resample(audio, rate, target, quality="HQ"))


def resample_blocks(blocks: Iterable[np.ndarray], rate: int, channels: int, target: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """``resample`` for audio arriving in (frames, channels) float32 blocks: soxr's stream, the same filter, no seams."""
    if rate == target:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, target, channels, dtype="float32", quality="HQ")
    for block in blocks:
        yield stream.resample_chunk(block)
    yield stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)


def fade_curve(n: int, rising: bool = True) -> np.ndarray:
    """Equal-power (sine) fade of n frames, shaped (n, 1) to broadcast over channels."""
    if n <= 0:
        return np.ones((0, 1), dtype=np.float32)
    ramp = np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float64) + 0.5) / n)
    if not rising:
        ramp = ramp[::-1]
    return ramp.astype(np.float32)[:, None]


def apply_fades(audio: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Fade the ends in place (returns the same array for chaining)."""
    fade_in = min(fade_in, len(audio))
    fade_out = min(fade_out, len(audio))
    if fade_in:
        audio[:fade_in] *= fade_curve(fade_in, rising=True)
    if fade_out:
        audio[len(audio) - fade_out :] *= fade_curve(fade_out, rising=False)
    return audio


def frame_peaks(audio: np.ndarray) -> np.ndarray:
    """|sample| of the loudest channel per frame (numpy's max over a 2-wide axis is ~10× slower)."""
    peaks = np.abs(audio[:, 0])
    for channel in range(1, audio.shape[1]):
        np.maximum(peaks, np.abs(audio[:, channel]), out=peaks)
    return peaks
