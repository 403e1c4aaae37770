"""Ambient beds and entrainment tones: presets made of layers, generated procedurally in blocks.

This stage owns everything under the voice. A preset (``ambience/*.toml``) is
a list of layers — coloured noise, slowly moving drones, surf, rain, wind,
binaural or isochronic tones, looped recordings — rendered for any length in
fixed-size blocks, so memory does not grow with the session, and seeded, so
the same seed always gives the same samples. Layers can breathe with the
script's breath clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np

from .. import presets
from ..audio import SAMPLE_RATE
from ..blocks import Rechunker
from ..errors import ConfigError, Source
from .layers import DroneLayer, FileLayer, Layer, NoiseLayer, RainLayer, ToneLayer, WindLayer, parse_layer, resolve_files
from .sources import SOURCES
from .tones import ToneRenderer, render_tones

__all__ = ["BedPreset", "load_bed", "bed_blocks", "render_bed", "BedStream", "reference_loudness", "ToneRenderer",
           "render_tones", "BLOCK", "NoiseLayer", "DroneLayer", "RainLayer", "WindLayer", "ToneLayer", "FileLayer"]

BLOCK = 1 << 16
"""Frames per generated block; noise is drawn per block, so this is part of the sound."""
BREATH_STEP_S = 0.05


@dataclass(frozen=True)
class BedPreset:
    name: str
    path: str
    description: str
    layers: tuple[Layer, ...]


def load_bed(name: str, where: Source | None = None) -> BedPreset:
    path = presets.find("ambience", name, where)
    table = presets.read_toml(path)
    description = presets.take(table, path, "description", str, "")
    raw_layers = table.pop("layers", [])
    presets.reject_unknown(table, path)
    if not raw_layers:
        raise ConfigError("an ambience preset needs at least one [[layers]] table", Source(str(path)))
    layers = tuple(parse_layer(dict(raw), path, f"layers[{i}].") for i, raw in enumerate(raw_layers))
    return BedPreset(name, str(path), description, resolve_files(layers, path))


def bed_blocks(preset: BedPreset, n_frames: int, seed: int, breath=None, offset: int = 0) -> Iterator[np.ndarray]:
    """Yield the bed as consecutive (≤BLOCK, 2) float32 blocks totalling ``n_frames``.

    ``breath`` (the timeline's breath clock) and ``offset`` (where this bed
    starts on it) let breathing layers swell on each inhale.
    """
    sources = [SOURCES[type(layer)](layer, np.random.default_rng([seed, index, 1]))
               for index, layer in enumerate(preset.layers)]
    for start in range(0, n_frames, BLOCK):
        count = min(BLOCK, n_frames - start)
        block = np.zeros((count, 2), dtype=np.float32)
        for layer, source in zip(preset.layers, sources):
            sound = source.render(start, count)
            if layer.breath_db and breath is not None:
                sound *= breath_gain(breath, offset + start, count, layer.breath_db)[:, None]
            block += sound
        yield block


def breath_gain(clock, start: int, count: int, depth_db: float) -> np.ndarray:
    """Linear gain over [start, start+count): up ``depth_db``/2 at the top of each inhale, down as much at the end of the exhale."""
    step = int(BREATH_STEP_S * SAMPLE_RATE)
    coarse = np.arange(start, start + count + step, step)
    cycles = np.array([clock.cycles(f / SAMPLE_RATE) for f in coarse])
    phase = cycles - np.floor(cycles)
    inhale = clock.breath.inhale_fraction
    rising = phase < inhale
    shape = np.where(rising, 0.5 - 0.5 * np.cos(np.pi * phase / inhale),
                     0.5 + 0.5 * np.cos(np.pi * (phase - inhale) / (1 - inhale)))
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
    from ..loudness import integrated_loudness

    return integrated_loudness(render_bed(preset, int(REFERENCE_S * SAMPLE_RATE), seed))
