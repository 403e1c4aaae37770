"""The small values the language is written with: lengths of time, and "did you mean" for names.

Front matter, cues, SSML attributes and the CLI's own time options all read
lengths here, so ``2s``, ``750ms``, ``3m`` and ``12:00`` mean the same everywhere.
"""

from __future__ import annotations

import difflib
import re

_LENGTH = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """'750ms' → 0.75, '3s' → 3.0, '2m' → 120.0, '1:30' → 90.0; None if it is not a duration."""
    text = text.strip()
    if match := _LENGTH.match(text):
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if match := _CLOCK.match(text):
        hours, minutes, seconds = match.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return None


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
