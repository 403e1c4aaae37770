"""Captions (WebVTT and SRT, one cue per phrase, times from the timeline) and a plain transcript."""

from __future__ import annotations

from ..audio import SAMPLE_RATE, clock
from ..pacing import Timeline


def _stamp(frame: int, separator: str) -> str:
    return clock(frame / SAMPLE_RATE, hours=True, separator=separator)


def _spoken(timeline: Timeline):
    return [p for p in timeline.phrases if p.voice]  # sounds have no words to caption


def webvtt(timeline: Timeline) -> str:
    cues = [f"{_stamp(p.heard_start, '.')} --> {_stamp(p.heard_end, '.')}\n{p.text}" for p in _spoken(timeline)]
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def srt(timeline: Timeline) -> str:
    cues = [
        f"{n}\n{_stamp(p.heard_start, ',')} --> {_stamp(p.heard_end, ',')}\n{p.text}"
        for n, p in enumerate(_spoken(timeline), start=1)
    ]
    return "\n\n".join(cues) + "\n"


def transcript(title: str, timeline: Timeline) -> str:
    """The words as read, under their section headings."""
    lines, sections = [f"# {title}", ""], list(timeline.sections)
    current: list[str] = []
    for phrase in _spoken(timeline):
        while sections and sections[0].start <= phrase.start:
            if current:
                lines += [" ".join(current), ""]
                current = []
            lines += [f"## {sections.pop(0).name}", ""]
        current.append(phrase.text)
    if current:
        lines.append(" ".join(current))
    return "\n".join(lines).rstrip() + "\n"
