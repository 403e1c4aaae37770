"""Voices, judged by numbers a listener would agree with.

DistillMOS (the ``distillmos`` package: a MOS predictor distilled from a model trained on listeners'
naturalness judgements; MIT, weights in its wheel) is the meter that chooses: it hears a uniformly slowed
voice as less natural, which DNSMOS does not (DNSMOS judges noise and distortion, and rates slower speech
higher). DNSMOS (speechmos: ITU-T P.808, and P.835 SIG/BAK/OVRL, at 16 kHz) is reported beside it.

- ``speed_curves``: each Kokoro style's DistillMOS against the engine's speed (no lengthening, no pauses), and
  the default's against the lengthening of its vowels at its chosen speed, on two paragraphs written for this
  check (held out: in no script of the library). Each preset's speed is chosen from these.
- ``presets``: each preset's voice stem as mixed (its chain, the pace gate at the profile's pace), with no bed,
  on three paragraphs of the library; scored on its speech spans (the stem cut where it is silent for longer
  than a breath pause), with the pace as heard.
- ``chain``: what each stage of the default's narration chain costs in DistillMOS, against the same clips dry
  (same pauses), each stage alone and all together.
- ``speech_stage``: the speech stage as a render drives it, cold: its aggregate real-time factor and how many
  phrases were decoded more than once, for the default at today's delivery and at the one the issue had.
- ``models``: Kokoro's two ``model`` settings, ``int8`` (the export as it is) and ``float`` (its graph rewritten
  to float arithmetic on the same int8 weights), on the held-out paragraphs' eight sentences at the default's
  rate and lengthening: DistillMOS per sentence, DNSMOS of all of them, the synthesis time of each (the two
  interleaved, best of three) and the model files' sizes. ``python -m bench float-model`` runs it alone.

Voice stems and clips only, never mixes (beds read as noise to both meters).
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import tempfile
import time
import types
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr

from pipeline import presets
from pipeline.audio import SAMPLE_RATE
from pipeline.job import RenderOptions, resolve
from pipeline.mix import chain_board
from pipeline.render import render
from pipeline.script import parse_file, parse_text
from pipeline.speech import ClipCache, engine_for, load_voice, synthesize
from pipeline.speech.text import normalise, spoken_words
from pipeline.speech.voices import VoiceChain

LIBRARY = presets.BUNDLED_ROOT / "scripts"
SOURCES = (("the-settled-nervous-system.txt", 0), ("turning-toward.txt", 8), ("after-the-rupture.txt", 16))
"""Three paragraphs: six phrases from each of three library scripts, from the phrase given."""
HELD_OUT = (
    (
        "Settle into the chair beneath you, and let it hold your weight. Notice the air as it moves in through your "
        "nose, cool and quiet. There is nothing you need to fix right now. Let each breath out be a little longer "
        "than the one before, as your jaw softens and your hands grow still."
    ),
    (
        "Imagine a lake at the end of a long summer day. The water is smooth, and the light is turning gold along the "
        "far shore. Each thought that comes is a small ripple, spreading out and fading as it goes. You can watch it "
        "pass, while the deep water underneath stays calm and clear."
    ),
)
"""Written for the speed curves and in no library script, so the speeds are not fitted to the paragraphs the
presets are then scored on."""
KOKORO_STYLES = ("default", "heart", "emma", "michael", "george")
"""One preset per Kokoro style (close and deep speak the default's blend)."""
SPEEDS = (0.7, 0.8, 0.9, 1.0)
STRETCHES = (1.0, 1.15, 1.3, 1.45)
SPAN_GAP_S = 0.8
"""A voice stem is cut into speech spans where it is silent for longer than this (breath pauses are shorter)."""
PACE = (110.0, 130.0)
"""The pace the goals are held to, as heard."""


@lru_cache(maxsize=1)
def _distillmos_model():
    import torch

    if importlib.util.find_spec("torchaudio") is None:
        # distillmos imports torchaudio for its file-list command line only; CPU torch wheels have no
        # matching torchaudio here, and nothing of it is called on arrays
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import distillmos

    torch.set_num_threads(1)
    model = distillmos.ConvTransformerSQAModel()
    model.eval()
    return model


def distill_mos(audio: np.ndarray, rate: int) -> float:
    import torch

    mono = np.asarray(audio, dtype=np.float32)
    mono = mono.mean(axis=1) if mono.ndim == 2 else mono
    with torch.no_grad():
        return float(_distillmos_model()(torch.from_numpy(soxr.resample(mono, rate, 16000).astype(np.float32))[None]))


def dnsmos(audio: np.ndarray, rate: int) -> dict:
    from speechmos import dnsmos as model

    mono = np.asarray(audio, dtype=np.float32)
    mono = mono.mean(axis=1) if mono.ndim == 2 else mono
    scores = model.run(soxr.resample(mono, rate, 16000).astype(np.float32), 16000)
    return {key.replace("_mos", ""): round(float(value), 3) for key, value in scores.items()}


def paragraphs() -> list[list[str]]:
    return [[p.text for p in parse_file(LIBRARY / name).phrases[first : first + 6]] for name, first in SOURCES]


def held_out() -> list[list[str]]:
    return [[p.text for p in parse_text(text, "held-out").phrases] for text in HELD_OUT]


def weighted(scores: list[tuple[float, int]]) -> float:
    """Scores of spans, weighted by their length."""
    return round(float(sum(s * n for s, n in scores) / sum(n for _, n in scores)), 3)


def speech_spans(audio: np.ndarray) -> list[np.ndarray]:
    """The stem cut where it is silent (below -55 dB of its loudest 20 ms) for longer than SPAN_GAP_S."""
    mono = np.asarray(audio, dtype=np.float32).mean(axis=1)
    hop = int(0.02 * SAMPLE_RATE)
    power = np.square(mono[: len(mono) // hop * hop]).reshape(-1, hop).mean(axis=1)
    loud = np.flatnonzero(power > power.max() * 10**-5.5)
    spans, start = [], loud[0]
    for before, after in itertools.pairwise(loud):
        if (after - before) * 0.02 > SPAN_GAP_S:
            spans.append((start, before + 1))
            start = after
    spans.append((start, loud[-1] + 1))
    pad = 5  # 100 ms either side: soft consonants and the room's tail
    return [mono[max(a - pad, 0) * hop : (b + pad) * hop] for a, b in spans]


def _curve_point(engine, voice, texts: list[list[str]], speed: float, stretch: float) -> dict:
    scores, words, seconds = [], 0, 0.0
    for paragraph in texts:
        for text in paragraph:
            said = normalise(text, dict(voice.lexicon), None)
            audio = engine.synthesize(said, speed, stretch) if stretch != 1.0 else engine.synthesize(said, speed)
            scores.append((distill_mos(audio, engine.sample_rate), len(audio)))
            words, seconds = words + spoken_words(text), seconds + len(audio) / engine.sample_rate
    return {"distillmos": weighted(scores), "wpm_in_phrases": round(60 * words / seconds, 1)}


def speed_curves() -> dict:
    texts = held_out()
    curves = {}
    for name in KOKORO_STYLES:
        voice = load_voice(name)
        engine = engine_for(voice)
        curves[name] = {f"{speed:g}": _curve_point(engine, voice, texts, speed, 1.0) for speed in SPEEDS}
        print(name, curves[name], flush=True)
    voice = load_voice("default")
    engine = engine_for(voice)
    curves["default lengthened at its speed"] = {
        f"{stretch:g}": _curve_point(engine, voice, texts, voice.rate, stretch) for stretch in STRETCHES
    }
    print(curves["default lengthened at its speed"], flush=True)
    return curves


def voice_stem(voice, texts: list[list[str]], cache: ClipCache) -> dict:
    """The voice stem as mixed (levelled, paced, through the preset's chain), with no bed under it."""
    distill, spans_all, words, heard_s = [], [], 0, 0.0
    for paragraph in texts:
        script = parse_text(f"---\nvoice: {voice.name}\nambience: none\n---\n" + " ".join(paragraph), "bench")
        job = replace(resolve(script, RenderOptions(), "bench", "bench"), voices={voice.name: voice})
        rendered = render(job, cache)
        spans = speech_spans(rendered.stems.voice)
        distill += [(distill_mos(span, SAMPLE_RATE), len(span)) for span in spans]
        spans_all += spans
        words += sum(spoken_words(p.text) for p in script.phrases)
        heard_s += sum(c.frames for c in rendered.clips) / SAMPLE_RATE
    gap = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    dns = dnsmos(np.concatenate([part for span in spans_all for part in (span, gap)]), SAMPLE_RATE)
    return {"distillmos": weighted(distill), "dnsmos": dns, "wpm_as_heard": round(60 * words / heard_s, 1)}


def chain_costs(texts: list[list[str]], cache: ClipCache) -> dict:
    """DistillMOS of the default's paced clips through each stage of its chain alone, and all of it, against
    the same clips dry (no high-pass either)."""
    voice = load_voice("default")
    dry_voice = replace(voice, chain=replace(voice.chain, highpass_hz=0.0))
    script = parse_text("---\nvoice: default\n---\n" + "\n\n".join(" ".join(p) for p in texts), "bench")
    dry = synthesize(script, {"default": dry_voice}, cache, pace_wpm=PACE)
    passed = synthesize(
        script, {"default": replace(voice, chain=VoiceChain(highpass_hz=voice.chain.highpass_hz))}, cache, pace_wpm=PACE
    )
    tail = np.zeros((int(0.3 * SAMPLE_RATE), 1), np.float32)

    def score(clips, chain: VoiceChain | None) -> float:
        board = chain_board(chain) if chain else None
        scores = []
        for clip in clips:
            audio = np.concatenate([clip.audio, tail])
            if board is not None:
                board.reset()
                audio = board(np.ascontiguousarray(audio.T), SAMPLE_RATE).T
            scores.append((distill_mos(audio, SAMPLE_RATE), len(audio)))
        return weighted(scores)

    c, off = voice.chain, VoiceChain(highpass_hz=0.0, warmth_db=0.0, deess_db=0.0, compress_ratio=1.0, room_wet=0.0)
    base = score(dry, None)
    stages = {
        "high-pass": score(passed, None),
        "warmth": score(dry, replace(off, warmth_db=c.warmth_db)),
        "de-ess": score(dry, replace(off, deess_db=c.deess_db)),
        "compression": score(
            dry, replace(off, compress_threshold_db=c.compress_threshold_db, compress_ratio=c.compress_ratio)
        ),
        "room": score(dry, replace(off, room_size=c.room_size, room_wet=c.room_wet)),
        "whole chain": score(passed, c),
    }
    return {
        "dry": base,
        "settings": c.__dict__,
        **{k: {"distillmos": v, "cost": round(base - v, 3)} for k, v in stages.items()},
    }


def speech_stage(voice, texts: list[list[str]]) -> dict:
    """The speech stage as a render drives it (one session per core), cold: its aggregate real-time factor, and
    how many phrases the engine decoded more than once to keep them in pace."""
    script = parse_text(f"---\nvoice: {voice.name}\n---\n" + "\n\n".join(" ".join(p) for p in texts), "bench")
    engine = engine_for(voice)
    decodes = getattr(engine, "decodes", 0)
    memo = getattr(engine, "_memo", None)
    if memo is not None:
        memo.clear()  # cold: nothing decoded before counts
    start = time.perf_counter()
    clips = synthesize(script, {voice.name: voice}, ClipCache(None), pace_wpm=PACE)
    elapsed = time.perf_counter() - start
    audio_s = sum(c.frames for c in clips) / SAMPLE_RATE
    words = sum(spoken_words(p.text) for p in script.phrases)
    row = {
        "seconds": round(elapsed, 2),
        "speech_s": round(audio_s, 1),
        "aggregate_realtime_factor": round(elapsed / audio_s, 3),
        "phrases": len(clips),
        "wpm_as_heard": round(60 * words / audio_s, 1),
    }
    if hasattr(engine, "decodes"):
        row["phrases_decoded_again"] = engine.decodes - decodes - len(clips)
    return row


MODEL_REPEATS = 3
"""Each sentence is synthesised this many times by each model, the two alternating, and the fastest kept."""


def models() -> dict:
    """int8 against float on the held-out sentences, at the default's rate and lengthening."""
    import os

    from pipeline.speech import kokoro

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    voice = load_voice("default")
    sentences = [text for paragraph in held_out() for text in paragraph]
    engines, memory = {}, {}
    for model in ("int8", "float"):
        before = resident()
        engine = kokoro.KokoroEngine(replace(voice, model=model))
        engine.sessions.size = 1  # one session each, one thread: the two are timed alike
        engine.synthesize("Breathe.", voice.rate)  # loads the session
        engines[model], memory[model] = engine, round((resident() - before) / 2**20)
    rows, audio = [], {"int8": [], "float": []}
    for text in sentences:
        said = normalise(text, dict(voice.lexicon), None)
        seconds = {"int8": [], "float": []}
        for repeat in range(MODEL_REPEATS):
            for model in ("int8", "float") if repeat % 2 == 0 else ("float", "int8"):
                engine = engines[model]
                engine._memo.clear()
                start = time.perf_counter()
                clip = engine.synthesize(said, voice.rate, voice.stretch)
                seconds[model].append(time.perf_counter() - start)
        row = {"sentence": text}
        for model in ("int8", "float"):
            clip = engines[model].synthesize(said, voice.rate, voice.stretch)
            audio[model].append(clip)
            row[model] = {
                "distillmos": round(distill_mos(clip, kokoro.KokoroEngine.sample_rate), 3),
                "seconds": round(min(seconds[model]), 3),
                "audio_s": round(len(clip) / kokoro.KokoroEngine.sample_rate, 2),
            }
        row["distillmos_gain"] = round(row["float"]["distillmos"] - row["int8"]["distillmos"], 3)
        rows.append(row)
        print(row, flush=True)
    gap = np.zeros(int(0.3 * kokoro.KokoroEngine.sample_rate), np.float32)
    summary = {}
    for model in ("int8", "float"):
        joined = np.concatenate([part for clip in audio[model] for part in (clip, gap)])
        summary[model] = {
            "distillmos_mean": round(float(np.mean([r[model]["distillmos"] for r in rows])), 3),
            "dnsmos": dnsmos(joined, kokoro.KokoroEngine.sample_rate),
            "synthesis_s": round(sum(r[model]["seconds"] for r in rows), 2),
            "audio_s": round(sum(r[model]["audio_s"] for r in rows), 2),
            "session_memory_mib": memory[model],
        }
    files = {"int8": kokoro.paced_model_path(), "float": kokoro.float_model_path()}
    for model, path in files.items():
        summary[model]["model_file_bytes"] = os.path.getsize(path)
    return {
        "voice": {"preset": "default", "rate": voice.rate, "stretch": voice.stretch, "default_model": voice.model},
        "sentences": rows,
        **summary,
        "float_better_on": f"{sum(r['distillmos_gain'] > 0 for r in rows)} of {len(rows)}",
        "distillmos_gain_mean": round(summary["float"]["distillmos_mean"] - summary["int8"]["distillmos_mean"], 3),
        "speed_ratio_float_over_int8": round(summary["float"]["synthesis_s"] / summary["int8"]["synthesis_s"], 3),
    }


def run() -> dict:
    texts = paragraphs()
    folder = tempfile.TemporaryDirectory()
    cache = ClipCache(Path(folder.name))
    result = {
        "paragraphs": [f"{name}: phrases {first + 1}–{first + 6}" for name, first in SOURCES],
        "held_out": list(HELD_OUT),
        "speed_curves": speed_curves(),
    }
    rows = {}
    for name in presets.available("voices"):
        voice = load_voice(name)
        if voice.engine != "kokoro" and name != "joe":
            continue
        rows[name] = {
            "engine": voice.engine,
            "rate": voice.rate,
            "stretch": voice.stretch,
            "breath_pause_s": voice.breath_pause_s,
            **voice_stem(voice, texts, cache),
        }
        print(name, rows[name], flush=True)
    result["presets"] = rows
    result["chain"] = chain_costs(texts, cache)
    default = load_voice("default")
    before = replace(default, rate=0.55, stretch=1.0, breath_pause_s=0.0)
    result["speech_stage"] = {
        "default, today's delivery": speech_stage(default, texts),
        "default at 0.55, no lengthening, no pauses (before)": speech_stage(before, texts),
    }
    result["models"] = models()
    folder.cleanup()
    stem = rows["default"]
    result["goals"] = {
        "default stem DistillMOS >= 4.5": stem["distillmos"],
        "default stem DNSMOS P.808 >= 4.3": stem["dnsmos"]["p808"],
        "default pace as heard 110–130 wpm": stem["wpm_as_heard"],
        "chain cost <= 0.03": result["chain"]["whole chain"]["cost"],
    }
    return result
