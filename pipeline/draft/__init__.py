"""Drafting: a person's description of a relationship challenge becomes a session script, or, where the
description shows danger, no session and a kind answer with where to turn.

The order is fixed: the safety screen first (``screen``), then understanding (``understand``: themes,
situation, the other person), then composition from the written bank (``bank``, ``compose``), whose text
is screened again on its way out and checked against the writing guide (``style``). A local or remote
language model (``llm``) may write two bounded slots; anything it writes is checked like the rest, and a
written variant stands in for whatever fails. The description is personal: nothing here logs or stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .bank import THEMES, load_bank
from .compose import Draft, SlotWriter, compose
from .intake import Intake, check_intake, make_intake, read_intake
from .screen import Answer, Verdict, answer_for
from .screen import screen as screen_description
from .style import style_warnings
from .understand import Understanding, understand_description

__all__ = [
    "THEMES",
    "Draft",
    "Intake",
    "Stopped",
    "Answer",
    "Understanding",
    "draft",
    "make_intake",
    "read_intake",
    "style_warnings",
    "understand_description",
    "screen_description",
]


@dataclass(frozen=True)
class Stopped:
    """A description the screen stopped: what was found (never the words), and the answer to give."""

    verdict: Verdict
    answer: Answer


def draft(
    intake: Intake, cache_dir: Path | None = None, writer: SlotWriter | None = None, resources: Path | None = None
) -> Draft | Stopped:
    """Screen, understand and compose. A stopped description gets its answer and nothing else is read."""
    check_intake(intake)
    verdict = screen_description(intake.description, cache_dir)
    if verdict.stopped:
        return Stopped(verdict, answer_for(verdict.category, resources))
    understanding = understand_description(intake.description, cache_dir, intake.themes)
    return compose(intake, understanding, load_bank(), writer)
