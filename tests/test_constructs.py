"""Each construct of the script language does what docs/script-format.md says, on the timeline or the audio."""

import numpy as np
import pytest
import soundfile

from pipeline.audio import SAMPLE_RATE, db_to_gain, frames
from pipeline.beds import load_bed, reference_loudness, render_bed, render_tones
from pipeline.errors import ScriptError
from pipeline.mix import MixSettings, bed_signal, lay_voice
from pipeline.pacing import Pauses, place
from pipeline.script import parse_text
from pipeline.speech import EDGE_PAD_S, ClipCache, load_voice, synthesize

TEN_MS = frames(0.01)


@pytest.fixture(scope="module")
def voice():
    return load_voice("joe")


def pauses_of(script, voice):
    return Pauses.for_voice(voice.sentence_pause_s, voice.paragraph_pause_s, script.meta.pauses, EDGE_PAD_S)


def timeline_of(text, voice, seconds=1.0):
    script = parse_text(text, "t.txt")
    return place(script, [frames(seconds)] * len(script.utterances), pauses_of(script, voice)), script


def starts_s(timeline):
    """When each phrase's first sound is heard."""
    return [p.heard_start / SAMPLE_RATE for p in timeline.phrases]


# --- breath and time ---------------------------------------------------------------


def test_synced_phrases_start_on_exhale_onsets(voice):
    timeline, _ = timeline_of("---\nbreath: {pace: 6, ratio: '4:6', sync: true}\n---\nOne. Two. Three.\n\nFour.", voice)
    onsets = timeline.breath.exhale_onsets(timeline.duration_s)
    for start in starts_s(timeline):  # the first phrase too, and its first sound, not its clip's quiet edge
        assert min(abs(start - o) for o in onsets) < 0.001
    assert np.allclose(np.diff(onsets), 10.0, atol=0.01)  # 6 breaths a minute
    assert onsets[0] == pytest.approx(4.0, abs=0.01)  # 4:6 → the exhale begins 4 s into each 10 s cycle


@pytest.mark.parametrize("cue, phase", [("[inhale]", 0.0), ("[exhale]", 0.4)])
def test_inhale_and_exhale_cues_wait_for_that_phase(voice, cue, phase):
    timeline, _ = timeline_of(f"---\nbreath: 6\n---\nOne. {cue} Two.", voice)
    cycles = timeline.breath.cycles(starts_s(timeline)[1])
    assert cycles % 1 == pytest.approx(phase, abs=0.002)


def test_breath_cue_leaves_room_for_a_whole_inhale(voice):
    timeline, _ = timeline_of("---\nbreath: 6\n---\nOne. [breath] Two.", voice)
    end_of_one = timeline.phrases[0].end / SAMPLE_RATE
    start_of_two = starts_s(timeline)[1]
    assert timeline.breath.cycles(start_of_two) % 1 == pytest.approx(0.4, abs=0.002)
    assert start_of_two - end_of_one >= 4.0  # at least one full 4 s inhale in silence


def test_pause_in_breaths_lasts_that_many_breaths(voice):
    timeline, _ = timeline_of("---\nbreath: 6\n---\nOne. [pause 2 breaths] Two.", voice)
    heard = (timeline.phrases[1].start - timeline.phrases[0].end + 2 * frames(0.02)) / SAMPLE_RATE
    assert heard == pytest.approx(20.0, abs=0.01)


def test_breath_pace_ramps_over_its_duration(voice):
    timeline, _ = timeline_of("---\nbreath: 6\n---\nOne. [breath pace 6 -> 4 over 2m] Two.", voice)
    ramp_start = timeline.phrases[0].end / SAMPLE_RATE
    assert timeline.breath.pace_at(ramp_start + 60) == pytest.approx(5.0, abs=0.01)
    assert timeline.breath.pace_at(ramp_start + 600) == pytest.approx(4.0)


def test_anchor_places_the_next_phrase_at_that_time(voice):
    timeline, _ = timeline_of("One. [at 1:30] Two.", voice)
    assert starts_s(timeline)[1] == pytest.approx(90.0, abs=1e-4)


def test_anchor_before_placed_audio_is_an_error_at_the_cue(voice):
    with pytest.raises(ScriptError, match=r"earlier than the audio already placed") as caught:
        timeline_of("One. [pause 20s] Two. [at 0:10] Three.", voice)
    assert (caught.value.source.line, caught.value.source.col) == (1, 23)


def test_end_lets_the_bed_run_on_after_the_last_word_until_that_time(voice):
    timeline, _ = timeline_of("---\nambience: rain\n---\nOne. [pause 20s] Two.\n[end 8:00:00]\n", voice)
    natural, _ = timeline_of("---\nambience: rain\n---\nOne. [pause 20s] Two.\n", voice)
    assert timeline.frames == frames(8 * 3600)
    assert timeline.phrases == natural.phrases  # the words are where they were; only the bed goes on


@pytest.mark.parametrize(
    "text, message, where",
    [
        ("One. Two. [end 0:10]", r"\[end 00:00:10\] is earlier than the session, which needs 00:00:", (1, 11)),
        ("One. [end 1:00:00] Two.", r"nothing may follow \[end 01:00:00\]", (1, 20)),
        ("---\nduration: 20m\n---\nOne. [end 1:00:00]", r"\[end\] and 'duration' both set", (4, 6)),
        ("One. [end 25:00:00]", r"end time '25:00:00' is out of range", (1, 11)),
    ],
)
def test_end_that_cannot_be_met_is_an_error_at_the_cue(voice, text, message, where):
    with pytest.raises(ScriptError, match=message) as caught:
        timeline_of(text, voice)
    assert (caught.value.source.line, caught.value.source.col) == where


def test_target_duration_stretches_pauses_to_fit(voice):
    timeline, _ = timeline_of("---\nduration: 2m\n---\nOne. [pause 10s] Two.\n\nThree.", voice)
    natural, _ = timeline_of("One. [pause 10s] Two.\n\nThree.", voice)
    assert timeline.frames == frames(120)
    stretch = [
        (b.start - a.end) / (d.start - c.end)
        for (a, b), (c, d) in zip(
            zip(timeline.phrases, timeline.phrases[1:]), zip(natural.phrases, natural.phrases[1:])
        )
    ]
    assert stretch[0] == pytest.approx(stretch[1], rel=0.01) and stretch[0] > 2


def test_target_duration_too_short_is_an_error_at_the_setting(voice):
    with pytest.raises(ScriptError, match="needs at least") as caught:
        timeline_of("---\nduration: 10s\n---\nOne. [pause 30s] Two.", voice)
    assert caught.value.source.line == 2


def test_together_starts_with_the_previous_phrase(voice):
    timeline, _ = timeline_of("[pan left] One. [together] [voice deep] [pan right] Two. Three.", voice)
    one, two, three = timeline.phrases
    assert one.start == two.start and (one.pan, two.pan) == (-0.8, 0.8)
    assert three.start > max(one.end, two.end)


def test_cues_land_on_the_timeline_where_written(voice):
    timeline, _ = timeline_of(
        "## A\nOne. [bed ocean 8s] [tone binaural 10Hz -> 6Hz until B] [mark here] Two.\n## B\nThree.", voice
    )
    (bed,), (tone,), (mark,) = timeline.beds, timeline.tones, timeline.marks
    assert bed.start == tone.start == timeline.phrases[0].end
    assert mark.start == timeline.phrases[0].end
    section_b = timeline.sections[1].start
    assert tone.start + tone.ramp_frames == section_b
    assert "[bed ocean 8s]" in timeline.describe()


# --- voice, on real speech ------------------------------------------------------------------


@pytest.fixture(scope="module")
def spoken(cache_dir):
    script = parse_text(
        "Rest here now. [rate 0.6] Rest here now. [rate 1.2] Rest here now.\n"
        "[rate 1] [pitch +4st] Rest here now. [pitch 0st] [volume -6dB] Rest here now. [volume 0dB] "
        "[pan left] Rest here now.",
        "v.txt",
    )
    voices = {"default": load_voice("joe")}  # a Piper voice: [rate 0.6] is below Kokoro's range
    clips = synthesize(script, voices, ClipCache(cache_dir))
    timeline = place(script, [clip.frames for clip in clips], pauses_of(script, voices["default"]))
    return clips, timeline, lay_voice(timeline, clips)


@pytest.mark.slow
def test_rate_changes_length_not_voice(spoken):
    clips = spoken[0]
    assert clips[1].frames / clips[0].frames == pytest.approx(1 / 0.6, rel=0.2)
    assert clips[2].frames / clips[0].frames == pytest.approx(1 / 1.2, rel=0.2)


def log_spectrum(audio):
    spectrum = np.abs(np.fft.rfft(audio[:, 0] * np.hanning(len(audio)), n=1 << 18))
    freqs = np.fft.rfftfreq(1 << 18, 1 / SAMPLE_RATE)
    grid = 80 * 2 ** (np.arange(0, 5.5 * 48) / 48)  # 80 Hz … 3.6 kHz in quarter-semitones
    return np.log(np.interp(grid, freqs, spectrum) + 1e-9)


@pytest.mark.slow
def test_pitch_shifts_the_spectrum_by_the_asked_semitones(spoken):
    clips = spoken[0]
    plain, raised = log_spectrum(clips[0].audio), log_spectrum(clips[3].audio)
    lags = range(0, 40)
    best = max(lags, key=lambda lag: np.corrcoef(plain[: len(plain) - lag], raised[lag:])[0, 1])
    assert best / 4 == pytest.approx(4.0, abs=0.75)
    assert clips[3].frames == pytest.approx(clips[0].frames, rel=0.02)


@pytest.mark.slow
def test_volume_and_pan_change_level_in_the_voice_stem(spoken):
    _, timeline, voice = spoken
    rms = lambda p, ch: np.sqrt(np.mean(voice[p.start : p.end, ch] ** 2))
    plain, quiet, left = timeline.phrases[0], timeline.phrases[4], timeline.phrases[5]
    assert 20 * np.log10(rms(quiet, 0) / rms(plain, 0)) == pytest.approx(-6.0, abs=0.1)
    assert rms(left, 1) / rms(left, 0) == pytest.approx(0.2, abs=0.01)


@pytest.mark.slow
def test_sound_inserts_are_placed_like_phrases(tmp_path, voice):
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    soundfile.write(tmp_path / "bell.wav", tone, SAMPLE_RATE)
    (tmp_path / "s.txt").write_text("One. [sound bell.wav] Two.")
    from pipeline.script import parse_file

    script = parse_file(tmp_path / "s.txt")
    clips = synthesize(script, {"default": voice}, ClipCache(None))
    assert clips[1].frames == SAMPLE_RATE and np.abs(clips[1].audio[SAMPLE_RATE // 2, 0]) <= 0.3


# --- beds and tones ------------------------------------------------------------------------


STILL = MixSettings(duck_db=0.0, fade_in_s=0.0, fade_out_s=0.0)
"""The mix's bed with nothing moving it but the cues: no ducking, no programme fades."""
BED_LUFS = -30.0


def test_bed_cue_crossfades_to_the_new_preset(voice):
    timeline, _ = timeline_of("One. [bed ocean 2s] Two.", voice)
    beds = {"hearth": load_bed("hearth"), "ocean": load_bed("ocean")}
    bed = bed_signal(timeline, beds, STILL, BED_LUFS)[:]
    switch, fade = timeline.beds[0].start, frames(2)
    levelled = {
        name: db_to_gain(BED_LUFS - reference_loudness(beds[name], seed))
        for name, seed in (("hearth", 0), ("ocean", 7919))
    }  # each stretch of bed its own noise, at the mix's bed loudness
    hearth = render_bed(beds["hearth"], switch + fade, 0)[:switch] * levelled["hearth"]
    assert np.allclose(bed[:switch], hearth, rtol=1e-4, atol=1e-7)
    ocean = render_bed(beds["ocean"], timeline.frames - switch, 7919)[fade:] * levelled["ocean"]
    assert np.allclose(bed[switch + fade :], ocean, rtol=1e-4, atol=1e-7)


def test_ambience_none_is_silence_until_a_bed_cue(voice):
    timeline, _ = timeline_of("---\nambience: none\n---\nOne. [bed ocean 2s] Two.", voice)
    assert timeline.opening_bed is None
    bed = bed_signal(timeline, {"ocean": load_bed("ocean")}, MixSettings(), BED_LUFS)[:]
    switch = timeline.beds[0].start
    assert not bed[:switch].any() and np.abs(bed[switch + frames(2) :]).max() > 0.001


def test_bed_level_cue_ramps_the_level(voice):
    from dataclasses import replace

    timeline, _ = timeline_of("One. [bed -6dB 4s] Two.", voice)
    beds = {"hearth": load_bed("hearth")}
    cued = bed_signal(timeline, beds, STILL, BED_LUFS)[:][:, 0].astype(np.float64)
    flat = bed_signal(replace(timeline, beds=()), beds, STILL, BED_LUFS)[:][:, 0].astype(np.float64)
    sounding = np.abs(flat) > 1e-6
    level = np.where(sounding, 20 * np.log10(np.abs(cued) / np.where(sounding, np.abs(flat), 1.0)), np.nan)
    change = timeline.beds[0].start
    assert np.nanmax(np.abs(level[: change - 512])) < 0.01
    assert np.nanmedian(level[change + frames(2) - 64 : change + frames(2) + 64]) == pytest.approx(-3, abs=0.02)
    assert np.nanmax(np.abs(level[change + frames(4) + 512 :] + 6)) < 0.01


def dominant_hz(channel):
    spectrum = np.abs(np.fft.rfft(channel * np.hanning(len(channel))))
    freqs = np.fft.rfftfreq(len(channel), 1 / SAMPLE_RATE)
    peak = np.argmax(spectrum)
    a, b, c = np.log(spectrum[peak - 1 : peak + 2])
    return freqs[peak] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0])  # parabolic interpolation


def test_binaural_beat_is_the_difference_of_the_carriers(voice):
    timeline, _ = timeline_of("One. [tone binaural 7Hz carrier 220Hz] [pause 30s] Two.", voice)
    tones = render_tones(timeline.tones, timeline.frames)
    start = timeline.tones[0].start + frames(12)  # past the fade-in
    window = tones[start : start + frames(10)]
    left, right = dominant_hz(window[:, 0]), dominant_hz(window[:, 1])
    assert right - left == pytest.approx(7.0, abs=0.05)
    assert (left + right) / 2 == pytest.approx(220.0, abs=0.05)


def test_isochronic_pulses_at_the_beat_and_tone_off_fades_out(voice):
    timeline, _ = timeline_of("One. [tone isochronic 5Hz] [pause 30s] Two. [tone off 2s] [pause 5s] Three.", voice)
    tones = render_tones(timeline.tones, timeline.frames)
    start = timeline.tones[0].start + frames(12)
    envelope = np.abs(tones[start : start + frames(10), 0])
    envelope = envelope.reshape(-1, 480).max(axis=1)  # 10 ms peaks trace the pulses
    pulse_hz = np.argmax(np.abs(np.fft.rfft(envelope - envelope.mean()))) / 10.0
    assert pulse_hz == pytest.approx(5.0, abs=0.15)
    off = timeline.tones[1].start
    assert np.abs(tones[off + frames(2) + 10 :]).max() == 0
    assert np.abs(tones[off : off + frames(1)]).max() > 0  # fades, does not cut


def test_a_cue_between_pauses_lands_where_it_is_written(voice):
    timeline, _ = timeline_of("One. [pause 10s] [bed off 5s] [tone binaural 7Hz] [mark here] [pause 10s] Two.", voice)
    one, two = timeline.phrases
    for cue in (timeline.beds[0], timeline.tones[0], timeline.marks[0]):
        assert abs(cue.start - (one.end + frames(10))) <= frames(0.05)  # after the first pause, not at the word
    assert abs(two.start - (one.end + frames(20))) <= frames(0.05)


@pytest.mark.slow
def test_a_written_break_is_the_silence_heard_in_the_timeline_and_the_voice_stem(cache_dir):
    """900 ms written is 900 ms between one phrase's last sound and the next's first, and within 10 ms of it in
    the voice stem measured at −50 dBFS (the clip's quiet edges once made it 860 in --timeline)."""
    script = parse_text("---\nvoice: steady\n---\nLet your eyes close. [pause 900ms] Rest here.", "b.txt")
    voices = {"steady": load_voice("steady")}
    clips = synthesize(script, voices, ClipCache(cache_dir))
    timeline = place(script, [c.frames for c in clips], pauses_of(script, voices["steady"]))
    first, second = timeline.phrases
    assert (second.heard_start - first.heard_end) / SAMPLE_RATE == pytest.approx(0.9, abs=0.0005)
    voice = lay_voice(timeline, clips)
    window = frames(0.005)
    level = 20 * np.log10(
        np.maximum(np.sqrt(np.convolve(np.square(voice[:, 0]), np.ones(window) / window, "same")), 1e-9)
    )
    gap = level[first.start : second.end] < -50
    loud = np.flatnonzero(~gap)
    silences = np.diff(loud)
    assert abs(silences.max() / SAMPLE_RATE - 0.9) < 0.010


@pytest.mark.parametrize(
    "body, message",
    [
        ("[at 0:03] One.", "[at 0:03.000] is earlier than the audio already placed, which runs to 0:06.000"),
        ("One. [pause 30s] Two.\n[end 0:20]", "[end 00:00:20] is earlier than the session, which needs 00:00:"),
    ],
)
def test_lint_reports_a_time_that_no_speech_could_meet(tmp_path, body, message):
    from pipeline.job import lint

    path = tmp_path / "t.txt"
    path.write_text(f"---\nvoice: steady\n---\n{body}\n")
    errors = lint(path)
    assert len(errors) == 1 and message in errors[0].message and errors[0].source.line in (4, 5)
