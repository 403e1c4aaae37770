"""Writing a drafted script: checked by lint and the style check before it has its name, written atomically,
and never over a different script of the same name. The description is written only when asked (``keep``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError, ScriptWarning
from ..files import atomic_path
from .check import lint_with_style
from .compose import Draft
from .intake import Intake


def write_draft(draft: Draft, folder: Path, keep: Intake | None = None) -> Path:
    """The script's path in ``folder``: ``THEME-SITUATION.txt``, or ``-2``, ``-3``… beside a different one."""
    path = _free_name(folder, draft.name, draft.script)
    with atomic_path(path) as tmp:
        tmp.write_text(draft.script, encoding="utf-8")
        problems = lint_with_style(tmp)
        if problems:
            first = problems[0]
            kind = "style" if isinstance(first, ScriptWarning) else "lint"
            raise ConfigError(
                f"the drafted script failed {kind} ({len(problems)} problem(s); the first: {first.message}): "
                "the drafting bank needs mending",
                first.source,
            )
    if keep is not None:
        with atomic_path(path.with_suffix(".intake.yaml")) as tmp:
            record = {
                "description": keep.description,
                **{k: v for k, v in keep.settings().items() if v not in (None, ())},
            }
            tmp.write_text(
                "# Kept at the listener's request (--keep-intake): personal, do not share.\n"
                + "\n".join(
                    f"{k}: {json.dumps(list(v) if isinstance(v, tuple) else v, ensure_ascii=False)}"
                    for k, v in record.items()
                )
                + "\n",
                encoding="utf-8",
            )
    return path


def _free_name(folder: Path, stem: str, text: str) -> Path:
    for n in range(1, 1000):
        path = folder / (f"{stem}.txt" if n == 1 else f"{stem}-{n}.txt")
        try:
            if not path.exists() or path.read_text(encoding="utf-8") == text:
                return path
        except (OSError, UnicodeDecodeError):
            continue
    raise ConfigError("a thousand drafts of this name already: choose another folder with -o", None)
