import numpy as np
import pytest

from pipeline.audio import SAMPLE_RATE, frames
from pipeline.loudness import integrated_loudness
from pipeline.mix import MixSettings, duck_envelope_db, spoken_spans, tame_peaks, voice_over_bed
from pipeline.pacing import PlacedPhrase, Timeline
from pipeline.errors import Source


def timeline_with(spans_s, total_s=30.0):
    phrases = tuple(PlacedPhrase(start=frames(a), frames=frames(b - a), text="x", source=Source("t"), clip=i)
                    for i, (a, b) in enumerate(spans_s))
    return Timeline(frames=frames(total_s), phrases=phrases, sections=())


def test_ducking_holds_through_short_gaps_and_releases_in_long_ones():
    settings = MixSettings()
    short_gap = settings.duck_hold_s * 0.7
    envelope = duck_envelope_db(timeline_with([(6, 8), (8 + short_gap, 10), (16, 18)]), settings)
    held = envelope[frames(8) : frames(8 + short_gap)]
    assert np.all(held == -settings.duck_db)  # the bed does not move between close words
    assert envelope[frames(13)] == 0.0  # it comes back up in a long pause
    assert envelope[frames(3)] == 0.0


def test_ducking_is_down_before_the_first_syllable():
    settings = MixSettings()
    envelope = duck_envelope_db(timeline_with([(6, 8)]), settings)
    assert envelope[frames(6)] == -settings.duck_db
    assert envelope[frames(6 - settings.duck_attack_s) - 1] == 0.0


def test_peak_tamer_lowers_spikes_but_not_the_body():
    rng = np.random.default_rng(0)
    body = (rng.standard_normal((SAMPLE_RATE * 4, 2)) * 0.05).astype(np.float32)
    body[SAMPLE_RATE * 2 : SAMPLE_RATE * 2 + 100] = 0.9
    tamed = tame_peaks(body, threshold_db=-12.0, ratio=3.0)
    assert np.abs(tamed[SAMPLE_RATE * 2 : SAMPLE_RATE * 2 + 100]).max() < 0.9 * 0.6
    assert np.allclose(tamed[: SAMPLE_RATE], body[: SAMPLE_RATE])


def test_stems_are_aligned_and_sum_to_the_mix(short_render):
    stems, timeline = short_render["stems"], short_render["timeline"]
    assert stems.voice.shape == stems.bed.shape == stems.tones.shape == (timeline.frames, 2)
    assert all(np.abs(stem).max() > 1e-3 for stem in stems.named().values())  # the fixture sounds in every stem
    assert np.array_equal(stems.mix[:], stems.voice + stems.bed + stems.tones)


def test_the_manifest_measures_the_voice_over_the_bed_not_the_setting(short_render):
    balance = short_render["stems"].voice_over_bed
    assert balance.low_db <= balance.median_db <= balance.high_db
    assert 12 <= balance.median_db <= 18 and balance.high_db - balance.low_db > 0.1  # read phrase by phrase
    louder_bed = voice_over_bed(short_render["stems"].voice, short_render["stems"].bed * np.float32(2),
                                spoken_spans(short_render["timeline"]))
    assert louder_bed.median_db == pytest.approx(balance.median_db - 6.02, abs=0.01)


def test_bed_sits_12_to_18_db_under_the_voice_during_speech(short_render):
    stems, timeline = short_render["stems"], short_render["timeline"]
    speech = np.concatenate([np.arange(s, e) for s, e in timeline.speech_intervals()])
    ratio = integrated_loudness(stems.voice[speech]) - integrated_loudness(stems.bed[speech])
    assert 12.0 <= ratio <= 18.0


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
    phrases = tuple(PlacedPhrase(start=frames(t), frames=len(burst), text="x", source=Source("test"), clip=0, voice="v")
                    for t in (1, 20))
    timeline = Timeline(frames=frames(30), phrases=phrases, sections=())
    chain = load_voice(name).chain
    skipped = lay_voice(timeline, (Clip("x", burst),), chain=chain)
    dry = lay_voice(timeline, (Clip("x", burst),))
    continuous = chain_board(chain)(np.ascontiguousarray(dry.T), SAMPLE_RATE).T
    assert np.abs(skipped[frames(10) : frames(19)]).max() == 0.0  # the gap really was skipped
    assert np.abs(skipped - continuous).max() < 1e-6  # and nothing audible was lost
