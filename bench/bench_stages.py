"""Where mix + master's time goes, stage by stage: the CPU seconds of each for a synthetic 10-minute session
(``bench_master.synthetic_session``) over each bed, and the multiple of real time each would reach alone.

Each stage is timed by the CPU time of the thread that runs it (``time.thread_time``), so the other engineers'
load on a shared machine disturbs it less than a wall clock would. ``floor_x_realtime`` is what mix + master
could reach if it did nothing but these stages once each, one after another on one core: the goal of issue 27
(300×) is out of reach on any design that keeps a stage slower than that.
"""

from __future__ import annotations

import time

from bench.bench_master import synthetic_session
from pipeline.beds import load_bed
from pipeline.blocks import scratch, spans
from pipeline.loudness import ProgrammeMeter, measure
from pipeline.master import LIMITER_MARGIN_DB, PROFILES, Limited, _first_gain, _Sample
from pipeline.mix import MixSettings, bed_signal, lay_voice, mix
from pipeline.pacing import Timeline
from pipeline.speech import load_voice

MINUTES = 10
BEDS = ("hearth", "rain-on-leaves")


def one(bed_name: str, minutes: float = MINUTES) -> dict:
    timeline, clips = synthetic_session(minutes)
    timeline = Timeline(frames=timeline.frames, phrases=timeline.phrases, sections=(), opening_bed=bed_name)
    beds, voices = {bed_name: load_bed(bed_name)}, {"default": load_voice("default")}
    clock, costs = time.thread_time, {}
    bed = bed_signal(timeline, beds, MixSettings(), -30.0)
    started = clock()
    for a, b in spans(len(bed)):
        bed[a:b]
    costs["bed"] = clock() - started
    with scratch() as work:
        voice = work.zeros(timeline.frames)
        started = clock()
        lay_voice(timeline, clips, "default", voices["default"].chain, out=voice)
        costs["voice_chain"] = clock() - started
        kept_mix = work.keep(mix(timeline, clips, voices, beds, work=work).mix)
        profile = PROFILES["podcast"]
        ceiling = profile.ceiling_dbtp - LIMITER_MARGIN_DB
        sample = _Sample(-(-len(kept_mix) // (1 << 16)))
        started = clock()
        before = measure(kept_mix, peaks=False, listen=sample.feed)
        costs["measuring_pass"] = clock() - started
        started = clock()
        gain_db = _first_gain(profile, before, sample.stretches, ceiling)
        costs["first_gain_foresight"] = clock() - started
        limited, meter = Limited(kept_mix, ceiling, gain_db), ProgrammeMeter(2)
        costs["limiter_pass"] = costs["meter_of_master"] = 0.0
        for a, b in spans(len(kept_mix)):
            started = clock()
            block = limited[a:b]
            costs["limiter_pass"] += clock() - started
            started = clock()
            meter.feed(block)
            costs["meter_of_master"] += clock() - started
        replayed = limited.replayed()
        started = clock()
        for a, b in spans(len(kept_mix)):
            replayed[a:b]
        costs["master_replayed_from_peaks"] = clock() - started
    seconds = minutes * 60
    once = ("bed", "voice_chain", "measuring_pass", "limiter_pass", "meter_of_master")
    return {
        "bed": bed_name,
        "minutes": minutes,
        "stages": {
            k: {"cpu_s": round(v, 2), "x_realtime": round(seconds / v) if v else None} for k, v in costs.items()
        },
        "floor_x_realtime": round(seconds / sum(costs[k] for k in once), 1),
    }


def run() -> dict:
    return {
        "sessions": [one(name) for name in BEDS],
        "note": "CPU seconds of each stage of mix + master, one thread each (thread_time), synthetic voice clips "
        "every 8 s. floor_x_realtime: mix + master if it ran only the bed, the voice chain, one measuring pass, one "
        "limiter pass and the master's meter, once each on one core (tame_peaks, ducking, tones, the stores and "
        "the threads' hand-offs come on top).",
    }
