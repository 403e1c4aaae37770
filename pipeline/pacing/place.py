"""Script + clip lengths → ``Timeline``: how long each silence is and where each phrase starts.

Explicit pauses win; otherwise the longest implicit break's default. Phrases
wait for the breath clock where asked (``[breath]``, ``[inhale]``,
``[exhale]``, pauses in breaths, exhale-synced phrases), honour absolute
anchors (``[at 12:00]``), and every pause stretches by one factor to meet a
target duration. ``[end 8:00:00]`` instead lets the bed run on after the last
word until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..audio import SAMPLE_RATE, clock, frames
from ..errors import ScriptError
from ..script import (
    NO_AMBIENCE,
    At,
    BedCue,
    Break,
    BreathCue,
    BreathPace,
    End,
    Insert,
    Mark,
    Pause,
    Phrase,
    Script,
    Section,
    ToneCue,
)
from .breath import BreathChange, BreathClock
from .timeline import BedChange, Marker, PlacedPhrase, Timeline, ToneChange

LEAD_IN_S = 6.0
"""Bed alone before the first word: time to arrive and settle."""
TAIL_S = 10.0
"""Bed alone after the last word, fading out."""
SECTION_LEAD_S = 1.0
"""A chapter starts this long before its first word, so a skip lands in silence, not mid-breath."""


@dataclass(frozen=True, kw_only=True)
class Pauses:
    """The silences a script does not write out: the length of each implicit break, in seconds."""

    sentence_s: float
    paragraph_s: float
    comma_s: float
    ellipsis_s: float
    edge_pad_s: float = 0.0
    """Quiet each clip carries at its ends: subtracted, so the silence *heard* is the pause asked for."""

    @classmethod
    def for_voice(cls, sentence_s: float, paragraph_s: float, overrides: dict[str, float], edge_pad_s: float) -> Pauses:
        """A voice's sentence and paragraph pauses (commas a quarter, ellipses 0.6 of a sentence's), overridden
        by a script's ``pauses:``."""
        lengths = {
            "sentence": sentence_s,
            "paragraph": paragraph_s,
            "comma": sentence_s / 4,
            "ellipsis": sentence_s * 0.6,
            **overrides,
        }
        return cls(
            sentence_s=lengths["sentence"],
            paragraph_s=lengths["paragraph"],
            comma_s=lengths["comma"],
            ellipsis_s=lengths["ellipsis"],
            edge_pad_s=edge_pad_s,
        )

    def of(self, kind: str) -> float:
        return getattr(self, f"{kind}_s")


def place(
    script: Script, clip_frames: Sequence[int], pauses: Pauses, anchors: Sequence[tuple[int, ...]] | None = None
) -> Timeline:
    """Lay out clips of these lengths (one per utterance) with the script's silences, then stretch to the
    target duration if one is set. ``anchors``: where each clip's marks inside its sentence fall (frames into
    the clip); without them such a mark lands where its sentence is first heard."""
    first = _Placer(script, clip_frames, pauses, {}, anchors).run(1.0)
    section_times = {m.name.lower(): m.start / SAMPLE_RATE for m in first.sections}
    placer = _Placer(script, clip_frames, pauses, section_times, anchors)
    timeline = placer.run(1.0)
    target = script.meta.duration_s
    return _fit(placer, timeline, target, script) if target else timeline


def _fit(placer: _Placer, natural: Timeline, target_s: float, script: Script) -> Timeline:
    """Stretch every pause by one factor so the track lasts ``target_s`` (the tail takes the last frames)."""
    target = frames(target_s)
    if natural.frames > target:
        raise ScriptError(
            f"the session needs at least {clock(natural.frames / SAMPLE_RATE)} but 'duration' is "
            f"{clock(target / SAMPLE_RATE)}: shorten pauses or raise the duration",
            script.meta.sources.get("duration"),
        )
    low, high = 1.0, 2.0
    while placer.run(high).frames < target and high < 1e4:
        low, high = high, high * 2
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if placer.run(middle).frames <= target else (low, middle)
    stretched = placer.run(low)
    return replace(stretched, frames=target)


class _Placer:
    """One pass over the script's events with a cursor; ``run(stretch)`` scales every pause."""

    def __init__(
        self,
        script: Script,
        clip_frames: Sequence[int],
        pauses: Pauses,
        section_times: dict[str, float],
        anchors: Sequence[tuple[int, ...]] | None = None,
    ):
        self.script = script
        self.clip_frames = clip_frames
        self.anchors = anchors
        self.pauses = pauses
        self.section_times = section_times

    def run(self, stretch: float) -> Timeline:
        self.stretch = stretch
        self.clock = BreathClock(self.script.meta.breath)
        self.cursor = frames(LEAD_IN_S)
        self.explicit_s = self.implicit_s = 0.0
        self.wait_for: str | None = None
        self.anchor: int | None = None
        self.last_start = self.cursor
        self.pending_sections: list[Section] = []
        self.placed: list[PlacedPhrase] = []
        self.sections: list[Marker] = []
        self.marks: list[Marker] = []
        self.beds: list[BedChange] = []
        self.tones: list[ToneChange] = []
        self.end: End | None = None
        for event in self.script.events:
            self._event(event)
        end = self.cursor + frames(self.explicit_s * stretch) + frames(TAIL_S * stretch)
        if self.end is not None:
            end = self._end_frame(end)
        meta = self.script.meta
        return Timeline(
            frames=end,
            phrases=tuple(self.placed),
            sections=tuple(self.sections),
            marks=tuple(self.marks),
            beds=tuple(self.beds),
            tones=tuple(self.tones),
            breath=self.clock,
            opening_bed=None if meta.ambience == NO_AMBIENCE else meta.ambience,
            seed=meta.seed,
        )

    def _event(self, event) -> None:
        if isinstance(event, Pause):
            self.explicit_s += event.seconds + event.breaths * 60 / self.clock.pace_at(self.cursor / SAMPLE_RATE)
        elif isinstance(event, Break):
            self.implicit_s = max(self.implicit_s, self.pauses.of(event.kind))
        elif isinstance(event, Section):
            self.pending_sections.append(event)
            self.implicit_s = max(self.implicit_s, self.pauses.paragraph_s)
        elif isinstance(event, BreathCue):
            self.wait_for = event.kind
        elif isinstance(event, BreathPace):
            self._breath_pace(event)
        elif isinstance(event, At):
            self._anchor(event)
        elif isinstance(event, End):
            self.end = event
        elif isinstance(event, Mark):
            self.marks.append(Marker(self._now(), event.name, event.source))
        elif isinstance(event, BedCue):
            self.beds.append(BedChange(self._now(), event))
        elif isinstance(event, ToneCue):
            self.tones.append(ToneChange(self._now(), event, self._ramp_frames(event.beat, self._now())))
        elif isinstance(event, (Phrase, Insert)):
            self._utterance(event)

    def _utterance(self, event) -> None:
        length = self.clip_frames[len(self.placed)]
        spoken = isinstance(event, Phrase)
        pad = frames(self.pauses.edge_pad_s) if spoken else 0  # a sound file is heard from its first frame
        together = spoken and event.together and self.placed
        start = self.last_start if together else self._gap_end(pad)
        for section in self.pending_sections:
            lead = start - frames(SECTION_LEAD_S)
            self.sections.append(Marker(0 if not self.placed else max(self.cursor, lead), section.name, section.source))
        volume, pan, voice = (event.volume_db, event.pan, event.voice) if spoken else (0.0, 0.0, "")
        text = event.text if spoken else event.label
        if spoken and event.word_marks:
            frames_in = self.anchors[len(self.placed)] if self.anchors else (pad,) * len(event.word_marks)
            self.marks += [
                Marker(start + at, mark.name, mark.source) for (_, mark), at in zip(event.word_marks, frames_in)
            ]
        self.placed.append(
            PlacedPhrase(
                start=start,
                frames=length,
                text=text,
                source=event.source,
                clip=len(self.placed),
                volume_db=volume,
                pan=pan,
                voice=voice,
                pad=pad,
            )
        )
        self.cursor = max(self.cursor, start + length)
        self.last_start = start
        self.explicit_s = self.implicit_s = 0.0
        self.wait_for, self.anchor, self.pending_sections = None, None, []

    def _now(self) -> int:
        """Where a cue lands: after the last sound and the pauses written since it, so that in
        ``[pause 30s] [bed off 60s]`` the bed fades once the 30 seconds have passed."""
        gap_s = self.explicit_s * self.stretch
        return self.cursor + (self._silence_frames(gap_s) if self.placed else frames(gap_s))

    def _silence_frames(self, gap_s: float) -> int:
        """Frames between two clips so the *heard* silence is ``gap_s``: each clip edge carries a quiet pad."""
        return max(frames(gap_s) - 2 * frames(self.pauses.edge_pad_s), 0)

    def _gap_end(self, pad: int) -> int:
        """Where the next clip may start: after the pause, at the anchor, or so that its first sound (``pad``
        frames in) is heard on the breath's onset."""
        if self.anchor is not None:  # the first sound is heard at the anchor
            return max(self.anchor - pad, self.cursor)
        implicit_s = self.implicit_s if self.placed else 0.0  # the lead-in already gives the first word room
        gap_s = (self.explicit_s if self.explicit_s > 0 else implicit_s) * self.stretch
        start = self.cursor + (self._silence_frames(gap_s) if self.placed else frames(gap_s))
        breath = self.script.meta.breath
        phase = {"inhale": 0.0, "exhale": breath.inhale_fraction, "cycle": None}.get(self.wait_for or "")
        t = start / SAMPLE_RATE
        if self.wait_for == "cycle":
            t = self.clock.next_onset(self.clock.next_onset(t, 0.0), breath.inhale_fraction)
        elif phase is not None:
            t = self.clock.next_onset(t, phase)
        elif breath.sync:  # every phrase under sync, the first one included
            t = self.clock.next_onset(t, breath.inhale_fraction)
        return max(start, frames(t) - pad) if self.wait_for or breath.sync else start

    def _anchor(self, event: At) -> None:
        anchor = frames(event.seconds)
        if anchor < self.cursor:
            raise ScriptError(
                f"[at {clock(anchor / SAMPLE_RATE)}] is earlier than the audio already placed, "
                f"which runs to {clock(self.cursor / SAMPLE_RATE)}",
                event.source,
            )
        self.anchor = anchor

    def _end_frame(self, natural: int) -> int:
        end = frames(self.end.seconds)
        if end < natural:
            raise ScriptError(
                f"[end {clock(self.end.seconds, 0, hours=True)}] is earlier than the session, which needs "
                f"{clock(natural / SAMPLE_RATE, 0, hours=True)} with its {TAIL_S:g} s tail",
                self.end.source,
            )
        return end

    def _breath_pace(self, event: BreathPace) -> None:
        now = self._now() / SAMPLE_RATE
        ramp = event.pace
        if ramp.end is None:
            change = BreathChange(now, ramp.start, ramp.start)
        else:
            change = BreathChange(now, ramp.start, ramp.end, self._ramp_frames(ramp, self._now()) / SAMPLE_RATE)
        self.clock = BreathClock(self.clock.breath, self.clock.changes + (change,))

    def _ramp_frames(self, ramp, at: int) -> int:
        if ramp is None or ramp.end is None:
            return 0
        if ramp.over_s is not None:
            return frames(ramp.over_s)
        end = self.section_times.get(ramp.until.lower())
        return max(frames(end) - at, 0) if end is not None else 0
