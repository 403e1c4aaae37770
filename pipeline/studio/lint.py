"""Lint for text being edited: what ``drift lint --style`` says of a script, said of the text in the editor before
it is saved, with no copy written anywhere.

It is ``job.lint`` followed by ``draft.check.lint_with_style``, step for step, over text instead of a file: the same
front end, the same resolve (presets, files the script names, phrases its voices can say), the same placing with
silent clips, the same style warnings. ``tests/test_studio.py`` holds it to ``lint_with_style`` on every library
script and on broken ones, so it cannot drift into a second parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..draft.style import style_warnings
from ..errors import DriftError, ScriptWarning
from ..files import text_sha256
from ..job import RenderOptions, _setting_errors, resolve
from ..pacing import place
from ..script import ScriptErrors, parse_ssml, parse_text
from ..script.load import repair_double_encoding

_HINT = re.compile(r"\s*\((did you mean [^)]*)\)")


@dataclass(frozen=True)
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

    @classmethod
    def of(cls, problem: DriftError) -> "Diagnostic":
        source = problem.source
        hint = _HINT.search(problem.message)
        message = _HINT.sub("", problem.message, count=1) if hint else problem.message
        return cls(source.line if source else 0, source.col if source else 0, message,
                   hint.group(1) + "?" if hint and not hint.group(1).endswith("?") else (hint.group(1) if hint else ""),
                   "warning" if isinstance(problem, ScriptWarning) else "error")


def lint_text(text: str, path: Path, options: RenderOptions = RenderOptions()) -> list[DriftError]:
    """Every problem ``drift lint --style`` would report for ``path`` if it held ``text``."""
    problems = _lint(text, Path(path), options)
    if Path(path).suffix == ".ssml" or any(not isinstance(p, ScriptWarning) for p in problems):
        return problems  # as lint_with_style: SSML is imported, not written to our guide; errors come first
    return [*problems, *style_warnings(str(path), text)]


def _lint(text: str, path: Path, options: RenderOptions) -> list[DriftError]:
    """``job.lint`` over text: parse_file's repair and front end, then prepare's resolve, then the silent placing."""
    front_end = parse_ssml if path.suffix == ".ssml" else parse_text
    repaired, repairs = repair_double_encoding(text, str(path))
    try:
        try:
            script = front_end(repaired, str(path), options.variables, dict(options.script_defaults))
        except ScriptErrors as errors:
            raise ScriptErrors([*repairs, *errors.errors], errors.meta) from None
        script = replace(script, warnings=(*repairs, *script.warnings))
        job = resolve(script, options, path.stem, text_sha256(text))
        place(job.script, [0] * len(job.script.utterances), job.pauses)
        return list(job.script.warnings)
    except ScriptErrors as errors:
        found = [*errors.errors, *_setting_errors(errors.meta, options)]
        return sorted(found, key=lambda e: (e.source.line or 0, e.source.col or 0) if e.source else (0, 0))
    except DriftError as error:
        return [error]
