"""Script + clip lengths → ``Timeline``: every phrase and section at an exact frame.

This module owns time. It decides how long each silence is (explicit pauses
win; otherwise the longest implicit break's default from the voice preset),
how much bed plays before the first word and after the last, and where each
section (chapter) begins. The timeline is a plain value: print it, test it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .audio import SAMPLE_RATE, frames
from .errors import Source
from .parse import Break, Pause, Phrase, Script, Section
from .speech import EDGE_PAD_S, Clip, VoicePreset

LEAD_IN_S = 6.0
"""Bed alone before the first word: time to arrive and settle."""
TAIL_S = 10.0
"""Bed alone after the last word, fading out."""
SECTION_LEAD_S = 1.0
"""A chapter starts this long before its first word, so a skip lands in silence, not mid-breath."""


@dataclass(frozen=True)
class PlacedPhrase:
    start: int
    frames: int
    text: str
    source: Source
    clip: int
    """Index into the clips the speech stage returned."""

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True)
class Marker:
    start: int
    name: str
    source: Source


@dataclass(frozen=True)
class Timeline:
    sample_rate: int
    frames: int
    phrases: tuple[PlacedPhrase, ...]
    sections: tuple[Marker, ...]

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def speech_intervals(self) -> list[tuple[int, int]]:
        return [(p.start, p.end) for p in self.phrases]

    def describe(self) -> str:
        """A readable listing: one line per section and phrase, times in m:ss.mmm."""
        rows = [(m.start, f"## {m.name}") for m in self.sections]
        rows += [(p.start, f"   {_clock(p.end, self.sample_rate)}  {p.text}") for p in self.phrases]
        rows.sort(key=lambda row: (row[0], not row[1].startswith("##")))
        lines = [f"{_clock(start, self.sample_rate)}  {text}" for start, text in rows]
        lines.append(f"{_clock(self.frames, self.sample_rate)}  (end)")
        return "\n".join(lines)


def _clock(frame: int, rate: int) -> str:
    total = frame / rate
    return f"{int(total // 60):d}:{total % 60:06.3f}"


def _silence_frames(gap_s: float) -> int:
    """Frames between two clips so the *heard* silence is ``gap_s``: each clip edge carries a quiet pad."""
    return max(frames(gap_s) - 2 * frames(EDGE_PAD_S), 0)


def place(script: Script, clips: tuple[Clip, ...], voice: VoicePreset) -> Timeline:
    """Lay the clips end to end with the script's silences between them."""
    implicit = {"sentence": voice.sentence_pause_s, "paragraph": voice.paragraph_pause_s}
    cursor = frames(LEAD_IN_S)
    explicit_s, implicit_s = 0.0, 0.0
    phrases: list[PlacedPhrase] = []
    pending_sections: list[Section] = []
    sections: list[Marker] = []
    for event in script.events:
        if isinstance(event, Pause):
            explicit_s += event.seconds
        elif isinstance(event, Break):
            implicit_s = max(implicit_s, implicit[event.kind])
        elif isinstance(event, Section):
            pending_sections.append(event)
            implicit_s = max(implicit_s, implicit["paragraph"])
        elif isinstance(event, Phrase):
            gap_s = explicit_s if explicit_s > 0 else (implicit_s if phrases else 0.0)
            start = cursor + (_silence_frames(gap_s) if phrases else frames(gap_s))
            for section in pending_sections:
                section_start = 0 if not phrases else max(cursor, start - frames(SECTION_LEAD_S))
                sections.append(Marker(section_start, section.name, section.source))
            clip = clips[len(phrases)]
            phrases.append(PlacedPhrase(start, clip.frames, event.text, event.source, len(phrases)))
            cursor = start + clip.frames
            explicit_s, implicit_s, pending_sections = 0.0, 0.0, []
    total = cursor + frames(explicit_s) + frames(TAIL_S)
    return Timeline(SAMPLE_RATE, total, tuple(phrases), tuple(sections))
