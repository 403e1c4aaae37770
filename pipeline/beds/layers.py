"""Bed layers as read from ``ambience/*.toml``: each kind's settings, checked with the file and key named."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .. import presets
from ..errors import ConfigError, Source, did_you_mean

NOISE_COLORS = ("white", "pink", "brown")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclass(frozen=True, kw_only=True)
class Common:
    level_db: float = -20.0
    """RMS level of the layer in dBFS (per channel)."""
    breath_db: float = 0.0
    """Swell this many dB on each inhale and settle on the exhale, following the script's breath clock."""


@dataclass(frozen=True, kw_only=True)
class NoiseLayer(Common):
    color: str = "pink"
    lowpass_hz: float = 0.0
    highpass_hz: float = 0.0
    width: float = 1.0
    """0 = mono, 1 = fully decorrelated left and right."""
    swell_s: float = 0.0
    """Period of a slow rise and fall in level (surf); 0 = steady."""
    swell_depth: float = 0.0


@dataclass(frozen=True, kw_only=True)
class DroneLayer(Common):
    notes_hz: tuple[float, ...] = (110.0,)
    detune_cents: float = 3.0
    """Each note is a pair of oscillators this far either side of pitch: a slow beating chorus."""
    swell_s: float = 30.0
    """Period of the slowest movement in level, brightness and place; each note moves at its own rate."""
    width: float = 0.6


@dataclass(frozen=True, kw_only=True)
class RainLayer(Common):
    drops_per_s: float = 40.0
    brightness_hz: float = 3000.0
    """Centre of the drops' colour: higher is harder rain on leaves, lower is rain on a roof."""
    width: float = 1.0


@dataclass(frozen=True, kw_only=True)
class WindLayer(Common):
    low_hz: float = 200.0
    high_hz: float = 900.0
    """The band the wind's whistle wanders in."""
    gust_s: float = 17.0
    width: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ToneLayer(Common):
    kind: str = "binaural"
    carrier_hz: float = 200.0
    beat_hz: float = 10.0
    beat_to_hz: float = 0.0
    """If set, the beat glides from ``beat_hz`` to this over ``ramp_s``."""
    ramp_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class FileLayer(Common):
    file: str = ""
    """Resolved path of the audio file (inside the preset's folder)."""
    crossfade_s: float = 3.0
    """Each pass through the file crossfades into the next, starting from a different point."""


Layer = NoiseLayer | DroneLayer | RainLayer | WindLayer | ToneLayer | FileLayer
KINDS = {
    "noise": NoiseLayer,
    "drone": DroneLayer,
    "rain": RainLayer,
    "wind": WindLayer,
    "binaural": ToneLayer,
    "isochronic": ToneLayer,
    "file": FileLayer,
}


def parse_layer(table: dict, path: Path, prefix: str) -> Layer:
    where = Source(str(path))
    kind = presets.take(table, path, "type", str, None, prefix)
    if kind not in KINDS:
        hint = did_you_mean(kind, KINDS) or f" (available: {', '.join(KINDS)})"
        raise ConfigError(f"unknown layer type '{kind}' in '{prefix}type'{hint}", where)
    cls = KINDS[kind]
    values = {"kind": kind} if cls is ToneLayer else {}
    for name, spec in cls.__dataclass_fields__.items():
        if name in values or name not in table:
            continue
        expected = tuple if name == "notes_hz" else type(spec.default) if spec.default is not None else float
        if expected is tuple:
            values[name] = _frequencies(presets.take(table, path, name, list, None, prefix), prefix + name, where)
        else:
            values[name] = presets.take(table, path, name, float if expected is float else expected, None, prefix)
    presets.reject_unknown(table, path, prefix)
    layer = cls(**values)
    _check(layer, path, prefix)
    return layer


def _frequencies(notes: list, key: str, where: Source) -> tuple[float, ...]:
    if not notes or not all(isinstance(n, (int, float)) and 20 <= n <= 4000 for n in notes):
        raise ConfigError(f"'{key}' must be a list of frequencies in 20–4000 Hz", where)
    return tuple(float(n) for n in notes)


def _check(layer: Layer, path: Path, prefix: str) -> None:
    where = Source(str(path))
    if not -80 <= layer.level_db <= 0:
        raise ConfigError(f"'{prefix}level_db' {layer.level_db:g} is outside -80…0 dBFS", where)
    if isinstance(layer, NoiseLayer) and layer.color not in NOISE_COLORS:
        raise ConfigError(f"'{prefix}color' must be one of {', '.join(NOISE_COLORS)}, got '{layer.color}'", where)
    if isinstance(layer, ToneLayer):
        if not 50 <= layer.carrier_hz <= 1000:
            raise ConfigError(f"'{prefix}carrier_hz' {layer.carrier_hz:g} is outside the safe 50–1000 Hz", where)
        for key in ("beat_hz", "beat_to_hz"):
            value = getattr(layer, key)
            if (key == "beat_hz" or value) and not 0.5 <= value <= 30:
                raise ConfigError(f"'{prefix}{key}' {value:g} is outside the 0.5–30 Hz entrainment range", where)
    if isinstance(layer, FileLayer):
        _check_file(layer, path, prefix)


def _check_file(layer: FileLayer, path: Path, prefix: str) -> None:
    where = Source(str(path))
    if not layer.file:
        raise ConfigError(f"'{prefix}file' must name an audio file beside the preset", where)
    folder = path.parent.resolve()
    target = (folder / layer.file).resolve()
    if not target.is_relative_to(folder):
        raise ConfigError(f"'{prefix}file' {layer.file!r} leaves the ambience folder", where)
    if target.suffix.lower() not in AUDIO_SUFFIXES:
        raise ConfigError(
            f"'{prefix}file' {layer.file!r}: cannot decode '{target.suffix}' (use {', '.join(AUDIO_SUFFIXES)})", where
        )
    if not target.is_file():
        raise ConfigError(f"'{prefix}file' {layer.file!r} not found", where)


def resolve_files(layers: tuple[Layer, ...], path: Path) -> tuple[Layer, ...]:
    """File layers carry absolute paths once checked, so generation needs no preset path."""
    return tuple(
        replace(layer, file=str((path.parent / layer.file).resolve())) if isinstance(layer, FileLayer) else layer
        for layer in layers
    )
