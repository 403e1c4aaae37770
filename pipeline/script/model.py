"""The script as a value: every event the language can write, and the ``Script`` that holds them.

Both front ends (plain text and SSML) produce these; nothing here parses or
knows about audio. Every event carries the ``Source`` it was written at.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..errors import ScriptError, ScriptWarning, Source
from .front_matter import Meta


@dataclass(frozen=True)
class Ramp:
    """A value, or a straight line from ``start`` to ``end`` until a section or over a duration."""

    start: float
    end: float | None = None
    until: str | None = None
    over_s: float | None = None

    def at(self, fraction: float) -> float:
        if self.end is None:
            return self.start
        fraction = min(max(fraction, 0.0), 1.0)
        return self.start + (self.end - self.start) * fraction


@dataclass(frozen=True)
class Pause:
    """A silence the writer asked for: seconds, or a number of breaths of the breath clock."""

    seconds: float
    source: Source
    breaths: float = 0.0


@dataclass(frozen=True)
class Break:
    """An implicit boundary whose length comes from the pause defaults."""

    kind: str  # "sentence" | "paragraph" | "comma" | "ellipsis"
    source: Source


@dataclass(frozen=True)
class Section:
    """A heading: starts a named part of the session (a chapter)."""

    name: str
    source: Source


@dataclass(frozen=True)
class BreathCue:
    """Wait for the breath clock: the next full cycle, or the next inhale or exhale onset."""

    kind: str  # "cycle" | "inhale" | "exhale"
    source: Source


@dataclass(frozen=True)
class BreathPace:
    """Change the breath clock's rate (breaths per minute), at once or as a ramp."""

    pace: Ramp
    source: Source


@dataclass(frozen=True, kw_only=True)
class BedCue:
    """Crossfade to another bed (``name``), change its level (``gain_db``), or fade it out."""

    name: str | None
    gain_db: float | None
    fade_s: float
    source: Source
    off: bool = False


@dataclass(frozen=True, kw_only=True)
class ToneCue:
    """Start, ramp or stop an entrainment tone."""

    kind: str  # "binaural" | "isochronic" | "off"
    beat: Ramp | None
    carrier_hz: float
    fade_s: float
    source: Source


@dataclass(frozen=True)
class At:
    """Start the next phrase at this absolute time."""

    seconds: float
    source: Source


@dataclass(frozen=True)
class End:
    """The track ends at this absolute time: after the last word the bed runs on until then (a sleep session's
    hours of rain). Nothing but breaks may follow it."""

    seconds: float
    source: Source


@dataclass(frozen=True)
class Mark:
    """A named point on the timeline (from SSML ``<mark>`` or ``[mark NAME]``)."""

    name: str
    source: Source


@dataclass(frozen=True)
class Insert:
    """An audio file placed in the voice track, like a phrase."""

    path: str
    source: Source

    @property
    def label(self) -> str:
        """How it reads in timelines and previews."""
        return f"[sound {self.path}]"


@dataclass(frozen=True)
class VoicingCue:
    """Changes how the following phrases are spoken; resolved onto each phrase by the parser."""

    kind: str  # "rate" | "pitch_st" | "volume_db" | "pan" | "voice" | "together"
    value: Ramp | str | None
    source: Source


@dataclass(frozen=True)
class Emphasis:
    """Where ``*emphasis*`` opens or closes in the text being gathered (the parser's; it becomes a ``WordSpan``)."""

    opens: bool
    source: Source


@dataclass(frozen=True)
class WordSpan:
    """Part of a sentence said louder, softer or higher than the rest, without cutting the sentence: characters
    ``start``–``end`` of its text, placed on its audio by the speech stage."""

    start: int
    end: int
    volume_db: float = 0.0
    pitch_st: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Phrase:
    """One sentence to speak, with how to speak it: the unit of synthesis, caching and captions."""

    text: str
    source: Source
    voice: str = "default"
    rate: float = 1.0
    """Relative to the voice preset's own rate (front-matter ``rate`` × ``[rate]`` cues)."""
    natural_rate: float = 0.0
    """SSML ``<prosody rate>``: a share of the voice's natural speed, in place of the preset's rate (0: none)."""
    pitch_st: float = 0.0
    volume_db: float = 0.0
    pan: float = 0.0
    """−1 is hard left, +1 hard right."""
    together: bool = False
    """Starts with the previous phrase instead of after it (layered voices)."""
    emphasis: bool = False
    """The whole sentence written between asterisks: spoken a little slower and louder (see EMPHASIS_*)."""
    inline: tuple[tuple[int, VoicingCue | Mark], ...] = ()
    """Volume, pitch and mark cues written inside the sentence, at their character offset in ``text``: the
    parser's; voicing turns them into ``spans`` and ``word_marks``."""
    spans: tuple[WordSpan, ...] = ()
    """The parts said louder, softer or higher: emphasised words (from the parser), then volume and pitch cues."""
    word_marks: tuple[tuple[int, Mark], ...] = ()
    """Marks inside the sentence, at the character offset of the word they stand before."""
    lexicon: tuple[tuple[str, str], ...] = ()
    """Words of this sentence with their own pronunciation (SSML ``<phoneme>``): word → IPA phonemes, said by
    voices that take phonemes, over any lexicon's entry for the word."""
    lexicon_at: tuple[tuple[Source, ...], ...] = field(default=(), compare=False, repr=False)
    """Where each of ``lexicon``'s phonemes was written, one place per character of its IPA (an X-SAMPA symbol's
    characters all at that symbol), so a phoneme the voice lacks is reported where it stands."""
    places: tuple[tuple[int, Source], ...] = field(default=(), compare=False, repr=False)
    """Where each written piece of ``text`` starts (its offset in ``text``, its place in the file): a sentence
    runs across lines, and each character of a variable's value stands where ``{name}`` is written. Empty: all from
    ``source``."""

    def source_at(self, offset: int) -> Source:
        """Where the character at ``offset`` of ``text`` was written."""
        if not self.places:
            return Source(self.source.path, self.source.line, self.source.col + offset)
        i = max(bisect.bisect_right([start for start, _ in self.places], offset) - 1, 0)
        start, base = self.places[i]
        return Source(base.path, base.line, base.col + max(offset - start, 0))


Event = Phrase | Pause | Break | Section | BreathCue | BreathPace | BedCue | ToneCue | At | End | Mark | Insert


@dataclass(frozen=True, kw_only=True)
class Script:
    path: str
    meta: Meta
    events: tuple[Event, ...]
    uses: tuple[str, ...] = ()
    """The variables the text refers to (so only their values make a render stale)."""
    warnings: tuple[ScriptWarning, ...] = ()
    """What was repaired or ignored on the way in (double-encoded text, say): reported, never fatal."""

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        return tuple(e for e in self.events if isinstance(e, Phrase))

    @property
    def utterances(self) -> tuple[Phrase | Insert, ...]:
        """What the voice track holds, in order: spoken phrases and inserted sounds."""
        return tuple(e for e in self.events if isinstance(e, (Phrase, Insert)))

    @property
    def voices(self) -> dict[str, Source]:
        """Every voice preset the script speaks with → where it is first used."""
        used: dict[str, Source] = {}
        for phrase in self.phrases:
            used.setdefault(phrase.voice, phrase.source)
        return used

    @property
    def sections(self) -> tuple[Section, ...]:
        return tuple(e for e in self.events if isinstance(e, Section))


class ScriptErrors(ScriptError):
    """Several problems in one script; ``errors`` holds each, in file order."""

    def __init__(self, errors: list[ScriptError], meta=None, script: Script | None = None):
        errors = sorted(errors, key=lambda e: (e.source.line, e.source.col) if e.source else (0, 0))
        super().__init__(errors[0].message, errors[0].source)
        self.errors = errors
        self.meta = meta
        """The front matter as read, where it was: lint checks the presets it names even when the body failed."""
        self.script = script
        """The script as far as it could be read (its mistakes left out or read as text): what the later checks
        (presets, characters, phonemes, rates, files) look at, so one run reports every mistake in a file."""
