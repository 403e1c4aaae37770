import pytest

from pipeline.audio import SAMPLE_RATE, frames
from pipeline.pacing import LEAD_IN_S, SECTION_LEAD_S, TAIL_S, Pauses, place
from pipeline.script import parse_text
from pipeline.speech import EDGE_PAD_S, load_voice


@pytest.fixture(scope="module")
def voice():
    return load_voice("default")


def lay(script, voice, seconds=1.0):
    """The script placed as if every phrase took ``seconds`` to say."""
    pauses = Pauses.for_voice(voice.sentence_pause_s, voice.paragraph_pause_s, script.meta.pauses, EDGE_PAD_S)
    return place(script, [frames(seconds)] * len(script.utterances), pauses)


def gaps(timeline):
    """Heard silence between phrases: the gap plus the quiet pad at each clip edge."""
    pads = 2 * frames(EDGE_PAD_S)
    return [(b.start - a.end + pads) / SAMPLE_RATE for a, b in zip(timeline.phrases, timeline.phrases[1:])]


def test_implicit_pauses_come_from_the_voice_preset(voice):
    script = parse_text("One. Two.\n\nThree.", "s.txt")
    timeline = lay(script, voice)
    assert gaps(timeline) == pytest.approx([voice.sentence_pause_s, voice.paragraph_pause_s], abs=1 / SAMPLE_RATE)


def test_an_explicit_pause_replaces_the_implicit_one(voice):
    script = parse_text("One. [pause 3s]\n\nTwo. [pause 250ms] [pause 250ms] Three.", "s.txt")
    timeline = lay(script, voice)
    assert gaps(timeline) == pytest.approx([3.0, 0.5], abs=1 / SAMPLE_RATE)


def test_bed_leads_in_and_trails_out(voice):
    script = parse_text("Only. [pause 2s]", "s.txt")
    timeline = lay(script, voice, 1.5)
    assert timeline.phrases[0].start == frames(LEAD_IN_S)
    assert timeline.frames == frames(LEAD_IN_S) + frames(1.5) + frames(2.0) + frames(TAIL_S)


def test_sections_start_just_before_their_first_word(voice):
    script = parse_text("## Induction\nOne.\n\n## Deepening\nTwo.", "s.txt")
    timeline = lay(script, voice)
    induction, deepening = timeline.sections
    assert (induction.name, induction.start) == ("Induction", 0)
    assert deepening.start == timeline.phrases[1].start - frames(SECTION_LEAD_S)


def test_timeline_prints_readably(voice):
    script = parse_text("## Arrival\nHello there.", "s.txt")
    text = lay(script, voice).describe()
    assert "0:00.000  ## Arrival" in text
    assert "0:06.020     0:06.980  Hello there." in text  # heard: the clip's 20 ms of quiet at each edge left out
    assert "0:00.000  · inhale" in text and "0:03.000  · exhale" in text  # the clock starts on an inhale
