"""A bed preset as sound: its layers generated block by block, breathing with the breath clock, levelled."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from ..audio import SAMPLE_RATE, db_to_gain
from ..blocks import Rechunker
from ..loudness import integrated_loudness
from .preset import BedPreset
from .sources import SOURCES

NOISE_BLOCK = 1 << 16
"""Frames per generated block; noise is drawn per block, so this is part of the sound: kept apart from
``blocks.BLOCK`` (how much audio the pipeline handles at once), which may change without changing the noise."""
BREATH_STEP_S = 0.05


def bed_blocks(preset: BedPreset, n_frames: int, seed: int, breath=None, offset: int = 0) -> Iterator[np.ndarray]:
    """Yield the bed as consecutive (≤NOISE_BLOCK, 2) float32 blocks totalling ``n_frames``.

    ``breath`` (the timeline's breath clock) and ``offset`` (where this bed
    starts on it) let breathing layers swell on each inhale.
    """
    sources = [
        SOURCES[type(layer)](layer, np.random.default_rng([seed, index, 1]))
        for index, layer in enumerate(preset.layers)
    ]
    for start in range(0, n_frames, NOISE_BLOCK):
        count = min(NOISE_BLOCK, n_frames - start)
        block = np.zeros((count, 2), dtype=np.float32)
        for layer, source in zip(preset.layers, sources):
            sound = source.render(start, count)
            if layer.breath_db and breath is not None:
                sound *= breath_gain(breath, offset + start, count, layer.breath_db)[:, None]
            block += sound
        yield block


def breath_gain(clock, start: int, count: int, depth_db: float) -> np.ndarray:
    """Linear gain over [start, start+count): up ``depth_db``/2 at the top of each inhale, down as much at the end of
    the exhale."""
    step = int(BREATH_STEP_S * SAMPLE_RATE)
    coarse = np.arange(start, start + count + step, step)
    cycles = np.array([clock.cycles(f / SAMPLE_RATE) for f in coarse])
    phase = cycles - np.floor(cycles)
    inhale = clock.breath.inhale_fraction
    rising = phase < inhale
    shape = np.where(
        rising, 0.5 - 0.5 * np.cos(np.pi * phase / inhale), 0.5 + 0.5 * np.cos(np.pi * (phase - inhale) / (1 - inhale))
    )
    gain = 10 ** (depth_db * (shape - 0.5) / 20)
    return np.interp(np.arange(start, start + count), coarse, gain).astype(np.float32)


def render_bed(preset: BedPreset, n_frames: int, seed: int, breath=None) -> np.ndarray:
    out = np.empty((n_frames, 2), dtype=np.float32)
    position = 0
    for block in bed_blocks(preset, n_frames, seed, breath):
        out[position : position + len(block)] = block
        position += len(block)
    return out


class BedStream(Rechunker):
    """A bed read front to back in pieces of any size (the generator's blocks are fixed)."""

    def __init__(self, preset: BedPreset, n_frames: int, seed: int, breath=None, offset: int = 0):
        blocks = bed_blocks(preset, n_frames, seed, breath, offset)
        super().__init__(lambda: next(blocks))


REFERENCE_S = 30.0


@lru_cache(maxsize=32)
def reference_loudness(preset: BedPreset, seed: int) -> float:
    """The preset's loudness over its first 30 s: what the mixer levels it by, before it is automated."""
    return integrated_loudness(render_bed(preset, int(REFERENCE_S * SAMPLE_RATE), seed))


def audition_bed(preset: BedPreset, n_frames: int, seed: int, loudness_lufs: float) -> np.ndarray:
    """A bed alone at ``loudness_lufs``: about where it sits under a voice, to listen to it."""
    audio = render_bed(preset, n_frames, seed)
    audio *= np.float32(db_to_gain(loudness_lufs - integrated_loudness(audio)))
    return audio
