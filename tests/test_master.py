import numpy as np
import pytest
import soundfile

from conftest import ebur128
from pipeline.audio import SAMPLE_RATE
from pipeline.blocks import BLOCK, scratch, spans
from pipeline.loudness import measure
from pipeline.master import PROFILES, Limited, master


def sine(freq, seconds, amplitude, phase=0.0):
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def test_limiter_holds_the_ceiling_and_leaves_quiet_parts_alone():
    quiet = sine(440, 2, 0.1)
    loud = sine(440, 0.5, 1.0)
    audio = np.stack([np.concatenate([quiet, loud, quiet])] * 2, axis=1)
    limiter = Limited(audio, -3.0)  # as master() runs it: a signal made as it is read
    limited, reduction = limiter[:], limiter.reduction_db
    assert measure(limited).true_peak_dbtp <= -3.0 + 0.05
    assert reduction == pytest.approx(3.0, abs=0.3)
    assert np.allclose(limited[:SAMPLE_RATE], audio[:SAMPLE_RATE])


@pytest.mark.parametrize("name, needs_limiting", [("podcast", True), ("broadcast", False)])
def test_master_reaches_target_as_ffmpeg_measures_it(name, needs_limiting, tmp_path):
    rng = np.random.default_rng(0)
    programme = (rng.standard_normal((SAMPLE_RATE * 12, 2)) * 0.05).astype(np.float32)
    burst = sine(1000, 0.01, 0.8)[:, None]
    for start in range(SAMPLE_RATE, len(programme) - len(burst), 2 * SAMPLE_RATE):
        programme[start : start + len(burst)] += burst  # short peaks far above the body: the limiter must act
    profile = PROFILES[name]
    result = master(programme, profile)
    path = tmp_path / "m.flac"
    soundfile.write(path, result.audio, SAMPLE_RATE, subtype="PCM_24")
    independent = ebur128(path)
    assert independent.integrated_lufs == pytest.approx(profile.target, abs=0.5)
    assert independent.true_peak_dbtp <= profile.ceiling_dbtp
    assert result.after.integrated_lufs == pytest.approx(independent.integrated_lufs, abs=0.2)
    assert result.after.true_peak_dbtp == pytest.approx(independent.true_peak_dbtp, abs=0.3)
    assert (result.limiter_max_reduction_db > 0) == needs_limiting


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_holds_on_the_decoded_mp3(name, short_render, tmp_path):
    """Target within 0.5 and ceiling respected, as ffmpeg measures the MP3 a listener would get."""
    from pipeline.export import write_audio

    profile = PROFILES[name]
    result = master(short_render["stems"].mix, profile)
    path = write_audio(tmp_path / "t.mp3", result.audio, SAMPLE_RATE, "mp3")
    independent = ebur128(path)
    assert independent.true_peak_dbtp <= profile.ceiling_dbtp
    if profile.by_rms:
        decoded, rate = soundfile.read(path, dtype="float32", always_2d=True)
        assert profile.reading(measure(decoded)) == pytest.approx(profile.target, abs=0.5)  # as qc reads it
    else:
        assert independent.integrated_lufs == pytest.approx(profile.target, abs=0.5)


def test_an_aac_that_overshoots_the_ceiling_is_encoded_again_quieter_and_one_that_holds_is_left(tmp_path):
    """AAC lifts transients past the limiter's margin; the track writer measures the encoded file (as qc and
    ffmpeg do) and trims it under the ceiling, and leaves a file that held alone."""
    from pipeline.deliver import PEAK_TRIM_MARGIN_DB, kept_under_ceiling
    from pipeline.export import write_audio
    from pipeline.export.tags import Tags

    rng = np.random.default_rng(7)
    clicks = np.zeros((SAMPLE_RATE * 4, 2), np.float32)
    clicks[:: SAMPLE_RATE // 3] = 0.7  # isolated full-band transients, the case AAC's pre-echo overshoots on
    clicks += 0.02 * rng.standard_normal(clicks.shape).astype(np.float32)
    path = write_audio(tmp_path / "t.m4a", clicks, SAMPLE_RATE, "m4a")
    first = ebur128(path).true_peak_dbtp
    ceiling = first - 2.0
    gain_db = kept_under_ceiling(path, clicks, ceiling, Tags(title="t"))
    assert gain_db <= -(2.0 + PEAK_TRIM_MARGIN_DB) + 0.3
    assert ebur128(path).true_peak_dbtp <= ceiling + 0.1  # ffmpeg's meter agrees with ours to a tenth
    before = path.read_bytes()
    assert kept_under_ceiling(path, clicks, ceiling + 3.0, Tags(title="t")) == 0.0
    assert path.read_bytes() == before


def heavy_tailed_noise(seconds: float) -> np.ndarray:
    """Noise whose peaks stand far above its body, as rain's drops do: the limiter catches many of them."""
    rng = np.random.default_rng(0)
    return (rng.standard_t(5, (int(SAMPLE_RATE * seconds), 2)) * 0.02).astype(np.float32)


def test_the_first_gain_allows_for_what_the_limiter_will_take():
    programme = heavy_tailed_noise(30)
    blocks = -(-len(programme) // BLOCK)
    totals = []
    result = master(programme, PROFILES["podcast"], progress=lambda done, total: totals.append(total))
    assert result.limiter_max_reduction_db > 3.0  # the limiter acts throughout
    assert result.gain_db > PROFILES["podcast"].target - result.mix_lufs + 0.05  # raised for the loss foreseen
    assert max(totals) == 2 * blocks  # measured once, limited once: no second pass
    assert result.after.integrated_lufs == pytest.approx(PROFILES["podcast"].target, abs=0.1)


def test_a_master_past_the_scratch_budget_is_made_again_without_running_the_limiter(monkeypatch):
    programme = heavy_tailed_noise(12)
    kept = master(programme, PROFILES["podcast"])
    with scratch(budget=0) as work:
        again = master(programme, PROFILES["podcast"], work=work)

        def no_limiter(*_, **__):
            raise AssertionError("the limiter ran again")

        monkeypatch.setattr("pipeline.master.oversampled_peaks", no_limiter)
        made = np.concatenate([again.audio[a:b] for a, b in spans(len(programme), 10_000)])  # not block-aligned
    assert np.array_equal(made, kept.audio)  # the same samples, bit for bit
    assert (again.after, again.gain_db, again.limiter_max_reduction_db) == (
        kept.after,
        kept.gain_db,
        kept.limiter_max_reduction_db,
    )
