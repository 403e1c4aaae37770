"""Ambient beds and entrainment tones: presets made of layers, generated procedurally in blocks.

This stage owns everything under the voice. A preset (``ambience/*.toml``) is
a list of layers — coloured noise, slowly moving drones, surf, rain, wind,
binaural or isochronic tones, looped recordings — rendered for any length in
fixed-size blocks, so memory does not grow with the session, and seeded, so
the same seed always gives the same samples. Layers can breathe with the
script's breath clock.
"""

from .layers import DroneLayer, FileLayer, NoiseLayer, RainLayer, ToneLayer, WindLayer
from .preset import BedPreset, load_bed
from .stream import NOISE_BLOCK, BedStream, audition_bed, bed_blocks, reference_loudness, render_bed
from .tones import ToneRenderer, render_tones

__all__ = [
    "BedPreset",
    "load_bed",
    "bed_blocks",
    "render_bed",
    "audition_bed",
    "BedStream",
    "reference_loudness",
    "ToneRenderer",
    "render_tones",
    "NOISE_BLOCK",
    "NoiseLayer",
    "DroneLayer",
    "RainLayer",
    "WindLayer",
    "ToneLayer",
    "FileLayer",
]
