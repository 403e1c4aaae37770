"""Coqui TTS through our engine layer, on a tiny VITS built here with Coqui's own config and checkpoint code.

Runs when the `coqui` extra is installed (.ci/run installs it); skipped otherwise.
"""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("TTS", reason="Coqui TTS extra not installed: pip install -e '.[coqui]'")

from pipeline.errors import ConfigError  # noqa: E402
from pipeline.script import parse_text  # noqa: E402
from pipeline.speech import ClipCache, load_voice, speak  # noqa: E402
from pipeline.speech.engines import engine_for  # noqa: E402

pytestmark = pytest.mark.slow  # loads torch, builds a tiny model and speaks with it


def build_tiny_vits(folder):
    """A randomly initialised two-speaker VITS, saved the way Coqui saves trained models."""
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(0)
    speakers = folder / "speakers.json"
    speakers.write_text(json.dumps({"ada": 0, "ben": 1}))
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16, 8],
        use_speaker_embedding=True,
        speakers_file=str(speakers),
    )
    config = VitsConfig(
        model_args=args,
        text_cleaner="basic_cleaners",
        use_phonemes=False,
        characters=CharactersConfig(
            characters="abcdefghijklmnopqrstuvwxyz ",
            punctuations=".,!?'-",
            pad="<PAD>",
            eos="<EOS>",
            bos="<BOS>",
            blank="<BLNK>",
            characters_class="TTS.tts.models.vits.VitsCharacters",
        ),
        audio=BaseAudioConfig(sample_rate=16000, hop_length=256, win_length=1024, fft_size=1024, mel_fmax=8000),
    )
    model = Vits(config)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coqui")
    build_tiny_vits(folder)
    for name, speaker in (("tiny-ada", "ada"), ("tiny-ben", "ben"), ("tiny-nobody", "nobody")):
        (folder / f"{name}.toml").write_text(
            f'engine = "coqui"\nmodel = "model.pth"\nconfig = "config.json"\nspeaker = "{speaker}"\nrate = 1.0\n'
            "[chain]\nhighpass_hz = 0\n"
        )
    return folder


@pytest.fixture
def coqui_voices(voices_dir, monkeypatch):
    monkeypatch.setenv("DRIFT_VOICES", str(voices_dir))


def phrase(text, rate=1.0):
    return parse_text(f"[rate {rate}] {text}", "c.txt").phrases[0]


def test_tiny_model_loads_through_the_users_path_and_speaks(coqui_voices):
    preset = load_voice("tiny-ada")
    engine = engine_for(preset)
    raw = engine.synthesize("hello there", 1.0)
    assert raw.dtype == np.float32 and raw.ndim == 1 and len(raw) > 1000
    assert engine.sample_rate == 16000 and engine.identity["engine"] == "coqui"
    clip = speak(phrase("Hello there."), preset, ClipCache(None))
    assert clip.audio.dtype == np.float32 and clip.frames > 0


def test_rate_uses_the_models_length_scale(coqui_voices):
    engine = engine_for(load_voice("tiny-ada"))
    slow, fast = engine.synthesize("hello there friend", 0.5), engine.synthesize("hello there friend", 1.0)
    assert len(slow) / len(fast) == pytest.approx(2.0, rel=0.15)


def test_speakers_are_chosen_by_name(coqui_voices):
    ada = engine_for(load_voice("tiny-ada")).synthesize("hello", 1.0)
    ben = engine_for(load_voice("tiny-ben")).synthesize("hello", 1.0)
    assert not np.allclose(ada[: min(len(ada), len(ben))], ben[: min(len(ada), len(ben))])
    with pytest.raises(ConfigError, match="no speaker 'nobody'.*ada, ben"):
        engine_for(load_voice("tiny-nobody"))


def test_coqui_output_is_cached_like_pipers(coqui_voices, tmp_path):
    cache = ClipCache(tmp_path)
    first = speak(phrase("Hello there."), load_voice("tiny-ada"), cache)
    second = speak(phrase("Hello there."), load_voice("tiny-ada"), cache)
    assert cache.hits == 1 and np.array_equal(first.audio, second.audio)
    assert len(list((tmp_path / "clips").glob("*/*.npy"))) == 2


def test_a_model_is_found_by_its_coqui_name_in_the_users_model_folder(tmp_path, monkeypatch):
    """Where `tts --model_name tts_models/en/tiny/vits` would have saved it: nothing is downloaded."""
    from TTS.utils.manage import ModelManager

    monkeypatch.setenv("TTS_HOME", str(tmp_path / "coqui-home"))
    folder = Path(ModelManager(progress_bar=False).output_prefix) / "tts_models--en--tiny--vits"
    folder.mkdir(parents=True)
    build_tiny_vits(folder)
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "named.toml").write_text('engine = "coqui"\nmodel = "tts_models/en/tiny/vits"\nspeaker = "ben"\n')
    (voices / "missing.toml").write_text('engine = "coqui"\nmodel = "tts_models/en/absent/vits"\n')
    monkeypatch.setenv("DRIFT_VOICES", str(voices))
    assert len(engine_for(load_voice("named")).synthesize("hello", 1.0)) > 1000
    with pytest.raises(ConfigError, match="Coqui model file not found.*never downloaded"):
        engine_for(load_voice("missing"))


def build_tiny_xtts(folder):
    """A randomly initialised XTTS (tiny GPT; Coqui's fixed-size decoder), saved as Coqui saves XTTS: model + vocab."""
    import torch
    from tokenizers import Tokenizer, models
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts, XttsArgs

    torch.manual_seed(0)
    special = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]"]
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    tokenizer = Tokenizer(
        models.BPE(vocab={t: i for i, t in enumerate(special + letters)}, merges=[], unk_token="[UNK]")
    )
    tokenizer.add_special_tokens(special)
    tokenizer.save(str(folder / "vocab.json"))
    args = XttsArgs(
        gpt_layers=1,
        gpt_n_model_channels=32,
        gpt_n_heads=2,
        gpt_max_audio_tokens=40,
        gpt_max_prompt_tokens=70,
        gpt_num_audio_tokens=66,
        gpt_start_audio_token=64,
        gpt_stop_audio_token=65,
        gpt_use_perceiver_resampler=True,
        decoder_input_dim=32,
    )
    config = XttsConfig(model_args=args, languages=["en"])
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(folder / "vocab.json")
    model.init_models()
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))


def write_reference(path, pitch_hz):
    """A few seconds of a buzzy voiced sound at 44.1 kHz stereo: not XTTS's rate or layout, as a user's file may be."""
    t = np.arange(44100 * 4) / 44100
    voiced = sum(np.sin(2 * np.pi * pitch_hz * k * t) / k for k in range(1, 12)) * (
        0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    )
    import soundfile

    soundfile.write(path, np.stack([voiced, voiced], axis=1).astype(np.float32) * 0.1, 44100)


@pytest.fixture(scope="module")
def xtts_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xtts")
    build_tiny_xtts(folder)
    write_reference(folder / "low.wav", 110)
    write_reference(folder / "high.wav", 240)
    (folder / "not-audio.wav").write_text("this is not a recording")
    for name, reference, language in (
        ("xtts-low", "low.wav", "en"),
        ("xtts-high", "high.wav", "en"),
        ("xtts-french", "low.wav", "fr"),
        ("xtts-absent", "absent.wav", "en"),
        ("xtts-text", "not-audio.wav", "en"),
    ):
        (folder / f"{name}.toml").write_text(
            f'engine = "coqui"\nmodel = "model.pth"\nconfig = "config.json"\nspeaker_wav = "{reference}"\n'
            f'language = "{language}"\n[chain]\nhighpass_hz = 0\n'
        )
    return folder


@pytest.fixture
def xtts_voices(xtts_dir, monkeypatch):
    monkeypatch.setenv("DRIFT_VOICES", str(xtts_dir))


def test_xtts_clones_the_reference_recording(xtts_voices):
    low, high = engine_for(load_voice("xtts-low")), engine_for(load_voice("xtts-high"))
    assert low.sample_rate == 24000 and low.max_chars == 250  # XTTS's own limit for English
    said_low, said_high = low.synthesize("hello there", 1.0), high.synthesize("hello there", 1.0)
    assert said_low.dtype == np.float32 and said_low.ndim == 1 and len(said_low) > 10000
    shortest = min(len(said_low), len(said_high))
    assert not np.allclose(said_low[:shortest], said_high[:shortest], atol=1e-4)
    assert low.identity["speaker_wav_sha256"] != high.identity["speaker_wav_sha256"]  # another recording, another key
    clip = speak(phrase("Hello there."), load_voice("xtts-low"), ClipCache(None))
    assert clip.audio.dtype == np.float32 and clip.frames > 0


def test_xtts_rate_is_its_own_speed_control(xtts_voices):
    engine = engine_for(load_voice("xtts-low"))
    slow, usual = engine.synthesize("hello there friend", 0.5), engine.synthesize("hello there friend", 1.0)
    assert len(slow) / len(usual) == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("voice", ["tiny-ada", "xtts-low"])
def test_cold_coqui_synthesis_repeats_exactly(voice, voices_dir, xtts_dir, monkeypatch):
    """Both models sample noise; it is seeded from the text, so a cold render is reproducible."""
    monkeypatch.setenv("DRIFT_VOICES", str(voices_dir if voice.startswith("tiny") else xtts_dir))
    engine = engine_for(load_voice(voice))
    first = engine.synthesize("hello there friend", 1.0)
    engine.synthesize("something else entirely", 1.0)
    assert np.array_equal(first, engine.synthesize("hello there friend", 1.0))


def test_text_longer_than_xtts_can_say_is_split_under_its_limit(xtts_voices, monkeypatch):
    preset = load_voice("xtts-low")
    engine = engine_for(preset)
    said = []
    original = engine.synthesize
    monkeypatch.setattr(engine, "synthesize", lambda text, rate: said.append(text) or original(text, rate))
    sentence = "Let the breath arrive, and let it go again, slowly, without any effort at all"
    speak(phrase(", ".join([sentence] * 5) + "."), preset, ClipCache(None))
    assert len(said) >= 2 and all(len(piece) <= 250 for piece in said)


@pytest.mark.parametrize(
    "voice, message",
    [
        ("xtts-french", "does not speak language 'fr' \\(speaks: en\\)"),
        ("xtts-absent", "speaker_wav not found: .*absent.wav"),
        ("xtts-text", "cannot read speaker_wav .*not-audio.wav"),
    ],
)
def test_xtts_settings_that_cannot_work_are_named(voice, message, xtts_voices):
    with pytest.raises(ConfigError, match=message) as error:
        engine_for(load_voice(voice))
    assert error.value.source.path.endswith(f"{voice}.toml")
