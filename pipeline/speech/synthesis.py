"""Every utterance of a script as a clip: phrases spoken through their voice (cached), sounds loaded."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE, apply_fades, frames, resample
from ..errors import ConfigError, RenderError
from ..script import Insert, Phrase, Script
from .align import shape, sounds_counter, timed_word_frames, word_frames
from .cache import ClipCache
from .clips import EDGE_FADE_S, EDGE_PAD_S, Clip, clean_clip, clip_start_in
from .engines import Engine, engine_for
from .phrasing import BreathGroup, breath_groups, moved, shifted, with_breath_marks, with_pauses
from .text import PACE_MIN_WORDS, SAFE_CHARS, normalise, split_for_engine, spoken_words
from .voices import BREATH_PAUSES, PRESET_RATES, SPEED_RANGES, STRETCH_RANGE, VoicePreset, lexicon_for, speed_of

PACE_AIM = 0.04
"""A phrase outside its pace is spoken again aimed this far inside the bound it crossed..."""
PACE_TRIES = 3
"""...as often as this: an engine's speed and the words' rate are not proportional (Piper's pauses do not scale)."""
PACE_SLACK = 0.01
"""Seconds left to find, as a share of the phrase, that are not worth a new decode."""
LENGTHENED_SHARE = 0.55
"""About how much of a phrase's natural speech time is in its vowels, liquids and nasals (what ``stretch`` draws
out); a guess the next try corrects."""
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


@dataclass(frozen=True)
class Delivery:
    """How a phrase is said: the engine's speed, how much longer its vowels, liquids and nasals are drawn out
    (engines that can), and the pause between its breath groups."""

    speed: float
    stretch: float = 1.0
    pause_s: float = 0.0


@dataclass(frozen=True)
class Said:
    """A phrase's one decode, cleaned (``spoken``), where its words fall in it, and the clip with its pauses in."""

    spoken: np.ndarray
    edges: dict
    """Character offset in the phrase → frame of ``spoken`` where that word starts."""
    audio: np.ndarray
    points: tuple[int, ...]
    pauses_s: tuple[float, ...]

    def frame(self, offset: int) -> int:
        """Where the word at ``offset`` starts in the clip with its pauses."""
        return shifted(self.edges[offset], list(self.points), list(self.pauses_s))


def speak(phrase: Phrase, preset: VoicePreset, cache: ClipCache, pace_wpm: tuple[float, float] | None = None) -> Clip:
    """One phrase through its voice, as one clip: at the rate the script asks, its vowels drawn out as the preset
    says, pauses between its breath groups; outside ``pace_wpm``, said again with the pauses, then the lengths,
    and only then the speed changed to bring it inside."""
    engine = engine_for(preset)
    groups = breath_groups(phrase.text)
    said_as = phrase
    if engine.lengthens and preset.breath_pause_s > 0:  # it pauses at marks itself: a comma
        # opens each breath group
        text, marks_at = with_breath_marks(phrase.text, groups)
        said_as = replace(
            phrase,
            text=text,
            word_marks=tuple((moved(o, marks_at), m) for o, m in phrase.word_marks),
            spans=tuple(replace(s, start=moved(s.start, marks_at), end=moved(s.end, marks_at)) for s in phrase.spans),
        )
        groups = tuple(BreathGroup(moved(g.offset, marks_at), 1.0) for g in groups)
    text = normalise(said_as.text, lexicon_for(preset, phrase), phrase.source)
    if not any(ch.isalnum() for ch in text):
        raise RenderError(f"nothing to say in {phrase.text!r}", phrase.source)
    stretch = preset.stretch if engine.lengthens else 1.0
    delivery = Delivery(speed_of(preset, phrase), stretch, preset.breath_pause_s if groups else 0.0)
    said = _said(said_as, text, preset, cache, delivery, groups)
    for _ in range(PACE_TRIES):
        paced = _delivery_for_pace(phrase.text, said, delivery, pace_wpm, groups, preset, engine)
        if paced == delivery:
            break
        same_decode = (paced.speed, paced.stretch) == (delivery.speed, delivery.stretch) and not engine.lengthens
        delivery, said = paced, _said(said_as, text, preset, cache, paced, groups, said if same_decode else None)
    if not (phrase.spans or phrase.word_marks):
        return Clip(phrase.text, said.audio)
    edges = {offset: said.frame(offset) for offset in said.edges}
    return Clip(phrase.text, shape(said.audio, said_as.spans, edges), tuple(edges[o] for o, _ in said_as.word_marks))


def _said(
    phrase: Phrase,
    text: str,
    preset: VoicePreset,
    cache: ClipCache,
    delivery: Delivery,
    groups: tuple[BreathGroup, ...],
    before: Said | None = None,
) -> Said:
    """The phrase decoded once at the delivery's speed and lengths (or ``before``'s decode, when only the pauses
    change), with its pauses put in at the word boundaries where the engine does not make them itself."""
    splicing = delivery.pause_s > 0 and groups and not engine_for(preset).lengthens
    if before is None:
        spoken, key = _spoken(phrase, text, preset, cache, delivery)
        offsets = sorted(
            {g.offset for g in groups if splicing}
            | {o for span in phrase.spans for o in (span.start, span.end)}
            | {o for o, _ in phrase.word_marks}
        )
        edges = _edges(phrase, text, spoken, preset, delivery, offsets, cache, key) if offsets else {}
    else:
        spoken, edges = before.spoken, before.edges
        if splicing and any(g.offset not in edges for g in groups):
            return _said(phrase, text, preset, cache, delivery, groups)
    if not splicing:
        return Said(spoken, edges, spoken, (), ())
    pauses = [delivery.pause_s * group.share for group in groups]
    audio, points = with_pauses(spoken, [edges[group.offset] for group in groups], pauses)
    return Said(spoken, edges, audio, tuple(points), tuple(pauses))


def _edges(
    phrase: Phrase,
    text: str,
    audio: np.ndarray,
    preset: VoicePreset,
    delivery: Delivery,
    offsets: list[int],
    cache: ClipCache,
    key: str,
) -> dict:
    """Where the words at ``offsets`` start in the phrase's clip, kept in the cache beside it: a warm render finds
    them without asking the engine for its times again."""
    edges_key = cache.derived_key([key], {"word_starts": offsets, "text": phrase.text})
    found = cache.get(edges_key)
    if found is None or len(found) != len(offsets):
        found = np.array(_word_frames(phrase, text, audio, preset, delivery, offsets), dtype=np.float32)
        found = cache.put(edges_key, found)
    return {offset: int(frame) for offset, frame in zip(offsets, found)}


def _word_frames(
    phrase: Phrase, text: str, audio: np.ndarray, preset: VoicePreset, delivery: Delivery, offsets: list[int]
) -> list[int]:
    """Where the words at these offsets start in the clip: from the engine's own phoneme times where it has them
    (Kokoro: the times of the decode that made the clip), otherwise by their share of its sounds."""
    engine, lexicon = engine_for(preset), lexicon_for(preset, phrase)
    said = lambda written: engine.phonemes(normalise(written, lexicon, None))
    whole = len(_pieces(text, preset, engine)) == 1
    if engine.timed and whole:  # a sentence spoken in pieces has no one set of times
        raw, timed = engine.synthesize_timed(text, delivery.speed, delivery.stretch, delivery.pause_s)
        start = clip_start_in(raw, engine.sample_rate, preset.chain.highpass_hz)
        before = lambda written: len(engine.known(said(written))) if written.strip() else 0
        return timed_word_frames(phrase.text, offsets, len(audio), timed, before, start)
    return word_frames(phrase.text, offsets, audio, sounds_counter(said if engine.phonemises else None))


def _delivery_for_pace(
    text: str,
    said: Said,
    delivery: Delivery,
    pace_wpm: tuple[float, float] | None,
    groups: tuple[BreathGroup, ...],
    preset: VoicePreset,
    engine: Engine,
) -> Delivery:
    """The delivery that brings a phrase inside the pace (its words over the time they are heard): the pauses
    between its breath groups first (no new decode), then its vowels' lengths, and the engine's speed last."""
    words, heard_s = spoken_words(text), len(said.audio) / SAMPLE_RATE - 2 * EDGE_PAD_S
    if pace_wpm is None or words < PACE_MIN_WORDS or heard_s <= 0:
        return delivery
    low, high = pace_wpm
    wpm = 60 * words / heard_s
    if low <= wpm <= high:
        return delivery
    aim = high * (1 - PACE_AIM) if wpm > high else low * (1 + PACE_AIM)
    missing = 60 * words / aim - heard_s  # seconds to add (to take away, where negative)
    shares = sum(group.share for group in groups)
    pause = delivery.pause_s
    if shares:
        pause = min(max(pause + missing / shares, BREATH_PAUSES[0]), BREATH_PAUSES[1])
        missing -= (pause - delivery.pause_s) * shares
    speech_s = len(said.spoken) / SAMPLE_RATE - 2 * EDGE_PAD_S
    stretch = delivery.stretch
    if abs(missing) > PACE_SLACK * heard_s and engine.lengthens:
        drawn = speech_s * LENGTHENED_SHARE * delivery.stretch / (1 + LENGTHENED_SHARE * (delivery.stretch - 1))
        stretch = min(max(stretch * (drawn + missing) / drawn, STRETCH_RANGE[0]), STRETCH_RANGE[1])
        added = drawn * (stretch / delivery.stretch - 1)
        missing, speech_s = missing - added, speech_s + added
    speed = delivery.speed
    if abs(missing) > PACE_SLACK * heard_s:
        low_speed, high_speed = SPEED_RANGES.get(preset.engine) or PRESET_RATES
        speed = min(max(speed * speech_s / (speech_s + missing), low_speed), high_speed)
    return Delivery(round(speed, 4), round(stretch, 4), round(pause, 4))


def _pieces(text: str, preset: VoicePreset, engine: Engine) -> list[str]:
    """The text in pieces the engine takes at once (the preset's limit, else the engine's, else SAFE_CHARS)."""
    return split_for_engine(text, preset.max_chars or engine.max_chars or SAFE_CHARS)


def _spoken(
    phrase: Phrase, text: str, preset: VoicePreset, cache: ClipCache, delivery: Delivery
) -> tuple[np.ndarray, str]:
    """``text`` said by the preset's engine at the delivery's speed (and, engines that can, its lengths and its
    pauses at marks): cached engine output, clean edges; and the cleaned clip's cache key."""
    engine = engine_for(preset)
    settings = preset.synthesis_settings()
    if engine.lengthens:
        settings = {**settings, "stretch": round(delivery.stretch, 4), "pause_s": round(delivery.pause_s, 4)}
    keys = [
        (piece, cache.key(engine.identity, settings, piece, delivery.speed)) for piece in _pieces(text, preset, engine)
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
        pieces = [_engine_output(engine, piece, key, delivery, cache, phrase) for piece, key in keys]
        gap = np.zeros(int(JOIN_GAP_S * engine.sample_rate), np.float32)
        raw = np.concatenate([part for piece in pieces for part in (piece, gap)][:-1])
        audio = clean_clip(raw, engine.sample_rate, **{k: v for k, v in processing.items() if k != "clip_version"})
        if len(audio):
            audio = cache.put(finished_key, audio)
    if not len(audio):
        raise RenderError(f"the voice produced no sound for {phrase.text!r}", phrase.source)
    return audio, finished_key


def _engine_output(engine: Engine, text: str, key: str, delivery: Delivery, cache: ClipCache, phrase: Phrase):
    raw = cache.get(key)
    if raw is None:
        try:
            raw = (
                engine.synthesize(text, delivery.speed, delivery.stretch, delivery.pause_s)
                if engine.lengthens
                else engine.synthesize(text, delivery.speed)
            )
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
