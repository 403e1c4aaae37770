"""Voices, judged by numbers a listener would agree with: DNSMOS (speechmos: ITU-T P.808, and P.835 SIG/BAK/OVRL,
at 16 kHz) for every preset, on the same three paragraphs from the library, for the engine's raw clips and for
the voice stem after the narration chain (with and without its room); the speaking rate inside phrases (words
as said); each preset's real-time factor on one session, and the speech stage's aggregate real-time factor
(one session per core) for Piper and Kokoro from the same run.

DNSMOS judges signal and background, not prosody or calm: reverb reads as background (BAK), and longer
silences between phrases score lower (the raw clips with 1.4 s gaps lose 0.02 SIG and 0.07 P.808 against
0.3 s gaps), so the chain's cost is taken against the raw clips laid with the stem's own pauses. It is run on
voice clips and voice stems only, never on mixes (beds read as noise to it).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soxr

from pipeline import presets
from pipeline.audio import SAMPLE_RATE
from pipeline.job import RenderOptions, resolve
from pipeline.render import render
from pipeline.script import parse_file, parse_text
from pipeline.speech import ClipCache, engine_for, load_voice, synthesize
from pipeline.speech.clips import trim_silence
from pipeline.speech.text import normalise, spoken_words

LIBRARY = presets.BUNDLED_ROOT / "scripts"
SOURCES = (("the-settled-nervous-system.txt", 0), ("turning-toward.txt", 8), ("after-the-rupture.txt", 16))
"""Three paragraphs: six phrases from each of three library scripts, from the phrase given."""


def paragraphs() -> list[list[str]]:
    return [[p.text for p in parse_file(LIBRARY / name).phrases[first : first + 6]] for name, first in SOURCES]


def dnsmos(audio: np.ndarray, rate: int) -> dict:
    from speechmos import dnsmos as model

    mono = np.asarray(audio, dtype=np.float32)
    mono = mono.mean(axis=1) if mono.ndim == 2 else mono
    scores = model.run(soxr.resample(mono, rate, 16000).astype(np.float32), 16000)
    return {key.replace("_mos", ""): round(float(value), 3) for key, value in scores.items()}


def mean_scores(rows: list[dict]) -> dict:
    return {key: round(float(np.mean([row[key] for row in rows])), 3) for key in rows[0]}


def raw_clips(name: str, texts: list[list[str]]) -> dict:
    """The engine's own output, one paragraph at a time: quality, pace inside phrases, real-time factor."""
    voice = load_voice(name)
    engine = engine_for(voice)
    scores, paced, words, spoken_s, busy_s = [], [], 0, 0.0, 0.0
    for paragraph in texts:
        clips = []
        for text in paragraph:
            start = time.perf_counter()
            clip = engine.synthesize(normalise(text, dict(voice.lexicon), None), voice.rate)
            busy_s += time.perf_counter() - start
            clips.append(clip)
            words += spoken_words(text)
            spoken_s += len(trim_silence(clip)) / engine.sample_rate
        for into, gap_s in ((scores, 0.3), (paced, voice.sentence_pause_s)):
            gap = np.zeros(int(gap_s * engine.sample_rate), np.float32)
            into.append(dnsmos(np.concatenate([part for clip in clips for part in (clip, gap)]), engine.sample_rate))
    return {
        "dnsmos": mean_scores(scores),
        "dnsmos_with_the_stems_pauses": mean_scores(paced),
        "words_per_minute_in_phrases": round(60 * words / spoken_s, 1),
        "realtime_factor_one_session": round(busy_s / spoken_s, 3),
    }


def voice_stem(name: str, texts: list[list[str]], cache: ClipCache, room: bool = True) -> dict:
    """The voice stem as mixed (levelled, through the preset's chain), with no bed under it."""
    voice = load_voice(name)
    if not room:
        voice = replace(voice, chain=replace(voice.chain, room_wet=0.0))
    scores = []
    for paragraph in texts:
        script = parse_text(f"---\nvoice: {name}\nambience: none\n---\n" + " ".join(paragraph), "bench")
        job = resolve(script, RenderOptions(), "bench", "bench")
        job = replace(job, voices={name: voice})
        scores.append(dnsmos(render(job, cache).stems.voice, SAMPLE_RATE))
    return mean_scores(scores)


def speech_stage(name: str, texts: list[list[str]]) -> dict:
    """The speech stage as a render drives it (one session per core), cold: its aggregate real-time factor."""
    voice = load_voice(name)
    script = parse_text(f"---\nvoice: {name}\n---\n" + "\n\n".join(" ".join(p) for p in texts), "bench")
    start = time.perf_counter()
    clips = synthesize(script, {name: voice}, ClipCache(None))
    elapsed = time.perf_counter() - start
    audio_s = sum(c.frames for c in clips) / SAMPLE_RATE
    return {
        "seconds": round(elapsed, 2),
        "speech_s": round(audio_s, 1),
        "aggregate_realtime_factor": round(elapsed / audio_s, 3),
    }


def run() -> dict:
    texts = paragraphs()
    folder = tempfile.TemporaryDirectory()
    cache = ClipCache(Path(folder.name))  # the stems with and without the room share their clips
    rows = {}
    for name in presets.available("voices"):
        row = raw_clips(name, texts)
        row["voice_stem"] = voice_stem(name, texts, cache)
        row["voice_stem_without_room"] = voice_stem(name, texts, cache, room=False)
        # like for like: the raw clips with the stem's own pauses (DNSMOS scores longer silences lower)
        raw = row["dnsmos_with_the_stems_pauses"]
        row["chain_cost"] = {key: round(row["voice_stem"][key] - raw[key], 3) for key in raw}
        row["engine"] = load_voice(name).engine
        rows[name] = row
    folder.cleanup()
    return {
        "paragraphs": [f"{name}: phrases {first + 1}–{first + 6}" for name, first in SOURCES],
        "presets": rows,
        "speech_stage": {"default (kokoro)": speech_stage("default", texts), "joe (piper)": speech_stage("joe", texts)},
        "goals": {
            "default raw OVRL": ">= 3.45",
            "default raw P.808": ">= 4.3",
            "chain SIG cost": "<= 0.1",
            "speech stage aggregate RTF": "<= 0.35",
        },
    }
