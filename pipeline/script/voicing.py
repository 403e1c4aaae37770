"""Voicing: rate, pitch, volume, pan and voice cues resolved onto each phrase they govern, ramps included."""

from __future__ import annotations

from dataclasses import replace

from ..errors import ScriptError, did_you_mean
from .front_matter import Meta
from .model import Mark, Pause, Phrase, Ramp, Section, VoicingCue, WordSpan

EMPHASIS_RATE = 0.9
EMPHASIS_DB = 2.0
"""``*Emphasis*`` is spoken this much slower and louder."""


def resolve_voicing(events: list, meta: Meta, errors: list[ScriptError]) -> list:
    """Replace voicing cues by their effect on each following phrase.

    Ramps are spread over the phrases they span: ``until SECTION`` reaches
    its end value at that section's first phrase; ``over 3m`` at the first
    phrase estimated to start 3 minutes later (speech at a nominal pace).
    """
    estimated = _estimated_starts(events)
    state = {
        "voice": meta.voice,
        "rate": Ramp(1.0),
        "natural_rate": Ramp(0.0),
        "pitch_st": Ramp(0.0),
        "volume_db": Ramp(0.0),
        "pan": Ramp(0.0),
    }
    spans: dict[str, tuple[float, float]] = {}
    together = False
    out: list = []
    for index, event in enumerate(events):
        if isinstance(event, VoicingCue):
            if event.kind == "together":
                together = True
            elif event.kind == "voice":
                state["voice"] = event.value
            else:
                state[event.kind] = event.value
                spans[event.kind] = _ramp_span(event, index, events, estimated, errors)
            continue
        if isinstance(event, Phrase):
            values = {
                k: _ramp_value(state[k], spans.get(k), estimated[index])
                for k in ("rate", "natural_rate", "pitch_st", "volume_db", "pan")
            }
            word_spans, word_marks = _inline(event, values)
            for _, cue in event.inline:  # a cue inside the sentence goes on for the phrases after it
                if isinstance(cue, VoicingCue):
                    state[cue.kind], spans[cue.kind] = cue.value, _ramp_span(cue, index, events, estimated, errors)
            values["rate"] *= meta.rate * (EMPHASIS_RATE if event.emphasis else 1.0)
            values["volume_db"] += EMPHASIS_DB if event.emphasis else 0.0
            event = replace(
                event,
                voice=state["voice"],
                together=together and bool(out),
                inline=(),
                spans=word_spans,
                word_marks=word_marks,
                **values,
            )
            together = False
        out.append(event)
    return out


def _inline(phrase: Phrase, values: dict) -> tuple[tuple, tuple]:
    """A sentence's held cues as spans of its words (after its emphasised ones) and marks at them: a volume or
    pitch cue holds from its word to the sentence's end, at its ramp's start value."""
    word_spans, word_marks, level = list(phrase.spans), [], dict(values)
    for offset, cue in phrase.inline:
        if isinstance(cue, Mark):
            word_marks.append((offset, cue))
        else:
            value = cue.value.start
            word_spans.append(WordSpan(offset, len(phrase.text), **{cue.kind: value - level[cue.kind]}))
            level[cue.kind] = value
    return tuple(word_spans), tuple(word_marks)


def _estimated_starts(events: list) -> list[float]:
    """A rough start time for each event, from word counts at 150 wpm and written pauses."""
    clock, starts = 0.0, []
    for event in events:
        starts.append(clock)
        if isinstance(event, Phrase):
            clock += len(event.text.split()) / 2.5 + 1.0
        elif isinstance(event, Pause):
            clock += event.seconds + event.breaths * 7.5
    return starts


def _ramp_span(cue: VoicingCue, index: int, events: list, estimated: list[float], errors) -> tuple[float, float]:
    ramp = cue.value
    start = estimated[index]
    if ramp.until is None:
        return start, start + (ramp.over_s or 0.0)
    for later in range(index + 1, len(events)):
        if isinstance(events[later], Section) and events[later].name.lower() == ramp.until.lower():
            return start, estimated[later]
    names = [e.name for e in events if isinstance(e, Section)]
    errors.append(ScriptError(f"no section '{ramp.until}' after this cue{did_you_mean(ramp.until, names)}", cue.source))
    return start, start


def _ramp_value(ramp: Ramp, span: tuple[float, float] | None, at: float) -> float:
    if ramp.end is None or span is None or span[1] <= span[0]:
        return ramp.end if ramp.end is not None and span is not None and at >= span[1] else ramp.start
    return ramp.at((at - span[0]) / (span[1] - span[0]))
