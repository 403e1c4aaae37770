"""Timeline + clips + bed → ``Stems``: voice and bed, levelled, ducked and faded.

This module owns the balance. The voice is levelled once over the whole
programme; the bed is set a fixed number of dB under it during speech and
ducked by an envelope computed from the timeline itself (not by a detector on
the audio), which lets it duck ahead of the first syllable and hold through
short pauses so slow speech never pumps. The stems are sample-aligned and
their sum is the mix that mastering receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE, apply_fades, db_to_gain, fade_curve, frame_peaks, frames
from .beds import BedPreset, render_bed, render_tones
from .loudness import integrated_loudness
from .master import smooth_gain_db
from .pacing import Timeline
from .speech import Clip, VoiceChain, VoicePreset

VOICE_LUFS = -20.0
"""Where the voice stem is levelled to before the bed is set under it."""


@dataclass(frozen=True)
class MixSettings:
    voice_to_bed_db: float = 15.0
    """How far the ducked bed sits under the voice while words are spoken."""
    duck_db: float = 8.0
    duck_attack_s: float = 0.25
    duck_release_s: float = 0.6
    duck_hold_s: float = 0.85
    """Gaps in speech shorter than this keep the bed ducked (no pumping)."""
    voice_peak_above_lufs_db: float = 9.0
    """Voice peaks more than this above its loudness are compressed: TTS is spiky on plosives."""
    voice_ratio: float = 3.0
    tones_under_bed_db: float = 4.0
    """Entrainment tones sit this far under the ducked bed: felt more than heard (noise louder than tones)."""
    fade_in_s: float = 4.0
    fade_out_s: float = 8.0


@dataclass(frozen=True)
class Stems:
    """Sample-aligned stereo stems; ``mix`` is exactly their sum."""

    voice: np.ndarray
    bed: np.ndarray
    tones: np.ndarray
    sample_rate: int = SAMPLE_RATE
    voice_gain_db: float = 0.0
    bed_gain_db: float = 0.0

    @property
    def mix(self) -> np.ndarray:
        return self.voice + self.bed + self.tones

    def named(self) -> dict[str, np.ndarray]:
        return {"voice": self.voice, "bed": self.bed, "tones": self.tones}


def mix(timeline: Timeline, clips: tuple[Clip, ...], voices: dict[str, VoicePreset], beds: dict[str, BedPreset],
        first_bed: str, seed: int, settings: MixSettings = MixSettings()) -> Stems:
    """Voice through its chain and levelled; the bed set under it and ducked; tones under the bed; ends faded."""
    voice = np.zeros((timeline.frames, 2), dtype=np.float32)
    for name in sorted({p.voice for p in timeline.phrases}):  # sorted: the same sum, bit for bit, every run
        part = lay_voice(timeline, clips, name)
        voice += apply_chain(part, voices[name].chain) if name in voices else part
    voice_gain_db = VOICE_LUFS - speech_loudness(voice, timeline)
    voice *= np.float32(db_to_gain(voice_gain_db))
    voice = tame_peaks(voice, VOICE_LUFS + settings.voice_peak_above_lufs_db, settings.voice_ratio)

    bed, level_db = lay_beds(timeline, beds, first_bed, seed)
    bed_gain_db = VOICE_LUFS - settings.voice_to_bed_db + settings.duck_db - speech_loudness(bed, timeline)
    envelope_db = duck_envelope_db(timeline, settings) + level_db + bed_gain_db
    bed *= db_to_gain(envelope_db).astype(np.float32)[:, None]
    apply_fades(bed, frames(settings.fade_in_s), frames(settings.fade_out_s))

    tones = render_tones(timeline.tones, timeline.frames)
    if timeline.tones:
        tones *= np.float32(db_to_gain(VOICE_LUFS - settings.voice_to_bed_db - settings.tones_under_bed_db
                                       - integrated_loudness(tones)))
    apply_fades(tones, frames(settings.fade_in_s), frames(settings.fade_out_s))
    return Stems(voice, bed, tones, timeline.sample_rate, voice_gain_db, bed_gain_db)


def lay_voice(timeline: Timeline, clips: tuple[Clip, ...], voice_name: str | None = None) -> np.ndarray:
    """Write each clip (of one voice, or all) into a preallocated stereo stem at its place, with its volume and pan."""
    voice = np.zeros((timeline.frames, 2), dtype=np.float32)
    for placed in timeline.phrases:
        if voice_name is not None and placed.voice != voice_name:
            continue
        left, right = min(1.0, 1.0 - placed.pan), min(1.0, 1.0 + placed.pan)  # balance law: centre is 0 dB
        gains = np.array([left, right], dtype=np.float32) * np.float32(db_to_gain(placed.volume_db))
        voice[placed.start : placed.end] += clips[placed.clip].audio * gains
    return voice


def lay_beds(timeline: Timeline, beds: dict[str, BedPreset], first: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The bed stem before levelling, with equal-power crossfades between presets, and its level curve in dB."""
    total = timeline.frames
    out = np.zeros((total, 2), dtype=np.float32)
    segments: list[list] = [[first, 0, total, 0, 0]]  # preset, start, end, fade-in, fade-out
    level_x, level_y = [0.0], [0.0]
    for change in timeline.beds:
        cue, fade = change.cue, frames(change.cue.fade_s)
        if cue.gain_db is not None:
            level_x += [change.start, change.start + fade]
            level_y += [level_y[-1], cue.gain_db]
            continue
        if segments and segments[-1][2] == total:
            segments[-1][2], segments[-1][4] = min(change.start + fade, total), fade
        if not cue.off:
            segments.append([cue.name, change.start, total, fade, 0])
    for index, (name, start, end, fade_in, fade_out) in enumerate(segments):
        if end <= start:
            continue
        audio = render_bed(beds[name], end - start, seed + 7919 * index)
        audio[: min(fade_in, len(audio))] *= fade_curve(min(fade_in, len(audio)))
        if fade_out:
            audio[-min(fade_out, len(audio)) :] *= fade_curve(min(fade_out, len(audio)), rising=False)
        out[start:end] += audio
    level_x = np.maximum.accumulate(level_x)  # a level change cut short by the next one still ends in order
    return out, np.interp(np.arange(total), level_x, level_y).astype(np.float32)


def apply_chain(audio: np.ndarray, chain: VoiceChain) -> np.ndarray:
    """The voice preset's gentle chain (pedalboard): warmth, de-harsh, soft compression, a small room."""
    import pedalboard

    plugins = []
    if chain.warmth_db:
        plugins.append(pedalboard.LowShelfFilter(cutoff_frequency_hz=180, gain_db=chain.warmth_db))
    if chain.deess_db:
        plugins.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=6500, gain_db=chain.deess_db))
    if chain.compress_ratio > 1:
        plugins.append(pedalboard.Compressor(threshold_db=chain.compress_threshold_db, ratio=chain.compress_ratio,
                                             attack_ms=15, release_ms=200))
    if chain.room_wet > 0:
        plugins.append(pedalboard.Reverb(room_size=chain.room_size, damping=0.6, wet_level=chain.room_wet,
                                         dry_level=1.0, width=0.8))
    if not plugins:
        return audio
    processed = pedalboard.Pedalboard(plugins)(np.ascontiguousarray(audio.T), SAMPLE_RATE)
    return np.ascontiguousarray(processed.T, dtype=np.float32)


def tame_peaks(audio: np.ndarray, threshold_db: float, ratio: float) -> np.ndarray:
    """A look-ahead peak compressor: above ``threshold_db`` the level rises 1/ratio as fast.

    Fast enough (5 ms down) to catch plosives, slow enough (200 ms up) not to
    flutter within a syllable; it leaves the body of the voice untouched.
    """
    level_db = 20 * np.log10(np.maximum(frame_peaks(audio), 1e-9))
    required = -np.maximum(level_db - threshold_db, 0.0) * (1 - 1 / ratio)
    gain_db = smooth_gain_db(required, 6.0 / frames(0.005), 6.0 / frames(0.2))
    return audio * db_to_gain(gain_db).astype(np.float32)[:, None]


def speech_loudness(audio: np.ndarray, timeline: Timeline) -> float:
    """Integrated loudness (LUFS) of ``audio`` over the spans where words are spoken."""
    spans = [audio[start:end] for start, end in timeline.speech_intervals()]
    joined = np.concatenate(spans) if spans else audio
    if len(joined) < frames(0.5):  # BS.1770 gating needs at least one 400 ms block
        joined = np.concatenate([joined] * (frames(0.5) // max(len(joined), 1) + 1))
    return integrated_loudness(joined)


def duck_envelope_db(timeline: Timeline, settings: MixSettings) -> np.ndarray:
    """Bed gain in dB per frame: 0 between passages, −duck_db under speech.

    Spans closer than the hold time merge, so short pauses stay ducked. The
    ramps start ``attack`` before the first word, since the timeline is known.
    """
    attack, release = frames(settings.duck_attack_s), frames(settings.duck_release_s)
    merge_gap = max(frames(settings.duck_hold_s), attack + release)
    spans: list[list[int]] = []
    for start, end in timeline.speech_intervals():
        if spans and start - spans[-1][1] < merge_gap:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    xs, ys = [0.0], [0.0]
    for start, end in spans:
        xs += [start - attack, start, end, end + release]
        ys += [0.0, -settings.duck_db, -settings.duck_db, 0.0]
    xs = np.maximum.accumulate(np.maximum(xs, 0.0))  # a word at frame 0 has nothing to duck ahead of
    return np.interp(np.arange(timeline.frames), xs, ys).astype(np.float32)
