"""The writing guide as warnings (``drift lint --style``): what makes session writing work against the listener.

Each warning carries file:line:col and a suggestion a writer can act on:
- negatives that plant what they deny ("don't worry", "try not to");
- commands where permissive language serves ("you must", "you should");
- promises of an outcome ("you will be healed", "this will fix");
- sentences too long to say in one breath (over 25 words);
- instructions with no pause after them to carry them out.

It reads the text as written (a script, or a module of the drafting bank), not the parsed script, so it
can point at the words themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ScriptWarning, Source

MAX_WORDS = 25
"""A sentence longer than this is hard to say, and to take in, in one breath."""
MIN_PAUSE_S = 2.0
"""The least time an instruction needs after it to be carried out."""


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern
    message: str


_RULES = (
    Rule(
        re.compile(r"\b(?:don['’]?t|do not|doesn['’]?t|try not to|never)\b(?:\s+\w+){0,2}", re.I),
        "a negative plants what it denies: say what to do instead ('let your shoulders soften', not 'don't tense')",
    ),
    Rule(
        re.compile(r"\b(?:you(?:['’]ve got| must| should| need to| have to| ought to)|try to)\b", re.I),
        "a command, or a 'try' that allows failing, where permission serves: 'you might', 'you can', 'perhaps', 'allow'",
    ),
    Rule(
        re.compile(
            r"\b(?:you will (?:be|feel|never|always|become|find)|you['’]ll (?:be|feel|never|always)|this will (?:fix|heal|cure|change|solve)|"
            r"will (?:heal|cure|fix) (?:you|your)|(?:be|get) (?:healed|cured|fixed)|guarantee\w*)\b",
            re.I,
        ),
        "a promise of outcome: describe what the listener might notice, not what will happen",
    ),
)

INSTRUCTION_VERBS = frozenset(
    """let notice feel breathe take allow bring imagine rest relax close open place sense remember soften
say turn invite picture wiggle stretch lift drop release settle listen look put move count hold begin give find come gather
press rub touch stay return drift follow welcome scan""".split()
)
_LEADING = re.compile(
    r"^(?:\s*(?:\[[^\]]*\]|and|now|so|just|simply|gently|slowly|then|again|perhaps just)\s*,?)*\s*", re.I
)
_PAUSE = re.compile(r"^\s*\[pause\s+(\d+(?:\.\d+)?)\s*(ms|s|breaths?)\]", re.I)
_SENTENCE = re.compile(r"[^.!?…]*?(?:\.\.\.|[.!?…])+(?=[\s\]\"'”’)]|$)|[^.!?…]+$", re.S)


def phrase_problems(text: str) -> list[str]:
    """What the rules find in one piece of text (a slot a model wrote): the messages only."""
    return [w.message for w in _paragraph_warnings("<text>", [(c, 0, 0) for c in text])]


def style_warnings(path: str, text: str) -> list[ScriptWarning]:
    """Every style warning in a script or module file's text, in reading order."""
    lines = text.splitlines()
    start = _body_start(lines)
    warnings: list[ScriptWarning] = []
    paragraph: list[tuple[str, int, int]] = []
    for number in range(start, len(lines) + 1):
        line = lines[number] if number < len(lines) else ""
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        if not stripped or stripped.startswith("#") or re.fullmatch(r"\{\{\w+\}\}", stripped):
            warnings += _paragraph_warnings(path, paragraph)
            paragraph = []
            continue
        paragraph += [(ch, number + 1, col + 1) for col, ch in enumerate(line)] + [(" ", number + 1, len(line) + 1)]
    return warnings


def _body_start(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return i + 1
    return 0


def _paragraph_warnings(path: str, chars: list[tuple[str, int, int]]) -> list[ScriptWarning]:
    text = "".join(c for c, _, _ in chars)
    if not text.strip():
        return []

    def at(offset: int) -> Source:
        _, line, col = chars[min(offset, len(chars) - 1)]
        return Source(path, line, col)

    found: list[tuple[int, str]] = []
    for rule in _RULES:
        found += [(m.start(), f"'{m.group(0).strip()}': {rule.message}") for m in rule.pattern.finditer(text)]
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        spoken = re.sub(r"\[[^\]]*\]", " ", sentence)
        words = re.findall(r"[\w'’{}-]+", spoken)
        if not words:
            continue
        offset = match.start() + len(sentence) - len(sentence.lstrip())
        if len(words) > MAX_WORDS:
            found.append(
                (offset, f"a sentence of {len(words)} words is more than one breath: split it (at most {MAX_WORDS})")
            )
        lead = _LEADING.match(sentence).end()
        first = re.match(r"[A-Za-z]+", sentence[lead:])
        if first and first.group(0).lower() in INSTRUCTION_VERBS and not sentence.rstrip().endswith("?"):
            after = text[match.end() :]
            if after.strip() and not _long_enough(after):
                found.append(
                    (
                        match.start() + lead,
                        f"an instruction with no time to carry it out: add [pause 3s] after '{' '.join(words[:4])}…'",
                    )
                )
    return [ScriptWarning(f"style: {message}", at(offset)) for offset, message in sorted(found)]


def _long_enough(after: str) -> bool:
    """Whether what follows an instruction starts with a pause of at least ``MIN_PAUSE_S`` (the paragraph's end is
    one)."""
    seconds = 0.0
    while match := _PAUSE.match(after):
        number, unit = float(match.group(1)), match.group(2).lower()
        seconds += number * (10.0 if unit.startswith("breath") else 0.001 if unit == "ms" else 1.0)
        after = after[match.end() :]
    return seconds >= MIN_PAUSE_S
