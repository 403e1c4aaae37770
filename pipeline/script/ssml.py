"""SSML import: ``.ssml`` files mapped onto the same events as the script language.

Supported: speak, p, s, break (time, strength), prosody (rate, pitch,
volume), emphasis, sub, say-as, mark, audio, voice and phoneme. Any other
element's text is spoken as written, with a warning at its line and column:
nothing is silently dropped. A bad attribute is an error there, and reading
goes on, so one run reports every mistake; a file that is not well-formed is
refused where the parser noticed, naming where each element left open began.
A ``.ssml`` file may start with the same YAML front matter as a script. It is read in the
encoding its byte-order mark or XML declaration names (UTF-8 otherwise), and
DTDs, entities and external references are refused (``defusedxml``).
"""

from __future__ import annotations

import bisect
import math
import re
import xml.sax
from dataclasses import replace
from pathlib import Path
from xml.sax.handler import ContentHandler

from ..errors import ScriptError, ScriptWarning, Source
from .body import BodyBuilder
from .front_matter import parse_front_matter, with_settings
from .model import Insert, Mark, Pause, Ramp, Script, ScriptErrors, VoicingCue
from .values import parse_duration
from .xsampa import xsampa_to_ipa_at

SUPPORTED = (
    "speak",
    "p",
    "s",
    "break",
    "prosody",
    "emphasis",
    "sub",
    "say-as",
    "mark",
    "audio",
    "voice",
    "meta",
    "amazon:effect",
    "phoneme",
    "bookmark",
)
"""Honoured. Any other element's text is spoken as written, with a warning naming the element."""
_NOT_SPOKEN = ("metadata", "desc", "lexicon", "head", "info")
"""Elements whose content is information for an engine, not words to say."""
_STAGE_DIRECTION = re.compile(r"\[([^\[\]]*)\]")
_SAY_AS_LETTERS = ("characters", "spell-out", "verbatim")
_SAY_AS_DIGITS = ("digits", "telephone")
_SAY_AS_AS_WRITTEN = ("cardinal", "number", "date", "time", "fraction", "unit", "expletive", "address")
_STRENGTH_S = {"none": 0.0, "x-weak": 0.25, "weak": 0.5, "medium": 1.0, "strong": 2.0, "x-strong": 3.0}
_RATE_WORDS = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.2, "x-fast": 1.4}
_PITCH_WORDS = {"x-low": -4.0, "low": -2.0, "medium": 0.0, "default": 0.0, "high": 2.0, "x-high": 4.0}
_VOLUME_WORDS = {
    "silent": -40.0,
    "x-soft": -9.0,
    "soft": -4.5,
    "medium": 0.0,
    "default": 0.0,
    "loud": 3.0,
    "x-loud": 6.0,
}
_RESUME_TEXT = object()
"""In an element's restore list: its text was not spoken; what follows it is."""
SPEAKING_PITCH_HZ = 180.0
"""A speaking voice's typical pitch: what a change in Hz is taken from."""
_EMPHASIS_DB = {"strong": 2.0, "moderate": 1.0, "none": 0.0, "reduced": -3.0}


def parse_ssml(
    text: str, path: str = "<ssml>", variables: dict[str, str] | None = None, defaults: dict | None = None
) -> Script:
    import defusedxml.sax
    from defusedxml import DefusedXmlException

    errors: list[ScriptError] = []
    lines = text.splitlines()
    meta, body_start = parse_front_matter(lines, path, errors, defaults)
    body = BodyBuilder(path, meta, variables, errors)
    handler = _Handler(body, path, body_start, "\n".join(lines[body_start:]))
    try:  # no DTD, no entities, nothing external: a 700-byte file of nested entities expands to gigabytes
        defusedxml.sax.parseString(handler.text.encode("utf-8"), handler, forbid_dtd=True)
    except xml.sax.SAXParseException as exc:
        where = Source(path, exc.getLineNumber() + body_start, exc.getColumnNumber() + 1)
        errors.append(ScriptError(f"not well-formed SSML: {exc.getMessage()}{handler.left_open(exc)}", where))
    except DefusedXmlException as exc:
        errors.append(
            ScriptError(
                f"SSML may not declare a DTD or entities ({type(exc).__name__}): they are refused, "
                "since one can expand a small file into gigabytes or read files it names",
                handler.where_now(),
            )
        )
    except ScriptError as error:
        errors.append(error)
    if handler.settings:
        body.meta = with_settings(body.meta, handler.settings, errors)
    try:
        script = body.script(Source(path, body_start + 1, 1))
    except ScriptErrors as failed:  # what was not honoured is still said, beside the mistakes
        raise ScriptErrors([*failed.errors, *handler.warnings], failed.meta, failed.script) from None
    return replace(script, warnings=(*script.warnings, *handler.warnings))


class _Handler(ContentHandler):
    """Streams SAX events into the body parser, keeping a stack of prosody to restore."""

    def __init__(self, body: BodyBuilder, path: str, line_offset: int, text: str):
        super().__init__()
        self.body = body
        self.path = path
        self.line_offset = line_offset
        self.text = text
        """The SSML as the parser reads it (after any front matter): where an attribute's value stands is read here."""
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.stack: list[tuple[str, list, Source]] = []
        """Each open element: its name, the events that restore what it changed, where it opened."""
        self.skip_text = 0
        self.prosody = {"rate": 1.0, "natural_rate": 0.0, "pitch_st": 0.0, "volume_db": 0.0}
        """What prosody is in force. A rate in numbers (``0.85``, ``85%``) is a share of the voice's natural speed
        (0: none, the preset's own rate); a rate in words (``slow``) is relative to the preset's rate."""
        self.voice = body.meta.voice
        self.warnings: list[ScriptWarning] = []
        self.settings: dict[str, tuple[str, Source]] = {}
        """``<meta name="drift:KEY" content="VALUE"/>``: front-matter settings carried by the SSML itself."""
        self.say_as: list[str] = []
        self.phonemes_from: list[tuple[int, str, tuple[Source, ...]]] = []
        """Open ``<phoneme>`` elements: where their words begin, the phonemes ("" when not honoured), and where
        each of the phonemes' characters is written."""

    def where_now(self) -> Source:
        """Where the parser is (the document's start before it has begun)."""
        locator = getattr(self, "_locator", None)
        if locator is None or locator.getLineNumber() is None:
            return Source(self.path, self.line_offset + 1, 1)
        return self._where()

    def _where(self) -> Source:
        return Source(self.path, self._locator.getLineNumber() + self.line_offset, self._locator.getColumnNumber() + 1)

    def left_open(self, exc: xml.sax.SAXParseException) -> str:
        """For a closing tag that closes out of turn, or a file that ends inside elements: where each element left
        open was opened (the parser names only where it noticed)."""
        message, still_open = exc.getMessage(), [(name, where) for name, _, where in self.stack]
        if message.startswith("no element found") and still_open:
            return f": {_opened_at(still_open)}"
        if not message.startswith("mismatched tag"):
            return ""
        row = exc.getLineNumber() - 1
        line = self.text[self.line_starts[row] :].split("\n", 1)[0] if 0 <= row < len(self.line_starts) else ""
        closing = re.match(r"[^\s/>]+", line[exc.getColumnNumber() :])
        name = closing.group(0) if closing else ""
        matching = [i for i, (opened, _) in enumerate(still_open) if opened == name]
        if matching:
            return f": {_opened_at(still_open[matching[-1] + 1 :])}"
        innermost = (
            (
                f"; the innermost open one is <{still_open[-1][0]}>, opened at {still_open[-1][1].line}:"
                f"{still_open[-1][1].col}"
            )
            if still_open
            else ""
        )
        return f": </{name}> closes no element that is open{innermost}"

    def startElement(self, name: str, attrs) -> None:
        where = self._where()
        restore: list = []
        if name in _NOT_SPOKEN:
            self.skip_text += 1
        elif name not in SUPPORTED:
            self.warn(f"SSML element <{name}> is not honoured here; its text is spoken as written", where)
        else:
            try:
                getattr(self, f"_start_{name.replace('-', '_').replace(':', '_')}", lambda a, w, r: None)(
                    attrs, where, restore
                )
            except ScriptError as error:  # reported, and the file read on: a later mistake is found too
                self.body.errors.append(error)
        self.stack.append((name, restore, where))

    def warn(self, message: str, where: Source) -> None:
        self.warnings.append(ScriptWarning(message, where))

    def endElement(self, name: str) -> None:
        _, restore, _ = self.stack.pop()
        if name in _NOT_SPOKEN:
            self.skip_text -= 1
        if name == "say-as":
            self.say_as.pop()
        if name == "phoneme" and (said := self.phonemes_from.pop())[1]:
            self.body.say_with_phonemes(*said)
        where = self._where()
        for event in restore:
            if event is _RESUME_TEXT:
                self.skip_text -= 1
                continue
            if isinstance(event, VoicingCue) and event.kind in self.prosody:
                self.prosody[event.kind] = event.value.start  # what holds after the element, for the next one
            self.body.add_event(event)
        if name in ("p", "speak"):
            self.body.add_break("paragraph", where)
        elif name == "s":
            self.body.add_break("sentence", where)

    def characters(self, content: str) -> None:
        if self.skip_text:
            return
        where = self._where()
        if self.say_as:
            content = _said_as(self.say_as[-1], content)
        for i, line in enumerate(content.split("\n")):
            self._line(line, where.line + i, where.col if i == 0 else 1, new_line=i > 0)

    def _line(self, line: str, number: int, col: int, new_line: bool) -> None:
        """Text, with any bracketed stage direction ("[SFX: soft chime]", "[Softly]") made a mark, not said.
        Text that continues a line keeps its own spacing (``for <say-as>478</say-as>.``)."""
        pos = 0
        for match in _STAGE_DIRECTION.finditer(line):
            self.body.add_text(line[pos : match.start()], number, col + pos, new_line=new_line and pos == 0)
            note, at = match.group(1).strip(), Source(self.path, number, col + match.start())
            self.body.add_event(Mark(f"direction: {note}", at))
            self.warn(f"stage direction '[{note}]' is not spoken: it is a mark in the timeline", at)
            pos = match.end()
        self.body.add_text(line[pos:], number, col + pos, new_line=new_line and pos == 0)

    # --- elements ---

    def _start_p(self, attrs, where, restore) -> None:
        self.body.add_break("paragraph", where)

    def _start_s(self, attrs, where, restore) -> None:
        self.body.add_break("sentence", where)

    def _start_break(self, attrs, where, restore) -> None:
        if "time" in attrs:
            seconds = parse_duration(attrs["time"])
            if seconds is None or not 0 <= seconds <= 600:
                raise ScriptError(f"break time '{attrs['time']}' is not a length like 2s or 500ms", where)
        else:
            strength = attrs.get("strength", "medium")
            if strength not in _STRENGTH_S:
                raise ScriptError(f"break strength '{strength}' is not one of {', '.join(_STRENGTH_S)}", where)
            seconds = _STRENGTH_S[strength]
        self.body.add_event(Pause(seconds, where)) if seconds > 0 else self.body.add_break("sentence", where)

    def _start_prosody(self, attrs, where, restore) -> None:
        readers = {"rate": _rate, "pitch": _pitch, "volume": _volume}
        for attribute in attrs.keys():
            if attribute not in readers:
                self.body.errors.append(
                    ScriptError(f"prosody attribute '{attribute}' is not supported (rate, pitch, volume)", where)
                )
        for attribute, reader in readers.items():
            if attribute in attrs:
                try:
                    kind, value = reader(attrs[attribute], where)
                except ScriptError as error:  # each bad attribute reported; the good ones still hold
                    self.body.errors.append(error)
                    continue
                if kind in ("rate", "natural_rate") and self.prosody[kind]:
                    value *= self.prosody[kind]  # nested rates multiply: "slow" inside "slow" is slower still
                self._set(kind, value, where, restore)

    def _start_emphasis(self, attrs, where, restore) -> None:
        level = attrs.get("level", "moderate")
        if level not in _EMPHASIS_DB:
            raise ScriptError(f"emphasis level '{level}' is not one of {', '.join(_EMPHASIS_DB)}", where)
        self._set("volume_db", self.prosody["volume_db"] + _EMPHASIS_DB[level], where, restore)

    def _set(self, kind: str, value: float, where: Source, restore: list) -> None:
        restore.append(VoicingCue(kind, Ramp(self.prosody[kind]), where))
        self.prosody[kind] = value
        self.body.add_event(VoicingCue(kind, Ramp(value), where))

    def _start_voice(self, attrs, where, restore) -> None:
        if "name" not in attrs:
            raise ScriptError("<voice> needs a name attribute naming a voice preset", where)
        restore.append(VoicingCue("voice", self.voice, where))
        self.voice = attrs["name"]
        self.body.add_event(VoicingCue("voice", attrs["name"], where))

    def _start_phoneme(self, attrs, where, restore) -> None:
        """The words inside are said as these phonemes by voices that take them (IPA, or X-SAMPA converted)."""
        self.phonemes_from.append((len(self.body.paragraph.text), "", ()))  # not honoured unless read below
        alphabet, written = attrs.get("alphabet", "ipa").lower(), attrs.get("ph", "")
        phonemes, lead = written.strip(), len(written) - len(written.lstrip())
        if not phonemes:
            raise ScriptError("<phoneme> needs a ph attribute: the phonemes to say", where)
        places = self._value_places(where, "ph", written)
        if alphabet == "x-sampa":
            try:
                phonemes, offsets = xsampa_to_ipa_at(phonemes)
            except ValueError as error:
                raise ScriptError(f'<phoneme ph="{attrs["ph"]}">: {error}', where) from None
        elif alphabet != "ipa":
            self.warn(f'<phoneme alphabet="{alphabet}"> is not IPA or X-SAMPA: its text is spoken as written', where)
            return
        else:
            offsets = range(len(phonemes))
        self.phonemes_from[-1] = (self.phonemes_from[-1][0], phonemes, tuple(places[lead + o] for o in offsets))

    def _value_places(self, where: Source, attribute: str, value: str) -> tuple[Source, ...]:
        """Where each character of the value of ``attribute`` in the tag opened at ``where`` is written (all at the
        tag where the parser changed it: an entity, a line break)."""
        row = where.line - self.line_offset - 1
        start = self.line_starts[row] + where.col - 1 if 0 <= row < len(self.line_starts) else len(self.text)
        end = self.text.find(">", start)
        match = re.compile(rf"\s{re.escape(attribute)}\s*=\s*[\"']").search(self.text, start, end if end >= 0 else None)
        if not match or not self.text.startswith(value, match.end()):
            return (where,) * len(value)
        places = []
        for offset in range(match.end(), match.end() + len(value)):
            row = bisect.bisect_right(self.line_starts, offset) - 1
            places.append(Source(self.path, row + 1 + self.line_offset, offset - self.line_starts[row] + 1))
        return tuple(places)

    def _start_sub(self, attrs, where, restore) -> None:
        if "alias" not in attrs:
            raise ScriptError("<sub> needs an alias attribute: the words to speak", where)
        self.body.add_text(attrs["alias"], where.line, where.col, new_line=True)
        self._skip_text_inside(restore)

    def _start_mark(self, attrs, where, restore) -> None:
        if "name" not in attrs:
            raise ScriptError("<mark> needs a name attribute", where)
        self.body.add_event(Mark(attrs["name"], where))

    def _start_bookmark(self, attrs, where, restore) -> None:
        """Azure's name for ``<mark>``."""
        if "mark" not in attrs:
            raise ScriptError("<bookmark> needs a mark attribute", where)
        self.body.add_event(Mark(attrs["mark"], where))

    def _start_say_as(self, attrs, where, restore) -> None:
        kind = attrs.get("interpret-as", "")
        if kind not in (*_SAY_AS_LETTERS, *_SAY_AS_DIGITS, *_SAY_AS_AS_WRITTEN, "ordinal"):
            self.warn(f"say-as interpret-as='{kind}' is not known here; its text is spoken as written", where)
        self.say_as.append(kind)

    def _start_meta(self, attrs, where, restore) -> None:
        name = attrs.get("name", "")
        if name.startswith("drift:"):
            self.settings[name[len("drift:") :]] = (attrs.get("content", ""), where)

    def _start_amazon_effect(self, attrs, where, restore) -> None:
        """Polly's whisper, as near as a voice without one can come: softer (volume −6 dB)."""
        if attrs.get("name") == "whispered":
            self.warn("<amazon:effect name='whispered'> is spoken 6 dB softer: the voices here cannot whisper", where)
            self._set("volume_db", self.prosody["volume_db"] - 6.0, where, restore)
        else:
            self.warn(f"<amazon:effect name='{attrs.get('name', '')}'> is not honoured here; its text is spoken", where)

    def _start_audio(self, attrs, where, restore) -> None:
        if "src" not in attrs:
            raise ScriptError("<audio> needs a src attribute naming a local audio file", where)
        if not (Path(self.path).parent / attrs["src"]).is_file():  # an address, or a file this library lacks
            self.warn(
                f'<audio src="{attrs["src"]}"> is not a file beside the script: its fallback text is spoken instead',
                where,
            )
            return
        self.body.add_event(Insert(attrs["src"], where))
        self._skip_text_inside(restore)  # fallback text inside <audio> is for engines that cannot play it

    def _skip_text_inside(self, restore: list) -> None:
        self.skip_text += 1
        restore.append(_RESUME_TEXT)


def _opened_at(elements: list[tuple[str, Source]]) -> str:
    """``<prosody> opened at 12:5 and <prosody> at 40:1 are not closed``."""
    named = [
        f"<{name}> {'opened ' if i == 0 else ''}at {where.line}:{where.col}" for i, (name, where) in enumerate(elements)
    ]
    listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    return f"{listed} {'is' if len(named) == 1 else 'are'} not closed"


def _percent_or_number(value: str) -> float | None:
    if match := re.match(r"^([+-]?\d+(?:\.\d+)?)%$", value):
        return float(match.group(1)) / 100
    if re.match(r"^\d+(?:\.\d+)?$", value):
        return float(value)
    return None


def _rate(value: str, where: Source) -> tuple[str, float]:
    """A word (``slow``) or a signed change (``-10%``, as Azure writes it) is relative to the preset's rate; an
    unsigned percent or number (``85%``, ``0.85``) is a share of the voice's natural speed."""
    value = value.strip()
    relative = value in _RATE_WORDS or value[:1] in "+-"
    rate = _RATE_WORDS.get(value) or _percent_or_number(value)
    if rate is not None and value[:1] in "+-":
        rate = 1 + rate if value.endswith("%") else None
    if rate is None or not 0.3 <= rate <= 2.0:
        raise ScriptError(
            f"prosody rate '{value}' must be x-slow…x-fast, 30%–200%, a change like -10%, or a number like 0.85", where
        )
    return ("rate" if relative else "natural_rate"), rate


def _pitch(value: str, where: Source) -> tuple[str, float]:
    """Words, semitones (``-2st``), a percent change (``-10%``) or a change in Hz (``+20Hz``, taken from a
    speaking voice's typical 180 Hz) as semitones."""
    if value in _PITCH_WORDS:
        return "pitch_st", _PITCH_WORDS[value]
    if match := re.match(r"^([+-]?\d+(?:\.\d+)?)st$", value):
        return "pitch_st", float(match.group(1))
    if (match := re.match(r"^([+-]\d+(?:\.\d+)?)(%|Hz)$", value)) and float(match.group(1)) > -100:
        change = float(match.group(1))
        ratio = 1 + change / 100 if match.group(2) == "%" else (SPEAKING_PITCH_HZ + change) / SPEAKING_PITCH_HZ
        if ratio > 0:
            return "pitch_st", round(12 * math.log2(ratio), 3)
    raise ScriptError(
        f"prosody pitch '{value}' must be x-low…x-high, semitones like -2st, or a change like -10% or +20Hz", where
    )


def _volume(value: str, where: Source) -> tuple[str, float]:
    """Words, decibels (``-3dB``) or a percent change of amplitude (``-20%``, as Azure writes it)."""
    if value in _VOLUME_WORDS:
        return "volume_db", _VOLUME_WORDS[value]
    if match := re.match(r"^([+-]?\d+(?:\.\d+)?)dB$", value, re.IGNORECASE):
        return "volume_db", float(match.group(1))
    if (match := re.match(r"^([+-]\d+(?:\.\d+)?)%$", value)) and float(match.group(1)) > -100:
        return "volume_db", round(20 * math.log10(1 + float(match.group(1)) / 100), 2)
    raise ScriptError(
        f"prosody volume '{value}' must be silent…x-loud, decibels like -3dB, or a change like -20%", where
    )


def _said_as(kind: str, text: str) -> str:
    """``<say-as>`` text as it is to be read: letters one by one, digits one by one, an ordinal in words."""
    from num2words import num2words

    if kind in _SAY_AS_LETTERS:
        return " ".join(ch for ch in text if not ch.isspace())
    if kind in _SAY_AS_DIGITS:
        return " ".join(ch for ch in text if ch.isdigit()) or text
    if kind == "ordinal" and text.strip().isdigit():
        return num2words(int(text.strip()), to="ordinal")
    return text
