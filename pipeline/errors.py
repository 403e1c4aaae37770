"""The one exception hierarchy: every failure a user can cause, with where it happened.

The CLI prints each as a single ``file:line:col: message`` line; nothing else
escapes to the user as a traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A place in a user's file: 1-based line and column, as editors count them."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.col}"


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean 'bed'?)`` for the choice nearest a mistyped ``word``, or "" when none is near: every unknown
    name a user can type (a cue, a key, a preset, a format) is answered the same way."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class DriftError(Exception):
    """Base of every error the pipeline raises on purpose."""

    def __init__(self, message: str, source: Source | None = None):
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


class ScriptError(DriftError):
    """The script text itself is wrong (syntax, unknown cue, bad value)."""


class ScriptWarning(ScriptError):
    """Something in a script that was repaired or ignored: reported with its place, never fatal."""


class ConfigError(DriftError):
    """A preset, setting or option is wrong or names something that does not exist."""


class RenderError(DriftError):
    """Rendering failed for a reason outside the script (engine, disk, encoder)."""


def system_error(exc: OSError, where: str = "") -> RenderError:
    """An ``OSError`` as one line naming the path and the system's reason ("No space left on device")."""
    path = exc.filename or where or "scratch space ($TMPDIR)"
    return RenderError(f"{exc.strerror or exc}", Source(str(path)))
