import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio import frames, resample
from pipeline.errors import ConfigError, RenderError, ScriptError, Source
from pipeline.files import prune_least_recently_used
from pipeline.loudness import integrated_loudness
from pipeline.script import Phrase, parse_text
from pipeline.speech import EDGE_PAD_S, ClipCache, load_voice, speak, synthesize
from pipeline.speech.clips import CLIP_LUFS, TRIM_BELOW_PEAK_DB
from pipeline.speech.engines import engine_for
from pipeline.speech.text import normalise, split_for_engine

HERE = Source("t.txt", 1, 1)


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("Dr. Lee has 25 years.", "Doctor Lee has twenty-five years."),
        ("Rest for 2.5 minutes, e.g. now.", "Rest for two point five minutes, for example now."),
        ("Since 1990 & 2,000 times.", "Since nineteen ninety and two thousand times."),
        ("At 7:05, on the 3rd day, 100% here.", "At seven oh five, on the third day, one hundred percent here."),
    ],
)
def test_numbers_abbreviations_and_symbols_are_read_as_words(text, spoken):
    assert normalise(text, {}, HERE) == spoken


def test_lexicon_respells_whole_words_any_case():
    assert (
        normalise("Attunement, not attunements.", {"attunement": "uh-TOON-ment"}, HERE)
        == "uh-TOON-ment, not attunements."
    )


def test_phonemes_in_the_lexicon_pass_through_normalisation_untouched():
    assert normalise("Niamh, rest 2 minutes.", {"niamh": "[[ nˈiːv ]]"}, HERE) == "[[ nˈiːv ]], rest two minutes."


def steady_with_lexicon(folder, monkeypatch, entry: str, engine: str = "piper"):
    text = (
        (Path(__file__).parents[1] / "voices" / "steady.toml")
        .read_text()
        .replace('engine = "piper"', f'engine = "{engine}"')
    )
    (folder / "named.toml").write_text(text + entry + "\n")
    monkeypatch.setenv("DRIFT_VOICES", str(folder))
    return load_voice("named")


@pytest.mark.slow
def test_a_phoneme_lexicon_entry_is_said_exactly(steady, tmp_path, monkeypatch):
    """espeak reads 'Niamh' as nˈaɪəm; the entry makes the voice say Neeve, exactly as if 'Neeve' were written."""
    named = steady_with_lexicon(tmp_path, monkeypatch, 'Niamh = { phonemes = "nˈiːv" }')
    said = lambda text, preset: speak(parse_text(text, "a.txt").phrases[0], preset, ClipCache(None)).audio
    fixed, unfixed = said("Niamh rests.", named), said("Niamh rests.", steady)
    assert np.array_equal(fixed, said("Neeve rests.", steady))
    assert fixed.shape != unfixed.shape or not np.array_equal(fixed, unfixed)
    assert engine_for(steady).phonemes("Niamh") == "nˈaɪəm"


@pytest.mark.slow
@pytest.mark.parametrize(
    "entry, engine, message",
    [
        ('Niamh = { phonemes = "nˈiːv☺" }', "piper", "lexicon entry 'Niamh': the voice has no phoneme ☺"),
        ('Niamh = { phonemes = "nˈiːv" }', "coqui", "only Piper and Kokoro voices take phonemes"),
        ('Niamh = { sounds = "neeve" }', "piper", "must be a respelling in quotes or { phonemes"),
    ],
)
def test_a_lexicon_entry_a_voice_cannot_say_is_named(entry, engine, message, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        engine_for(steady_with_lexicon(tmp_path, monkeypatch, entry, engine))
    assert caught.value.source.path.endswith("named.toml")


def test_characters_a_voice_cannot_speak_are_errors_at_their_column():
    with pytest.raises(ScriptError, match=r"cannot speak '☺'") as caught:
        normalise("Smile ☺ now.", {}, Source("t.txt", 3, 5))
    assert (caught.value.source.line, caught.value.source.col) == (3, 11)


def test_long_text_is_split_at_clauses_within_the_engine_limit():
    text = "Let the breath come in slowly, and let it go; " * 8
    pieces = split_for_engine(text.strip(), 250)
    assert all(len(p) <= 250 for p in pieces) and len(pieces) > 1
    assert " ".join(pieces) == " ".join(text.split())
    assert split_for_engine("short", 0) == ["short"]


@pytest.fixture(scope="module")
def steady():
    return load_voice("steady")


@pytest.mark.slow
def test_steady_voice_gives_identical_cold_synthesis(steady):
    engine = engine_for(steady)
    assert np.array_equal(engine.synthesize("Breathe in.", 0.8), engine.synthesize("Breathe in.", 0.8))


@pytest.mark.slow
def test_a_piper_voice_with_sampling_noise_varies_between_cold_syntheses():
    engine = engine_for(load_voice("joe"))
    takes = [engine.synthesize("Breathe in slowly.", 0.8) for _ in range(engine.parallel + 1)]  # one session twice
    assert any(len(take) != len(takes[0]) or not np.array_equal(take, takes[0]) for take in takes[1:])


def counting_syntheses(monkeypatch, preset):
    engine = engine_for(preset)
    spoken = []
    original = engine.synthesize
    monkeypatch.setattr(engine, "synthesize", lambda text, rate: spoken.append(text) or original(text, rate))
    return spoken


@pytest.mark.slow
def test_every_clip_has_the_same_quiet_edges_zero_ends_and_one_loudness(steady):
    """Seamless joins: whatever the phrase, 20 ms of quiet before and after the sound, ends at zero, one level."""
    texts = [
        "Yes.",
        "Let your shoulders soften, and feel the weight of your body settle into the floor beneath you.",
        "Is it safe to rest here?",
        "Breathe in... and out.",
    ]
    clips = synthesize(
        parse_text("---\nvoice: steady\n---\n" + "\n\n".join(texts), "a.txt"), {"steady": steady}, ClipCache(None)
    )
    engine = engine_for(steady)
    raw = [integrated_loudness(resample(engine.synthesize(c.text, 1.0), engine.sample_rate)) for c in clips]
    assert max(raw) - min(raw) > 1.5  # the engine's phrases differ in level...
    levels = [integrated_loudness(c.audio) for c in clips]
    assert max(abs(level - CLIP_LUFS) for level in levels) < 0.1  # ...the clips do not
    window = frames(0.005)
    for clip in clips:
        energy = np.convolve(np.square(clip.audio).mean(axis=1), np.ones(window) / window, mode="same")
        sounding = np.flatnonzero(energy > energy.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 10))
        assert abs(sounding[0] - frames(EDGE_PAD_S)) <= frames(0.001), clip.text
        assert abs(len(clip.audio) - 1 - sounding[-1] - frames(EDGE_PAD_S)) <= frames(0.001), clip.text
        assert np.abs(clip.audio[[0, -1]]).max() < 1e-5, clip.text  # faded: a join cannot click


@pytest.mark.slow
def test_editing_one_sentence_synthesises_exactly_that_sentence(steady, tmp_path, monkeypatch):
    voices = {"steady": steady}
    spoken = counting_syntheses(monkeypatch, steady)
    synthesize(
        parse_text("---\nvoice: steady\n---\nOne here. Two here. Three here.", "a.txt"), voices, ClipCache(tmp_path)
    )
    assert sorted(spoken) == ["One here.", "Three here.", "Two here."]  # spoken two at a time: any order
    spoken.clear()
    synthesize(
        parse_text("---\nvoice: steady\n---\nOne here. Two, changed. Three here.", "a.txt"), voices, ClipCache(tmp_path)
    )
    assert spoken == ["Two, changed."]


@pytest.mark.slow
def test_phrases_spoken_at_once_come_back_in_script_order(steady):
    script = parse_text("---\nvoice: steady\n---\n" + " ".join(f"Breath number {n}." for n in range(1, 9)), "a.txt")
    clips = synthesize(script, {"steady": steady}, ClipCache(None))
    one_by_one = [speak(phrase, steady, ClipCache(None)) for phrase in script.phrases]
    assert [c.text for c in clips] == [p.text for p in script.phrases]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(clips, one_by_one))


def test_a_phrase_that_cannot_be_spoken_stops_the_stage_without_speaking_the_rest(steady, monkeypatch):
    spoken = counting_syntheses(monkeypatch, steady)
    sentences = ["Breath one.", "Smile ☺ now."] + [f"Breath number {n}." for n in range(2, 40)]
    with pytest.raises(ScriptError, match="cannot speak"):
        synthesize(
            parse_text("---\nvoice: steady\n---\n" + " ".join(sentences), "a.txt"), {"steady": steady}, ClipCache(None)
        )
    assert len(spoken) < 10


def test_a_warm_phrase_is_read_whole_from_the_cache(steady, tmp_path, monkeypatch):
    phrase = parse_text("[pitch -1st] Sink deeper.", "a.txt").phrases[0]
    first = speak(phrase, steady, ClipCache(tmp_path))
    import pipeline.speech.synthesis as speech

    monkeypatch.setattr(speech, "clean_clip", lambda *a, **k: pytest.fail("a cached clip was cleaned again"))
    assert np.array_equal(speak(phrase, steady, ClipCache(tmp_path)).audio, first.audio)


def test_corrupt_cache_entry_is_discarded_and_synthesised_again(steady, tmp_path, caplog):
    phrase = parse_text("Hello again.", "a.txt").phrases[0]
    cache = ClipCache(tmp_path)
    first = speak(phrase, steady, cache)
    entries = list((tmp_path / "clips").glob("*/*.npy"))
    assert len(entries) == 2  # the engine's output and the cleaned clip
    for entry in entries:
        entry.write_bytes(b"not a numpy file")
    again = speak(phrase, steady, ClipCache(tmp_path))
    assert np.array_equal(first.audio, again.audio)
    assert "discarding a bad cache entry" in caplog.text
    assert all(np.load(entry).dtype == np.float32 for entry in entries)


def test_cache_info_and_prune(steady, tmp_path):
    cache = ClipCache(tmp_path)
    synthesize(parse_text("---\nvoice: steady\n---\nOne. Two. Three.", "a.txt"), {"steady": steady}, cache)
    (tmp_path / "clips" / "00").mkdir(exist_ok=True)
    abandoned, in_flight = tmp_path / "clips" / "00" / ".x.npy.part", tmp_path / "clips" / "00" / ".y.npy.part"
    abandoned.write_bytes(b"half")
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    in_flight.write_bytes(b"being written by a live render")
    entries = cache.entries()
    assert len(entries) == 6 and all(e.bytes > 0 for e in entries)  # three phrases: engine output and cleaned clip each
    assert not abandoned.exists() and in_flight.exists()  # what a killed writer left is cleared, a live one's is not
    removed, freed = prune_least_recently_used(entries, max_bytes=sum(e.bytes for e in entries) // 2)
    assert removed >= 3 and len(cache.entries()) == 6 - removed


def test_pitch_offset_of_a_preset_and_a_cue_add(steady, tmp_path):
    phrase = parse_text("[pitch +2st] Hello.", "a.txt").phrases[0]
    assert phrase.pitch_st == 2.0 and load_voice("joe-deep").pitch_st == -1.0


def test_empty_phrase_and_missing_model_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(RenderError, match="nothing to say"):
        speak(Phrase(text="— … —", source=HERE), load_voice("steady"), ClipCache(None))
    (tmp_path / "ghost.toml").write_text('engine = "piper"\nmodel = "ghost.onnx"\n')
    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    with pytest.raises(ConfigError, match="voice model file not found: .*ghost.onnx"):
        engine_for(load_voice("ghost"))


def test_a_kokoro_presets_model_is_float_or_int8_and_a_bad_one_names_file_and_key(tmp_path, monkeypatch):
    from pipeline.speech.voices import KOKORO_MODEL, KOKORO_MODELS

    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    for model in KOKORO_MODELS:
        (tmp_path / f"k-{model}.toml").write_text(f'engine = "kokoro"\nvoice = "af_heart"\nmodel = "{model}"\n')
        assert load_voice(f"k-{model}").model == model
    (tmp_path / "plain.toml").write_text('engine = "kokoro"\nvoice = "af_heart"\n')
    assert load_voice("plain").model == KOKORO_MODEL in KOKORO_MODELS
    settings = {m: load_voice(f"k-{m}").synthesis_settings() for m in KOKORO_MODELS}
    assert settings["float"] != settings["int8"]  # part of every clip's cache key
    for bad in ('"fp32"', '"kokoro-v1.0-int8"', "8"):
        (tmp_path / "bad.toml").write_text(f'engine = "kokoro"\nvoice = "af_heart"\nmodel = {bad}\n')
        with pytest.raises(ConfigError, match="'model'") as raised:
            load_voice("bad")
        assert "bad.toml" in str(raised.value)


def test_coqui_missing_says_how_to_install(tmp_path, monkeypatch):
    try:
        import TTS  # noqa: F401

        pytest.skip("Coqui is installed here")
    except ImportError:
        pass
    (tmp_path / "cq.toml").write_text('engine = "coqui"\nmodel = "m.pth"\nconfig = "c.json"\n')
    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[coqui\]'"):
        engine_for(load_voice("cq"))


def test_the_shared_lexicon_serves_every_voice_and_a_presets_own_entry_wins(tmp_path, monkeypatch):
    for name in ("default", "heart", "deep"):
        assert dict(load_voice(name).lexicon)["co-regulation"] == "coe regulation"
    (tmp_path / "mine.toml").write_text('engine = "piper"\n[lexicon]\nco-regulation = "co regulation"\n')
    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    assert dict(load_voice("mine").lexicon)["co-regulation"] == "co regulation"
    from pipeline import presets

    assert "lexicon" not in presets.available("voices")  # the shared file is no voice


def test_counts_and_units_are_said_as_words():
    said = normalise("Breathe 4-7-8. Take 3-5 breaths at 10 Hz.", {}, HERE)
    assert said == "Breathe four, seven, eight. Take three to five breaths at ten hertz."


def heard_wpm(text: str, clip) -> float:
    from pipeline.speech.text import spoken_words

    return 60 * spoken_words(text) / (clip.frames / 48_000 - 2 * EDGE_PAD_S)


@pytest.mark.slow
@pytest.mark.parametrize("rate", [2.0, 0.6])
def test_a_phrase_said_outside_its_pace_is_spoken_again_inside_it(steady, tmp_path, rate):
    text = "Let your shoulders soften and let the whole body rest."
    phrase = parse_text(f"[rate {rate}] {text}", "a.txt").phrases[0]
    cache = ClipCache(tmp_path)
    as_asked = speak(phrase, steady, cache)
    paced = speak(phrase, steady, cache, pace_wpm=(100.0, 130.0))
    assert not 100 <= heard_wpm(text, as_asked) <= 130  # the script's rate alone is outside the pace
    assert 100 <= heard_wpm(text, paced) <= 130


def test_a_short_phrase_keeps_the_rate_the_script_asked_for(steady, tmp_path):
    phrase = parse_text("[rate 2] Rest here now.", "a.txt").phrases[0]
    cache = ClipCache(tmp_path)
    assert np.array_equal(speak(phrase, steady, cache).audio, speak(phrase, steady, cache, (100.0, 130.0)).audio)


@pytest.mark.slow
def test_a_draft_speaks_every_kokoro_voice_with_its_piper_stand_in(tmp_path, cache_dir):
    from click.testing import CliRunner

    from pipeline.cli import main
    from pipeline.job import RenderOptions, prepare

    script = tmp_path / "s.txt"
    script.write_text("---\ntitle: Draft\nambience: none\n---\nHello. [voice deep] Deeper now.\n")
    release, draft = (prepare(script, RenderOptions(draft=flag)) for flag in (False, True))
    assert {n: v.engine for n, v in release.voices.items()} == {"default": "kokoro", "deep": "kokoro"}
    assert {n: v.name for n, v in draft.voices.items()} == {"default": "joe", "deep": "joe-deep"}
    assert draft.input_hash != release.input_hash  # a draft never stands in for the release
    result = CliRunner().invoke(
        main,
        ["render", str(script), "--draft", "-o", str(tmp_path / "out"), "--cache", str(cache_dir), "--format", "flac"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "s.json").read_text())
    assert manifest["draft"] is True and manifest["voice"] == "joe"
    release = CliRunner().invoke(main, ["render", str(script), "--check", "-o", str(tmp_path / "out")])
    assert release.exit_code == 1 and "stale" in release.output  # a draft is never up to date for a release


def test_a_draft_stand_in_must_be_a_piper_voice(tmp_path, monkeypatch):
    from pipeline.speech.voices import draft_voice

    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    (tmp_path / "odd.toml").write_text('engine = "kokoro"\nvoice = "af_heart"\ndraft = "emma"\n')
    with pytest.raises(ConfigError, match="'draft' names 'emma', a kokoro voice") as raised:
        draft_voice(load_voice("odd"))
    assert str(tmp_path / "odd.toml") in str(raised.value)


def rms_db(audio) -> float:
    return 10 * np.log10(np.mean(np.square(audio)) + 1e-20)


def test_an_emphasised_word_is_a_louder_span_of_one_clip(steady, tmp_path):
    from pipeline.speech.align import sounds_counter, word_frames

    cache = ClipCache(tmp_path)
    plain = speak(parse_text("Let the breath be slow and easy now.", "a.txt").phrases[0], steady, cache)
    marked = parse_text("Let the breath be *slow* and easy now.", "a.txt").phrases[0]
    emphasised = speak(marked, steady, cache)
    assert emphasised.frames == plain.frames  # one synthesis of the whole sentence: its intonation is not cut
    span = marked.spans[0]
    start, end = word_frames(
        marked.text, [span.start, span.end], plain.audio, sounds_counter(engine_for(steady).phonemes)
    )
    assert 0 < start < end < plain.frames
    edge = frames(0.03)
    louder = rms_db(emphasised.audio[start + edge : end - edge]) - rms_db(plain.audio[start + edge : end - edge])
    assert louder == pytest.approx(2.0, abs=0.05)
    assert np.array_equal(emphasised.audio[: start - edge], plain.audio[: start - edge])  # the rest as it was
    assert np.array_equal(emphasised.audio[end + edge :], plain.audio[end + edge :])


def test_a_word_is_placed_by_its_share_of_the_sentences_sounds_at_the_gap_between_words(steady, tmp_path):
    from pipeline.speech.align import sounds_counter, word_frames

    text = "Rest here for a while, and then let the whole day go."
    (phrase,) = parse_text(text, "a.txt").phrases
    clip = speak(phrase, steady, ClipCache(tmp_path))
    sounds = sounds_counter(engine_for(steady).phonemes)
    (at,) = word_frames(text, [text.index("and")], clip.audio, sounds)
    quiet = np.convolve(np.square(clip.audio[:, 0]), np.ones(480) / 480, mode="same")
    assert quiet[at] < 1e-3 * quiet.max()  # in the comma's pause, not inside a word
    share = sounds(text[: text.index("and")]) / sounds(text)
    assert abs(at / clip.frames - share) < 0.1


@pytest.mark.slow
def test_a_mark_inside_a_sentence_lands_where_its_word_is_said(short_render_like):
    timeline = short_render_like
    (phrase,), (mark,) = timeline.phrases, timeline.marks
    assert phrase.heard_start + 48_000 * 0.3 < mark.start < phrase.heard_end - 48_000 * 0.3


@pytest.fixture
def short_render_like(tmp_path):
    from pipeline.job import RenderOptions, prepare
    from pipeline.render import render

    script = tmp_path / "m.txt"
    script.write_text(
        "---\nvoice: steady\nambience: none\n---\nLet your shoulders soften, [mark middle] and let the day go.\n"
    )
    return render(prepare(script, RenderOptions(out_dir=tmp_path)), ClipCache(tmp_path / "cache")).timeline


@pytest.mark.parametrize(
    "text, starts",
    [
        ("Let your breath slow down, and let your shoulders drop.", [("and", 1.0)]),
        ("Let the breath be slow and easy now.", [("and", 0.6)]),  # a lighter breath before a clause's "and"
        ("Rest and be still.", []),  # too few words before "and" for a breath group of its own
        ("Feel the weight of your arms as they rest; soften.", [("as", 0.6), ("soften", 1.0)]),
    ],
)
def test_breath_groups_open_at_clause_edges_and_before_a_clauses_conjunction(text, starts):
    from pipeline.speech.phrasing import breath_groups

    assert [(text[g.offset :].split()[0].strip(".,;"), g.share) for g in breath_groups(text)] == starts


def test_a_pause_goes_in_at_the_quietest_point_near_the_boundary_and_the_rest_is_untouched():
    from pipeline.speech.phrasing import shifted, with_pauses

    tone = np.sin(np.arange(48_000) / 48_000 * 2 * np.pi * 220).astype(np.float32)[:, None]
    audio = tone.copy()
    audio[24_100:24_200] = 0.0  # the gap between two words, 2 ms after the boundary asked for
    paused, points = with_pauses(audio, [24_000], [0.25])
    assert 24_100 <= points[0] < 24_200 and len(paused) == len(audio) + frames(0.25)
    assert not paused[points[0] : points[0] + frames(0.25)].any()
    assert np.array_equal(paused[: points[0] - frames(0.004)], audio[: points[0] - frames(0.004)])  # but the fade
    assert np.array_equal(paused[shifted(30_000, points, [0.25])], audio[30_000])


def test_a_piper_sentence_with_breath_pauses_is_said_once_and_paused_inside_its_clip(steady, tmp_path, monkeypatch):
    from dataclasses import replace

    text = "Let your breath slow down, and let your shoulders drop."
    phrase = parse_text(text, "a.txt").phrases[0]
    plain = speak(phrase, steady, ClipCache(tmp_path / "a"))
    pausing = replace(steady, breath_pause_s=0.4)
    engine, said = engine_for(pausing), []
    original = engine.synthesize
    monkeypatch.setattr(engine, "synthesize", lambda text, rate: said.append(text) or original(text, rate))
    paused = speak(phrase, pausing, ClipCache(tmp_path / "b"))
    assert said == [normalise(text, dict(steady.lexicon), None)]  # the whole sentence, one call
    assert paused.frames - plain.frames == frames(0.4)
