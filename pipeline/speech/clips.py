"""Clean clip edges: resample, high-pass, trim to a consistent edge, match levels, shift pitch, fade."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio import SAMPLE_RATE, apply_fades, as_frames, db_to_gain, frames, resample
from ..loudness import integrated_loudness

EDGE_FADE_S = 0.012
"""Every clip edge fades over 12 ms: joins never click (10–20 ms is the usual range)."""
EDGE_PAD_S = 0.02
"""Quiet kept beyond the last audible sample, so soft consonants are not cut."""
TRIM_BELOW_PEAK_DB = 42.0
"""Edges quieter than this under the clip's loudest 5 ms are silence, whatever the engine's level."""
CLIP_LUFS = -20.0
"""Each phrase is matched to this loudness, so no phrase jumps out..."""
LEVEL_MATCH_LIMIT_DB = 6.0
"""...but by no more than this, so a phrase's own character survives."""


@dataclass(frozen=True)
class Clip:
    """One utterance: float32 (frames, channels) at SAMPLE_RATE, trimmed, levelled and faded."""

    text: str
    audio: np.ndarray
    anchors: tuple[int, ...] = ()
    """Where the marks inside the sentence fall, in frames from the clip's start (its phrase's ``word_marks``)."""

    @property
    def frames(self) -> int:
        return len(self.audio)


def clean_clip(raw: np.ndarray, rate: int, highpass_hz: float, gain_db: float, pitch_st: float) -> np.ndarray:
    """Engine output → a clip: one rate, no rumble, a consistent edge of silence, matched level, pitch, fades."""
    audio = trim_silence(_filtered(raw, rate, highpass_hz))
    if not len(audio):
        return audio
    audio = match_level(audio) * np.float32(db_to_gain(gain_db))
    if pitch_st:
        audio = shift_pitch(audio, pitch_st)
    return apply_fades(audio, frames(EDGE_FADE_S), frames(EDGE_FADE_S))


def _filtered(raw: np.ndarray, rate: int, highpass_hz: float) -> np.ndarray:
    from scipy import signal

    audio = resample(raw, rate)
    if highpass_hz > 0:
        sos = signal.butter(2, highpass_hz, "highpass", fs=SAMPLE_RATE, output="sos")
        audio = signal.sosfilt(sos, audio, axis=0).astype(np.float32)
    return audio


def clip_start_in(raw: np.ndarray, rate: int, highpass_hz: float) -> int:
    """Where, in ``raw`` at SAMPLE_RATE, the clip ``clean_clip`` makes of it begins (its leading silence cut)."""
    return trim_bounds(_filtered(raw, rate, highpass_hz))[0]


def trim_bounds(audio: np.ndarray, below_peak_db: float = TRIM_BELOW_PEAK_DB) -> tuple[int, int]:
    """The frames [start, end) left once leading and trailing silence is cut, with a short pad so consonants are
    not clipped; (0, 0) for silence."""
    audio = as_frames(audio)
    window = frames(0.005)
    energy = np.convolve(np.square(audio).mean(axis=1), np.ones(window) / window, mode="same")
    if not len(energy) or energy.max() <= 1e-14:
        return 0, 0
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-below_peak_db / 10))
    if not len(loud):
        return 0, 0
    pad = frames(EDGE_PAD_S)
    return max(loud[0] - pad, 0), min(loud[-1] + pad + 1, len(audio))


def trim_silence(audio: np.ndarray, below_peak_db: float = TRIM_BELOW_PEAK_DB) -> np.ndarray:
    """Cut leading and trailing silence, keeping a short pad so consonants are not clipped."""
    audio = as_frames(audio)
    start, end = trim_bounds(audio, below_peak_db)
    return audio[start:end].copy()


def match_level(audio: np.ndarray) -> np.ndarray:
    """Gain a phrase toward CLIP_LUFS (within ±LEVEL_MATCH_LIMIT_DB)."""
    loudness = integrated_loudness(audio)
    if loudness <= -70:
        return audio
    gain = float(np.clip(CLIP_LUFS - loudness, -LEVEL_MATCH_LIMIT_DB, LEVEL_MATCH_LIMIT_DB))
    return audio * np.float32(db_to_gain(gain))


def shift_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Rubber Band (through pedalboard): a few semitones without chipmunk formants; length unchanged."""
    from pedalboard import PitchShift

    shifted = PitchShift(semitones=semitones)(np.ascontiguousarray(audio.T), SAMPLE_RATE)
    return np.ascontiguousarray(shifted.T, dtype=np.float32)
