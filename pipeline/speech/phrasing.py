"""Breath groups inside a sentence: where a narrator pauses, and the silence put there in the sentence's one clip.

A narrator slows by pausing between breath groups (at commas and clause edges, and before a clause's "and",
"as" or "while"), not by slowing every sound. The sentence is spoken whole, so its intonation runs on across
each pause; the silence is put into its clip at the word boundary (the engine's own phoneme times where it
reports them), at the quietest point within ``SNAP_S`` of it, with fades too short to hear so nothing clicks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..audio import frames

SNAP_S = 0.01
"""A pause goes in at the quietest point this close to the word boundary."""
FADE_S = 0.004
"""Each side of a pause fades over this long: shorter than a syllable's edge, long enough not to click."""
CLAUSE_MARKS = ",;:—–…"
"""Marks inside a sentence after which a narrator takes a breath."""
BREATH_WORDS = ("and", "as", "while", "but", "until", "because")
"""Words that open a new breath group..."""
GROUP_WORDS = (4, 3)
"""...when at least this many words come before them (since the last pause) and after them (to the next)."""
CONJUNCTION_SHARE = 0.6
"""The pause before a conjunction, as a share of the pause after a mark: a lighter breath."""
_WORD = re.compile(r"[\w'’]+")


@dataclass(frozen=True)
class BreathGroup:
    """Where a new breath group starts: a character offset in the sentence, and how much of the pause it takes."""

    offset: int
    share: float


def breath_groups(text: str) -> tuple[BreathGroup, ...]:
    """The word offsets in ``text`` where a narrator pauses before speaking on (none at its start or end)."""
    words = list(_WORD.finditer(text))
    marked = [0] + [
        i
        for i in range(1, len(words))
        if any(mark in text[words[i - 1].end() : words[i].start()] for mark in CLAUSE_MARKS)
    ]
    found, since = [], 0
    for index in range(1, len(words)):
        if index in marked:
            found.append(BreathGroup(words[index].start(), 1.0))
            since = index
            continue
        to_next = min([i for i in marked if i > index], default=len(words)) - index
        if (
            words[index].group().lower() in BREATH_WORDS
            and index - since >= GROUP_WORDS[0]
            and to_next >= GROUP_WORDS[1]
        ):
            found.append(BreathGroup(words[index].start(), CONJUNCTION_SHARE))
            since = index
    return tuple(found)


def with_breath_marks(text: str, groups: tuple[BreathGroup, ...]) -> tuple[str, list[int]]:
    """``text`` with a comma where a breath group opens on a conjunction, for an engine that pauses at marks
    itself (Kokoro phrases a comma as a narrator phrases a breath group: a rise, a pause, a new breath); and the
    offsets the commas were put at (an offset of ``text`` past one moves on by one)."""
    at = [len(text[: g.offset].rstrip()) for g in groups if g.share < 1.0]
    for point in reversed(at):
        text = text[:point] + "," + text[point:]
    return text, at


def moved(offset: int, marks_at: list[int]) -> int:
    """Where ``offset`` of a text lies once commas are put in at ``marks_at`` (``with_breath_marks``)."""
    return offset + sum(point < offset for point in marks_at)


def with_pauses(audio: np.ndarray, at: list[int], pauses_s: list[float]) -> tuple[np.ndarray, list[int]]:
    """``audio`` (frames, channels) with ``pauses_s[i]`` of silence put in at the quietest point within SNAP_S
    of frame ``at[i]``; and those points, in the frames of ``audio``."""
    if not at:
        return audio, []
    energy = _energy(audio)
    reach, fade = frames(SNAP_S), frames(FADE_S)
    points = []
    for frame in at:
        lo, hi = max(frame - reach, 0), min(frame + reach + 1, len(audio))
        points.append(lo + int(np.argmin(energy[lo:hi])) if hi > lo else min(max(frame, 0), len(audio)))
    pieces, last = [], 0
    for i in sorted(range(len(points)), key=points.__getitem__):
        pieces += [
            _faded(audio[last : points[i]], fade, last > 0, True),
            np.zeros((frames(max(pauses_s[i], 0.0)), audio.shape[1]), np.float32),
        ]
        last = points[i]
    pieces.append(_faded(audio[last:], fade, True, False))
    return np.concatenate(pieces).astype(np.float32), points


def shifted(frame: int, points: list[int], pauses_s: list[float]) -> int:
    """Where ``frame`` of the audio before the pauses lies once they are in."""
    return frame + sum(frames(max(p, 0.0)) for point, p in zip(points, pauses_s) if point <= frame)


def _faded(piece: np.ndarray, fade: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    piece, n = piece.copy(), min(fade, len(piece))
    if n and fade_in:
        piece[:n] *= np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
    if n and fade_out:
        piece[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
    return piece


def _energy(audio: np.ndarray) -> np.ndarray:
    """Power in 2 ms windows, one value per frame."""
    window = frames(0.002)
    return np.convolve(np.square(audio).mean(axis=1), np.ones(window) / window, mode="same")
