"""The intake: what a person tells ``drift draft`` (their description and their settings), checked.

Settings come from options or from an intake file (``--intake intake.yaml``, documented in
``docs/drafting.md``); a wrong value is a ``ConfigError`` naming the setting, or the file, line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from ..errors import ConfigError, Source, did_you_mean
from ..script.values import parse_duration
from .bank import THEMES

MINUTES = (5.0, 60.0)
MODES = ("solo", "together")
ENDINGS = ("awake", "asleep")
MAX_DESCRIPTION = 4000
"""Characters: a description is a few sentences, not a diary."""
_NAME = re.compile(r"^[^\W\d_][\w'’ .-]{0,38}$")


@dataclass(frozen=True, kw_only=True)
class Intake:
    """A request for a session. ``description`` is personal: it is screened and read, never written out."""

    description: str
    name: str | None = None
    """The listener's name, said at moments of warmth ('friend' when not given)."""
    partner: str | None = None
    """The other person's name; when not given, their role from the description ("your husband")."""
    mode: str = "solo"
    """solo, or together: two people listening side by side."""
    minutes: float = 15.0
    """The session's length, 5–60 minutes."""
    ending: str = "awake"
    """awake (a return, counting up), or asleep (no return; the voice thins out)."""
    bed_until_s: float | None = None
    """With a sleep ending: the bed runs on after the last word until this time (``[end …]``)."""
    voice: str = "default"
    ambience: str | None = None
    """The bed; by default one chosen for the ending."""
    profile: str | None = None
    themes: tuple[str, ...] = ()
    """Themes to use instead of the ones the description maps to."""
    seed: int = 0
    """Another seed picks other variants of the same session."""

    def settings(self) -> dict:
        """Everything but the description: what a drafted script may record."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "description"}


def check_intake(intake: Intake, where: dict[str, Source] | None = None) -> None:
    """Every setting within its range, or a ``ConfigError`` naming it (the option, or the intake file's place)."""

    def at(key: str) -> Source:
        return (where or {}).get(key) or Source(f"--{key.replace('_', '-')}")

    if not intake.description.strip():
        raise ConfigError("the description is empty: say in a sentence or two what is going on", at("description"))
    if len(intake.description) > MAX_DESCRIPTION:
        raise ConfigError(
            f"the description is {len(intake.description)} characters; keep it under {MAX_DESCRIPTION}",
            at("description"),
        )
    for key in ("name", "partner"):
        value = getattr(intake, key)
        if value is not None and not _NAME.match(value.strip()):
            raise ConfigError(f"'{key}' must be a name of letters (up to 40), got {value!r}", at(key))
    if intake.mode not in MODES:
        raise ConfigError(
            f"'mode' must be solo or together, got {intake.mode!r}{did_you_mean(intake.mode, MODES)}", at("mode")
        )
    if intake.ending not in ENDINGS:
        raise ConfigError(
            f"'ending' must be awake or asleep, got {intake.ending!r}{did_you_mean(intake.ending, ENDINGS)}",
            at("ending"),
        )
    if not MINUTES[0] <= intake.minutes <= MINUTES[1]:
        raise ConfigError(
            f"'minutes' must be from {MINUTES[0]:g} to {MINUTES[1]:g}, got {intake.minutes:g}", at("minutes")
        )
    if intake.bed_until_s is not None:
        if intake.ending != "asleep":
            raise ConfigError("the bed runs on only after a sleep ending: add --ending asleep", at("bed_until"))
        if not intake.minutes * 60 < intake.bed_until_s <= 24 * 3600:
            raise ConfigError(
                f"'bed-until' must be after the session's {intake.minutes:g} minutes and at most 24 hours",
                at("bed_until"),
            )
    for theme in intake.themes:
        if theme not in THEMES:
            raise ConfigError(
                f"unknown theme '{theme}'{did_you_mean(theme, THEMES)} (themes: {', '.join(THEMES)})", at("themes")
            )
    if len(intake.themes) > 2:
        raise ConfigError("a session works with one or two themes", at("themes"))


_KEYS = {
    "description": str,
    "name": str,
    "partner": str,
    "mode": str,
    "minutes": (int, float),
    "ending": str,
    "bed_until": (str, int, float),
    "voice": str,
    "ambience": str,
    "profile": str,
    "themes": (list, str),
    "seed": int,
}


def read_intake(path: Path, overrides: dict) -> Intake:
    """An intake file, with options given on the command line (``overrides``, None where not given) winning."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such intake file", Source(str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read intake file: {getattr(exc, 'strerror', None) or exc}", Source(str(path))
        ) from None
    try:
        node = yaml.compose(text)
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Source(str(path), mark.line + 1, mark.column + 1) if mark else Source(str(path))
        raise ConfigError(f"intake file is not valid YAML: {getattr(exc, 'problem', exc)}", where) from None
    if not isinstance(values, dict):
        raise ConfigError("an intake file is 'key: value' lines", Source(str(path), 1, 1))
    where = {
        k.value.replace("-", "_"): Source(str(path), v.start_mark.line + 1, v.start_mark.column + 1)
        for k, v in node.value
    }
    key_at = {
        k.value.replace("-", "_"): Source(str(path), k.start_mark.line + 1, k.start_mark.column + 1)
        for k, _ in node.value
    }
    settings = {}
    for key, value in values.items():
        field = str(key).replace("-", "_")
        if field not in _KEYS:
            raise ConfigError(f"unknown intake key '{key}'{did_you_mean(key, _KEYS)}", key_at.get(field))
        if not isinstance(value, _KEYS[field]) or isinstance(value, bool):
            raise ConfigError(f"intake '{key}' has the wrong kind of value: {value!r}", where[field])
        settings[field] = value
    settings.update({k: v for k, v in overrides.items() if v not in (None, ())})
    return make_intake(settings, where)


def make_intake(settings: dict, where: dict[str, Source] | None = None) -> Intake:
    """An ``Intake`` from loose settings (an intake file's, or the options'), each checked where it was given."""
    settings = dict(settings)
    if "description" not in settings:
        raise ConfigError(
            "no description: give it as an argument, with --file, on standard input, or in the intake file"
        )
    bed_until = settings.pop("bed_until", None)
    if bed_until is not None:
        seconds = parse_duration(str(bed_until)) if isinstance(bed_until, str) else float(bed_until)
        if seconds is None:
            raise ConfigError(
                f"'bed-until' must be a time like 8h or 8:00:00, got {bed_until!r}",
                (where or {}).get("bed_until") or Source("--bed-until"),
            )
        settings["bed_until_s"] = seconds
    themes = settings.get("themes", ())
    settings["themes"] = tuple(
        t.strip() for t in (themes.split(",") if isinstance(themes, str) else themes) if t.strip()
    )
    if "minutes" in settings:
        settings["minutes"] = float(settings["minutes"])
    intake = Intake(**settings)
    check_intake(intake, where)
    return intake
