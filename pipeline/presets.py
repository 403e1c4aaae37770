"""Finding and reading preset files (``voices/*.toml``, ``ambience/*.toml``).

A preset is looked up by name, first in the current project's folder of that
kind, then in the presets bundled with the renderer. Reading is strict:
unknown keys and wrong types are ``ConfigError``s naming the file and key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from .errors import ConfigError, Source, did_you_mean

BUNDLED_ROOT = Path(__file__).resolve().parent.parent


def search_path(kind: str) -> list[Path]:
    """Folders searched for presets of ``kind`` ('voices' or 'ambience'), first match wins."""
    env = os.environ.get(f"DRIFT_{kind.upper()}")
    folders = [Path(p) for p in env.split(os.pathsep)] if env else []
    folders += [Path.cwd() / kind, BUNDLED_ROOT / kind]
    unique: list[Path] = []
    for folder in folders:
        if folder.resolve() not in [u.resolve() for u in unique]:
            unique.append(folder)
    return unique


SHARED = {"voices": "lexicon"}
"""A file in a preset folder that is no preset: ``voices/lexicon.toml`` holds what every voice shares."""


def available(kind: str) -> dict[str, Path]:
    """Every preset name of ``kind`` → the file that defines it."""
    found: dict[str, Path] = {}
    for folder in reversed(search_path(kind)):
        for path in sorted(folder.glob("*.toml")):
            if path.stem != SHARED.get(kind):
                found[path.stem] = path
    return dict(sorted(found.items()))


def shared(kind: str) -> Path | None:
    """The shared file of ``kind`` (the first on the search path), if there is one."""
    for folder in search_path(kind):
        if (path := folder / f"{SHARED[kind]}.toml").is_file():
            return path
    return None


def find(kind: str, name: str, where: Source | None = None) -> Path:
    names = available(kind)
    if name in names:
        return names[name]
    hint = did_you_mean(name, names) or f" (available: {', '.join(names) or 'none'})"
    singular = "voice" if kind == "voices" else "ambience"
    raise ConfigError(f"unknown {singular} '{name}'{hint}", where)


def read_toml(path: Path, what: str = "preset") -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} is not valid TOML: {exc}", Source(str(path))) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", Source(str(path))) from None


def take(table: dict, path: Path, key: str, kind: type, default=None, prefix: str = ""):
    """Pop ``key`` from ``table`` checking its type; ints are accepted where floats are."""
    if key not in table:
        if default is None:
            raise ConfigError(f"missing key '{prefix}{key}'", Source(str(path)))
        return default
    value = table.pop(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"'{prefix}{key}' must be {kind.__name__}, got {value!r}", Source(str(path)))
    return value


def reject_unknown(table: dict, path: Path, prefix: str = "") -> None:
    for key in table:
        raise ConfigError(f"unknown key '{prefix}{key}'", Source(str(path)))
