"""The beds' signals, measured: colour, beats, seams, seeds, loops, breath."""

import re

import numpy as np
import pytest
import soundfile

from pipeline import presets
from pipeline.audio import SAMPLE_RATE, frames
from pipeline.beds import NOISE_BLOCK, bed_blocks, load_bed, render_bed
from pipeline.beds.layers import FileLayer, NoiseLayer, ToneLayer
from pipeline.beds.sources import FileLoop, Noise, ToneSource
from pipeline.errors import ConfigError
from pipeline.pacing import BreathClock
from pipeline.script import Breath

PRESETS = sorted(presets.available("ambience"))


def test_there_are_at_least_five_presets():
    assert len(PRESETS) >= 5 and {"hearth", "ocean", "theta-descent"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_stereo_without_dc_clipping_or_block_seams(name):
    bed = render_bed(load_bed(name), 3 * NOISE_BLOCK, seed=3)
    assert bed.shape == (3 * NOISE_BLOCK, 2) and bed.dtype == np.float32
    assert np.all(np.abs(bed.mean(axis=0)) < 0.05 * bed.std(axis=0) + 1e-5)
    assert np.abs(bed).max() < 1.0
    steps = np.abs(np.diff(bed, axis=0)).max(axis=1)
    at_seams = steps[[NOISE_BLOCK * k - 1 for k in (1, 2)]]
    assert at_seams.max() <= 6 * np.percentile(steps, 99) + 1e-6  # a block seam looks like any other step


@pytest.mark.parametrize("name", PRESETS)
def test_same_seed_same_bytes_other_seed_other_audio_any_length(name):
    preset = load_bed(name)
    a = render_bed(preset, NOISE_BLOCK + 5000, seed=7)
    assert a.tobytes() == render_bed(preset, NOISE_BLOCK + 5000, seed=7).tobytes()
    assert np.array_equal(a, render_bed(preset, 3 * NOISE_BLOCK, seed=7)[: len(a)])
    if not all(isinstance(layer, ToneLayer) for layer in preset.layers):
        assert not np.allclose(a, render_bed(preset, NOISE_BLOCK + 5000, seed=8))


@pytest.mark.parametrize("color, slope", [("pink", -3.0), ("brown", -6.0), ("white", 0.0)])
def test_noise_colour_slopes_match_theory(color, slope):
    noise = Noise(NoiseLayer(color=color), np.random.default_rng(0)).render(0, SAMPLE_RATE * 20)[:, 0]
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / SAMPLE_RATE)
    band = (freqs > 100) & (freqs < 10_000)
    octaves = np.log2(freqs[band])
    bins = np.floor(octaves * 3)  # average in third-octave bands so every octave weighs the same in the fit
    centres = [octaves[bins == b].mean() for b in np.unique(bins)]
    levels = [10 * np.log10(spectrum[band][bins == b].mean()) for b in np.unique(bins)]
    assert np.polyfit(centres, levels, 1)[0] == pytest.approx(slope, abs=0.5)


def dominant_hz(channel):
    spectrum = np.abs(np.fft.rfft(channel * np.hanning(len(channel))))
    freqs = np.fft.rfftfreq(len(channel), 1 / SAMPLE_RATE)
    peak = np.argmax(spectrum)
    a, b, c = np.log(spectrum[peak - 1 : peak + 2])
    return freqs[peak] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0])


def test_binaural_layer_beat_is_the_difference_of_the_ears_and_glides():
    layer = ToneLayer(kind="binaural", carrier_hz=180.0, beat_hz=10.0, beat_to_hz=6.0, ramp_s=600.0)
    source = ToneSource(layer, np.random.default_rng(0))
    early, late = source.render(0, frames(10)), source.render(frames(700), frames(10))
    assert dominant_hz(early[:, 1]) - dominant_hz(early[:, 0]) == pytest.approx(10.0 - 4 / 60 * 5 / 10, abs=0.1)
    assert dominant_hz(late[:, 1]) - dominant_hz(late[:, 0]) == pytest.approx(6.0, abs=0.05)
    assert (dominant_hz(late[:, 0]) + dominant_hz(late[:, 1])) / 2 == pytest.approx(180.0, abs=0.05)


@pytest.fixture
def loop_file(tmp_path):
    t = np.arange(frames(4.0)) / SAMPLE_RATE
    rng = np.random.default_rng(1)
    texture = np.convolve(rng.standard_normal(len(t)), np.ones(8) / 8, mode="same")  # a recording-like texture
    sound = 0.3 * texture * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    path = tmp_path / "loop.ogg"
    soundfile.write(path, sound.astype(np.float32), SAMPLE_RATE, format="OGG", subtype="VORBIS")
    return path


def test_file_layer_loops_for_any_length_without_a_seam(loop_file):
    loop = FileLoop(FileLayer(file=str(loop_file), crossfade_s=1.0), np.random.default_rng(0))
    audio = np.concatenate([loop.render(s, 4096) for s in range(0, frames(20), 4096)])
    assert len(audio) >= frames(20)
    steps = np.abs(np.diff(audio[:, 0]))
    assert steps.max() < 3 * np.percentile(steps, 99.9)  # no click anywhere, seams included
    window = frames(0.5)
    rms = np.sqrt(np.mean(audio[: len(audio) // window * window, 0].reshape(-1, window) ** 2, axis=1))
    assert rms.min() > 0.5 * np.median(rms)  # no dip where passes cross


def test_breathing_layer_swells_on_the_inhale(tmp_path, monkeypatch):
    (tmp_path / "breathe.toml").write_text(
        '[[layers]]\ntype = "noise"\ncolor = "white"\nlevel_db = -20\nbreath_db = 6\n'
    )
    monkeypatch.setenv("DRIFT_AMBIENCE", str(tmp_path))
    clock = BreathClock(Breath(pace=6, inhale=4, exhale=6))
    bed = np.concatenate(list(bed_blocks(load_bed("breathe"), frames(20), 0, clock)))
    level = lambda t: 20 * np.log10(np.sqrt(np.mean(bed[frames(t - 0.1) : frames(t + 0.1), 0] ** 2)))
    assert level(4.0) - level(9.9) == pytest.approx(6.0, abs=1.0)  # top of the inhale vs end of the exhale
    assert level(14.0) - level(19.9) == pytest.approx(6.0, abs=1.0)


@pytest.mark.parametrize(
    "layer, message",
    [
        ('type = "sparkle"', "unknown layer type 'sparkle'"),
        ('type = "file"\nfile = "missing.wav"', "'missing.wav' not found"),
        ('type = "file"\nfile = "notes.txt"', "cannot decode '.txt'"),
        ('type = "file"\nfile = "../../outside.wav"', "leaves the ambience folder"),
        ('type = "binaural"\nbeat_hz = 45.0', "outside the 0.5–30 Hz entrainment range"),
        ('type = "binaural"\ncarrier_hz = 3000.0', "outside the safe 50–1000 Hz"),
        ('type = "noise"\ncolour = "pink"', "unknown key 'layers[0].colour'"),
    ],
)
def test_bad_layers_name_the_file_and_key(tmp_path, monkeypatch, layer, message):
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "bad.toml").write_text(f"[[layers]]\n{layer}\n")
    monkeypatch.setenv("DRIFT_AMBIENCE", str(tmp_path))
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_bed("bad")
    assert str(caught.value).startswith(str(tmp_path / "bad.toml"))


def test_unreadable_audio_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "broken.wav").write_bytes(b"RIFF nonsense")
    (tmp_path / "b.toml").write_text('[[layers]]\ntype = "file"\nfile = "broken.wav"\n')
    monkeypatch.setenv("DRIFT_AMBIENCE", str(tmp_path))
    with pytest.raises(ConfigError, match="cannot read ambience file"):
        render_bed(load_bed("b"), 1000, 0)


def test_unknown_bed_names_the_choices():
    with pytest.raises(ConfigError, match="unknown ambience 'hearht'.*did you mean 'hearth'"):
        load_bed("hearht")


@pytest.mark.slow
def test_no_bed_peaks_far_above_its_own_loudness():
    """A bed's transients must not reach the master limiter before the voice does (crest under 18 dB)."""
    from pipeline.loudness import measure

    for name in presets.available("ambience"):
        figures = measure(render_bed(load_bed(name), SAMPLE_RATE * 60, seed=0))
        assert figures.true_peak_dbtp - figures.integrated_lufs < 18.0, name
