"""Cues inside a sentence, on its audio: where a word is said, and the span of words said louder or higher.

A sentence is synthesised whole, so its intonation runs on across an emphasised
word or a volume cue; the cue then acts on the stretch of audio where its words
are said. Kokoro reports when it says each phoneme (its duration predictor,
exposed from the graph), so a word starts at the phoneme after those of the
words before it. Piper and Coqui report nothing, so there a word is placed by
the share of the sentence's sounds before it (phonemes where the engine gives
them, letters otherwise), then moved to the quietest 10 ms nearby, the gap
between two words.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..audio import SAMPLE_RATE, db_to_gain, frames
from ..script import WordSpan
from .clips import EDGE_PAD_S, shift_pitch

SNAP_S = 0.08
"""How far from its estimate a word's edge may move to the quiet between words."""
SPAN_EDGE_S = 0.02
"""A span's level or pitch changes over this long, so its edges never click."""
_SPOKEN = str.maketrans("", "", "ˈˌːˑ .,;:!?¡¿—…\"'()-‿")
"""Stress, length and punctuation marks and spaces: not sounds of their own."""


def sounds_counter(phonemes: Callable[[str], str] | None) -> Callable[[str], int]:
    """How many sounds a text has: its phonemes, or without a phonemiser its letters and digits."""
    if phonemes is None:
        return lambda text: sum(ch.isalnum() for ch in text)
    return lambda text: len(phonemes(text).translate(_SPOKEN)) if text.strip() else 0


def word_frames(text: str, offsets: list[int], audio: np.ndarray, sounds: Callable[[str], int]) -> list[int]:
    """The frame of ``audio`` (the sentence's clip) where the word at each character offset of ``text`` starts."""
    pad, total = frames(EDGE_PAD_S), max(sounds(text), 1)
    heard = len(audio) - 2 * pad
    energy = _energy(audio)
    return [
        _quietest_near(pad + int(heard * min(sounds(text[:offset]) / total, 1.0)), energy)
        if 0 < offset < len(text)
        else (0 if offset <= 0 else len(audio))
        for offset in offsets
    ]


def timed_word_frames(
    text: str,
    offsets: list[int],
    clip_frames: int,
    said: list[tuple[str, float]],
    sounds_before: Callable[[str], int],
    clip_start: int,
) -> list[int]:
    """The frame of the clip where the word at each character offset starts, from the engine's own phoneme times
    (``said``: each phoneme, spaces included, and its start in seconds of the raw audio, which the clip begins
    ``clip_start`` frames into)."""
    found = []
    for offset in offsets:
        if not 0 < offset < len(text):
            found.append(0 if offset <= 0 else clip_frames)
            continue
        index = min(sounds_before(text[:offset]), len(said) - 1)
        while index < len(said) - 1 and said[index][0] == " ":
            index += 1  # the word itself, not the space before it
        found.append(min(max(round(said[index][1] * SAMPLE_RATE) - clip_start, 0), clip_frames))
    return found


def shape(audio: np.ndarray, spans: tuple[WordSpan, ...], edges: dict[int, int]) -> np.ndarray:
    """``audio`` with each span's words louder, softer or shifted in pitch (``edges``: character offset → frame)."""
    shaped = audio.copy()
    for span in spans:
        start, end = edges[span.start], edges[span.end]
        if end - start <= 2 * frames(SPAN_EDGE_S):
            continue
        window = _window(len(shaped), start, end)
        if span.pitch_st:
            shifted = shift_pitch(shaped, span.pitch_st)
            shaped = shaped * (1 - window) + shifted * window
        if span.volume_db:
            shaped = shaped * (1 + (np.float32(db_to_gain(span.volume_db)) - 1) * window)
    return shaped.astype(np.float32)


def _window(length: int, start: int, end: int) -> np.ndarray:
    """1 over the span, 0 elsewhere, with raised-cosine edges centred on its ends."""
    edge = frames(SPAN_EDGE_S)
    window = np.zeros((length, 1), np.float32)
    window[start:end] = 1.0
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, 2 * edge, dtype=np.float32)))[:, None]
    for at, shape_ in ((start, ramp), (end, ramp[::-1])):
        lo, hi = max(at - edge, 0), min(at + edge, length)
        window[lo:hi] = shape_[lo - (at - edge) : hi - (at - edge)]
    return window


def _energy(audio: np.ndarray) -> np.ndarray:
    """Power in 10 ms windows, one value per frame."""
    power = np.square(audio).mean(axis=1)
    return np.convolve(power, np.ones(frames(0.01)) / frames(0.01), mode="same")


def _quietest_near(frame: int, energy: np.ndarray) -> int:
    reach = frames(SNAP_S)
    lo, hi = max(frame - reach, 0), min(frame + reach, len(energy))
    return lo + int(np.argmin(energy[lo:hi])) if hi > lo else frame
