"""Pacing: script + clip lengths → ``Timeline``. This stage owns time, and needs only the clips' lengths.

``timeline`` holds the score as a value (and crops it for previews),
``breath`` the listener's breath clock, ``place`` the placing itself.
"""

from .breath import BreathChange, BreathClock
from .place import LEAD_IN_S, SECTION_LEAD_S, TAIL_S, Pauses, place
from .timeline import CROP_MARGIN_S, BedChange, Marker, PlacedPhrase, Timeline, ToneChange, crop

__all__ = [
    "BreathChange",
    "BreathClock",
    "LEAD_IN_S",
    "SECTION_LEAD_S",
    "TAIL_S",
    "Pauses",
    "place",
    "CROP_MARGIN_S",
    "BedChange",
    "Marker",
    "PlacedPhrase",
    "Timeline",
    "ToneChange",
    "crop",
]
