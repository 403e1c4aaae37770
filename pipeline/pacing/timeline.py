"""The ``Timeline``: the whole score as a plain value — every phrase, section, mark, bed and tone change at an
exact frame, with the breath clock, the opening bed and the seed. Print it, test it, crop it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..audio import SAMPLE_RATE, clock, frames
from ..errors import Source
from ..script import BedCue, Breath, ToneCue
from .breath import BreathClock

CROP_MARGIN_S = 1.0
"""A cropped span keeps this much of the score either side of what was asked for."""


@dataclass(frozen=True, kw_only=True)
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
    pad: int = 0
    """Frames of quiet the clip carries at each edge (so soft consonants are not cut): the words are heard from
    ``start + pad`` to ``end - pad``, and timelines, captions and manifests give those times."""

    @property
    def end(self) -> int:
        return self.start + self.frames

    @property
    def heard_start(self) -> int:
        return self.start + self.pad

    @property
    def heard_end(self) -> int:
        return self.end - self.pad


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


@dataclass(frozen=True, kw_only=True)
class Timeline:
    """The whole score at SAMPLE_RATE: everything the mix needs besides the clips and the presets."""

    frames: int
    phrases: tuple[PlacedPhrase, ...]
    sections: tuple[Marker, ...]
    marks: tuple[Marker, ...] = ()
    beds: tuple[BedChange, ...] = ()
    tones: tuple[ToneChange, ...] = ()
    breath: BreathClock = BreathClock(Breath())
    opening_bed: str | None = None
    """The bed playing from the first frame (the script's ``ambience``; None: silence until a bed cue)."""
    seed: int = 0
    """Seeds every random texture of the beds: the same score sounds the same every time."""
    origin: int = 0
    """The frame of the whole score this one starts at (a cropped preview's place in its track)."""

    @property
    def duration_s(self) -> float:
        return self.frames / SAMPLE_RATE

    def speech_intervals(self) -> list[tuple[int, int]]:
        return [(p.start, p.end) for p in self.phrases]

    def describe(self) -> str:
        """A readable listing: one line per section, cue, breath and phrase, times in m:ss.mmm. A phrase shows
        when its first sound is heard and (indented) when its last ends, so the gaps are the silences heard."""
        rows = [(m.start, 0, f"## {m.name}") for m in self.sections]
        rows += [(m.start, 1, f"[mark {m.name}]") for m in self.marks]
        rows += [(b.start, 1, f"[bed {_describe_bed(b.cue)}]") for b in self.beds]
        rows += [(t.start, 1, f"[tone {_describe_tone(t)}]") for t in self.tones]
        rows += [(frames(c.start_s), 1, f"[breath pace {_describe_pace(c)}]") for c in self.breath.changes]
        rows += [(frames(t), 3, f"· {phase}") for t, phase in self.breath.onsets(self.duration_s)]
        rows += [(p.heard_start, 2, f"   {clock(p.heard_end / SAMPLE_RATE)}  {p.text}") for p in self.phrases]
        lines = [f"{clock(start / SAMPLE_RATE)}  {text}" for start, _, text in sorted(rows, key=lambda r: r[:2])]
        lines.append(f"{clock(self.frames / SAMPLE_RATE)}  (end)")
        return "\n".join(lines)


def _describe_bed(cue: BedCue) -> str:
    what = "off" if cue.off else cue.name or f"{cue.gain_db:+g}dB"
    return f"{what} {cue.fade_s:g}s"


def _describe_pace(change) -> str:
    if change.over_s <= 0:
        return f"{change.to_pace:g}/min"
    return f"{change.from_pace:g} -> {change.to_pace:g}/min over {change.over_s:g}s"


def _describe_tone(change: ToneChange) -> str:
    cue = change.cue
    if cue.beat is None:
        return f"off {cue.fade_s:g}s"
    ramp = f" -> {cue.beat.end:g}Hz over {change.ramp_frames / SAMPLE_RATE:g}s" if cue.beat.end is not None else ""
    return f"{cue.kind} {cue.beat.start:g}Hz{ramp} carrier {cue.carrier_hz:g}Hz"


def crop(timeline: Timeline, start: int, end: int) -> Timeline:
    """The part of a timeline in [start, end), widened to whole phrases and by a margin, shifted to start at 0.

    The bed playing at the new start opens it; a tone already gliding starts part-way through its glide."""
    inside = [p for p in timeline.phrases if p.start < end and p.end > start]
    if inside:
        start, end = min(start, inside[0].start), max(end, max(p.end for p in inside))
    start, end = max(0, start - frames(CROP_MARGIN_S)), min(timeline.frames, end + frames(CROP_MARGIN_S))
    shift = lambda frame: max(frame - start, 0)
    opening_bed = timeline.opening_bed
    for change in timeline.beds:
        if change.start <= start and change.cue.name and not change.cue.off:
            opening_bed = change.cue.name
    before = [t for t in timeline.tones if t.start < start]
    return replace(
        timeline,
        frames=end - start,
        phrases=tuple(replace(p, start=p.start - start) for p in inside),
        sections=tuple(
            replace(m, start=shift(m.start))
            for m in timeline.sections
            if m.start < end and _section_end(timeline, m) > start
        ),
        marks=tuple(replace(m, start=shift(m.start)) for m in timeline.marks if start <= m.start < end),
        beds=tuple(replace(b, start=shift(b.start)) for b in timeline.beds if start < b.start < end),
        tones=tuple(
            ([_tone_from(before[-1], start)] if before else [])
            + [_tone_from(t, start) for t in timeline.tones if start <= t.start < end]
        ),
        opening_bed=opening_bed,
        origin=timeline.origin + start,
    )


def _section_end(timeline: Timeline, marker: Marker) -> int:
    later = [m.start for m in timeline.sections if m.start > marker.start]
    return min(later) if later else timeline.frames


def _tone_from(change: ToneChange, start: int) -> ToneChange:
    """A tone change moved into the span; one that began before it starts at 0 with its glide partly done."""
    if change.start >= start:
        return replace(change, start=change.start - start)
    done = start - change.start
    beat = change.cue.beat
    if beat is not None and beat.end is not None and change.ramp_frames:
        progress = min(done / change.ramp_frames, 1.0)
        beat = replace(beat, start=beat.start + (beat.end - beat.start) * progress)
    return ToneChange(0, replace(change.cue, beat=beat), max(change.ramp_frames - done, 0))
