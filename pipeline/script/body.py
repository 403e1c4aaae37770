"""The body of a script as events: the builder both front ends feed.

Owns what text becomes once it is read: sentences, ellipses and (if asked)
commas cut into phrases with breaks between them, ``*emphasis*``,
``{variables}`` replaced by their values, each piece mapped back to where it
was written. A cue inside a sentence that needs no time (volume, pitch,
emphasis, a mark) stays inside it, at its character offset, so the sentence is
still spoken as one; any other cue ends the phrase gathered so far.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import replace

from ..audio import clock
from ..errors import ScriptError, Source
from .front_matter import Meta
from .model import (
    Break,
    Emphasis,
    End,
    Insert,
    Mark,
    Pause,
    Phrase,
    Script,
    ScriptErrors,
    VoicingCue,
    WordSpan,
)
from .voicing import EMPHASIS_DB, resolve_voicing

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)[\"'”’)]*\s+(?=\S)")
_COMMA = re.compile(r",\s+")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "e.g", "i.e", "etc", "vs", "no"}
_VARIABLE = re.compile(r"\{([^{}]*)\}")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IN_SENTENCE = ("volume_db", "pitch_st")
"""Voicing cues that act on a span of a sentence's audio; rate, pan, voice and together need a new phrase."""


class _Paragraph:
    """Text gathered across lines until a cue or break, with a map back to its sources."""

    def __init__(self) -> None:
        self.text = ""
        self.starts: list[int] = []
        self.sources: list[Source] = []
        self.inline: list[tuple[int, object]] = []
        self.said: list[tuple[int, str, str, tuple[Source, ...]]] = []

    def mid_sentence(self) -> bool:
        """Text is gathered and its sentence has not ended: a cue here falls inside it."""
        words = self.text.rstrip()
        return bool(re.search(r"\w", words)) and not words.rstrip("\"'”’)").endswith((".", "!", "?", "…"))

    def hold(self, event) -> None:
        """Keep a cue at the current offset, inside the sentence being gathered."""
        self.inline.append((len(self.text), event))

    def add(self, text: str, source: Source, whole: bool = False) -> None:
        """``whole``: every character is at ``source`` (a variable's value, written as ``{name}``)."""
        lead = len(text) - len(text.lstrip())
        keep = 1 if self.text and not self.text[-1].isspace() else 0
        if lead > keep:  # one space where two pieces meet: "simply [volume -6dB] allow", an SSML <sub>, indented XML
            source, text = (
                Source(source.path, source.line, source.col + (0 if whole else lead - keep)),
                text[lead - keep :],
            )
        if not text:
            return
        for offset in range(len(text) if whole else 1):
            self.starts.append(len(self.text) + offset)
            self.sources.append(source)
        self.text += text

    def source_at(self, offset: int) -> Source:
        i = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        base = self.sources[i]
        return Source(base.path, base.line, base.col + offset - self.starts[i])

    def places(self, start: int, end: int) -> tuple[tuple[int, Source], ...]:
        """Where the pieces of the text from ``start`` to ``end`` were written, as offsets from ``start``."""
        first = max(bisect.bisect_right(self.starts, start) - 1, 0)
        last = bisect.bisect_left(self.starts, end)
        return (
            (0, self.source_at(start)),
            *((at - start, where) for at, where in zip(self.starts[first + 1 : last], self.sources[first + 1 : last])),
        )

    def flush(self, split_commas: bool, emphasised: bool = False) -> list:
        """The gathered text as phrases with breaks between them; held cues go to the phrase they fall in (one
        past a phrase's last word goes after it). ``emphasised``: emphasis is open where the text begins."""
        events: list = []
        held = sorted(self.inline, key=lambda item: item[0])
        for start, piece, kind in _pieces(self.text, split_commas):
            if events:
                events.append(Break(kind, self.source_at(start)))
            inside = [(max(at - start, 0), cue) for at, cue in held if at < start + len(piece)]
            held = held[len(inside) :]
            phrase, emphasised = _with_inline(Phrase(text=piece, source=self.source_at(start)), inside, emphasised)
            said = [entry for entry in self.said if start <= entry[0] < start + len(piece)]
            events.append(
                replace(
                    phrase,
                    places=self.places(start, start + len(piece)),
                    lexicon=tuple((word, ipa) for _, word, ipa, _ in said),
                    lexicon_at=tuple(at for *_, at in said),
                )
            )
        events += [cue for _, cue in held if not isinstance(cue, Emphasis)]
        self.__init__()
        return events


def _with_inline(phrase: Phrase, inside: list[tuple[int, object]], emphasised: bool) -> tuple[Phrase, bool]:
    """The phrase with its held cues; emphasis that covers the whole sentence is the phrase's own (slower and
    louder), emphasis on some of its words becomes spans. Returns whether emphasis is still open at its end."""
    cues, edges = [], []
    for at, cue in inside:
        (edges if isinstance(cue, Emphasis) else cues).append((min(at, len(phrase.text)), cue))
    opened_at = 0 if emphasised else None
    spans = []
    for at, edge in edges:
        if edge.opens and opened_at is None:
            opened_at = at
        elif not edge.opens and opened_at is not None:
            spans.append((opened_at, at))
            opened_at = None
    if opened_at is not None:
        spans.append((opened_at, len(phrase.text)))
    spans = [(a, b) for a, b in spans if b > a]
    if spans == [(0, len(phrase.text))]:
        return Phrase(text=phrase.text, source=phrase.source, emphasis=True, inline=tuple(cues)), opened_at is not None
    louder = tuple(WordSpan(a, b, volume_db=EMPHASIS_DB) for a, b in spans)
    return Phrase(text=phrase.text, source=phrase.source, inline=tuple(cues), spans=louder), opened_at is not None


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


class BodyBuilder:
    """Gathers text and cues into events, whichever front end reads the file.

    Text is added as it is read (``add_text``), cues and breaks between it
    (``add_event``, ``add_break``); ``finish`` returns the events. Mistakes are
    appended to ``errors`` and reading goes on, so one run reports them all.
    """

    def __init__(self, path: str, meta: Meta, variables: dict[str, str] | None, errors: list[ScriptError]):
        """``variables`` (for example from ``--vars``) override the front matter's ``vars`` defaults."""
        self.path = path
        self.meta = meta
        self.variables = {**meta.vars, **{k: str(v) for k, v in (variables or {}).items()}}
        self.errors = errors
        self.events: list = []
        self.paragraph = _Paragraph()
        self.emphasis_from: Source | None = None
        self.used: set[str] = set()

    def error(self, message: str, line: int, col: int) -> None:
        self.errors.append(ScriptError(message, Source(self.path, line, col)))

    def add_text(self, text: str, number: int, col: int, new_line: bool) -> None:
        """Add literal text; each '*' opens or closes emphasis, held at its place in the sentence."""
        for index, part in enumerate(text.split("*")):
            if index:
                star = Source(self.path, number, col - 1)
                self.paragraph.hold(Emphasis(self.emphasis_from is None, star))
                self.emphasis_from = None if self.emphasis_from else star
            self._add_plain(part, number, col, new_line and index == 0)
            col += len(part) + 1

    def _add_plain(self, text: str, number: int, col: int, new_line: bool) -> None:
        """Add literal text, replacing {variables} with their (plain-text) values."""
        pos = 0
        if new_line:
            lead = len(text) - len(text.lstrip())
            text, col = text[lead:], col + lead
            if self.paragraph.text and text and not self.paragraph.text[-1].isspace():
                self.paragraph.text += " "
        for match in _VARIABLE.finditer(text):
            self.paragraph.add(text[pos : match.start()], Source(self.path, number, col + pos))
            value = self._variable(match.group(1).strip(), number, col + match.start())
            self.paragraph.add(value, Source(self.path, number, col + match.start()), whole=True)
            pos = match.end()
        rest = text[pos:]
        for brace in ("{", "}"):
            if brace in rest:
                self.error(
                    f"unmatched '{brace}' (variables are written {{name}})", number, col + pos + rest.index(brace)
                )
                rest = rest.replace(brace, " ")
        self.paragraph.add(rest, Source(self.path, number, col + pos))

    def _variable(self, name: str, number: int, col: int) -> str:
        if not _VARIABLE_NAME.match(name):
            self.error(f"'{{{name}}}' is not a variable name (letters, digits and _)", number, col)
            return ""
        self.used.add(name)
        if name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none"
            self.error(
                f"variable '{name}' has no value: give it a default under 'vars:' or pass --vars (known: {known})",
                number,
                col,
            )
            return ""
        return " ".join(str(self.variables[name]).replace("[", "(").replace("]", ")").split())

    def say_with_phonemes(self, start: int, phonemes: str, places: tuple[Source, ...] = ()) -> None:
        """The words gathered since ``start`` (an offset in the paragraph's text) are said as these phonemes;
        ``places``: where each of their characters was written."""
        written = self.paragraph.text[start:]
        if written.strip():
            at = start + len(written) - len(written.lstrip())
            self.paragraph.said.append((at, written.strip(), phonemes, places))

    def add_event(self, event) -> None:
        """A cue that needs no time, inside a sentence, is held there; any other cue ends the phrase being
        gathered: what follows is spoken after (and as) it says."""
        if self.paragraph.mid_sentence() and (
            isinstance(event, Mark) or isinstance(event, VoicingCue) and event.kind in IN_SENTENCE
        ):
            self.paragraph.hold(event)
            return
        self.flush()
        self.events.append(event)

    def flush(self) -> None:
        toggles = sum(isinstance(cue, Emphasis) for _, cue in self.paragraph.inline)
        open_at_start = (self.emphasis_from is not None) != (toggles % 2 == 1)
        pieces = self.paragraph.flush(self.meta.pauses.get("comma") is not None, open_at_start)
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
        self.flush()
        self.close_emphasis()
        if self.events and isinstance(self.events[-1], Phrase):
            self.events.append(Break(kind, source))

    def close_emphasis(self) -> None:
        if self.emphasis_from:
            self.errors.append(
                ScriptError("emphasis opened with '*' is not closed in its paragraph", self.emphasis_from)
            )
            self.emphasis_from = None

    def finish(self) -> list:
        self.flush()
        self.close_emphasis()
        while self.events and isinstance(self.events[-1], Break):
            self.events.pop()
        return self.events

    def script(self, empty_at: Source) -> Script:
        """The finished script, voicing resolved; or ``ScriptErrors`` with every mistake found."""
        events = resolve_voicing(self.finish(), self.meta, self.errors)
        _check_end(events, self.meta, self.errors)
        if not any(isinstance(e, (Phrase, Insert)) for e in events) and not self.errors:
            self.errors.append(ScriptError("script has no text to speak", empty_at))
        script = Script(path=self.path, meta=self.meta, events=tuple(events), uses=tuple(sorted(self.used)))
        if self.errors:
            raise ScriptErrors(self.errors, self.meta, script)
        return script


def _check_end(events: list, meta: Meta, errors: list[ScriptError]) -> None:
    """``[end]`` closes the script (only breaks may follow it) and sets the length (so not with ``duration:``)."""
    ends = [i for i, e in enumerate(events) if isinstance(e, End)]
    if not ends:
        return
    end = events[ends[0]]
    if meta.duration_s:
        errors.append(ScriptError("[end] and 'duration' both set the track's length: keep one", end.source))
    after = next((e for e in events[ends[0] + 1 :] if not isinstance(e, Break)), None)
    if after is not None:
        errors.append(
            ScriptError(
                f"nothing may follow [end {clock(end.seconds, 0, hours=True)}] but the end of the script", after.source
            )
        )
