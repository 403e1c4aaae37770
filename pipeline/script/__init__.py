"""The script language: a ``.txt`` or ``.ssml`` file → a ``Script`` of events, every mistake at file:line:col.

It knows nothing about audio. ``model`` holds the values; ``front_matter``,
``cues`` and ``values`` read the small parts; ``body`` is the builder both
front ends feed (``plain`` for our format, ``ssml`` for imports); ``voicing``
resolves rate, pitch, volume, pan and voice onto each phrase; ``load`` picks
the front end by suffix. Reference: docs/script-format.md.
"""

from .front_matter import NO_AMBIENCE, Breath, Meta
from .load import SCRIPT_SUFFIXES, discover, parse_file
from .model import (
    At,
    BedCue,
    Break,
    BreathCue,
    BreathPace,
    Emphasis,
    End,
    Event,
    Insert,
    Mark,
    Pause,
    Phrase,
    Ramp,
    Script,
    ScriptErrors,
    Section,
    ToneCue,
    VoicingCue,
    WordSpan,
)
from .plain import parse_text
from .ssml import parse_ssml
from .values import parse_amount, parse_duration

__all__ = [
    "NO_AMBIENCE",
    "Breath",
    "Meta",
    "SCRIPT_SUFFIXES",
    "discover",
    "parse_file",
    "parse_text",
    "parse_ssml",
    "parse_duration",
    "parse_amount",
    "At",
    "BedCue",
    "Break",
    "BreathCue",
    "BreathPace",
    "End",
    "Event",
    "Insert",
    "Mark",
    "Pause",
    "Phrase",
    "Ramp",
    "Script",
    "ScriptErrors",
    "Section",
    "ToneCue",
    "VoicingCue",
    "Emphasis",
    "WordSpan",
]
