"""Timeline + clips + beds → ``Stems``: voice, bed and tones, levelled, ducked and faded, block by block.

This module owns the balance. The voice goes through its preset's chain and
is levelled once over the whole programme; the bed is set a fixed number of
dB under it during speech and ducked by an envelope computed from the
timeline itself (not by a detector on the audio), which lets it duck ahead of
the first syllable and hold through short pauses, so slow speech never pumps.
Tones sit under the bed. Every stem is built in blocks into a disk-backed
array, so memory does not grow with the session; the stems are
sample-aligned and their sum is the mix that mastering receives.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from .audio import SAMPLE_RATE, db_to_gain, equal_power_fades, frame_peaks, frames
from .beds import BedPreset, BedStream, ToneRenderer, reference_loudness
from .blocks import (
    Computed,
    GainSmoother,
    Generated,
    Memory,
    Scratch,
    Signal,
    at_audio_rate,
    control_frames,
    curve_gain,
    spans,
)
from .loudness import LoudnessMeter, Spread, integrated_loudness, span_loudness
from .pacing import Timeline
from .speech import Clip, VoiceChain, VoicePreset

VOICE_LUFS = -20.0
"""Where the voice stem is levelled to before the bed is set under it."""
BALANCE_TOLERANCE_DB = 3.0
"""How far the voice over the bed, as heard (``voice_over_bed``), may stray from the setting: qc's window."""


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class Stems:
    """Sample-aligned stereo stems at SAMPLE_RATE (signals: arrays, disk arrays or recipes); ``mix`` is exactly their
    sum."""

    voice: Signal
    bed: Signal
    tones: Signal
    settings: MixSettings
    """What they were mixed with."""
    voice_gain_db: float = 0.0
    bed_lufs: float = 0.0
    """The bed's loudness between words (before level cues); under words it is ``duck_db`` lower."""
    voice_over_bed: Spread | None = None
    """The voice's loudness over the bed's in each phrase, as mixed (None: no phrase had a bed under it)."""

    @property
    def mix(self) -> Computed:
        """The three summed, as read."""
        return Computed(len(self.voice), 2, lambda a, b: self.voice[a:b] + self.bed[a:b] + self.tones[a:b])

    def named(self) -> dict[str, Signal]:
        return {"voice": self.voice, "bed": self.bed, "tones": self.tones}


def mix(
    timeline: Timeline,
    clips: tuple[Clip, ...],
    voices: dict[str, VoicePreset],
    beds: dict[str, BedPreset],
    settings: MixSettings = MixSettings(),
    work: Scratch | None = None,
) -> Stems:
    """Voice through its chain and levelled; the bed set under it and ducked; tones under the bed; ends faded.

    The voice is stored (it is the costly part, and only its sounding blocks take disk); the bed and tones are
    kept while ``work``'s budget has room, else made again where they are read."""
    work = work or Memory()
    voice = work.zeros(timeline.frames)
    bed_lufs = VOICE_LUFS - settings.voice_to_bed_db + settings.duck_db
    bed = bed_signal(timeline, beds, settings, bed_lufs)
    with ThreadPoolExecutor(
        1
    ) as other_core:  # bed and tones need nothing from the voice; numpy and pedalboard let go of the GIL
        tones_lufs = VOICE_LUFS - settings.voice_to_bed_db - settings.tones_under_bed_db
        kept_bed = other_core.submit(work.keep, bed)
        tones = other_core.submit(lambda: work.keep(tones_signal(timeline, tones_lufs, settings)))
        for name in sorted({p.voice for p in timeline.phrases}):  # sorted: the same sum, bit for bit, every run
            lay_voice(timeline, clips, name, voices[name].chain if name in voices else None, out=voice)
        voice_gain_db = VOICE_LUFS - speech_loudness(voice, timeline)
        tame_peaks(
            voice, VOICE_LUFS + settings.voice_peak_above_lufs_db, settings.voice_ratio, voice_gain_db, out=voice
        )
        bed = kept_bed.result()
        return Stems(
            voice=voice,
            bed=bed,
            tones=tones.result(),
            settings=settings,
            voice_gain_db=voice_gain_db,
            bed_lufs=bed_lufs,
            voice_over_bed=voice_over_bed(voice, bed, spoken_spans(timeline)),
        )


# --- voice ---------------------------------------------------------------------------


def lay_voice(
    timeline: Timeline,
    clips: tuple[Clip, ...],
    voice_name: str | None = None,
    chain: VoiceChain | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Add each clip (of one voice, or all) at its place with its volume and pan, through the voice's chain."""
    out = np.zeros((timeline.frames, 2), dtype=np.float32) if out is None else out
    placed = [p for p in timeline.phrases if voice_name is None or p.voice == voice_name]
    if not placed:
        return out
    board = chain_board(chain) if chain else None
    ring = frames(ring_s(chain)) if board else 0
    starts = [p.start for p in placed]
    longest = max(p.frames for p in placed)
    fresh = True
    for start, end in spans(timeline.frames):
        nearby = placed[bisect.bisect_left(starts, start - longest - ring) : bisect.bisect_left(starts, end)]
        if not any(phrase.end + ring > start for phrase in nearby):
            fresh = True  # nothing sounds here, not even the room: skip the chain and start it afresh later
            continue
        block = np.zeros((end - start, 2), dtype=np.float32)
        for phrase in nearby:
            a, b = max(start, phrase.start), min(end, phrase.end)
            if a < b:
                left, right = min(1.0, 1.0 - phrase.pan), min(1.0, 1.0 + phrase.pan)  # balance law: centre is 0 dB
                gains = np.array([left, right], dtype=np.float32) * np.float32(db_to_gain(phrase.volume_db))
                block[a - start : b - start] += clips[phrase.clip].audio[a - phrase.start : b - phrase.start] * gains
        if board is not None:
            block = np.ascontiguousarray(board(np.ascontiguousarray(block.T), SAMPLE_RATE, reset=fresh).T)
        fresh = False
        out[start:end] += block
    return out


def ring_s(chain: VoiceChain) -> float:
    """How long the chain keeps sounding after the last word, to below −120 dB: the compressor's release, then
    the room (pedalboard's Reverb is Freeverb, whose combs feed back 0.28·size + 0.7 every 25–37 ms)."""
    feedback = 0.28 * chain.room_size + 0.7
    room = 0.037 * 120 / -(20 * np.log10(feedback)) if chain.room_wet > 0 else 0.0
    return 1.0 + room


def chain_board(chain: VoiceChain):
    """The voice preset's gentle chain as a pedalboard: warmth, de-harsh, soft compression, a small room."""
    import pedalboard

    plugins = []
    if chain.warmth_db:
        plugins.append(pedalboard.LowShelfFilter(cutoff_frequency_hz=180, gain_db=chain.warmth_db))
    if chain.deess_db:
        plugins.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=6500, gain_db=chain.deess_db))
    if chain.compress_ratio > 1:
        plugins.append(
            pedalboard.Compressor(
                threshold_db=chain.compress_threshold_db, ratio=chain.compress_ratio, attack_ms=15, release_ms=200
            )
        )
    if chain.room_wet > 0:
        plugins.append(
            pedalboard.Reverb(
                room_size=chain.room_size, damping=0.6, wet_level=chain.room_wet, dry_level=1.0, width=0.8
            )
        )
    return pedalboard.Pedalboard(plugins) if plugins else None


def tame_peaks(
    audio: np.ndarray, threshold_db: float, ratio: float, gain_db: float = 0.0, out: np.ndarray | None = None
) -> np.ndarray:
    """``audio × gain`` through a look-ahead peak compressor: above ``threshold_db`` the level rises 1/ratio as fast.

    Fast enough (5 ms down) to catch plosives, slow enough (200 ms up) not to
    flutter within a syllable; the body of the voice is untouched. May work in place.
    """
    out = np.empty_like(audio) if out is None else out
    smoother = GainSmoother(6.0 / frames(0.005), 6.0 / frames(0.2))
    gain = float(db_to_gain(gain_db))
    for start, end in spans(len(audio)):
        ahead = np.asarray(audio[start : end + smoother.lookahead]) * gain  # read before this block is overwritten
        level_db = 20 * np.log10(np.maximum(frame_peaks(ahead), 1e-9))
        required = -np.maximum(level_db - threshold_db, 0.0) * (1 - 1 / ratio)
        curve = smoother.process(required[: end - start], required[end - start :])
        out[start:end] = ahead[: end - start] * curve_gain(curve).astype(np.float32)[:, None]
    return out


def voice_over_bed(voice: Signal, bed: Signal, spans: list[tuple[int, int]]) -> Spread | None:
    """The balance as a listener hears it: the voice's K-weighted loudness over the bed's in each span (a spoken
    phrase, first frame to last), where a bed sounds under it (None: nowhere). The mix records it in the manifest
    beside its ``voice_to_bed_db`` setting; qc judges it again on the stems a track ships with."""
    differences = []
    for start, end in spans:
        under = span_loudness(bed[start:end])
        if under > -70:
            differences.append(span_loudness(voice[start:end]) - under)
    return Spread.of(differences)


def spoken_spans(timeline: Timeline) -> list[tuple[int, int]]:
    """Each spoken phrase's clip (inserted sounds left out), in frames: where the balance is heard."""
    return [(phrase.start, phrase.end) for phrase in timeline.phrases if phrase.voice]


def speech_loudness(audio: np.ndarray, timeline: Timeline) -> float:
    """Integrated loudness (LUFS) of ``audio`` over the spans where words are spoken, as if joined."""
    meter = LoudnessMeter(audio.shape[1])
    for start, end in timeline.speech_intervals() or [(0, len(audio))]:
        meter.feed(audio[start:end])
    loudness = meter.integrated()
    if loudness <= -70 and timeline.phrases:  # too short to gate (under 0.4 s): measure the words repeated
        joined = np.concatenate([audio[s:e] for s, e in timeline.speech_intervals()])
        return integrated_loudness(np.tile(joined, (frames(0.5) // max(len(joined), 1) + 1, 1)))
    return loudness


# --- bed and tones ---------------------------------------------------------------------


def bed_signal(
    timeline: Timeline, beds: dict[str, BedPreset], settings: MixSettings, loudness_lufs: float
) -> Generated:
    """The bed stem, made as it is read: presets crossfaded (equal power) as the cues say, each levelled to its
    reference, set to ``loudness_lufs``, with the level cues, the ducking and the programme's fades."""
    return Generated(timeline.frames, 2, lambda: _bed_blocks(timeline, beds, settings, loudness_lufs))


def _bed_blocks(
    timeline: Timeline, beds: dict[str, BedPreset], settings: MixSettings, loudness_lufs: float
) -> Iterator[np.ndarray]:
    """The bed block by block: crossfaded, levelled, with the level cues, the ducking and the fades."""
    segments = bed_segments(timeline)
    level_x, level_y = bed_levels(timeline)
    seeds = [timeline.seed + 7919 * index for index in range(len(segments))]  # each stretch of bed its own noise
    streams = [
        BedStream(beds[seg.name], seg.end - seg.start, s, timeline.breath, seg.start) for seg, s in zip(segments, seeds)
    ]
    levelled = [np.float32(db_to_gain(-reference_loudness(beds[seg.name], s))) for seg, s in zip(segments, seeds)]
    duck_x, duck_y = _duck_breakpoints(timeline, settings)
    for start, end in spans(timeline.frames):
        block = np.zeros((end - start, 2), dtype=np.float32)
        for stream, to_reference, seg in zip(streams, levelled, segments):
            a, b = max(start, seg.start), min(end, seg.end)
            if a < b:
                fades = equal_power_fades(a - seg.start, b - seg.start, seg.end - seg.start, seg.fade_in, seg.fade_out)
                block[a - start : b - start] += stream.take(b - a) * fades * to_reference
        at = control_frames(start, end - start)
        envelope = db_to_gain(np.interp(at, level_x, level_y) + np.interp(at, duck_x, duck_y) + loudness_lufs)
        fades = _programme_fades(start, end, timeline.frames, settings)
        block *= at_audio_rate(envelope, end - start)[:, None] * fades
        yield block


@dataclass(frozen=True, kw_only=True)
class BedSegment:
    """One stretch of one bed preset, in frames, with its crossfades (equal power) at either end."""

    name: str
    start: int
    end: int
    fade_in: int = 0
    fade_out: int = 0


def bed_segments(timeline: Timeline) -> list[BedSegment]:
    """Every stretch of bed the opening bed and the cues make."""
    total = timeline.frames
    segments = [BedSegment(name=timeline.opening_bed, start=0, end=total)] if timeline.opening_bed else []
    for change in timeline.beds:
        cue, fade = change.cue, frames(change.cue.fade_s)
        if cue.gain_db is not None:
            continue
        if segments and segments[-1].end == total:
            segments[-1] = replace(segments[-1], end=min(change.start + fade, total), fade_out=fade)
        if not cue.off:
            segments.append(BedSegment(name=cue.name, start=change.start, end=total, fade_in=fade))
    return [s for s in segments if s.end > s.start]


def bed_levels(timeline: Timeline) -> tuple[np.ndarray, list[float]]:
    """Breakpoints of the bed's level-cue curve, in frames and dB."""
    xs, ys = [0.0], [0.0]
    for change in timeline.beds:
        if change.cue.gain_db is not None:
            xs += [change.start, change.start + frames(change.cue.fade_s)]
            ys += [ys[-1], change.cue.gain_db]
    return np.maximum.accumulate(xs), ys  # a level change cut short by the next one still ends in order


def _programme_fades(start: int, end: int, total: int, settings: MixSettings) -> np.ndarray:
    return equal_power_fades(start, end, total, frames(settings.fade_in_s), frames(settings.fade_out_s))


def tones_signal(timeline: Timeline, loudness_lufs: float, settings: MixSettings) -> Computed:
    """Entrainment tones at ``loudness_lufs``, made as read (they are a pure function of the frame, so any
    range costs only itself); measured here on a first pass."""
    if not timeline.tones:
        return Computed(timeline.frames, 2, lambda a, b: np.zeros((b - a, 2), np.float32))
    renderer = ToneRenderer(timeline.tones, timeline.frames)
    meter = LoudnessMeter(2)
    for start, end in spans(timeline.frames):
        meter.feed(renderer.block(start, end))
    gain = np.float32(db_to_gain(loudness_lufs - meter.integrated()))
    return Computed(
        timeline.frames, 2, lambda a, b: renderer.block(a, b) * gain * _programme_fades(a, b, timeline.frames, settings)
    )


def _duck_breakpoints(timeline: Timeline, settings: MixSettings) -> tuple[np.ndarray, list[float]]:
    """The bed's ducking in dB at breakpoints in frames: 0 between passages, −duck_db under speech. Spans closer
    than the hold time merge, so short pauses stay ducked; the ramps start ``attack`` before the first word,
    since the timeline is known."""
    attack, release = frames(settings.duck_attack_s), frames(settings.duck_release_s)
    merge_gap = max(frames(settings.duck_hold_s), attack + release)
    merged: list[list[int]] = []
    for start, end in sorted(timeline.speech_intervals()):
        if merged and start - merged[-1][1] < merge_gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    xs, ys = [0.0], [0.0]
    for start, end in merged:
        xs += [start - attack, start, end, end + release]
        ys += [0.0, -settings.duck_db, -settings.duck_db, 0.0]
    return np.maximum.accumulate(np.maximum(xs, 0.0)), ys  # a word at frame 0 has nothing to duck ahead of
