"""Script + clip lengths → ``Timeline``: every phrase, section, bed and tone change at an exact frame.

This module owns time. It decides how long each silence is (explicit pauses
win; otherwise the longest implicit break's default), runs the listener's
breath clock (``[breath]``, ``[inhale]``, ``[exhale]``, pauses in breaths,
exhale-synced phrases), honours absolute anchors (``[at 12:00]``), and
stretches pauses to a target duration. The timeline is a plain value: print
it, test it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .audio import SAMPLE_RATE, frames
from .script import At, BedCue, Break, BreathCue, BreathPace, Insert, Mark, Pause, Section, ToneCue
from .errors import ScriptError, Source
from .script import Breath
from .script import Phrase, Script
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
    volume_db: float = 0.0
    pan: float = 0.0
    voice: str = ""
    """The voice preset that spoke it ("" for a sound): its chain is applied to it in the mix."""

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True)
class Marker:
    start: int
    name: str
    source: Source


@dataclass(frozen=True)
class BedChange:
    start: int
    cue: BedCue


@dataclass(frozen=True)
class ToneChange:
    start: int
    cue: ToneCue
    ramp_frames: int
    """Frames over which the beat moves from its start to its end value (0: at once)."""


@dataclass(frozen=True)
class BreathClock:
    """Breaths per minute over time: a base pace and (start_s, from, to, over_s) changes."""

    breath: Breath
    changes: tuple[tuple[float, float, float, float], ...] = ()

    def pace_at(self, t: float) -> float:
        pace = self.breath.pace
        for start, first, last, over in self.changes:
            if t >= start:
                pace = last if over <= 0 or t >= start + over else first + (last - first) * (t - start) / over
        return pace

    def cycles(self, t: float) -> float:
        """Breath cycles completed since the start of the track (exact for linear ramps)."""
        points = sorted({0.0, t, *[c[0] for c in self.changes if c[0] < t], *[c[0] + c[3] for c in self.changes if c[0] + c[3] < t]})
        total = 0.0
        for a, b in zip(points, points[1:]):
            total += (b - a) * (self.pace_at(a) + self.pace_at(b - 1e-9)) / 2 / 60
        return total

    def next_onset(self, t: float, phase: float) -> float:
        """The first time ≥ t at which a cycle reaches ``phase`` (0 = inhale onset, inhale_fraction = exhale onset)."""
        target = math.ceil(self.cycles(t) - phase - 1e-9) + phase
        low, high = t, t + 60 / 2.5  # a cycle lasts at most 20 s (3 breaths per minute)
        for _ in range(32):  # bisection: cycles(t) only grows; 32 halvings of 24 s is well under a frame
            middle = (low + high) / 2
            low, high = (middle, high) if self.cycles(middle) < target else (low, middle)
        return high

    def exhale_onsets(self, until_s: float) -> list[float]:
        onsets, t = [], self.next_onset(0.0, self.breath.inhale_fraction)
        while t < until_s:
            onsets.append(t)
            t = self.next_onset(t + 0.05, self.breath.inhale_fraction)
        return onsets


@dataclass(frozen=True)
class Timeline:
    sample_rate: int
    frames: int
    phrases: tuple[PlacedPhrase, ...]
    sections: tuple[Marker, ...]
    marks: tuple[Marker, ...] = ()
    beds: tuple[BedChange, ...] = ()
    tones: tuple[ToneChange, ...] = ()
    breath: BreathClock = BreathClock(Breath())

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def speech_intervals(self) -> list[tuple[int, int]]:
        return [(p.start, p.end) for p in self.phrases]

    def describe(self) -> str:
        """A readable listing: one line per section, cue and phrase, times in m:ss.mmm."""
        rows = [(m.start, 0, f"## {m.name}") for m in self.sections]
        rows += [(m.start, 1, f"[mark {m.name}]") for m in self.marks]
        rows += [(b.start, 1, f"[bed {_describe_bed(b.cue)}]") for b in self.beds]
        rows += [(t.start, 1, f"[tone {_describe_tone(t)}]") for t in self.tones]
        rows += [(p.start, 2, f"   {_clock(p.end, self.sample_rate)}  {p.text}") for p in self.phrases]
        lines = [f"{_clock(start, self.sample_rate)}  {text}" for start, _, text in sorted(rows, key=lambda r: r[:2])]
        lines.append(f"{_clock(self.frames, self.sample_rate)}  (end)")
        return "\n".join(lines)


def _describe_bed(cue: BedCue) -> str:
    what = "off" if cue.off else cue.name or f"{cue.gain_db:+g}dB"
    return f"{what} {cue.fade_s:g}s"


def _describe_tone(change: ToneChange) -> str:
    cue = change.cue
    if cue.beat is None:
        return f"off {cue.fade_s:g}s"
    ramp = f" -> {cue.beat.end:g}Hz over {change.ramp_frames / SAMPLE_RATE:g}s" if cue.beat.end is not None else ""
    return f"{cue.kind} {cue.beat.start:g}Hz{ramp} carrier {cue.carrier_hz:g}Hz"


def _clock(frame: int, rate: int) -> str:
    total = frame / rate
    return f"{int(total // 60):d}:{total % 60:06.3f}"


# --- placement ---------------------------------------------------------------------


def place(script: Script, clips: tuple[Clip, ...], voice: VoicePreset) -> Timeline:
    """Lay the clips out with the script's silences, then stretch to the target duration if one is set."""
    pauses = {"sentence": voice.sentence_pause_s, "paragraph": voice.paragraph_pause_s,
              "comma": voice.sentence_pause_s / 4, "ellipsis": voice.sentence_pause_s * 0.6, **script.meta.pauses}
    first = _Placer(script, clips, pauses, {}).run(1.0)
    section_times = {m.name.lower(): m.start / SAMPLE_RATE for m in first.sections}
    placer = _Placer(script, clips, pauses, section_times)
    timeline = placer.run(1.0)
    target = script.meta.duration_s
    return _fit(placer, timeline, target, script) if target else timeline


def _fit(placer: "_Placer", natural: Timeline, target_s: float, script: Script) -> Timeline:
    """Stretch every pause by one factor so the track lasts ``target_s`` (the tail takes the last frames)."""
    target = frames(target_s)
    if natural.frames > target:
        raise ScriptError(f"the session needs at least {_clock(natural.frames, SAMPLE_RATE)} but 'duration' is "
                          f"{_clock(target, SAMPLE_RATE)}: shorten pauses or raise the duration",
                          script.meta.sources.get("duration"))
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

    def __init__(self, script: Script, clips: tuple[Clip, ...], pauses: dict[str, float], section_times: dict[str, float]):
        self.script = script
        self.clips = clips
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
        for event in self.script.events:
            self._event(event)
        end = self.cursor + frames(self.explicit_s * stretch) + frames(TAIL_S * stretch)
        return Timeline(SAMPLE_RATE, end, tuple(self.placed), tuple(self.sections), tuple(self.marks),
                        tuple(self.beds), tuple(self.tones), self.clock)

    def _event(self, event) -> None:
        if isinstance(event, Pause):
            self.explicit_s += event.seconds + event.breaths * 60 / self.clock.pace_at(self.cursor / SAMPLE_RATE)
        elif isinstance(event, Break):
            self.implicit_s = max(self.implicit_s, self.pauses[event.kind])
        elif isinstance(event, Section):
            self.pending_sections.append(event)
            self.implicit_s = max(self.implicit_s, self.pauses["paragraph"])
        elif isinstance(event, BreathCue):
            self.wait_for = event.kind
        elif isinstance(event, BreathPace):
            self._breath_pace(event)
        elif isinstance(event, At):
            self._anchor(event)
        elif isinstance(event, Mark):
            self.marks.append(Marker(self._now(), event.name, event.source))
        elif isinstance(event, BedCue):
            self.beds.append(BedChange(self._now(), event))
        elif isinstance(event, ToneCue):
            self.tones.append(ToneChange(self._now(), event, self._ramp_frames(event.beat, self._now())))
        elif isinstance(event, (Phrase, Insert)):
            self._utterance(event)

    def _utterance(self, event) -> None:
        clip = self.clips[len(self.placed)]
        together = isinstance(event, Phrase) and event.together and self.placed
        start = self.last_start if together else self._gap_end()
        for section in self.pending_sections:
            lead = start - frames(SECTION_LEAD_S)
            self.sections.append(Marker(0 if not self.placed else max(self.cursor, lead), section.name, section.source))
        spoken = isinstance(event, Phrase)
        volume, pan, voice = (event.volume_db, event.pan, event.voice) if spoken else (0.0, 0.0, "")
        text = event.text if spoken else clip.text
        self.placed.append(PlacedPhrase(start, clip.frames, text, event.source, len(self.placed), volume, pan, voice))
        self.cursor = max(self.cursor, start + clip.frames)
        self.last_start = start
        self.explicit_s = self.implicit_s = 0.0
        self.wait_for, self.anchor, self.pending_sections = None, None, []

    def _now(self) -> int:
        """Where a cue lands: after the last sound and the pauses written since it, so that in
        ``[pause 30s] [bed off 60s]`` the bed fades once the 30 seconds have passed."""
        gap_s = self.explicit_s * self.stretch
        return self.cursor + (_silence_frames(gap_s) if self.placed else frames(gap_s))

    def _gap_end(self) -> int:
        """Where the next sound may start: after the pause, on the breath, at the anchor."""
        if self.anchor is not None:
            return self.anchor
        implicit_s = self.implicit_s if self.placed else 0.0  # the lead-in already gives the first word room
        gap_s = (self.explicit_s if self.explicit_s > 0 else implicit_s) * self.stretch
        start = self.cursor + (_silence_frames(gap_s) if self.placed else frames(gap_s))
        breath = self.script.meta.breath
        phase = {"inhale": 0.0, "exhale": breath.inhale_fraction, "cycle": None}.get(self.wait_for or "")
        t = start / SAMPLE_RATE
        if self.wait_for == "cycle":
            t = self.clock.next_onset(self.clock.next_onset(t, 0.0), breath.inhale_fraction)
        elif phase is not None:
            t = self.clock.next_onset(t, phase)
        elif breath.sync and self.placed:
            t = self.clock.next_onset(t, breath.inhale_fraction)
        return max(start, frames(t)) if self.wait_for or breath.sync else start

    def _anchor(self, event: At) -> None:
        anchor = frames(event.seconds)
        if anchor < self.cursor:
            raise ScriptError(f"[at {_clock(anchor, SAMPLE_RATE)}] is earlier than the audio already placed, "
                              f"which runs to {_clock(self.cursor, SAMPLE_RATE)}", event.source)
        self.anchor = anchor

    def _breath_pace(self, event: BreathPace) -> None:
        now = self._now() / SAMPLE_RATE
        ramp = event.pace
        if ramp.end is None:
            change = (now, ramp.start, ramp.start, 0.0)
        else:
            change = (now, ramp.start, ramp.end, self._ramp_frames(ramp, self._now()) / SAMPLE_RATE)
        self.clock = BreathClock(self.clock.breath, self.clock.changes + (change,))

    def _ramp_frames(self, ramp, at: int) -> int:
        if ramp is None or ramp.end is None:
            return 0
        if ramp.over_s is not None:
            return frames(ramp.over_s)
        end = self.section_times.get(ramp.until.lower())
        return max(frames(end) - at, 0) if end is not None else 0


def _silence_frames(gap_s: float) -> int:
    """Frames between two clips so the *heard* silence is ``gap_s``: each clip edge carries a quiet pad."""
    return max(frames(gap_s) - 2 * frames(EDGE_PAD_S), 0)
