"""Text as an engine should read it: the voice's lexicon, abbreviations, numbers, symbols, length limits.

Part of the speech stage. Engines differ in what they normalise themselves
(Piper's espeak reads digits; a Coqui VITS model may not), so the pipeline
normalises once, the same way for every engine, and splits phrases that are
longer than an engine can say in one breath (XTTS: about 250 characters).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from ..errors import ScriptError, Source

ABBREVIATIONS = {
    "dr.": "Doctor",
    "mr.": "Mister",
    "mrs.": "Missus",
    "ms.": "Miz",
    "prof.": "Professor",
    "e.g.": "for example",
    "i.e.": "that is",
    "etc.": "et cetera",
    "vs.": "versus",
    "approx.": "approximately",
}
SYMBOLS = {"&": " and ", "%": " percent", "+": " plus ", "=": " equals ", "@": " at ", "°": " degrees", "#": " number "}
_SPEAKABLE_PUNCTUATION = set(".,;:!?'\"-–—…()’‘“”/")


def normalise(text: str, lexicon: dict[str, str], source: Source) -> str:
    """The words to send to the engine for ``text``; unspeakable characters are errors at ``source``."""
    _check_speakable(text, source)
    pieces = PHONEMES.split(_apply_lexicon(text, lexicon))
    return " ".join("".join(p if p.startswith("[[") else _words(p) for p in pieces).split())


PACE_MIN_WORDS = 6
"""Phrases shorter than this are not held to a pace: one long word, or the slowing at a phrase's end, swings
their rate ("Four." takes a second and a quarter: 50 wpm)."""


def spoken_words(text: str) -> int:
    """How many words a voice says for ``text``: numbers and abbreviations as read aloud ("22899" is eight:
    twenty-two thousand, eight hundred and ninety-nine), hyphenated words as their parts."""
    return len(re.findall(r"[^\W_]+(?:['’][^\W_]+)?", _words(text)))


PHONEMES = re.compile(r"(\[\[.*?\]\])")
"""A lexicon's ``[[ phonemes ]]``: sent to the engine as they are."""


def _words(text: str) -> str:
    from num2words import num2words

    for abbreviation, expansion in ABBREVIATIONS.items():
        text = re.sub(rf"(?<![\w.]){re.escape(abbreviation)}", expansion, text, flags=re.IGNORECASE)
    text = re.sub(r"\$(\d+(?:\.\d+)?)", lambda m: f"{m.group(1)} dollars", text)
    text = re.sub(r"(?<=\d)\s*(k?)Hz\b", lambda m: " kilohertz" if m.group(1) else " hertz", text)
    text = re.sub(r"\b\d+(?:-\d+){2,}\b", lambda m: ", ".join(m.group(0).split("-")), text)  # 4-7-8 breathing
    text = re.sub(r"\b(\d+)-(\d+)\b", r"\1 to \2", text)  # 3-5 breaths
    text = re.sub(r"\b(\d{1,2}):(\d{2})\b", _clock_time, text)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: num2words(int(m.group(1)), to="ordinal"), text)
    text = re.sub(r"(?<![\d.])(\d+(?:[.,]\d+)*)(?![\d])", _number, text)
    for symbol, words in SYMBOLS.items():
        text = text.replace(symbol, words)
    return text


def _apply_lexicon(text: str, lexicon: dict[str, str]) -> str:
    for word, respelling in lexicon.items():
        text = re.sub(rf"\b{re.escape(word)}\b", lambda _: respelling, text, flags=re.IGNORECASE)  # taken literally
    return text


def _clock_time(match: re.Match) -> str:
    from num2words import num2words

    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return f"{num2words(hours)} o'clock"
    spoken_minutes = f"oh {num2words(minutes)}" if minutes < 10 else num2words(minutes)
    return f"{num2words(hours)} {spoken_minutes}"


def _number(match: re.Match) -> str:
    from num2words import num2words

    raw = match.group(1)
    if re.fullmatch(r"1[1-9]\d\d|20\d\d", raw):
        return num2words(int(raw), to="year")
    if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):
        return num2words(int(raw.replace(",", "")))
    if re.fullmatch(r"\d+\.\d+", raw):
        return num2words(float(raw))
    if re.fullmatch(r"\d+", raw):
        return num2words(int(raw))
    return raw


def _check_speakable(text: str, source: Source) -> None:
    at = lambda offset: Source(source.path, source.line, source.col + offset) if source else None
    if problems := unspeakable(text, at):
        raise problems[0]


def unspeakable(text: str, at: Callable[[int], Source | None]) -> list[ScriptError]:
    """Every character of ``text`` a voice cannot say, each at ``at(its offset)``: what ``normalise`` refuses."""
    problems = []
    for offset, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] in "LNZ" or char in _SPEAKABLE_PUNCTUATION or char in SYMBOLS or char == "$":
            continue
        name = unicodedata.name(char, "<control>" if unicodedata.category(char) == "Cc" else "unnamed")
        shown = f"'{char}'" if char.isprintable() else repr(char)  # an invisible character, shown escaped
        problems.append(
            ScriptError(f"the voice cannot speak {shown} (U+{ord(char):04X} {name}); write it as words", at(offset))
        )
    return problems


SAFE_CHARS = 400
"""Longest piece sent to an engine that sets no limit of its own: Piper's memory grows with a sentence's length
(an unpunctuated 12 kB sentence took 5 GB), and about 400 characters is a long breath's worth of speech."""
LONGEST_PHRASE_CHARS = 1000
LONGEST_WORD_CHARS = 60


def length_problem(text: str) -> str:
    """Why a phrase is too long to speak well ("" if it is not): it is still spoken in pieces, but a listener
    would hear one sentence cut where no sentence ends, and a caption the size of a page."""
    if len(text) > LONGEST_PHRASE_CHARS:
        return (
            f"this phrase is {len(text):,} characters with no sentence end (at most {LONGEST_PHRASE_CHARS:,}): "
            "break it into sentences"
        )
    longest = max(text.split(), key=len, default="")
    if len(longest) > LONGEST_WORD_CHARS:
        return f"a word of {len(longest):,} characters ('{longest[:20]}…') cannot be said: add spaces"
    return ""


def split_for_engine(text: str, max_chars: int | None) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars``, at clause boundaries where possible."""
    if not max_chars or len(text) <= max_chars:
        return [text]
    for pattern in (r"(?<=[;:—–])\s+", r"(?<=,)\s+", r"\s+"):
        parts = re.split(pattern, text)
        if len(parts) > 1:
            pieces, current = [], ""
            for part in parts:
                candidate = f"{current} {part}".strip()
                if len(candidate) > max_chars and current:
                    pieces.append(current)
                    candidate = part
                current = candidate
            pieces.append(current)
            return [p for piece in pieces for p in split_for_engine(piece, max_chars)]
    return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
