"""Ambient beds: presets made of layers, generated procedurally in blocks.

This module owns the bed under the voice. A preset (``ambience/*.toml``) is a
list of layers — coloured, filtered noise and slowly moving drones — rendered
for any length in fixed-size blocks, so memory does not grow with the track and
the same seed always gives the same samples whatever the caller's block size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy import signal

from . import presets
from .audio import SAMPLE_RATE
from .errors import ConfigError, Source

BLOCK = 1 << 16
"""Frames per generated block; noise is drawn per block, so this is part of the sound."""

NOISE_COLORS = ("white", "pink", "brown")


@dataclass(frozen=True)
class NoiseLayer:
    color: str
    level_db: float
    """RMS level of the layer in dBFS (per channel)."""
    lowpass_hz: float
    highpass_hz: float
    width: float
    """0 = mono, 1 = fully decorrelated left and right."""
    swell_s: float = 0.0
    """Period of a slow rise and fall in level (waves); 0 = steady."""
    swell_depth: float = 0.0


@dataclass(frozen=True)
class DroneLayer:
    notes_hz: tuple[float, ...]
    level_db: float
    """RMS level of the whole chord in dBFS (per channel), at the middle of its swell."""
    detune_cents: float
    """Each note is a pair of oscillators this far either side of pitch: a slow beating chorus."""
    swell_s: float
    """Period of the slowest level movement; each note moves at its own related rate."""
    width: float


Layer = NoiseLayer | DroneLayer


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
    layers = tuple(_layer(dict(raw), path, f"layers[{i}].") for i, raw in enumerate(raw_layers))
    return BedPreset(name, str(path), description, layers)


def _layer(table: dict, path: Path, prefix: str) -> Layer:
    take = presets.take
    kind = take(table, path, "type", str, None, prefix)
    if kind == "noise":
        layer = NoiseLayer(
            color=take(table, path, "color", str, "pink", prefix),
            level_db=take(table, path, "level_db", float, -20.0, prefix),
            lowpass_hz=take(table, path, "lowpass_hz", float, 0.0, prefix),
            highpass_hz=take(table, path, "highpass_hz", float, 0.0, prefix),
            width=take(table, path, "width", float, 1.0, prefix),
            swell_s=take(table, path, "swell_s", float, 0.0, prefix),
            swell_depth=take(table, path, "swell_depth", float, 0.0, prefix),
        )
        if layer.color not in NOISE_COLORS:
            raise ConfigError(f"'{prefix}color' must be one of {', '.join(NOISE_COLORS)}, got '{layer.color}'", Source(str(path)))
    elif kind == "drone":
        notes = take(table, path, "notes_hz", list, None, prefix)
        if not notes or not all(isinstance(n, (int, float)) and 20 <= n <= 4000 for n in notes):
            raise ConfigError(f"'{prefix}notes_hz' must be a list of frequencies in 20–4000 Hz", Source(str(path)))
        layer = DroneLayer(
            notes_hz=tuple(float(n) for n in notes),
            level_db=take(table, path, "level_db", float, -26.0, prefix),
            detune_cents=take(table, path, "detune_cents", float, 3.0, prefix),
            swell_s=take(table, path, "swell_s", float, 30.0, prefix),
            width=take(table, path, "width", float, 0.6, prefix),
        )
    else:
        raise ConfigError(f"unknown layer type '{kind}' in '{prefix}type' (available: noise, drone)", Source(str(path)))
    presets.reject_unknown(table, path, prefix)
    return layer


# --- generation ------------------------------------------------------------------


def bed_blocks(preset: BedPreset, n_frames: int, seed: int) -> Iterator[np.ndarray]:
    """Yield the bed as consecutive (≤BLOCK, 2) float32 blocks totalling ``n_frames``."""
    voices = [_LAYER_VOICES[type(layer)](layer, seed, index) for index, layer in enumerate(preset.layers)]
    for start in range(0, n_frames, BLOCK):
        count = min(BLOCK, n_frames - start)
        block = np.zeros((count, 2), dtype=np.float32)
        for voice in voices:
            block += voice.render(start, count)
        yield block


def render_bed(preset: BedPreset, n_frames: int, seed: int) -> np.ndarray:
    out = np.empty((n_frames, 2), dtype=np.float32)
    position = 0
    for block in bed_blocks(preset, n_frames, seed):
        out[position : position + len(block)] = block
        position += len(block)
    return out


class BedStream:
    """A bed read front to back in pieces of any size (the generator's blocks are fixed)."""

    def __init__(self, preset: BedPreset, n_frames: int, seed: int):
        self.blocks = bed_blocks(preset, n_frames, seed)
        self.buffer = np.zeros((0, 2), dtype=np.float32)

    def take(self, count: int) -> np.ndarray:
        while len(self.buffer) < count:
            self.buffer = np.concatenate([self.buffer, next(self.blocks)])
        piece, self.buffer = self.buffer[:count], self.buffer[count:]
        return piece


REFERENCE_S = 30.0


@lru_cache(maxsize=32)
def reference_loudness(preset: BedPreset, seed: int) -> float:
    """The preset's loudness over its first 30 s: what the mixer levels it by, before it is automated."""
    from .loudness import integrated_loudness

    return integrated_loudness(render_bed(preset, int(REFERENCE_S * SAMPLE_RATE), seed))


# Noise colour as an IIR filter on white noise (reference level ≈ unit RMS at 1 kHz).
_PINK = ([0.049922035, -0.095993537, 0.050612699, -0.004408786], [1.0, -2.494956002, 2.017265875, -0.522189400])
_BROWN_POLE = 1.0 - 2 * np.pi * 20.0 / SAMPLE_RATE  # leaky integrator: −6 dB/oct above 20 Hz
_BROWN = ([1.0 - _BROWN_POLE], [1.0, -_BROWN_POLE])


class _Noise:
    """Stateful noise source: filter state carries across blocks so seams are inaudible."""

    def __init__(self, layer: NoiseLayer, seed: int, index: int):
        self.rng = np.random.default_rng([seed, index, 1])
        self.width = float(np.clip(layer.width, 0.0, 1.0))
        self.swell_s, self.swell_depth = layer.swell_s, float(np.clip(layer.swell_depth, 0.0, 1.0))
        self.swell_phase = self.rng.uniform(0, 2 * np.pi)
        sections = []
        if layer.color != "white":
            b, a = _PINK if layer.color == "pink" else _BROWN
            sections.append(signal.tf2sos(b, a))
        if layer.lowpass_hz > 0:
            sections.append(signal.butter(2, layer.lowpass_hz, "lowpass", fs=SAMPLE_RATE, output="sos"))
        if layer.highpass_hz > 0:
            sections.append(signal.butter(2, layer.highpass_hz, "highpass", fs=SAMPLE_RATE, output="sos"))
        self.sos = np.vstack(sections) if sections else None
        self.state = np.zeros((len(self.sos), 2, 2)) if self.sos is not None else None
        self.gain = 10 ** (layer.level_db / 20) / self._filter_rms()

    def _filter_rms(self) -> float:
        """RMS of the filtered noise, so ``level_db`` means the same for every colour."""
        if self.sos is None:
            return 1.0
        impulse = np.zeros(4 * SAMPLE_RATE)
        impulse[0] = 1.0
        return float(np.sqrt(np.sum(signal.sosfilt(self.sos, impulse) ** 2)))

    def render(self, start: int, count: int) -> np.ndarray:
        white = self.rng.standard_normal((count, 2))
        if self.sos is not None:
            white, self.state = signal.sosfilt(self.sos, white, axis=0, zi=self.state)
        mid = (white[:, 0] + white[:, 1]) / np.sqrt(2)
        side = (white[:, 0] - white[:, 1]) / np.sqrt(2) * self.width
        out = np.stack([mid + side, mid - side], axis=1) * (self.gain / np.sqrt(1 + self.width**2))
        if self.swell_s > 0:
            t = (start + np.arange(count)) / SAMPLE_RATE
            wave = 0.5 - 0.5 * np.cos(2 * np.pi * t / self.swell_s + self.swell_phase)
            out *= ((1 - self.swell_depth) + self.swell_depth * wave ** 1.5)[:, None]
        return out.astype(np.float32)


class _Drone:
    """Detuned sine pairs whose level and place in the stereo field drift slowly.

    Every value is a function of the absolute frame number, so blocks join
    exactly and the result does not depend on where blocks start.
    """

    def __init__(self, layer: DroneLayer, seed: int, index: int):
        rng = np.random.default_rng([seed, index, 2])
        self.layer = layer
        # Each note's pair of unit sines at half amplitude (+ harmonic) has RMS ≈ 0.46 at mid-swell.
        self.gain = 10 ** (layer.level_db / 20) / (0.46 * np.sqrt(len(layer.notes_hz)))
        count = len(layer.notes_hz)
        self.phases = rng.uniform(0, 2 * np.pi, size=(count, 4))
        # Incommensurate periods so the notes never swell in lockstep.
        self.swell_periods = layer.swell_s * (1 + 0.37 * np.arange(count)) * rng.uniform(0.9, 1.1, count)
        self.pan_periods = self.swell_periods * 1.618

    def render(self, start: int, count: int) -> np.ndarray:
        frames_ = start + np.arange(count, dtype=np.float64)
        slow_t = (start + np.arange(0, count + _LFO_STEP, _LFO_STEP, dtype=np.float64)) / SAMPLE_RATE
        out = np.zeros((count, 2), dtype=np.float32)
        spread = 2 ** (self.layer.detune_cents / 1200)
        for i, freq in enumerate(self.layer.notes_hz):
            ph = self.phases[i]
            tone = (_sine(frames_, freq * spread, ph[0]) + _sine(frames_, freq / spread, ph[1])
                    + 0.15 * _sine(frames_, 2 * freq, ph[0]))  # a touch of second harmonic: warmth
            swell = 0.65 + 0.35 * np.sin(2 * np.pi * slow_t / self.swell_periods[i] + ph[2])
            pan = 0.5 + 0.5 * self.layer.width * np.sin(2 * np.pi * slow_t / self.pan_periods[i] + ph[3])
            level = 0.5 * _upsample_lfo(swell, count)
            angle = _upsample_lfo(pan, count) * (np.pi / 2)
            out[:, 0] += tone * level * np.cos(angle)
            out[:, 1] += tone * level * np.sin(angle)
        return out * np.float32(self.gain * np.sqrt(2))  # undo the constant-power pan's −3 dB at centre


_LFO_STEP = 256
"""Slow movements (seconds-long) are computed every 256 frames and interpolated: a fifth of the cost."""


def _sine(frame_numbers: np.ndarray, freq: float, phase: float) -> np.ndarray:
    """sin(2π f t + φ) from absolute frame numbers; phase wrapped in float64, sine taken in float32 (SIMD)."""
    return np.sin(np.float32(2 * np.pi) * _fraction(frame_numbers * (freq / SAMPLE_RATE) + phase / (2 * np.pi)))


def _fraction(cycles: np.ndarray) -> np.ndarray:
    """The fractional part as float32: float64 keeps hours of phase exact, float32 makes the sine fast."""
    return (cycles - np.floor(cycles)).astype(np.float32)


def _upsample_lfo(values: np.ndarray, count: int) -> np.ndarray:
    positions = np.arange(count, dtype=np.float32) / _LFO_STEP
    return np.interp(positions, np.arange(len(values), dtype=np.float32), values).astype(np.float32)


_LAYER_VOICES = {NoiseLayer: _Noise, DroneLayer: _Drone}


# --- entrainment tones --------------------------------------------------------------


@dataclass(frozen=True)
class _ToneSegment:
    start: int
    end: int
    """Includes the fade-out after an ``off``."""
    kind: str
    carrier_hz: float
    beat: object
    ramp_s: float
    beat_cycles_at_start: float
    fade_in: int
    fade_out: int


class ToneRenderer:
    """The tones stem, rendered for any frame range (unit peak amplitude).

    Binaural: a carrier a half-beat below in the left ear and above in the
    right, so the ears hear their difference. Isochronic: one carrier pulsed
    at the beat rate with smooth (raised-cosine) pulses. The beat's phase is
    integrated exactly over each ramp and carried across changes, so glides
    never click; every value is a function of the absolute frame.
    """

    def __init__(self, changes: tuple, total: int):
        self.segments: list[_ToneSegment] = []
        cycles = 0.0
        for index, change in enumerate(changes):
            cue = change.cue
            following = changes[index + 1] if index + 1 < len(changes) else None
            end = following.start if following else total
            if cue.kind == "off" or end <= change.start:
                cycles = 0.0
                continue
            fade_out = _fade_frames(following.cue.fade_s, total - end) if following and following.cue.kind == "off" else 0
            starts_sound = index == 0 or changes[index - 1].cue.kind == "off"
            fade_in = _fade_frames(cue.fade_s, end - change.start) if starts_sound else 0
            ramp_s = change.ramp_frames / SAMPLE_RATE
            self.segments.append(_ToneSegment(change.start, end + fade_out, cue.kind, cue.carrier_hz, cue.beat, ramp_s,
                                              cycles, fade_in, fade_out))
            cycles += float(_beat_cycles(cue.beat, ramp_s, np.array([(end - change.start) / SAMPLE_RATE]))[0])

    def block(self, start: int, end: int) -> np.ndarray:
        out = np.zeros((end - start, 2), dtype=np.float32)
        for seg in self.segments:
            a, b = max(start, seg.start), min(end, seg.end)
            if a >= b:
                continue
            local = np.arange(a - seg.start, b - seg.start, dtype=np.float64)
            t = local / SAMPLE_RATE
            beat_phase = seg.beat_cycles_at_start + _beat_cycles(seg.beat, seg.ramp_s, t)
            carrier_phase = (seg.start / SAMPLE_RATE + t) * seg.carrier_hz
            tone = _tone(seg.kind, carrier_phase, beat_phase)
            tone *= _edge_envelope(local, seg.fade_in, seg.end - seg.start, seg.fade_out)[:, None]
            out[a - start : b - start] += tone
        return out


def render_tones(changes: tuple, n_frames: int) -> np.ndarray:
    return ToneRenderer(changes, n_frames).block(0, n_frames)


def _edge_envelope(local: np.ndarray, fade_in: int, length: int, fade_out: int) -> np.ndarray:
    """Raised-sine fades at either end of a segment, evaluated at the given frame offsets."""
    envelope = np.ones(len(local), dtype=np.float32)
    if fade_in:
        rising = local < fade_in
        envelope[rising] = np.sin(0.5 * np.pi * (local[rising] + 0.5) / fade_in) ** 2
    if fade_out:
        falling = local >= length - fade_out
        envelope[falling] *= np.sin(0.5 * np.pi * (length - local[falling] - 0.5) / fade_out) ** 2
    return envelope


def _tone(kind: str, carrier_phase: np.ndarray, beat_phase: np.ndarray) -> np.ndarray:
    if kind == "binaural":
        left = np.sin(np.float32(2 * np.pi) * _fraction(carrier_phase - beat_phase / 2))
        right = np.sin(np.float32(2 * np.pi) * _fraction(carrier_phase + beat_phase / 2))
        return np.stack([left, right], axis=1)
    gate = (0.5 - 0.5 * np.cos(np.float32(2 * np.pi) * _fraction(beat_phase))) ** 2
    return np.repeat((np.sin(np.float32(2 * np.pi) * _fraction(carrier_phase)) * gate)[:, None], 2, axis=1)


def _beat_cycles(beat, ramp_s: float, t: np.ndarray) -> np.ndarray:
    """∫ beat frequency dt from the segment start: quadratic while ramping, linear after."""
    start = beat.start
    end = beat.end if beat.end is not None else beat.start
    if ramp_s <= 0:
        return end * t
    during = start * t + (end - start) * t**2 / (2 * ramp_s)
    at_end = start * ramp_s + (end - start) * ramp_s / 2
    return np.where(t < ramp_s, during, at_end + end * (t - ramp_s))


def _fade_frames(seconds: float, limit: int) -> int:
    return max(min(int(round(seconds * SAMPLE_RATE)), limit), 0)
