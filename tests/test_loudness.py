import numpy as np
import pyloudnorm
import pytest
import soundfile

from conftest import ebur128
from pipeline.audio import SAMPLE_RATE
from pipeline.loudness import LoudnessMeter, integrated_loudness, measure


def sine(freq, seconds, amplitude, phase=0.0):
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def programme_of_changing_levels(seconds=60, seed=0):
    """Noise whose level steps between −35 and −15 dBFS every few seconds: gating and LRA both matter."""
    rng = np.random.default_rng(seed)
    audio = rng.standard_normal((SAMPLE_RATE * seconds, 2)).astype(np.float32)
    levels = np.repeat(rng.uniform(-35, -15, seconds // 5), SAMPLE_RATE * 5)
    audio *= (10 ** (levels / 20)).astype(np.float32)[:, None]
    audio[SAMPLE_RATE * 20 : SAMPLE_RATE * 26] = 0  # silence the gates must exclude
    return audio


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.stack([sine(997, 10, 0.25)] * 2, 1),
        pytest.param(programme_of_changing_levels, marks=pytest.mark.slow),
    ],
)
def test_integrated_loudness_matches_pyloudnorm(make):
    audio = make()
    reference = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(audio.astype(np.float64))
    assert integrated_loudness(audio) == pytest.approx(reference, abs=0.1)


@pytest.mark.slow
def test_every_figure_matches_ffmpeg(tmp_path):
    audio = programme_of_changing_levels()
    audio[SAMPLE_RATE * 40 : SAMPLE_RATE * 40 + 2] = [[0.9, -0.9], [-0.9, 0.9]]  # an inter-sample over
    path = tmp_path / "p.wav"
    soundfile.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    ours, theirs = measure(audio), ebur128(path)
    assert ours.integrated_lufs == pytest.approx(theirs.integrated_lufs, abs=0.1)
    assert ours.true_peak_dbtp == pytest.approx(theirs.true_peak_dbtp, abs=0.1)
    assert ours.range_lu == pytest.approx(theirs.range_lu, abs=0.5)


def test_true_peak_finds_the_peak_between_samples():
    # A quarter-rate sine sampled 45° off its crest: samples reach 0.707, the wave reaches 1.0.
    wave = np.stack([sine(SAMPLE_RATE / 4, 1, 1.0, np.pi / 4)] * 2, axis=1)
    assert np.abs(wave).max() == pytest.approx(0.7071, abs=1e-3)
    assert measure(wave).true_peak_dbtp == pytest.approx(0.0, abs=0.3)


def test_feeding_in_blocks_gives_the_same_answer_as_feeding_whole():
    audio = programme_of_changing_levels(30, seed=1)
    whole, pieces = LoudnessMeter(2), LoudnessMeter(2)
    whole.feed(audio)
    for start in range(0, len(audio), 12_345):
        pieces.feed(audio[start : start + 12_345])
    assert pieces.integrated() == pytest.approx(whole.integrated(), abs=1e-6)
    assert pieces.range() == pytest.approx(whole.range(), abs=1e-6)


def test_silence_reads_as_the_floor_not_minus_infinity():
    assert integrated_loudness(np.zeros((SAMPLE_RATE, 2), np.float32)) == -70.0


def test_oversampled_peaks_skip_and_join_runs_without_changing_a_single_peak():
    """Against the plain definition (the whole signal 4x oversampled with scipy, then the peak per frame):
    bursts near the start, the end and a block edge make several runs, joined for one convolution."""
    from scipy import signal

    from pipeline.audio import frame_peaks
    from pipeline.loudness import OVERSAMPLE, interpolator, oversampled_peaks

    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((300_000, 2)) * 0.01).astype(np.float32)
    for start in (3, 1_000, 1_700, 65_530, 262_140, 299_990):
        audio[start : start + 7] = rng.uniform(-0.9, 0.9, (min(7, len(audio) - start), 2))
    up = signal.resample_poly(audio.astype(np.float64), OVERSAMPLE, 1, axis=0, window=interpolator())
    plain = frame_peaks(up).reshape(-1, OVERSAMPLE).max(axis=1)
    floor = 0.5
    ours = oversampled_peaks(audio, 0, len(audio), floor)
    loud = plain >= floor
    assert loud.sum() > 20  # the bursts do reach the floor, and are measured exactly
    np.testing.assert_allclose(ours[loud], plain[loud], rtol=1e-5)
    assert np.all(ours <= plain + 1e-6) and np.all(ours[~loud] < floor)
