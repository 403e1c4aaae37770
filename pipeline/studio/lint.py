"""Lint for text being edited: exactly what ``drift lint --style`` says of a script, said of the text in the editor
before it is saved.

The text is written to a hidden copy beside the script, for as long as ``draft.check.lint_with_style`` takes to read
it (tens of milliseconds), so that everything the script names relative to its folder (inserted sounds, cover art)
is found as it will be, and what lint reports is what ``drift lint`` reports, by the same code: there is no second
parser to keep in step. The copy's name is not one a build looks for (``drift render FOLDER`` takes .txt and .ssml):
``parse_file`` reads any suffix but ``.ssml`` as plain text. An SSML script's copy must end in .ssml to be read as
SSML; it lives only while lint reads it.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..draft.check import lint_with_style
from ..errors import DriftError, ScriptWarning, Source

COPY_SUFFIX = ".studio-lint"
"""The hidden copy's suffix: parsed as plain text, and never taken for a script by a build."""
_HINT = re.compile(r"\s*\((did you mean [^)]*)\)")


@dataclass(frozen=True, kw_only=True)
class Diagnostic:
    """One problem as the editor shows it: on its line, its message, and the suggestion apart."""

    line: int
    """1-based, as in the file; 0: the problem belongs to the whole script."""
    col: int
    message: str
    hint: str
    """The "did you mean 'bed'?" of the message, or ""."""
    severity: str
    """"error" (it would not render) or "warning" (repaired, ignored, or the writing guide)."""
    file: str | None = None
    """Where the problem is when it is not in the script (a preset or lexicon it uses); None: in the script."""

    @classmethod
    def of(cls, problem: DriftError, script: Path) -> Diagnostic:
        source = problem.source
        elsewhere = source is not None and Path(source.path) != Path(script)
        hint = _HINT.search(problem.message)
        message = _HINT.sub("", problem.message, count=1) if hint else problem.message
        return cls(
            line=source.line if source else 0,
            col=source.col if source else 0,
            message=message,
            hint=(hint.group(1).rstrip("?") + "?") if hint else "",
            severity="warning" if isinstance(problem, ScriptWarning) else "error",
            file=source.path if elsewhere else None,
        )


def lint_text(text: str, path: Path) -> list[DriftError]:
    """Every problem ``drift lint --style`` would report for ``path`` if it held ``text``, placed in ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".ssml" if path.suffix == ".ssml" else COPY_SUFFIX
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    held = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        problems = lint_with_style(held)
    finally:
        held.unlink(missing_ok=True)
    return [_placed(problem, held, path) for problem in problems]


def _placed(problem: DriftError, held: Path, path: Path) -> DriftError:
    """The problem as if found in ``path`` itself (the copy's name appears nowhere the person sees)."""
    if problem.source is None or Path(problem.source.path) != held:
        return problem
    placed = copy.copy(problem)
    placed.source = Source(str(path), problem.source.line, problem.source.col)
    placed.message = problem.message.replace(str(held), str(path)).replace(held.name, path.name)
    placed.args = (placed.message,)
    return placed
