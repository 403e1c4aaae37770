"""Script text → ``Script``: front matter, sections, phrases and every cue.

This module owns the script language (reference: docs/script-format.md). It
knows nothing about audio: it turns a file into a flat sequence of events,
each carrying the place in the file it came from, resolves how each phrase
is to be voiced (voice, rate, pitch, volume, pan), and reports *every*
mistake it finds as ``ScriptError``s naming file:line:col.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Union

from . import cues, meta as meta_module
from .cues import (At, BedCue, Break, BreathCue, BreathPace, Insert, Mark, Pause, Ramp, Section, ToneCue,
                   VoicingCue, did_you_mean, parse_duration)
from .errors import ScriptError, Source
from .meta import Meta

__all__ = ["Script", "Phrase", "Event", "ScriptErrors", "parse_text", "parse_file", "parse_duration", "SCRIPT_SUFFIXES",
           "Pause", "Break", "Section", "BreathCue", "BreathPace", "BedCue", "ToneCue", "At", "Mark", "Insert", "Ramp", "Meta"]

SCRIPT_SUFFIXES = (".txt", ".ssml")


@dataclass(frozen=True)
class Phrase:
    """One sentence to speak, with how to speak it: the unit of synthesis, caching and captions."""

    text: str
    source: Source
    voice: str = "default"
    rate: float = 1.0
    """Relative to the voice preset's own rate (front-matter ``rate`` × ``[rate]`` cues)."""
    pitch_st: float = 0.0
    volume_db: float = 0.0
    pan: float = 0.0
    """−1 is hard left, +1 hard right."""
    together: bool = False
    """Starts with the previous phrase instead of after it (layered voices)."""
    emphasis: bool = False
    """Written between asterisks: spoken a little slower and louder (see EMPHASIS_*)."""


EMPHASIS_RATE = 0.9
EMPHASIS_DB = 2.0


Event = Union[Phrase, Pause, Break, Section, BreathCue, BreathPace, BedCue, ToneCue, At, Mark, Insert]


@dataclass(frozen=True)
class Script:
    path: str
    meta: Meta
    events: tuple[Event, ...]
    uses: tuple[str, ...] = ()
    """The variables the text refers to (so only their values make a render stale)."""

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

    def __init__(self, errors: list[ScriptError]):
        errors = sorted(errors, key=lambda e: (e.source.line, e.source.col) if e.source else (0, 0))
        super().__init__(errors[0].message, errors[0].source)
        self.errors = errors


# --- body ----------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)[\"'”’)]*\s+(?=\S)")
_COMMA = re.compile(r",\s+")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "e.g", "i.e", "etc", "vs", "no"}
_VARIABLE = re.compile(r"\{([^{}]*)\}")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Paragraph:
    """Text gathered across lines until a cue or break, with a map back to its sources."""

    def __init__(self) -> None:
        self.text = ""
        self.starts: list[int] = []
        self.sources: list[Source] = []

    def add(self, text: str, source: Source) -> None:
        if not text:
            return
        self.starts.append(len(self.text))
        self.sources.append(source)
        self.text += text

    def source_at(self, offset: int) -> Source:
        i = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        base = self.sources[i]
        return Source(base.path, base.line, base.col + offset - self.starts[i])

    def flush(self, split_commas: bool, emphasis: bool = False) -> list:
        events: list = []
        for start, piece, kind in _pieces(self.text, split_commas):
            if events:
                events.append(Break(kind, self.source_at(start)))
            events.append(Phrase(piece, self.source_at(start), emphasis=emphasis))
        self.__init__()
        return events


def _pieces(text: str, split_commas: bool) -> list[tuple[int, str, str]]:
    """Split into (offset, phrase, kind of break before it): at sentence ends, ellipses and, if asked, commas."""
    cuts: list[tuple[int, int, str]] = []
    for match in _SENTENCE_END.finditer(text):
        word = text[: match.start()].rsplit(None, 1)[-1].rstrip(".").lower() if text[: match.start()].strip() else ""
        if word not in _ABBREVIATIONS and not text[: match.start()].endswith(("...", "…")):
            cuts.append((match.start(), match.end(), "sentence"))
    cuts += [(m.start() + len(m.group(0).rstrip()), m.end(), "ellipsis") for m in _ELLIPSIS.finditer(text)]
    if split_commas:
        cuts += [(m.start() + 1, m.end(), "comma") for m in _COMMA.finditer(text)]
    pieces, start, kind = [], 0, "sentence"
    for cut_start, cut_end, cut_kind in sorted(cuts):
        if cut_start < start:
            continue
        pieces.append((start, text[start:cut_start], kind))
        start, kind = cut_end, cut_kind
    pieces.append((start, text[start:], kind))
    result = []
    for offset, piece, piece_kind in pieces:
        stripped = piece.strip()
        if stripped and re.search(r"\w", stripped):
            result.append((offset + len(piece) - len(piece.lstrip()), stripped, piece_kind))
    return result


class _BodyParser:
    def __init__(self, path: str, meta: Meta, variables: dict[str, str], errors: list[ScriptError]):
        self.path = path
        self.meta = meta
        self.variables = variables
        self.errors = errors
        self.events: list = []
        self.paragraph = _Paragraph()
        self.emphasis_from: Source | None = None
        self.used: set[str] = set()

    def line(self, number: int, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            self.add_break("paragraph", Source(self.path, number, 1))
        elif stripped.startswith("//"):
            return
        elif heading := _HEADING.match(stripped):
            self._flush()
            self._close_emphasis()
            col = text.index("#") + 1
            if not heading.group(2):
                self._error("a heading needs a name, for example '## Induction'", number, col)
            else:
                self.events.append(Section(heading.group(2), Source(self.path, number, col)))
        else:
            self._text_line(number, text)

    def _error(self, message: str, line: int, col: int) -> None:
        self.errors.append(ScriptError(message, Source(self.path, line, col)))

    def _text_line(self, number: int, text: str) -> None:
        pos, first = 0, True
        while pos < len(text):
            open_at = text.find("[", pos)
            close_at = text.find("]", pos)
            if close_at != -1 and (open_at == -1 or close_at < open_at):
                self._error("']' without a matching '['", number, close_at + 1)
                text = text[:close_at] + " " + text[close_at + 1 :]
                continue
            end_of_text = len(text) if open_at == -1 else open_at
            self.add_text(text[pos:end_of_text], number, pos + 1, first)
            first = False
            if open_at == -1:
                return
            end = text.find("]", open_at)
            if end == -1:
                self._error("'[' starts a cue that is never closed with ']'", number, open_at + 1)
                return
            self._cue(number, open_at, text[open_at + 1 : end])
            pos = end + 1

    def add_text(self, text: str, number: int, col: int, new_line: bool) -> None:
        """Add literal text; each '*' opens or closes emphasis, which ends the phrase gathered so far."""
        for index, part in enumerate(text.split("*")):
            if index:
                self._flush()
                star = Source(self.path, number, col - 1)
                self.emphasis_from = None if self.emphasis_from else star
            self._add_plain(part, number, col, new_line and index == 0)
            col += len(part) + 1

    def _add_plain(self, text: str, number: int, col: int, new_line: bool) -> None:
        """Add literal text, replacing {variables} with their (plain-text) values."""
        pos = 0
        if new_line:
            lead = len(text) - len(text.lstrip())
            text, col = text[lead:], col + lead
            if self.paragraph.text and text:
                self.paragraph.text += " "
        for match in _VARIABLE.finditer(text):
            self.paragraph.add(text[pos : match.start()], Source(self.path, number, col + pos))
            value = self._variable(match.group(1).strip(), number, col + match.start())
            self.paragraph.add(value, Source(self.path, number, col + match.start()))
            pos = match.end()
        rest = text[pos:]
        for brace in ("{", "}"):
            if brace in rest:
                self._error(f"unmatched '{brace}' (variables are written {{name}})", number, col + pos + rest.index(brace))
                rest = rest.replace(brace, " ")
        self.paragraph.add(rest, Source(self.path, number, col + pos))

    def _variable(self, name: str, number: int, col: int) -> str:
        if not _VARIABLE_NAME.match(name):
            self._error(f"'{{{name}}}' is not a variable name (letters, digits and _)", number, col)
            return ""
        self.used.add(name)
        if name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none"
            self._error(f"variable '{name}' has no value: give it a default under 'vars:' or pass --vars (known: {known})",
                        number, col)
            return ""
        return " ".join(str(self.variables[name]).replace("[", "(").replace("]", ")").split())

    def _cue(self, number: int, open_at: int, body: str) -> None:
        where = Source(self.path, number, open_at + 1)
        lead = len(body) - len(body.lstrip())
        name, _, args = body.strip().partition(" ")
        parser = cues.CUES.get(name.lower())
        if parser is None:
            hint = did_you_mean(name.lower(), cues.CUES) or f" (known cues: {', '.join(sorted(cues.CUES))})"
            self.errors.append(ScriptError(f"unknown cue '[{body.strip()}]'{hint}", where))
            return
        stripped_args = args.strip()
        arg_col = open_at + 2 + lead + len(name) + (len(args) - len(args.lstrip())) + 1 if stripped_args else open_at + 1
        try:
            event = parser(stripped_args, where, Source(self.path, number, arg_col))
        except ScriptError as error:
            self.errors.append(error)
            return
        self.add_event(event)

    def add_event(self, event) -> None:
        """Cues end the phrase being gathered: what follows is spoken after (and as) they say."""
        self._flush()
        self.events.append(event)

    def _flush(self) -> None:
        pieces = self.paragraph.flush(self.meta.pauses.get("comma") is not None, self.emphasis_from is not None)
        if pieces and self._ended_a_sentence():
            self.events.append(Break("sentence", pieces[0].source))  # a cue between two sentences
        self.events.extend(pieces)

    def _ended_a_sentence(self) -> bool:
        for event in reversed(self.events):
            if isinstance(event, Phrase):
                return event.text.rstrip("\"'”’)").endswith((".", "!", "?", "…"))
            if isinstance(event, (Break, Pause)):
                return False
        return False

    def add_break(self, kind: str, source: Source) -> None:
        self._flush()
        self._close_emphasis()
        if self.events and isinstance(self.events[-1], Phrase):
            self.events.append(Break(kind, source))

    def _close_emphasis(self) -> None:
        if self.emphasis_from:
            self.errors.append(ScriptError("emphasis opened with '*' is not closed in its paragraph", self.emphasis_from))
            self.emphasis_from = None

    def finish(self) -> list:
        self._flush()
        self._close_emphasis()
        while self.events and isinstance(self.events[-1], Break):
            self.events.pop()
        return self.events


# --- voicing: rate, pitch, volume, voice, pan resolved onto each phrase ---------


def resolve_voicing(events: list, meta: Meta, errors: list[ScriptError]) -> list:
    """Replace voicing cues by their effect on each following phrase.

    Ramps are spread over the phrases they span: ``until SECTION`` reaches
    its end value at that section's first phrase; ``over 3m`` at the first
    phrase estimated to start 3 minutes later (speech at a nominal pace).
    """
    estimated = _estimated_starts(events)
    state = {"voice": meta.voice, "rate": Ramp(1.0), "pitch_st": Ramp(0.0), "volume_db": Ramp(0.0), "pan": Ramp(0.0)}
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
            values = {k: _ramp_value(state[k], spans.get(k), estimated[index]) for k in ("rate", "pitch_st", "volume_db", "pan")}
            values["rate"] *= meta.rate * (EMPHASIS_RATE if event.emphasis else 1.0)
            values["volume_db"] += EMPHASIS_DB if event.emphasis else 0.0
            event = replace(event, voice=state["voice"], together=together and bool(out), **values)
            together = False
        out.append(event)
    return out


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


# --- entry points --------------------------------------------------------------


def parse_text(text: str, path: str = "<script>", variables: dict[str, str] | None = None) -> Script:
    """Parse script text; raise ``ScriptErrors`` listing every problem found.

    ``variables`` (for example from ``--vars``) override the front matter's ``vars`` defaults.
    """
    errors: list[ScriptError] = []
    lines = text.splitlines()
    meta, body_start = meta_module.parse_front_matter(lines, path, errors)
    values = {**meta.vars, **{k: str(v) for k, v in (variables or {}).items()}}
    body = _BodyParser(path, meta, values, errors)
    for number in range(body_start, len(lines)):
        body.line(number + 1, lines[number])
    events = resolve_voicing(body.finish(), meta, errors)
    if not any(isinstance(e, (Phrase, Insert)) for e in events) and not errors:
        errors.append(ScriptError("script has no text to speak", Source(path, body_start + 1, 1)))
    if errors:
        raise ScriptErrors(errors)
    return Script(path=path, meta=meta, events=tuple(events), uses=tuple(sorted(body.used)))


def parse_file(path: str | Path, variables: dict[str, str] | None = None) -> Script:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError("no such script", Source(str(path))) from None
    except UnicodeDecodeError as exc:
        raise ScriptError(f"script is not UTF-8 text (byte {exc.start})", Source(str(path))) from None
    except OSError as exc:
        raise ScriptError(f"cannot read script: {exc.strerror}", Source(str(path))) from None
    if path.suffix == ".ssml":
        from .ssml import parse_ssml

        return parse_ssml(text, str(path), variables)
    return parse_text(text, str(path), variables)
