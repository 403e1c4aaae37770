"""Lint with the style check: scripts as ``drift lint`` reads them, and the drafting bank's modules, which are
sections with a header rather than scripts (their slots are filled with a sample before parsing)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, DriftError, ScriptError, ScriptWarning, Source
from ..job import lint
from ..script import ScriptErrors, parse_text
from .bank import SLOTS, load_bank, read_module
from .compose import known_words
from .screen import outgoing
from .style import style_warnings

SAMPLE_SLOTS = {
    "reflection": "When the day gets busy, the space between you can feel wide. [pause 3s]",
    "scene": "Perhaps it is an ordinary evening at home. [pause 3s]",
}
"""What stands in a slot while a module is parsed: as a composer would fill it."""


def is_module(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8").lstrip().splitlines()[:8]
    except (OSError, UnicodeDecodeError, IndexError):
        return False
    return bool(head) and head[0].strip() == "---" and any(line.startswith("phase:") for line in head)


def lint_module(path: Path) -> list[DriftError]:
    """A module's header and slots, and its body parsed as script markup, errors at the module's own lines."""
    try:
        module = read_module(path)
    except ConfigError as error:
        return [error]
    body = module.body
    for slot in SLOTS.values():
        body = body.replace("{{" + slot + "}}", SAMPLE_SLOTS[slot])
    text = "\n" * (module.body_line - 1) + body + "\n"
    try:
        parse_text(text, str(path), {"name": "friend", "partner": "your partner"})
    except ScriptErrors as errors:
        return list(errors.errors)
    return [
        ScriptError(
            f"a session must not say this: {finding.what} ('{finding.words}')", _where(path, text, finding.words)
        )
        for finding in outgoing(module.body, set(), known_words(load_bank()))
    ]


def _where(path: Path, text: str, words: str) -> Source:
    offset = max(text.find(words), 0)
    line = text.count("\n", 0, offset) + 1
    return Source(str(path), line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def lint_with_style(path: Path) -> list[DriftError]:
    """Everything ``drift lint`` reports, then the style warnings, for a script or a module."""
    problems = lint_module(path) if is_module(path) else lint(path)
    if path.suffix == ".ssml" or any(not isinstance(p, ScriptWarning) for p in problems):
        return problems  # SSML is imported, not written to our guide; errors come first
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return problems  # lint has said what is wrong with reading it
    return [*problems, *style_warnings(str(path), text)]
