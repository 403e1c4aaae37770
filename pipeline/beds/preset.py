"""Bed presets (``ambience/*.toml``): a name, a description and a list of layers, read and checked."""

from __future__ import annotations

from dataclasses import dataclass

from .. import presets
from ..errors import ConfigError, Source
from .layers import Layer, parse_layer, resolve_files


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
