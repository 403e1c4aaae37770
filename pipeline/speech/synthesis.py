"""Every utterance of a script as a clip: phrases spoken through their voice (cached), sounds loaded."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE, apply_fades, frames, resample
from ..errors import ConfigError, RenderError
from ..script import Insert, Phrase, Script
from .align import shape, sounds_counter, timed_word_frames, word_frames
from .cache import ClipCache
from .clips import EDGE_FADE_S, EDGE_PAD_S, Clip, clean_clip, clip_start_in
from .engines import Engine, engine_for
from .text import PACE_MIN_WORDS, SAFE_CHARS, normalise, split_for_engine, spoken_words
from .voices import PRESET_RATES, SPEED_RANGES, VoicePreset, lexicon_for, speed_of

PACE_AIM = 0.04
"""A phrase outside its pace is spoken again aimed this far inside the bound it crossed..."""
PACE_TRIES = 3
"""...as often as this: an engine's speed and the words' rate are not proportional (Piper's pauses do not scale)."""
JOIN_GAP_S = 0.15
"""Silence between the pieces of a phrase too long for its engine."""
CLIP_VERSION = 1
"""Bump when clip cleaning changes, so cached cleaned clips are made again (engine output is kept)."""


def synthesize(
    script: Script,
    voices: dict[str, VoicePreset],
    cache: ClipCache,
    progress: Callable[[int, int], None] | None = None,
    pace_wpm: tuple[float, float] | None = None,
) -> tuple[Clip, ...]:
    """Every utterance of ``script`` as a clip, in order: phrases spoken (cached), sounds loaded.

    Phrases are spoken several at once where every engine in use allows it (Piper: one per core). With
    ``pace_wpm``, a phrase of ``PACE_MIN_WORDS`` or more said faster or slower than that is spoken again at the
    engine speed that brings it inside.
    """
    utterances = script.utterances
    engines = [engine_for(voices[name]) for name in sorted({u.voice for u in utterances if isinstance(u, Phrase)})]
    at_once = min([engine.parallel for engine in engines], default=1)

    def clip_of(utterance: Phrase | Insert) -> Clip:
        if isinstance(utterance, Insert):
            return load_insert(utterance, Path(script.path).parent)
        return speak(utterance, voices[utterance.voice], cache, pace_wpm)

    clips = []
    with ThreadPoolExecutor(at_once) as pool:
        for clip in pool.map(clip_of, utterances):
            clips.append(clip)
            if progress:
                progress(len(clips), len(utterances))
    return tuple(clips)


def speak(phrase: Phrase, preset: VoicePreset, cache: ClipCache, pace_wpm: tuple[float, float] | None = None) -> Clip:
    """One phrase through its voice at the rate the script asks, or, outside ``pace_wpm``, the rate that keeps it in."""
    text = normalise(phrase.text, lexicon_for(preset, phrase), phrase.source)
    if not any(ch.isalnum() for ch in text):
        raise RenderError(f"nothing to say in {phrase.text!r}", phrase.source)
    rate = speed_of(preset, phrase)
    audio = _spoken(phrase, text, preset, cache, rate)
    for _ in range(PACE_TRIES):
        paced = _rate_for_pace(phrase.text, len(audio), rate, pace_wpm, SPEED_RANGES.get(preset.engine))
        if paced == rate:
            break
        rate, audio = paced, _spoken(phrase, text, preset, cache, paced)
    if not (phrase.spans or phrase.word_marks):
        return Clip(phrase.text, audio)
    return _with_cues_inside(phrase, text, audio, preset, rate)


def _with_cues_inside(phrase: Phrase, text: str, audio: np.ndarray, preset: VoicePreset, rate: float) -> Clip:
    """The whole sentence's clip with its spans louder, softer or higher, and where its marks fall."""
    offsets = sorted({o for span in phrase.spans for o in (span.start, span.end)} | {o for o, _ in phrase.word_marks})
    edges = dict(zip(offsets, _word_frames(phrase, text, audio, preset, rate, offsets)))
    return Clip(phrase.text, shape(audio, phrase.spans, edges), tuple(edges[o] for o, _ in phrase.word_marks))


def _word_frames(
    phrase: Phrase, text: str, audio: np.ndarray, preset: VoicePreset, rate: float, offsets: list[int]
) -> list[int]:
    """Where the words at these offsets start in the clip: from the engine's own phoneme times where it has them
    (Kokoro; the sentence is spoken again for them, the same samples), otherwise by their share of its sounds."""
    engine, lexicon = engine_for(preset), lexicon_for(preset, phrase)
    said = lambda written: engine.phonemes(normalise(written, lexicon, None))
    whole = len(_pieces(text, preset, engine)) == 1
    if engine.timed and whole:  # a sentence spoken in pieces has no one set of times
        raw, timed = engine.synthesize_timed(text, rate)
        start = clip_start_in(raw, engine.sample_rate, preset.chain.highpass_hz)
        before = lambda written: len(engine.known(said(written))) if written.strip() else 0
        return timed_word_frames(phrase.text, offsets, len(audio), timed, before, start)
    return word_frames(phrase.text, offsets, audio, sounds_counter(said if engine.phonemises else None))


def _rate_for_pace(
    text: str, clip_frames: int, rate: float, pace_wpm: tuple[float, float] | None, speeds: tuple[float, float] | None
) -> float:
    """The rate that brings a phrase said at ``rate`` inside the pace (its words over the time they are heard)."""
    words, heard_s = spoken_words(text), clip_frames / SAMPLE_RATE - 2 * EDGE_PAD_S
    if pace_wpm is None or words < PACE_MIN_WORDS or heard_s <= 0:
        return rate
    low, high = pace_wpm
    wpm = 60 * words / heard_s
    if low <= wpm <= high:
        return rate
    aim = high * (1 - PACE_AIM) if wpm > high else low * (1 + PACE_AIM)
    paced = rate * aim / wpm
    low_speed, high_speed = speeds or PRESET_RATES
    return min(max(paced, low_speed), high_speed)


def _pieces(text: str, preset: VoicePreset, engine: Engine) -> list[str]:
    """The text in pieces the engine takes at once (the preset's limit, else the engine's, else SAFE_CHARS)."""
    return split_for_engine(text, preset.max_chars or engine.max_chars or SAFE_CHARS)


def _spoken(phrase: Phrase, text: str, preset: VoicePreset, cache: ClipCache, rate: float) -> np.ndarray:
    """``text`` said by the preset's engine at ``rate``: cached engine output, clean edges."""
    engine = engine_for(preset)
    keys = [
        (piece, cache.key(engine.identity, preset.synthesis_settings(), piece, rate))
        for piece in _pieces(text, preset, engine)
    ]
    processing = {
        "highpass_hz": preset.chain.highpass_hz,
        "gain_db": preset.gain_db,
        "pitch_st": preset.pitch_st + phrase.pitch_st,
        "clip_version": CLIP_VERSION,
    }
    finished_key = cache.derived_key([key for _, key in keys], processing)
    audio = cache.get(finished_key)  # the cleaned clip itself: a warm render does no signal work per phrase
    if audio is None:
        pieces = [_engine_output(engine, piece, key, rate, cache, phrase) for piece, key in keys]
        gap = np.zeros(int(JOIN_GAP_S * engine.sample_rate), np.float32)
        raw = np.concatenate([part for piece in pieces for part in (piece, gap)][:-1])
        audio = clean_clip(raw, engine.sample_rate, **{k: v for k, v in processing.items() if k != "clip_version"})
        if len(audio):
            audio = cache.put(finished_key, audio)
    if not len(audio):
        raise RenderError(f"the voice produced no sound for {phrase.text!r}", phrase.source)
    return audio


def _engine_output(engine: Engine, text: str, key: str, rate: float, cache: ClipCache, phrase: Phrase):
    raw = cache.get(key)
    if raw is None:
        try:
            raw = engine.synthesize(text, rate)
        except Exception as exc:  # engines raise anything; say where it happened
            raise RenderError(f"speech engine failed on this phrase: {exc}", phrase.source) from exc
        if not np.isfinite(raw).all():
            raise RenderError(
                "the speech engine returned samples that are not numbers (NaN) for this phrase", phrase.source
            )
        raw = cache.put(key, raw) if len(raw) else raw
    return raw


def load_insert(insert: Insert, base: Path) -> Clip:
    """A sound file placed in the voice track; it must sit inside the script's folder and be finite audio."""
    import soundfile

    path = (base / insert.path).resolve()
    if not path.is_relative_to(base.resolve()):
        raise ConfigError(f"sound file '{insert.path}' is outside the script's folder", insert.source)
    if not path.is_file():
        raise ConfigError(f"sound file '{insert.path}' not found beside the script", insert.source)
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, OSError) as exc:
        raise ConfigError(f"cannot read sound file '{insert.path}': {exc}", insert.source) from None
    if not len(data) or not np.isfinite(data).all():
        raise ConfigError(
            f"sound file '{insert.path}' "
            + ("is empty" if not len(data) else "holds samples that are not numbers (NaN or infinite)"),
            insert.source,
        )
    return Clip(insert.label, apply_fades(resample(data, rate), frames(EDGE_FADE_S), frames(EDGE_FADE_S)))
