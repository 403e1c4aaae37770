"""The drafting bank (``modules/``): the written modules a session is made of, and the data beside them.

A module is a header (phase, themes, mode, minutes) and one section of script markup; the files are
described in ``modules/README.md``. Reading is strict: a wrong phase, an unknown theme or a missing slot
is a ``ConfigError`` naming the file and line, so a broken bank fails at once rather than in a session.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from .. import presets
from ..errors import ConfigError, Source, did_you_mean
from ..presets import BUNDLED_ROOT

THEMES = {
    "presence": "presence",
    "self-attunement": "self-attunement",
    "co-regulation": "co-regulation",
    "turning-toward": "turning toward bids",
    "rupture-repair": "rupture and repair",
    "feeling-seen": "feeling seen",
    "listening": "listening to understand",
    "pursue-withdraw": "the pursue–withdraw pattern",
    "flooding": "flooding in conflict",
    "drift-apart": "loneliness and drifting apart",
}
"""The product's themes: id → how a person would say it."""

PHASES = ("arrival", "induction", "deepening", "stillness", "theme", "integration", "return", "sleep")
MODES = ("solo", "together", "any")
SLOTS = {"arrival": "reflection", "theme": "scene"}
"""The slot each phase must hold once, on a line of its own: the composer fills it."""

WORDS_PER_MINUTE = 110.0
"""The narrator's pace inside phrases, for estimating a module's length: the library's median is 115, a drafted
five-minute session measured 112 with the default (Kokoro) voice and 117–121 with the Piper draft voice."""
SENTENCE_PAUSE_S = 1.4
PARAGRAPH_PAUSE_S = 3.5
BREATH_S = 10.0
"""A drafted session breathes at 6 a minute."""
BREATH_WAIT_S = BREATH_S / 2
"""An ``[exhale]`` or ``[inhale]`` waits for the breath clock: half a breath on average (measured on four drafted
10-minute sessions: 2.2 to 5.2 s a cue beyond their pauses, so this errs long, and ``duration:`` stretches)."""
CLIP_PAD_S = 0.3
"""The silence a spoken sentence's clip carries at its edges."""
SECTION_S = 1.0
"""The lead a section's heading gives before its first words."""
_BREATH_CUE = re.compile(r"\[(?:exhale|inhale)\]")

_PAUSE = re.compile(r"\[pause\s+(\d+(?:\.\d+)?)\s*(ms|s|breaths?)\]")
_CUE = re.compile(r"\[[^\]]*\]")
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f']+|\{\w+\}")
_SENTENCE_END = re.compile(r"(?<=[.?!…])(?:\s+|$)")


@dataclass(frozen=True, kw_only=True)
class Module:
    """One written part of a session."""

    id: str
    """The file's name without suffix, e.g. ``pursue-withdraw-1``."""
    phase: str
    themes: tuple[str, ...]
    mode: str
    minutes: float
    """What its writer said it lasts."""
    body: str
    """The section: its heading line, then text in the script markup, slots unfilled."""
    path: Path
    body_line: int
    """The file's line number of the body's first line, for errors that point into it."""

    @property
    def estimated_s(self) -> float:
        return estimate_seconds(self.body)

    def serves(self, mode: str) -> bool:
        return self.mode in ("any", mode)


def search_path() -> list[Path]:
    """Folders searched for the bank, first match of a file wins: ``$DRIFT_MODULES``, ./modules, the bundled bank."""
    env = os.environ.get("DRIFT_MODULES")
    folders = [Path(p) for p in env.split(os.pathsep)] if env else []
    folders += [Path.cwd() / "modules", BUNDLED_ROOT / "modules"]
    return [f for i, f in enumerate(folders) if f.is_dir() and f.resolve() not in [g.resolve() for g in folders[:i]]]


def data_file(name: str) -> Path:
    """The first ``name`` on the search path (``resources.toml``, ``situations.toml``, …)."""
    for folder in search_path():
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"the drafting bank has no {name} (looked in {', '.join(map(str, search_path())) or 'nothing'})")


def read_toml(path: Path) -> dict:
    return presets.read_toml(path, "drafting bank file")


def load_bank() -> tuple[Module, ...]:
    """Every module on the search path (a file in an earlier folder hides one of the same phase and name later)."""
    found: dict[tuple[str, str], Path] = {}
    for folder in reversed(search_path()):
        for phase in PHASES:
            for path in sorted((folder / phase).glob("*.txt")):
                found[(phase, path.stem)] = path
    return tuple(_load_cached(path, path.stat().st_mtime_ns) for path in found.values())


@cache
def _load_cached(path: Path, mtime_ns: int) -> Module:
    return read_module(path)


def read_module(path: Path) -> Module:
    """One module file, checked: its header, its one heading, its slot."""
    where = Source(str(path), 1, 1)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read module: {getattr(exc, 'strerror', None) or exc}", Source(str(path))) from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in [line.strip() for line in lines[1:]]:
        raise ConfigError("a module starts with a '---' header (phase, themes, mode, minutes)", where)
    end = 1 + [line.strip() for line in lines[1:]].index("---")
    try:
        header = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"module header is not valid YAML: {getattr(exc, 'problem', exc)}", where) from None
    if not isinstance(header, dict):
        raise ConfigError("module header must be 'key: value' lines", where)
    unknown = set(header) - {"phase", "themes", "mode", "minutes"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown module key '{key}'{did_you_mean(key, ['phase', 'themes', 'mode', 'minutes'])}", where
        )
    phase, mode = header.get("phase"), header.get("mode", "solo")
    if phase not in PHASES:
        raise ConfigError(
            f"module phase must be one of {', '.join(PHASES)}, got {phase!r}{did_you_mean(phase, PHASES)}", where
        )
    if mode not in MODES:
        raise ConfigError(f"module mode must be solo, together or any, got {mode!r}", where)
    themes = header.get("themes") or []
    themes = [themes] if isinstance(themes, str) else themes
    for theme in themes:
        if theme not in THEMES:
            raise ConfigError(f"unknown theme '{theme}'{did_you_mean(theme, THEMES)}", where)
    if (phase == "theme") != bool(themes):
        raise ConfigError("a theme module names its themes, and only a theme module does", where)
    minutes = header.get("minutes")
    if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not 0.1 <= minutes <= 30:
        raise ConfigError(f"module 'minutes' must be a number from 0.1 to 30, got {minutes!r}", where)
    rest = lines[end + 1 :]
    blank = next((i for i, line in enumerate(rest) if line.strip()), len(rest))
    body, body_line = "\n".join(rest[blank:]).rstrip(), end + 2 + blank
    headings = [line for line in body.splitlines() if line.startswith("#")]
    if not body.startswith("## ") or len(headings) != 1:
        raise ConfigError(
            "a module's body is one section: it starts with its one '## Heading'", Source(str(path), body_line, 1)
        )
    for slot_phase, slot in SLOTS.items():
        count = len(re.findall(r"^\{\{" + slot + r"\}\}$", body, re.M))
        if (phase == slot_phase and count != 1) or (phase != slot_phase and "{{" + slot + "}}" in body):
            raise ConfigError(
                f"{'an' if slot_phase[0] in 'aeiou' else 'a'} {slot_phase} module holds "
                f"'{{{{{slot}}}}}' once, on a line of its own",
                Source(str(path), body_line, 1),
            )
    return Module(
        id=path.stem,
        phase=phase,
        themes=tuple(themes),
        mode=mode,
        minutes=float(minutes),
        body=body,
        path=path,
        body_line=body_line,
    )


def estimate_seconds(body: str) -> float:
    """How long a piece of markup lasts when spoken: words at the narrator's pace, explicit pauses, and the
    implicit pauses after sentences and between paragraphs that carry none."""
    return sum(estimate_parts(body))


def estimate_parts(body: str) -> tuple[float, float]:
    """The seconds that do not stretch (speech, waits for the breath, the clips' edges) and the seconds of pauses
    (what ``duration:`` stretches) in a piece of markup."""
    pauses = 0.0
    text = "\n".join(line for line in body.splitlines() if not line.startswith(("#", "//")))
    text = re.sub(r"\{\{\w+\}\}", "", text)
    for number, unit in _PAUSE.findall(text):
        pauses += float(number) * (BREATH_S if unit.startswith("breath") else 0.001 if unit == "ms" else 1.0)
    speech = (
        len(_WORD.findall(_CUE.sub(" ", text))) * 60.0 / WORDS_PER_MINUTE
        + BREATH_WAIT_S * len(_BREATH_CUE.findall(text))
        + SECTION_S * len(re.findall(r"^## ", body, re.M))
    )
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if _WORD.search(_CUE.sub(" ", p))]
    for paragraph in paragraphs:
        pieces = [p for p in _SENTENCE_END.split(" ".join(paragraph.split())) if p]
        for i, piece in enumerate(pieces):
            spoken = bool(_WORD.search(_CUE.sub(" ", piece)))
            speech += CLIP_PAD_S * spoken
            if spoken and i < len(pieces) - 1 and not pieces[i + 1].startswith("[pause"):
                pauses += SENTENCE_PAUSE_S
    ends_paused = [bool(re.search(r"\[pause[^\]]*\]\s*$", p.strip())) for p in paragraphs]
    pauses += PARAGRAPH_PAUSE_S * sum(1 for paused in ends_paused[:-1] if not paused)
    return speech, pauses
