"""What a voice can say, known without loading it: the phoneme symbols its engine has, the nearest it has to one
it lacks, and the speeds it speaks (an imported rate it cannot reach met as closely as it can).

Lint and render both ask here, so what lint passes render says as written. The symbol tables are read from the
engines' own files (kokoro-onnx's ``config.json`` vocabulary, a Piper voice's ``phoneme_id_map``): a few
kilobytes of JSON, no model, no synthesis.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from .. import presets
from ..errors import ConfigError, DriftError, ScriptError, ScriptWarning, Source
from ..script import Phrase, Script
from .text import PHONEMES
from .voices import SPEED_RANGES, VoicePreset, speed_of

SUBSTITUTES = {
    "ɝ": ("ɜː", "ɚ", "ɜ"),
    "ɚ": ("ə", "ɜ"),
    "˞": ("ɹ",),
    "ɫ": ("l",),
    "ʍ": ("w",),
    "r": ("ɹ", "ɾ"),
    "g": ("ɡ",),
    "ʤ": ("dʒ",),
    "ʧ": ("tʃ",),
    "ʣ": ("dz",),
    "ʦ": ("ts",),
    "ʥ": ("dʑ", "dʒ"),
    "ʨ": ("tɕ", "tʃ"),
    "ɐ": ("ə", "ʌ"),
    "ɘ": ("ə",),
    "ɵ": ("ə", "o"),
    "ɞ": ("ɜ",),
    "ʉ": ("u",),
    "ɶ": ("œ",),
    "ʏ": ("y", "ɪ"),
    "ε": ("ɛ",),
    "ɦ": ("h",),
    "ħ": ("h",),
    "ʕ": ("ʔ",),
    "ɬ": ("l",),
    "ɮ": ("l",),
    "ɭ": ("l",),
    "ʟ": ("l",),
    "ɱ": ("m",),
    "ɺ": ("ɾ",),
    "ʀ": ("ʁ",),
    "ɢ": ("ɡ",),
    "ɓ": ("b",),
    "ɗ": ("d",),
    "ɠ": ("ɡ",),
    "ʄ": ("ɟ",),
    "ʐ": ("ʒ",),
    "ʑ": ("ʒ",),
    "ɕ": ("ʃ",),
    "ɧ": ("ʃ",),
    "ʜ": ("h",),
    "ʡ": ("ʔ",),
    "ʢ": ("ʔ",),
    "ⱱ": ("v",),
    "ʷ": ("w",),
    "ˑ": ("ː",),
    "'": ("ˈ",),
    "ˈ": ("'",),
    ",": ("ˌ",),
    ":": ("ː",),
    "ɛ̈": ("ɛ",),
    "ᵿ": ("ʊ",),
    "ɑ": ("a",),
    "ɒ": ("ɔ",),
    "ɜ": ("ə",),
    "ʊ": ("u",),
    "ɪ": ("i",),
    "ɔ": ("o",),
    "ɛ": ("e",),
}
"""The sounds a voice would say in place of a symbol it lacks, most faithful first (espeak-ng's English usage:
``ɝ`` is a long ``ɜː`` or the unstressed ``ɚ``; ligatures are their two letters; ASCII ``g`` is IPA ``ɡ``)."""
_MARKS = {"ˈ", "ˌ", "ː", "ˑ", "̃", "̩", "̯", "̪", "̥", "̧", "ʰ", "ʲ", "ˤ", "˞"}


def phoneme_symbols(preset: VoicePreset) -> frozenset[str] | None:
    """Every symbol the voice's model has an id for (None: its engine takes no phonemes, its table is not one of
    espeak-ng's, or it cannot be read, which loading the voice reports; nothing is checked)."""
    from .engines import _piper_model_files

    try:
        if preset.engine == "kokoro":
            return _kokoro_symbols()
        if preset.engine == "piper":
            return _piper_symbols(str(_piper_model_files(preset)[1]))
    except ConfigError:
        return None
    return None


@lru_cache(maxsize=1)
def _kokoro_symbols() -> frozenset[str]:
    """kokoro-onnx's vocabulary, read from its ``config.json`` without importing it (or onnxruntime)."""
    spec = importlib.util.find_spec("kokoro_onnx")
    folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    try:
        return frozenset(json.loads((folder / "config.json").read_text(encoding="utf-8"))["vocab"])
    except (TypeError, OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read kokoro-onnx's vocabulary: {exc}", Source("kokoro_onnx")) from None


@lru_cache(maxsize=8)
def _piper_symbols(config: str) -> frozenset[str] | None:
    try:
        table = json.loads(Path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the voice's config: {exc}", Source(config)) from None
    if table.get("phoneme_type", "espeak") != "espeak":
        return None
    return frozenset(table.get("phoneme_id_map", {}))


def nearest(symbol: str, symbols: frozenset[str]) -> list[str]:
    """What the voice has nearest to ``symbol``, most faithful first: from ``SUBSTITUTES``, else the symbol of the
    most similar Unicode name (``ɝ`` LATIN SMALL LETTER REVERSED OPEN E WITH HOOK → ``ɜ`` … REVERSED OPEN E), else
    nothing (a mark the voice lacks is best left out)."""
    found = [s for s in SUBSTITUTES.get(symbol, ()) if all(ch in symbols for ch in s)]
    if found or symbol in _MARKS or unicodedata.category(symbol[0]).startswith("M"):
        return found
    names = {unicodedata.name(s, ""): s for s in symbols if len(s) == 1 and unicodedata.category(s).startswith("L")}
    close = difflib.get_close_matches(unicodedata.name(symbol[0], ""), [n for n in names if n], n=1, cutoff=0.75)
    return [names[close[0]]] if close else []


def phoneme_problems(
    preset: VoicePreset, phonemes: str, at: Callable[[int], Source | None], kind: type[DriftError] = ScriptError
) -> list[DriftError]:
    """Every symbol of ``phonemes`` the voice lacks (its engine would drop it unsaid), each at ``at(offset)`` and
    named with the nearest the voice has."""
    symbols = phoneme_symbols(preset)
    if symbols is None:
        return []
    problems = []
    for offset, symbol in enumerate(phonemes):
        if symbol.isspace() or symbol in symbols:
            continue
        shown = f"'{symbol}'" if unicodedata.category(symbol)[0] != "M" else f"'◌{symbol}'"
        near = nearest(symbol, symbols)
        hint = (
            f"; the nearest it has is '{near[0]}'" + (f" (or '{near[1]}')" if len(near) > 1 else "")
            if near
            else "; leave it out"
        )
        problems.append(
            kind(
                f"the voice '{preset.name}' ({preset.engine}) has no phoneme {shown} "
                f"(U+{ord(symbol):04X} {unicodedata.name(symbol, 'unnamed')}): it would be dropped "
                f"unsaid{hint}",
                at(offset),
            )
        )
    return problems


def lexicon_problems(voices: list[VoicePreset]) -> list[DriftError]:
    """Every phoneme symbol a voice lacks in its lexicon's ``{ phonemes = "…" }`` entries, at its place in the
    preset (or the shared lexicon) where it is written; each place once, however many voices share the entry."""
    problems: dict[Source | None, DriftError] = {}
    for preset in voices:
        for word, said in preset.lexicon:
            for block in PHONEMES.finditer(said):
                phonemes = block.group(0)[2:-2].strip()
                for problem in phoneme_problems(preset, phonemes, _written_at(preset, word, phonemes), ConfigError):
                    problems.setdefault(problem.source, problem)
    return list(problems.values())


def _written_at(preset: VoicePreset, word: str, phonemes: str) -> Callable[[int], Source]:
    """Where each character of a lexicon entry's phonemes is written: the preset's own entry wins over the shared
    lexicon's, as it does when the two are merged."""
    files = [Path(preset.path)] + ([shared] if (shared := presets.shared("voices")) else [])
    key = re.compile(rf"""^\s*["']?{re.escape(word)}["']?\s*=""")
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, start=1):
            if key.match(line) and (col := line.find(phonemes, line.index("="))) >= 0:
                return lambda offset, p=str(path), n=number, c=col: Source(p, n, c + 1 + offset)
    return lambda offset: Source(preset.path)


def within_reach(script: Script, voices: dict[str, VoicePreset]) -> Script:
    """An imported (SSML) script's phrases at speeds their voices speak: a rate a voice cannot reach is met as
    closely as it allows, with one warning for the file naming what was asked, the voice, and what is used. A
    script in our own format keeps its rates (lint and render refuse one its voice cannot speak)."""
    if not script.path.endswith(".ssml"):
        return script
    events, met = list(script.events), {}
    for index, phrase in enumerate(events):
        if not isinstance(phrase, Phrase) or (voice := voices.get(phrase.voice)) is None:
            continue
        low, high = SPEED_RANGES.get(voice.engine, (0.0, math.inf))
        asked = speed_of(voice, phrase)
        if low <= asked <= high:
            continue
        used = min(max(asked, low), high)
        events[index] = reached = replace(phrase, rate=_rate_for(voice, phrase, used, (low, high)))
        met.setdefault((voice.name, voice.engine, used, low, high), []).append((asked, reached))
    if not met:
        return script
    return replace(script, events=tuple(events), warnings=(*script.warnings, _met_warning(met)))


def _rate_for(voice: VoicePreset, phrase: Phrase, used: float, speeds: tuple[float, float]) -> float:
    """The phrase's rate at which its speed is ``used``, inside ``speeds`` to the last bit (the engine checks)."""
    rate = phrase.rate * used / speed_of(voice, phrase)
    for _ in range(8):
        speed = speed_of(voice, replace(phrase, rate=rate))
        if speeds[0] <= speed <= speeds[1]:
            break
        rate = math.nextafter(rate, math.inf if speed < speeds[0] else -math.inf)
    return rate


def _met_warning(met: dict) -> ScriptWarning:
    parts = []
    for (name, engine, used, low, high), phrases in met.items():
        asked = sorted({round(a, 3) for a, _ in phrases})
        shown = f"{asked[0]:g}" if len(asked) == 1 else f"{asked[0]:g}–{asked[-1]:g}"
        many = len(phrases) > 1
        parts.append(
            f"{len(phrases)} phrase{'s ask' if many else ' asks'} the voice '{name}' ({engine}, which speaks "
            f"{low:g}–{high:g} of its natural speed) for {shown}: spoken at {used:g}"
        )
    first = min((p.source for phrases in met.values() for _, p in phrases), key=lambda s: (s.line, s.col))
    return ScriptWarning(f"SSML rate met as closely as the voice allows: {'; '.join(parts)}", first)
