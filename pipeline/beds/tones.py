"""Entrainment tones: binaural beats and isochronic pulses, with exact phase through frequency glides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio import SAMPLE_RATE


def fraction(cycles: np.ndarray) -> np.ndarray:
    """The fractional part as float32: float64 keeps hours of phase exact, float32 makes the sine fast."""
    return (cycles - np.floor(cycles)).astype(np.float32)


def tone(kind: str, carrier_cycles: np.ndarray, beat_cycles: np.ndarray) -> np.ndarray:
    """(frames, 2) unit-peak tone. Binaural: half a beat below in the left ear, above in the right.
    Isochronic: one carrier pulsed at the beat with smooth raised-cosine pulses."""
    two_pi = np.float32(2 * np.pi)
    if kind == "binaural":
        left = np.sin(two_pi * fraction(carrier_cycles - beat_cycles / 2))
        right = np.sin(two_pi * fraction(carrier_cycles + beat_cycles / 2))
        return np.stack([left, right], axis=1)
    gate = (0.5 - 0.5 * np.cos(two_pi * fraction(beat_cycles))) ** 2
    return np.repeat((np.sin(two_pi * fraction(carrier_cycles)) * gate)[:, None], 2, axis=1)


def beat_cycles(start_hz: float, end_hz: float | None, ramp_s: float, t: np.ndarray) -> np.ndarray:
    """∫ beat frequency dt from t = 0: quadratic while gliding, linear after."""
    end_hz = start_hz if end_hz is None else end_hz
    if ramp_s <= 0:
        return end_hz * t
    during = start_hz * t + (end_hz - start_hz) * t**2 / (2 * ramp_s)
    at_end = start_hz * ramp_s + (end_hz - start_hz) * ramp_s / 2
    return np.where(t < ramp_s, during, at_end + end_hz * (t - ramp_s))


@dataclass(frozen=True, kw_only=True)
class _Segment:
    start: int
    end: int
    """Includes the fade-out after an ``off``."""
    kind: str
    carrier_hz: float
    beat_from: float
    beat_to: float | None
    ramp_s: float
    cycles_at_start: float
    fade_in: int
    fade_out: int


class ToneRenderer:
    """The tones stem for the script's tone cues, rendered for any frame range (unit peak).

    The beat's phase is integrated exactly over each glide and carried across
    changes, so glides never click; every value is a function of the absolute frame.
    """

    def __init__(self, changes: tuple, total: int):
        self.segments: list[_Segment] = []
        cycles = 0.0
        for index, change in enumerate(changes):
            cue = change.cue
            following = changes[index + 1] if index + 1 < len(changes) else None
            end = following.start if following else total
            if cue.kind == "off" or end <= change.start:
                cycles = 0.0
                continue
            fade_out = (
                _fade_frames(following.cue.fade_s, total - end) if following and following.cue.kind == "off" else 0
            )
            starts_sound = index == 0 or changes[index - 1].cue.kind == "off"
            fade_in = _fade_frames(cue.fade_s, end - change.start) if starts_sound else 0
            ramp_s = change.ramp_frames / SAMPLE_RATE
            self.segments.append(
                _Segment(
                    start=change.start,
                    end=end + fade_out,
                    kind=cue.kind,
                    carrier_hz=cue.carrier_hz,
                    beat_from=cue.beat.start,
                    beat_to=cue.beat.end,
                    ramp_s=ramp_s,
                    cycles_at_start=cycles,
                    fade_in=fade_in,
                    fade_out=fade_out,
                )
            )
            cycles += float(
                beat_cycles(cue.beat.start, cue.beat.end, ramp_s, np.array([(end - change.start) / SAMPLE_RATE]))[0]
            )

    def block(self, start: int, end: int) -> np.ndarray:
        out = np.zeros((end - start, 2), dtype=np.float32)
        for seg in self.segments:
            a, b = max(start, seg.start), min(end, seg.end)
            if a >= b:
                continue
            local = np.arange(a - seg.start, b - seg.start, dtype=np.float64)
            t = local / SAMPLE_RATE
            beats = seg.cycles_at_start + beat_cycles(seg.beat_from, seg.beat_to, seg.ramp_s, t)
            sound = tone(seg.kind, (seg.start / SAMPLE_RATE + t) * seg.carrier_hz, beats)
            sound *= edge_envelope(local, seg.fade_in, seg.end - seg.start, seg.fade_out)[:, None]
            out[a - start : b - start] += sound
        return out


def render_tones(changes: tuple, n_frames: int) -> np.ndarray:
    return ToneRenderer(changes, n_frames).block(0, n_frames)


def edge_envelope(local: np.ndarray, fade_in: int, length: int, fade_out: int) -> np.ndarray:
    """Raised-sine fades at either end of a stretch, at the given frame offsets within it."""
    envelope = np.ones(len(local), dtype=np.float32)
    if fade_in:
        envelope *= np.sin(0.5 * np.pi * np.clip((local + 0.5) / fade_in, 0, 1)) ** 2
    if fade_out:
        envelope *= np.sin(0.5 * np.pi * np.clip((length - local - 0.5) / fade_out, 0, 1)) ** 2
    return envelope.astype(np.float32)


def _fade_frames(seconds: float, limit: int) -> int:
    return max(min(int(round(seconds * SAMPLE_RATE)), limit), 0)
