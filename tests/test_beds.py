import numpy as np
import pytest

from pipeline import beds
from pipeline.audio import SAMPLE_RATE
from pipeline.errors import ConfigError


@pytest.fixture(scope="module")
def hearth():
    return beds.load_bed("hearth")


def test_same_seed_same_samples_other_seed_other_samples(hearth):
    a = beds.render_bed(hearth, SAMPLE_RATE * 3, seed=7)
    assert np.array_equal(a, beds.render_bed(hearth, SAMPLE_RATE * 3, seed=7))
    assert not np.allclose(a, beds.render_bed(hearth, SAMPLE_RATE * 3, seed=8))


def test_a_longer_bed_starts_with_the_shorter_one(hearth):
    short = beds.render_bed(hearth, beds.BLOCK + 1000, seed=1)
    long = beds.render_bed(hearth, 3 * beds.BLOCK, seed=1)
    assert np.array_equal(short, long[: len(short)])


def test_bed_is_stereo_float32_without_dc_clipping_or_seams(hearth):
    bed = beds.render_bed(hearth, 4 * beds.BLOCK, seed=3)
    assert bed.shape == (4 * beds.BLOCK, 2) and bed.dtype == np.float32
    assert np.all(np.abs(bed.mean(axis=0)) < 0.02 * bed.std(axis=0))
    assert np.abs(bed).max() < 1.0
    jumps = np.abs(np.diff(bed, axis=0)).max(axis=1)
    at_seams = jumps[[beds.BLOCK * k - 1 for k in (1, 2, 3)]]
    assert at_seams.max() < 6 * np.median(jumps) + 1e-6  # a block seam looks like any other sample step


def test_brown_noise_falls_six_db_per_octave():
    layer = beds.NoiseLayer("brown", 0.0, 0.0, 0.0, 1.0)
    noise = beds._Noise(layer, seed=0, index=0).render(0, SAMPLE_RATE * 20)[:, 0]
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / SAMPLE_RATE)
    band = (freqs > 200) & (freqs < 6400)
    slope_per_octave = np.polyfit(np.log2(freqs[band]), 10 * np.log10(spectrum[band]), 1)[0]
    assert slope_per_octave == pytest.approx(-6.0, abs=0.5)


def test_unknown_bed_names_the_choices():
    with pytest.raises(ConfigError, match="unknown ambience 'hearht'.*did you mean 'hearth'"):
        beds.load_bed("hearht")
