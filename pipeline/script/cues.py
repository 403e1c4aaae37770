"""The cues of the script language: ``[name args]`` → a small event value.

Each cue has one parser here, registered in ``CUES``; a parser gets the text
after the cue's name and raises ``ScriptError`` pointing at the bad argument.
The same events are produced by the SSML importer, so both front ends share
one model. Ranges are checked here, where the writer can still be told where.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import ScriptError, Source, did_you_mean
from .model import At, BedCue, BreathCue, BreathPace, End, Insert, Mark, Pause, Ramp, ToneCue, VoicingCue
from .values import parse_duration

# --- argument grammar ------------------------------------------------------------------

_NUMBER = r"[+-]?\d+(?:\.\d+)?"


def _duration(text: str, where: Source, what: str, upper_s: float = 6 * 3600) -> float:
    seconds = parse_duration(text)
    if seconds is None:
        raise ScriptError(f"bad {what} '{text}': write it like 2s, 750ms, 3m or 12:00", where)
    if not 0 <= seconds <= upper_s:
        raise ScriptError(f"{what} '{text}' is out of range", where)
    return seconds


def _ramp(args: str, where: Source, unit: str, low: float, high: float, what: str, example: str) -> Ramp:
    """``A``, ``A -> B until SECTION`` or ``A -> B over DURATION``, each number with an optional unit."""
    value = rf"({_NUMBER})\s*(?:{unit})?"
    match = re.match(rf"^{value}(?:\s*(?:->|→)\s*{value}(?:\s+(until|over)\s+(.+))?)?$", args.strip(), re.IGNORECASE)
    if not match:
        raise ScriptError(f"bad {what} '{args}': write it like [{example}]", where)
    start, end, how, target = match.groups()
    numbers = [float(start)] + ([float(end)] if end is not None else [])
    for number in numbers:
        if not low <= number <= high:
            raise ScriptError(f"{what} {number:g} is outside {low:g}…{high:g}", where)
    if end is not None and how is None:
        raise ScriptError(f"a {what} ramp needs 'until SECTION' or 'over DURATION', for example [{example}]", where)
    if how and how.lower() == "over":
        return Ramp(float(start), float(end), over_s=_duration(target, where, "ramp length"))
    return Ramp(float(start), float(end) if end is not None else None, until=target.strip() if target else None)


# --- cue parsers: (args, cue source, argument source) → event ---------------------------


def _pause(args: str, where: Source, arg: Source):
    if not args:
        raise ScriptError("pause needs a length, for example [pause 2s], [pause 750ms] or [pause 2 breaths]", where)
    if match := re.match(r"^(\d+(?:\.\d+)?)\s*breaths?$", args):
        breaths = float(match.group(1))
        if not 0 < breaths <= 60:
            raise ScriptError(f"pause of {breaths:g} breaths is outside 0–60", arg)
        return Pause(0.0, where, breaths)
    seconds = parse_duration(args)
    if seconds is None:
        raise ScriptError(f"bad pause length '{args}': write it like 2s, 1.5s, 750ms or 2 breaths", arg)
    if not 0 < seconds <= 600:
        raise ScriptError(f"pause length {args} is outside 0–10 minutes", arg)
    return Pause(seconds, where)


def _rate(args: str, where: Source, arg: Source):
    return VoicingCue("rate", _ramp(args, arg, "x", 0.3, 2.0, "rate", "rate 0.9 -> 0.75 until Emergence"), where)


def _pitch(args: str, where: Source, arg: Source):
    return VoicingCue("pitch_st", _ramp(args, arg, "st", -12, 12, "pitch", "pitch -1st"), where)


def _volume(args: str, where: Source, arg: Source):
    return VoicingCue("volume_db", _ramp(args, arg, "db", -40, 12, "volume", "volume -3dB"), where)


_PAN_WORDS = {"left": -0.8, "right": 0.8, "center": 0.0, "centre": 0.0}


def _pan(args: str, where: Source, arg: Source):
    if args.lower() in _PAN_WORDS:
        return VoicingCue("pan", Ramp(_PAN_WORDS[args.lower()]), where)
    return VoicingCue("pan", _ramp(args, arg, "", -1, 1, "pan", "pan left"), where)


def _voice(args: str, where: Source, arg: Source):
    if not re.match(r"^[\w.-]+$", args):
        raise ScriptError("voice needs a preset name, for example [voice deep]", where if not args else arg)
    return VoicingCue("voice", args, where)


def _together(args: str, where: Source, arg: Source):
    _no_args("together", args, arg)
    return VoicingCue("together", None, where)


def _breath(args: str, where: Source, arg: Source):
    if not args:
        return BreathCue("cycle", where)
    word, _, rest = args.partition(" ")
    if word.lower() != "pace":
        raise ScriptError(f"unknown breath cue '{args}': use [breath] or [breath pace 6 -> 5 over 3m]", arg)
    return BreathPace(_ramp(rest, arg, "/min|bpm", 3, 30, "breath pace", "breath pace 6 -> 5 over 3m"), where)


def _inhale(args: str, where: Source, arg: Source):
    _no_args("inhale", args, arg)
    return BreathCue("inhale", where)


def _exhale(args: str, where: Source, arg: Source):
    _no_args("exhale", args, arg)
    return BreathCue("exhale", where)


def _bed(args: str, where: Source, arg: Source):
    words = args.split()
    if not words or len(words) > 2:
        raise ScriptError("bed needs a preset, a level or 'off': [bed ocean 8s], [bed -6dB 4s], [bed off 10s]", where)
    fade = _duration(words[1], arg, "fade length") if len(words) == 2 else None
    if words[0].lower() == "off":
        return BedCue(name=None, gain_db=None, fade_s=10.0 if fade is None else fade, source=where, off=True)
    if level := re.match(rf"^({_NUMBER})\s*db$", words[0], re.IGNORECASE):
        gain = float(level.group(1))
        if not -40 <= gain <= 12:
            raise ScriptError(f"bed level {gain:g}dB is outside -40…+12 dB", arg)
        return BedCue(name=None, gain_db=gain, fade_s=4.0 if fade is None else fade, source=where)
    if not re.match(r"^[\w.-]+$", words[0]):
        raise ScriptError(f"'{words[0]}' is not a bed preset name", arg)
    return BedCue(name=words[0], gain_db=None, fade_s=8.0 if fade is None else fade, source=where)


def _tone(args: str, where: Source, arg: Source):
    kind, _, rest = args.partition(" ")
    kind = kind.lower()
    if kind == "off":
        return ToneCue(
            kind="off",
            beat=None,
            carrier_hz=0.0,
            fade_s=_duration(rest, arg, "fade length") if rest.strip() else 10.0,
            source=where,
        )
    if kind not in ("binaural", "isochronic"):
        raise ScriptError(
            f"tone must be binaural, isochronic or off{did_you_mean(kind, ['binaural', 'isochronic', 'off'])}", arg
        )
    carrier = 200.0
    if match := re.search(rf"\s+carrier\s+({_NUMBER})\s*(?:hz)?\s*$", rest, re.IGNORECASE):
        carrier = float(match.group(1))
        rest = rest[: match.start()]
        if not 50 <= carrier <= 1000:
            raise ScriptError(f"tone carrier {carrier:g} Hz is outside 50–1000 Hz", arg)
    beat = _ramp(rest, arg, "hz", 0.5, 30, "tone beat", "tone binaural 10Hz -> 6Hz over 5m")
    return ToneCue(kind=kind, beat=beat, carrier_hz=carrier, fade_s=10.0, source=where)


def _at(args: str, where: Source, arg: Source):
    if not args:
        raise ScriptError("at needs a time, for example [at 12:00]", where)
    return At(_duration(args, arg, "time"), where)


END_LIMIT_S = 24 * 3600


def _end(args: str, where: Source, arg: Source):
    if not args:
        raise ScriptError("end needs a time, for example [end 8:00:00]", where)
    return End(_duration(args, arg, "end time", upper_s=END_LIMIT_S), where)


def _mark(args: str, where: Source, arg: Source):
    if not args:
        raise ScriptError("mark needs a name, for example [mark deepest]", where)
    return Mark(args, where)


def _sound(args: str, where: Source, arg: Source):
    if not args:
        raise ScriptError("sound needs a file, for example [sound bell.wav]", where)
    return Insert(args, where)


def _no_args(name: str, args: str, arg: Source) -> None:
    if args:
        raise ScriptError(f"[{name}] takes no arguments, got '{args}'", arg)


CUES: dict[str, Callable[[str, Source, Source], object]] = {
    "pause": _pause,
    "rate": _rate,
    "pitch": _pitch,
    "volume": _volume,
    "pan": _pan,
    "voice": _voice,
    "together": _together,
    "breath": _breath,
    "inhale": _inhale,
    "exhale": _exhale,
    "bed": _bed,
    "tone": _tone,
    "at": _at,
    "end": _end,
    "mark": _mark,
    "sound": _sound,
}
"""Cue name → parser(args, cue source, argument source). The language reference lists each."""
