import numpy as np
import pytest

from pipeline.audio import SAMPLE_RATE, frames
from pipeline.errors import Source
from pipeline.loudness import integrated_loudness
from pipeline.mix import MixSettings, bed_signal, spoken_spans, tame_peaks, voice_over_bed
from pipeline.pacing import PlacedPhrase, Timeline


def timeline_with(spans_s, total_s=30.0):
    phrases = tuple(
        PlacedPhrase(start=frames(a), frames=frames(b - a), text="x", source=Source("t"), clip=i)
        for i, (a, b) in enumerate(spans_s)
    )
    return Timeline(frames=frames(total_s), phrases=phrases, sections=())


def ducking_heard(timeline, settings):
    """The ducking as the bed stem carries it, in dB per frame: the bed made with these settings over the same bed
    made without ducking (NaN where that one is silent)."""
    from dataclasses import replace

    from pipeline.beds import load_bed

    timeline, beds = replace(timeline, opening_bed="hearth"), {"hearth": load_bed("hearth")}
    ducked = bed_signal(timeline, beds, settings, -30.0)[:][:, 0].astype(np.float64)
    level = bed_signal(timeline, beds, replace(settings, duck_db=0.0), -30.0)[:][:, 0].astype(np.float64)
    sounding = np.abs(level) > 1e-6
    return np.where(sounding, 20 * np.log10(np.abs(ducked) / np.where(sounding, np.abs(level), 1.0)), np.nan)


def test_ducking_holds_through_short_gaps_and_releases_in_long_ones():
    settings = MixSettings()
    short_gap = settings.duck_hold_s * 0.7
    heard = ducking_heard(timeline_with([(6, 8), (8 + short_gap, 10), (16, 18)]), settings)
    held = heard[frames(8) : frames(8 + short_gap)]
    assert np.nanmax(np.abs(held + settings.duck_db)) < 0.01  # the bed does not move between close words
    assert np.nanmax(np.abs(heard[frames(13) : frames(13.1)])) < 0.01  # it comes back up in a long pause
    assert np.nanmax(np.abs(heard[frames(3) : frames(3.1)])) < 0.01


def test_ducking_is_down_before_the_first_syllable():
    settings = MixSettings()
    heard = ducking_heard(timeline_with([(6, 8)]), settings)
    assert np.nanmax(np.abs(heard[frames(6) : frames(6.1)] + settings.duck_db)) < 0.01
    before = frames(6 - settings.duck_attack_s) - 2 * 256  # two control steps: the ramp is drawn between them
    assert np.nanmax(np.abs(heard[frames(5) : before])) < 0.01 and heard[frames(5.9)] < -settings.duck_db / 2


def test_peak_tamer_lowers_spikes_but_not_the_body():
    rng = np.random.default_rng(0)
    body = (rng.standard_normal((SAMPLE_RATE * 4, 2)) * 0.05).astype(np.float32)
    body[SAMPLE_RATE * 2 : SAMPLE_RATE * 2 + 100] = 0.9
    tamed = tame_peaks(body, threshold_db=-12.0, ratio=3.0)
    assert np.abs(tamed[SAMPLE_RATE * 2 : SAMPLE_RATE * 2 + 100]).max() < 0.9 * 0.6
    assert np.allclose(tamed[:SAMPLE_RATE], body[:SAMPLE_RATE])


@pytest.mark.slow
def test_stems_are_aligned_and_sum_to_the_mix(short_render):
    stems, timeline = short_render["stems"], short_render["timeline"]
    assert stems.voice.shape == stems.bed.shape == stems.tones.shape == (timeline.frames, 2)
    assert all(np.abs(stem).max() > 1e-3 for stem in stems.named().values())  # the fixture sounds in every stem
    assert np.array_equal(stems.mix[:], stems.voice + stems.bed + stems.tones)


@pytest.mark.slow
def test_the_manifest_measures_the_voice_over_the_bed_not_the_setting(short_render):
    balance = short_render["stems"].voice_over_bed
    assert balance.low_db <= balance.median_db <= balance.high_db
    assert 12 <= balance.median_db <= 18 and balance.high_db - balance.low_db > 0.1  # read phrase by phrase
    louder_bed = voice_over_bed(
        short_render["stems"].voice, short_render["stems"].bed * np.float32(2), spoken_spans(short_render["timeline"])
    )
    assert louder_bed.median_db == pytest.approx(balance.median_db - 6.02, abs=0.01)


@pytest.mark.slow
def test_bed_sits_12_to_18_db_under_the_voice_during_speech(short_render):
    stems, timeline = short_render["stems"], short_render["timeline"]
    speech = np.concatenate([np.arange(s, e) for s, e in timeline.speech_intervals()])
    ratio = integrated_loudness(stems.voice[speech]) - integrated_loudness(stems.bed[speech])
    assert 12.0 <= ratio <= 18.0


@pytest.mark.slow
def test_bed_fades_in_and_out(short_render):
    bed = short_render["stems"].bed
    edge = frames(0.05)
    assert np.abs(bed[:edge]).max() < 0.05 * np.abs(bed).max()
    assert np.abs(bed[-edge:]).max() < 0.05 * np.abs(bed).max()


@pytest.mark.parametrize("name", ["default", "deep", "close"])
def test_voice_chain_is_skipped_only_where_even_its_room_has_died_away(name):
    from pipeline.mix import chain_board, lay_voice
    from pipeline.speech import Clip, load_voice

    burst = (np.random.default_rng(0).standard_normal((frames(0.5), 1)) * 0.3).astype(np.float32)
    phrases = tuple(
        PlacedPhrase(start=frames(t), frames=len(burst), text="x", source=Source("test"), clip=0, voice="v")
        for t in (1, 20)
    )
    timeline = Timeline(frames=frames(30), phrases=phrases, sections=())
    chain = load_voice(name).chain
    skipped = lay_voice(timeline, (Clip("x", burst),), chain=chain)
    dry = lay_voice(timeline, (Clip("x", burst),))
    continuous = chain_board(chain)(np.ascontiguousarray(dry.T), SAMPLE_RATE).T
    assert np.abs(skipped[frames(10) : frames(19)]).max() == 0.0  # the gap really was skipped
    assert np.abs(skipped - continuous).max() < 1e-6  # and nothing audible was lost
