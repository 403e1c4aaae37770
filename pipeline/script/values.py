"""The small values the language is written with: lengths of time and other amounts with a unit.

Front matter, cues, SSML attributes and the CLI's own options all read
lengths here, so ``2s``, ``750ms``, ``3m`` and ``12:00`` mean the same everywhere;
the CLI's ages and sizes (``30d``, ``500MB``) are read by the same rule.
"""

from __future__ import annotations

import re

_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_amount(text: str, units: dict[str, float], any_case: bool = False) -> float | None:
    """A number and one of ``units`` (each the size of one), spaces allowed between: ``parse_amount('2 GB',
    {'gb': 2**30}, any_case=True)`` → 2147483648.0; None if it is not one."""
    if not (match := _AMOUNT.match(text.strip())):
        return None
    unit = match.group(2).lower() if any_case else match.group(2)
    return float(match.group(1)) * units[unit] if unit in units else None


def parse_duration(text: str) -> float | None:
    """'750ms' → 0.75, '3s' → 3.0, '2m' → 120.0, '1:30' → 90.0; None if it is not a duration."""
    text = text.strip()
    if (seconds := parse_amount(text, _UNIT_SECONDS)) is not None:
        return seconds
    if match := _CLOCK.match(text):
        hours, minutes, seconds = match.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return None
