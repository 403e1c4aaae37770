"""Script text → ``Script``: front matter, sections, phrases, pauses and breaks.

This module owns the script language. It knows nothing about audio: it turns
a file into a flat sequence of events, each carrying the place in the file it
came from, and reports *every* mistake it finds (not just the first) as
``ScriptError``s naming file:line:col.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

import yaml

from .errors import ScriptError, Source

SCRIPT_SUFFIXES = (".txt",)


# --- the model ---------------------------------------------------------------


@dataclass(frozen=True)
class Meta:
    """Front matter. Every field has a default so a bare text file is a script."""

    title: str
    voice: str = "default"
    ambience: str = "hearth"
    profile: str = "podcast"
    seed: int = 0
    sources: dict[str, Source] = field(default_factory=dict, compare=False, repr=False)
    """Where each key was written, so later stages can point at a bad value."""


@dataclass(frozen=True)
class Phrase:
    """One sentence to speak: the unit of synthesis, caching and captions."""

    text: str
    source: Source


@dataclass(frozen=True)
class Pause:
    """An explicit silence the writer asked for, in seconds of no speech."""

    seconds: float
    source: Source


@dataclass(frozen=True)
class Break:
    """An implicit boundary whose length comes from the voice's pause defaults."""

    kind: str  # "sentence" | "paragraph"
    source: Source


@dataclass(frozen=True)
class Section:
    """A heading: starts a named part of the session (a chapter)."""

    name: str
    source: Source


Event = Union[Phrase, Pause, Break, Section]


@dataclass(frozen=True)
class Script:
    path: str
    meta: Meta
    events: tuple[Event, ...]

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        return tuple(e for e in self.events if isinstance(e, Phrase))


class ScriptErrors(ScriptError):
    """Several problems in one script; ``errors`` holds each, in file order."""

    def __init__(self, errors: list[ScriptError]):
        super().__init__(errors[0].message, errors[0].source)
        self.errors = errors


# --- front matter ------------------------------------------------------------

_META_TYPES: dict[str, type] = {"title": str, "voice": str, "ambience": str, "profile": str, "seed": int}


def _split_front_matter(lines: list[str]) -> tuple[list[str], int, bool]:
    """Return the front-matter lines, the index of the first body line, and whether it was closed."""
    if not lines or lines[0].strip() != "---":
        return [], 0, True
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return lines[1:i], i + 1, True
    return lines[1:], len(lines), False


def _parse_meta(path: str, lines: list[str], errors: list[ScriptError]) -> Meta:
    title = Path(path).stem.replace("-", " ").replace("_", " ").capitalize()
    if not lines:
        return Meta(title=title)
    text = "\n".join(lines)
    try:
        node = yaml.compose(text)
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Source(path, mark.line + 2, mark.column + 1) if mark else Source(path, 1, 1)
        errors.append(ScriptError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", where))
        return Meta(title=title)
    if values is None:
        return Meta(title=title)
    if not isinstance(values, dict):
        errors.append(ScriptError("front matter must be 'key: value' lines", Source(path, 2, 1)))
        return Meta(title=title)
    sources = {
        key.value: Source(path, value.start_mark.line + 2, value.start_mark.column + 1)
        for key, value in node.value
    }
    key_sources = {key.value: Source(path, key.start_mark.line + 2, key.start_mark.column + 1) for key, _ in node.value}
    fields: dict[str, object] = {"title": title}
    for key, value in values.items():
        where = sources.get(key, Source(path, 2, 1))
        if key not in _META_TYPES:
            hint = _did_you_mean(key, _META_TYPES)
            errors.append(ScriptError(f"unknown front-matter key '{key}'{hint}", key_sources.get(key, where)))
        elif not isinstance(value, _META_TYPES[key]) or isinstance(value, bool):
            errors.append(ScriptError(f"'{key}' must be {_META_TYPES[key].__name__}, got {value!r}", where))
        else:
            fields[key] = value.strip() if isinstance(value, str) else value
    return Meta(**fields, sources=sources)


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- cues ----------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}


def parse_duration(text: str) -> float | None:
    """'750ms' → 0.75, '3s' → 3.0, '2m' → 120.0; None if it is not a duration."""
    match = _DURATION.match(text.strip())
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def _cue_pause(args: str, where: Source, arg_where: Source) -> Event:
    if not args:
        raise ScriptError("pause needs a length, for example [pause 2s] or [pause 750ms]", where)
    seconds = parse_duration(args)
    if seconds is None:
        raise ScriptError(f"bad pause length '{args}': write it like 2s, 1.5s or 750ms", arg_where)
    if seconds <= 0 or seconds > 600:
        raise ScriptError(f"pause length {args} is outside 0–10 minutes", arg_where)
    return Pause(seconds, where)


CUES: dict[str, Callable[[str, Source, Source], Event]] = {"pause": _cue_pause}
"""Cue name → handler(args, cue source, argument source). New cues register here."""


# --- body ----------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "e.g", "i.e", "etc", "vs", "no"}


class _Paragraph:
    """Text gathered across lines until a cue or break, with a map back to its sources."""

    def __init__(self) -> None:
        self.text = ""
        self.starts: list[int] = []
        self.sources: list[Source] = []

    def add(self, text: str, source: Source) -> None:
        if not text.strip():
            return
        if self.text:
            self.text += " "
        lead = len(text) - len(text.lstrip())
        self.starts.append(len(self.text))
        self.sources.append(Source(source.path, source.line, source.col + lead))
        self.text += text.strip()

    def source_at(self, offset: int) -> Source:
        i = bisect.bisect_right(self.starts, offset) - 1
        base = self.sources[i]
        return Source(base.path, base.line, base.col + offset - self.starts[i])

    def flush(self) -> list[Event]:
        events: list[Event] = []
        for start, sentence in _sentences(self.text):
            if events:
                events.append(Break("sentence", self.source_at(start)))
            events.append(Phrase(sentence, self.source_at(start)))
        self.__init__()
        return events


def _sentences(text: str) -> list[tuple[int, str]]:
    """Split at sentence ends, keeping abbreviations like 'Dr.' inside the sentence."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        word = text[start : match.start()].rsplit(None, 1)[-1].rstrip(".").lower()
        if word in _ABBREVIATIONS:
            continue
        pieces.append((start, text[start : match.start()].strip()))
        start = match.end()
    if text[start:].strip():
        pieces.append((start, text[start:].strip()))
    return [(s, t) for s, t in pieces if t]


class _BodyParser:
    def __init__(self, path: str, errors: list[ScriptError]):
        self.path = path
        self.errors = errors
        self.events: list[Event] = []
        self.paragraph = _Paragraph()

    def line(self, number: int, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            self._flush()
            self._add_break("paragraph", Source(self.path, number, 1))
        elif stripped.startswith("//"):
            return
        elif heading := _HEADING.match(stripped):
            self._flush()
            col = text.index("#") + 1
            name = heading.group(2)
            if not name:
                self.errors.append(ScriptError("a heading needs a name, for example '## Induction'", Source(self.path, number, col)))
            else:
                self.events.append(Section(name, Source(self.path, number, col)))
        else:
            self._text_line(number, text)

    def _text_line(self, number: int, text: str) -> None:
        pos = 0
        while pos < len(text):
            open_at = text.find("[", pos)
            close_at = text.find("]", pos)
            if close_at != -1 and (open_at == -1 or close_at < open_at):
                self.errors.append(ScriptError("']' without a matching '['", Source(self.path, number, close_at + 1)))
                text = text[:close_at] + " " + text[close_at + 1 :]
                continue
            if open_at == -1:
                self.paragraph.add(text[pos:], Source(self.path, number, pos + 1))
                return
            self.paragraph.add(text[pos:open_at], Source(self.path, number, pos + 1))
            end = text.find("]", open_at)
            if end == -1:
                self.errors.append(ScriptError("'[' starts a cue that is never closed with ']'", Source(self.path, number, open_at + 1)))
                return
            self._cue(number, open_at, text[open_at + 1 : end])
            pos = end + 1

    def _cue(self, number: int, open_at: int, body: str) -> None:
        where = Source(self.path, number, open_at + 1)
        name, _, args = body.strip().partition(" ")
        handler = CUES.get(name.lower())
        if handler is None:
            hint = _did_you_mean(name.lower(), CUES) or f" (known cues: {', '.join(sorted(CUES))})"
            self.errors.append(ScriptError(f"unknown cue '[{body.strip()}]'{hint}", where))
            return
        arg_col = open_at + 2 + body.find(args) if args else open_at + 2
        try:
            event = handler(args.strip(), where, Source(self.path, number, arg_col))
        except ScriptError as error:
            self.errors.append(error)
            return
        self._flush()
        self.events.append(event)

    def _flush(self) -> None:
        self.events.extend(self.paragraph.flush())

    def _add_break(self, kind: str, source: Source) -> None:
        if self.events and isinstance(self.events[-1], Phrase):
            self.events.append(Break(kind, source))

    def finish(self) -> list[Event]:
        self._flush()
        while self.events and isinstance(self.events[-1], Break):
            self.events.pop()
        return self.events


# --- entry points --------------------------------------------------------------


def parse_text(text: str, path: str = "<script>") -> Script:
    """Parse script text; raise ``ScriptErrors`` listing every problem found."""
    errors: list[ScriptError] = []
    lines = text.splitlines()
    meta_lines, body_start, closed = _split_front_matter(lines)
    if not closed:
        errors.append(ScriptError("front matter opened with '---' is never closed", Source(path, 1, 1)))
    meta = _parse_meta(path, meta_lines, errors)
    body = _BodyParser(path, errors)
    for number in range(body_start, len(lines)):
        body.line(number + 1, lines[number])
    events = body.finish()
    if not any(isinstance(e, Phrase) for e in events) and not errors:
        errors.append(ScriptError("script has no text to speak", Source(path, body_start + 1, 1)))
    if errors:
        errors.sort(key=lambda e: (e.source.line, e.source.col) if e.source else (0, 0))
        raise ScriptErrors(errors)
    return Script(path=path, meta=meta, events=tuple(events))


def parse_file(path: str | Path) -> Script:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError("no such script", Source(str(path))) from None
    except UnicodeDecodeError as exc:
        raise ScriptError(f"script is not UTF-8 text (byte {exc.start})", Source(str(path))) from None
    except OSError as exc:
        raise ScriptError(f"cannot read script: {exc.strerror}", Source(str(path))) from None
    return parse_text(text, str(path))
