"""The one exception hierarchy: every failure a user can cause, with where it happened.

The CLI prints each as a single ``file:line:col: message`` line; nothing else
escapes to the user as a traceback.
"""

from __future__ import annotations

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
