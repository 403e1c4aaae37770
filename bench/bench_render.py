"""Speech and whole renders: our engine layer vs Piper's own API, each preset's real-time factor,
and a cold render of a library script vs a warm one (every clip cached, --force) vs an unchanged one
(its outputs current: nothing is redone) vs Piper alone."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline import presets
from pipeline.library import RenderOptions, build, plan, render_track
from pipeline.parse import parse_file
from pipeline.speech import load_voice
from pipeline.speech.engines import engine_for
from pipeline.speech.text import normalise

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "turning-toward.txt"
PARAGRAPH = ("Let your breath slow down. Notice the weight of your hands, and let the shoulders drop. "
             "There is nowhere else to be, and nothing else to do. Just this breath, and the next.")


def engine_layer_vs_piper(script) -> dict:
    voice = load_voice("default")
    engine = engine_for(voice)  # loaded once for both sides: loading is not what is compared
    config = replace(engine.config, length_scale=1 / voice.rate)
    for phrase in script.phrases[:3]:  # warm both paths up
        engine.synthesize(phrase.text, voice.rate)
    piper = ours = 0.0
    for index, phrase in enumerate(script.phrases):  # interleaved, alternating who goes first: fair on a busy machine
        def theirs_once():
            list(engine.voice.synthesize(phrase.text, config))

        def ours_once():
            engine.synthesize(normalise(phrase.text, dict(voice.lexicon), phrase.source), voice.rate)

        for side in ((theirs_once, ours_once) if index % 2 else (ours_once, theirs_once)):
            start = time.perf_counter()
            side()
            elapsed = time.perf_counter() - start
            piper, ours = (piper + elapsed, ours) if side is theirs_once else (piper, ours + elapsed)
    return {"piper_api_s": round(piper, 2), "engine_layer_s": round(ours, 2), "ours_over_piper": round(ours / piper, 3)}


def realtime_factors() -> dict:
    factors = {}
    for name in presets.available("voices"):
        voice = load_voice(name)
        engine = engine_for(voice)
        engine.synthesize("Warm up.", voice.rate)
        start = time.perf_counter()
        audio = engine.synthesize(PARAGRAPH, voice.rate)
        factors[name] = round((time.perf_counter() - start) / (len(audio) / engine.sample_rate), 3)
    return factors


def cold_vs_warm(piper_only_s: float) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        options = RenderOptions(out_dir=Path(scratch) / "build", cache_dir=Path(scratch) / "cache", force=True)
        start = time.perf_counter()
        cold = render_track(SCRIPT, options)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        render_track(SCRIPT, options)
        warm_s = time.perf_counter() - start
        start = time.perf_counter()
        unchanged = build(plan([SCRIPT]), replace(options, force=False))
        unchanged_s = time.perf_counter() - start
        assert [r.status for r in unchanged] == ["up to date"]
    return {"track_s": cold.manifest["duration_s"], "cold_render_s": round(cold_s, 2), "warm_render_s": round(warm_s, 2),
            "warm_over_cold_pct": round(100 * warm_s / cold_s, 1),
            "unchanged_rerender_over_cold_pct": round(100 * unchanged_s / cold_s, 2),
            "pipeline_overhead_over_piper_pct": round(100 * (cold_s - piper_only_s) / piper_only_s, 1),
            "cold_render_x_realtime": round(cold.manifest["duration_s"] / cold_s, 2)}


def run() -> dict:
    script = parse_file(SCRIPT)
    layer = engine_layer_vs_piper(script)
    return {"script": SCRIPT.name, "engine_layer": layer, "realtime_factor_by_preset": realtime_factors(),
            "render": cold_vs_warm(layer["piper_api_s"])}
