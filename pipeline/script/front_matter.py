"""Front matter: the YAML block between ``---`` lines at the top of a script.

Every key is checked here, with the place it was written, so a wrong value is
reported as file:line:col; unknown keys get a "did you mean" suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ScriptError, Source, did_you_mean
from .values import parse_duration

if TYPE_CHECKING:
    import yaml

PAUSE_KINDS = ("sentence", "paragraph", "comma", "ellipsis")
NO_AMBIENCE = "none"
"""``ambience: none``: no bed until a ``[bed …]`` cue starts one (voice auditions; imports that bring their own)."""


@dataclass(frozen=True)
class Breath:
    """The listener's breath clock: its pace and the shape of each cycle."""

    pace: float = 8.0
    """Breaths per minute (resting is 12–20; slow, resonant breathing about 6)."""
    inhale: float = 4.0
    exhale: float = 6.0
    """Inhale : exhale proportions; a longer exhale favours relaxation."""
    sync: bool = False
    """Start every phrase on an exhale onset."""

    @property
    def inhale_fraction(self) -> float:
        return self.inhale / (self.inhale + self.exhale)


@dataclass(frozen=True, kw_only=True)
class Meta:
    """Front matter. Every field has a default so a bare text file is a script."""

    title: str
    author: str = ""
    album: str = ""
    voice: str = "default"
    ambience: str = "hearth"
    """The opening bed preset, or ``none``."""
    profile: str = "podcast"
    breath: Breath = Breath()
    rate: float = 1.0
    duration_s: float | None = None
    seed: int = 0
    vars: dict[str, str] = field(default_factory=dict)
    formats: tuple[str, ...] = ()
    cover: str = ""
    track: int = 0
    """Track number in its album (0: none); the episode number in a feed."""
    season: int = 0
    """The season in a feed (0: none)."""
    summary: str = ""
    """A sentence or two for players and feeds (default: made from the title, length and parts)."""
    pauses: dict[str, float] = field(default_factory=dict)
    """Overrides of the voice preset's pause defaults, in seconds."""
    pace_wpm: tuple[float, float] | None = None
    """Words a minute every phrase must be said at (``pace: 100-130``); None: the profile's bounds."""
    drafted: dict = field(default_factory=dict)
    """What ``drift draft`` made the script from: its themes, situation and settings (never the description)."""
    sources: dict[str, Source] = field(default_factory=dict, compare=False, repr=False)
    """Where each key's value was written, so later stages can point at a bad value."""


def split_front_matter(lines: list[str]) -> tuple[list[str], int, bool]:
    """The front-matter lines, the index of the first body line, and whether the block was closed."""
    if not lines or lines[0].strip() != "---":
        return [], 0, True
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return lines[1:i], i + 1, True
    return lines[1:], len(lines), False


def parse_front_matter(
    lines: list[str], path: str, errors: list[ScriptError], defaults: dict | None = None
) -> tuple[Meta, int]:
    """The front matter as ``Meta``; ``defaults`` (from ``--voice``, ``--ambience``) stand in for keys it omits."""
    block, body_start, closed = split_front_matter(lines)
    title = Path(path).stem.replace("-", " ").replace("_", " ").capitalize()
    if not closed:
        errors.append(ScriptError("front matter opened with '---' is never closed", Source(path, 1, 1)))
    meta = _meta_from_yaml(block, path, title, errors)
    unset = {key: (value, Source(f"--{key}")) for key, value in (defaults or {}).items() if key not in meta.sources}
    return with_settings(meta, unset, errors), body_start


def with_settings(meta: Meta, settings: dict[str, tuple[object, Source]], errors: list[ScriptError]) -> Meta:
    """``meta`` with more settings read as front-matter keys (an SSML file's ``<meta name="drift:KEY">``, or the
    options for a file that says nothing), each checked by its key's reader and reported where it was given."""
    fields: dict[str, Any] = {}
    sources = dict(meta.sources)
    for key, (value, where) in settings.items():
        reader = _READERS.get(key)
        if reader is None:
            errors.append(ScriptError(f"unknown setting '{key}'{did_you_mean(key, _READERS)}", where))
            continue
        if isinstance(value, str) and key not in ("title", "author", "album"):
            import yaml

            try:
                value = yaml.safe_load(value) if value.strip() else value
            except yaml.YAMLError:
                pass  # the reader says what is wrong with it
        try:
            fields.update(reader(key, value))
            sources[key] = where
        except ScriptError as error:
            errors.append(ScriptError(error.message, where))
    return replace(meta, **fields, sources=sources) if fields else meta


def _meta_from_yaml(block: list[str], path: str, title: str, errors: list[ScriptError]) -> Meta:
    if not block:
        return Meta(title=title)  # no front matter: nothing for YAML to read (nor to import it for)
    import yaml

    text = "\n".join(block)
    try:
        node, values = yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Source(path, mark.line + 2, mark.column + 1) if mark else Source(path, 1, 1)
        errors.append(ScriptError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", where))
        return Meta(title=title)
    if values is None:
        return Meta(title=title)
    if not isinstance(values, dict):
        errors.append(ScriptError("front matter must be 'key: value' lines", Source(path, 2, 1)))
        return Meta(title=title)
    values = {**values, **_as_written(node, "vars")}
    value_at = {k.value: Source(path, v.start_mark.line + 2, v.start_mark.column + 1) for k, v in node.value}
    key_at = {k.value: Source(path, k.start_mark.line + 2, k.start_mark.column + 1) for k, _ in node.value}
    fields: dict[str, Any] = {"title": title}
    for key, value in values.items():
        reader = _READERS.get(key)
        if reader is None:
            errors.append(
                ScriptError(f"unknown front-matter key '{key}'{did_you_mean(key, _READERS)}", key_at.get(key))
            )
            continue
        try:
            fields.update(reader(key, value))
        except ScriptError as error:
            errors.append(ScriptError(error.message, value_at.get(key)))
    return Meta(**fields, sources=value_at)


def _as_written(node: yaml.MappingNode, key: str) -> dict:
    """``key``'s mapping with every plain value as the text written: a variable is text, so YAML 1.1's ``No``
    stays "No" (not False), ``12:30`` stays "12:30" (not 750) and ``010`` stays "010" (not 8)."""
    import yaml

    for name, value in node.value:
        if (
            name.value == key
            and isinstance(value, yaml.MappingNode)
            and all(isinstance(v, yaml.ScalarNode) for _, v in value.value)
        ):
            return {key: {k.value: v.value for k, v in value.value}}
    return {}


# --- one reader per key: (key, value) → Meta fields, or ScriptError ----------------


def _text(key: str, value: Any) -> dict:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ScriptError(f"'{key}' must be text, got {value!r}")
    return {key: str(value).strip()}


def _name(key: str, value: Any) -> dict:
    if not isinstance(value, str) or not re.match(r"^[\w.-]+$", value.strip()):
        raise ScriptError(f"'{key}' must be a preset name, got {value!r}")
    return {key: value.strip()}


def _number(key: str, value: Any, low: float, high: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise ScriptError(f"'{key}' must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _seconds(key: str, value: Any) -> float:
    seconds = parse_duration(str(value)) if isinstance(value, str) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    if seconds is None or seconds < 0:
        raise ScriptError(f"'{key}' must be a length like 1.5s, 750ms, 20m or 20:00, got {value!r}")
    return seconds


def _breath(key: str, value: Any) -> dict:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"pace": value}
    if not isinstance(value, dict):
        raise ScriptError("'breath' must be a pace (breaths per minute) or {pace: 6, ratio: '4:6', sync: true}")
    unknown = set(value) - {"pace", "ratio", "sync"}
    if unknown:
        raise ScriptError(f"unknown 'breath' setting '{sorted(unknown)[0]}' (use pace, ratio, sync)")
    pace = _number("breath.pace", value.get("pace", Breath.pace), 3, 30)
    ratio = str(value.get("ratio", "4:6"))
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$", ratio)
    if not match or not all(0 < float(g) <= 20 for g in match.groups()):
        raise ScriptError(f"'breath.ratio' must be inhale:exhale like '4:6', got {ratio!r}")
    sync = value.get("sync", False)
    if not isinstance(sync, bool):
        raise ScriptError(f"'breath.sync' must be true or false, got {sync!r}")
    return {"breath": Breath(pace, float(match.group(1)), float(match.group(2)), sync)}


def _vars(key: str, value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) and re.match(r"^[A-Za-z_]\w*$", k) for k in value):
        raise ScriptError("'vars' must map variable names to default text, like 'name: friend'")
    for name, default in value.items():
        if isinstance(default, (dict, list)) or default is None:
            raise ScriptError(f"variable '{name}' must have plain text as its default")
    return {"vars": {k: str(v) for k, v in value.items()}}


def _formats(key: str, value: Any) -> dict:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ScriptError("'formats' must be a list like [flac, mp3]")
    return {"formats": tuple(i.strip().lower() for i in items if i.strip())}


def _pauses(key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ScriptError(f"'pauses' must map {', '.join(PAUSE_KINDS)} to lengths, like 'sentence: 1.5s'")
    for kind in value:
        if kind not in PAUSE_KINDS:
            raise ScriptError(f"unknown pause kind '{kind}'{did_you_mean(kind, PAUSE_KINDS)}")
    return {"pauses": {kind: _seconds(f"pauses.{kind}", length) for kind, length in value.items()}}


def _pace(key: str, value: Any) -> dict:
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)\s*(?:wpm)?\s*$", str(value))
    low, high = (float(match.group(1)), float(match.group(2))) if match else (0.0, 0.0)
    if not 30 <= low < high <= 400:
        raise ScriptError(f"'{key}' must be a range of words a minute like 100-130, got {value!r}")
    return {"pace_wpm": (low, high)}


def _drafted(key: str, value: Any) -> dict:
    plain = (str, int, float, bool, type(None))
    if not isinstance(value, dict) or not all(
        isinstance(v, plain) or (isinstance(v, list) and all(isinstance(i, plain) for i in v)) for v in value.values()
    ):
        raise ScriptError("'drafted' must map names to plain values or lists, as drift draft writes it")
    return {"drafted": dict(value)}


def _not_whole(key: str, value: Any) -> dict:
    raise ScriptError(f"'{key}' must be a whole number, got {value!r}")


_READERS: dict[str, Callable[[str, Any], dict]] = {
    "title": _text,
    "author": _text,
    "album": _text,
    "cover": _text,
    "summary": _text,
    "voice": _name,
    "ambience": _name,
    "profile": _name,
    "breath": _breath,
    "vars": _vars,
    "formats": _formats,
    "pauses": _pauses,
    "pace": _pace,
    "drafted": _drafted,
    "rate": lambda k, v: {"rate": _number(k, v, 0.3, 2.0)},
    "seed": lambda k, v: {"seed": int(_number(k, v, 0, 2**32 - 1))} if isinstance(v, int) else _not_whole(k, v),
    "duration": lambda k, v: {"duration_s": _seconds(k, v)},
    "track": lambda k, v: {"track": int(_number(k, v, 0, 9999))} if isinstance(v, int) else _not_whole(k, v),
    "season": lambda k, v: {"season": int(_number(k, v, 0, 9999))} if isinstance(v, int) else _not_whole(k, v),
}
