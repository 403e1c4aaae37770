import re

import pytest

from pipeline.errors import ScriptError
from pipeline.script import Break, Pause, Phrase, ScriptErrors, Section, WordSpan, parse_duration, parse_text
from pipeline.script.voicing import EMPHASIS_DB, EMPHASIS_RATE


def events_of(script, kind):
    return [e for e in script.events if isinstance(e, kind)]


def test_front_matter_sets_meta_and_defaults_fill_the_rest():
    script = parse_text("---\ntitle: Turning toward\nvoice: deep\n---\nHello.\n", "s.txt")
    assert script.meta.title == "Turning toward"
    assert script.meta.voice == "deep"
    assert script.meta.ambience == "hearth" and script.meta.profile == "podcast"
    assert script.meta.sources["voice"].line == 3


def test_bare_text_is_a_script_titled_from_its_file_name():
    script = parse_text("Just this.", "coming-home.txt")
    assert script.meta.title == "Coming home"
    assert [p.text for p in script.phrases] == ["Just this."]


def test_sentences_become_phrases_with_sentence_breaks_between():
    script = parse_text("Breathe in. Let it go! Are you here? Yes.", "s.txt")
    assert [p.text for p in script.phrases] == ["Breathe in.", "Let it go!", "Are you here?", "Yes."]
    assert [b.kind for b in events_of(script, Break)] == ["sentence"] * 3


def test_abbreviations_do_not_split_sentences_and_ellipses_are_short_pauses():
    script = parse_text("Dr. Lee is here... and so are you. Rest.", "s.txt")
    assert [p.text for p in script.phrases] == ["Dr. Lee is here...", "and so are you.", "Rest."]
    assert [b.kind for b in events_of(script, Break)] == ["ellipsis", "sentence"]


def test_lines_of_one_paragraph_join_and_blank_lines_are_paragraph_breaks():
    script = parse_text("Soft and\nslow.\n\n\nNext.", "s.txt")
    assert [p.text for p in script.phrases] == ["Soft and slow.", "Next."]
    assert [b.kind for b in events_of(script, Break)] == ["paragraph"]


@pytest.mark.parametrize(
    "cue, seconds", [("[pause 3s]", 3.0), ("[pause 500ms]", 0.5), ("[pause 1.5s]", 1.5), ("[ pause 2 s ]", 2.0)]
)
def test_pause_cues(cue, seconds):
    script = parse_text(f"One. {cue} Two.", "s.txt")
    assert events_of(script, Pause)[0].seconds == seconds
    assert [p.text for p in script.phrases] == ["One.", "Two."]


def test_every_event_knows_its_line_and_column():
    script = parse_text("---\ntitle: x\n---\n## Induction\n\nHello there. [pause 2s] Again.\n", "f.txt")
    section = events_of(script, Section)[0]
    first, second = script.phrases
    pause = events_of(script, Pause)[0]
    assert (section.name, section.source.line, section.source.col) == ("Induction", 4, 1)
    assert (first.source.line, first.source.col) == (6, 1)
    assert (pause.source.line, pause.source.col) == (6, 14)
    assert (second.source.line, second.source.col) == (6, 25)


def test_comment_lines_are_never_spoken():
    script = parse_text("// note to the producer\nSpoken.", "s.txt")
    assert [p.text for p in script.phrases] == ["Spoken."]


@pytest.mark.parametrize(
    "text, line, col, fragment",
    [
        ("Hi [pause] there.", 1, 4, "pause needs a length"),
        ("Hi [pause 3x] there.", 1, 11, "bad pause length '3x'"),
        ("Hi\nthere [paws 2s].", 2, 7, "did you mean 'pause'"),
        ("Hi [pause 2s there.", 1, 4, "never closed"),
        ("Hi ] there.", 1, 4, "without a matching '['"),
        ("---\ntitel: x\n---\nHi.", 2, 1, "did you mean 'title'"),
        ("---\nseed: soon\n---\nHi.", 2, 7, "'seed' must be a whole number"),
        ("---\npace: fast\n---\nHi.", 2, 7, "'pace' must be a range of words a minute like 100-130"),
        ("---\npace: 130-100\n---\nHi.", 2, 7, "'pace' must be a range"),
        ("---\ntitle: [unclosed\n---\nHi.", 2, 17, "not valid YAML"),
        ("---\ntitle: x\nHi.", 1, 1, "never closed"),
        ("---\ntitle: x\n---\n\n// only a comment\n", 4, 1, "no text to speak"),
    ],
)
def test_mistakes_name_file_line_and_column(text, line, col, fragment):
    with pytest.raises(ScriptError) as caught:
        parse_text(text, "bad.txt")
    error = caught.value
    assert (error.source.path, error.source.line, error.source.col) == ("bad.txt", line, col)
    assert fragment in error.message
    assert str(error).startswith(f"bad.txt:{line}:{col}: ")


def test_every_mistake_is_reported_not_just_the_first():
    with pytest.raises(ScriptErrors) as caught:
        parse_text("---\ntitel: x\n---\nOne [pause] two [nope] three [pause 1q].", "bad.txt")
    assert [(e.source.line, e.source.col) for e in caught.value.errors] == [(2, 1), (4, 5), (4, 17), (4, 37)]


def test_a_script_sets_its_own_pace():
    assert parse_text("---\npace: 100-125 wpm\n---\nHi.", "a.txt").meta.pace_wpm == (100.0, 125.0)
    assert parse_text("Hi.", "a.txt").meta.pace_wpm is None  # the profile's bounds


def test_durations():
    assert parse_duration("750ms") == 0.75
    assert parse_duration("2m") == 120.0
    assert parse_duration("2 parsecs") is None
    assert parse_duration("2S") is None  # a script's units are written as the language shows them


def test_the_cli_reads_sizes_and_ages_by_the_same_rule():
    from pipeline.script import parse_amount

    sizes = {"kb": 2**10, "mb": 2**20, "gb": 2**30}
    assert parse_amount(" 1.5 GB ", sizes, any_case=True) == 1.5 * 2**30
    assert parse_amount("500MB", sizes) is None and parse_amount("500 tb", sizes, any_case=True) is None
    assert parse_amount("30d", {"d": 86400}) == 30 * 86400 and parse_amount("d", {"d": 86400}) is None


# --- the full language -----------------------------------------------------------

FULL = """---
title: Full
author: Ada
vars: {name: friend}
pauses: {comma: 300ms, sentence: 1.2s}
breath: {pace: 6, ratio: "4:6", sync: true}
rate: 0.9
duration: 20m
formats: [flac, opus]
---
## Induction
[rate 1.0 -> 0.5 until Deepening] Hello {name}, welcome. Stay.
[pause 2 breaths] [exhale] Breathe. [voice deep] [pan left] Left. [together] [pan right] Right.
[bed ocean 8s] [bed -6dB 4s] [tone binaural 10Hz -> 6Hz over 5m carrier 180Hz] [tone off 10s] [at 2:00]
## Deepening
Deep now. [pitch -1st] [volume -3dB] Lower. [breath pace 6 -> 5 over 3m] [breath] [inhale] [mark here]
"""


def test_front_matter_covers_every_setting():
    meta = parse_text(FULL, "f.txt").meta
    assert (meta.author, meta.rate, meta.duration_s, meta.formats) == ("Ada", 0.9, 1200.0, ("flac", "opus"))
    assert (meta.breath.pace, meta.breath.inhale, meta.breath.exhale, meta.breath.sync) == (6.0, 4.0, 6.0, True)
    assert meta.pauses == {"comma": 0.3, "sentence": 1.2} and meta.vars == {"name": "friend"}


def test_variables_are_plain_text_and_override_defaults():
    script = parse_text(FULL, "f.txt", variables={"name": "Sam [pause 9s]"})
    assert script.phrases[0].text == "Hello Sam (pause 9s),"
    assert not any(isinstance(e, Pause) and e.seconds == 9 for e in script.events)


def test_unset_variable_is_named():
    with pytest.raises(ScriptError, match=r"variable 'who' has no value") as caught:
        parse_text("Hello {who}.", "v.txt")
    assert (caught.value.source.line, caught.value.source.col) == (1, 7)


def test_rate_ramp_reaches_its_end_at_the_named_section():
    phrases = {p.text: p for p in parse_text(FULL, "f.txt").phrases}
    assert phrases["Hello friend,"].rate == pytest.approx(0.9)  # 1.0 × front-matter rate 0.9
    assert phrases["Right."].rate < phrases["Breathe."].rate < phrases["Hello friend,"].rate
    assert phrases["Deep now."].rate == pytest.approx(0.45)


def test_pitch_ramp_steps_evenly_phrase_by_phrase_to_the_named_section():
    script = parse_text("# One\n[pitch 0st -> -2st until Three] A. B. C.\n# Two\nD. E.\n# Three\nF.", "f.txt")
    assert [p.pitch_st for p in script.phrases] == pytest.approx([0.0, -0.4, -0.8, -1.2, -1.6, -2.0])


def test_voicing_cues_apply_to_following_phrases():
    phrases = {p.text: p for p in parse_text(FULL, "f.txt").phrases}
    assert (phrases["Breathe."].voice, phrases["Left."].voice) == ("default", "deep")
    assert (phrases["Left."].pan, phrases["Right."].pan, phrases["Right."].together) == (-0.8, 0.8, True)
    assert (phrases["Lower."].pitch_st, phrases["Lower."].volume_db) == (-1.0, -3.0)
    assert (phrases["Deep now."].pitch_st, phrases["Deep now."].volume_db) == (0.0, 0.0)


def test_time_cues_become_events():
    script = parse_text(FULL, "f.txt")
    kinds = [type(e).__name__ for e in script.events if not isinstance(e, (Phrase, Break))]
    assert kinds == [
        "Section",
        "Pause",
        "BreathCue",
        "BedCue",
        "BedCue",
        "ToneCue",
        "ToneCue",
        "At",
        "Section",
        "BreathPace",
        "BreathCue",
        "BreathCue",
        "Mark",
    ]


@pytest.mark.parametrize(
    "cue, fragment",
    [
        ("[rate 0.9 -> 0.7]", "needs 'until SECTION' or 'over DURATION'"),
        ("[rate 5]", "outside 0.3…2"),
        ("[rate 0.9 -> 0.7 until Nowhere]", "no section 'Nowhere' after this cue"),
        ("[breath pace 40]", "outside 3…30"),
        ("[tone binaural 45Hz]", "outside 0.5…30"),
        ("[tone binaural 10Hz carrier 5000Hz]", "outside 50–1000 Hz"),
        ("[tone gamma 40Hz]", "binaural, isochronic or off"),
        ("[bed -60dB]", "outside -40…+12 dB"),
        ("[at soon]", "bad time 'soon'"),
        ("[inhale deeply]", "takes no arguments"),
        ("[pan 3]", "outside -1…1"),
    ],
)
def test_bad_cue_arguments_are_explained(cue, fragment):
    with pytest.raises(ScriptError, match=re.escape(fragment)):
        parse_text(f"Hi. {cue} There.", "c.txt")


def test_a_cue_between_sentences_keeps_the_sentence_pause():
    script = parse_text("One. [voice deep] Two. Three [rate 0.8] four.", "s.txt")
    kinds = [e.kind for e in script.events if isinstance(e, Break)]
    assert kinds == ["sentence", "sentence"]  # not between 'Three' and 'four.': that is one sentence, split by a cue


def test_emphasis_inside_a_sentence_is_a_louder_span_of_one_phrase():
    script = parse_text("---\nrate: 1\n---\nYou are *safe* here.", "e.txt")
    (sentence,) = script.phrases
    assert (sentence.text, sentence.rate, sentence.volume_db) == ("You are safe here.", 1.0, 0.0)
    assert sentence.spans == (WordSpan(8, 12, volume_db=EMPHASIS_DB),)
    assert sentence.text[8:12] == "safe"


def test_a_whole_emphasised_sentence_is_slower_and_louder():
    script = parse_text("Rest. *Here.* Now.", "e.txt")
    rest, here, now = script.phrases
    assert (here.text, here.rate, here.volume_db, here.emphasis, here.spans) == (
        "Here.",
        EMPHASIS_RATE,
        EMPHASIS_DB,
        True,
        (),
    )
    assert (rest.volume_db, now.volume_db) == (0.0, 0.0)


def test_volume_pitch_and_marks_inside_a_sentence_do_not_cut_it_and_go_on_after_it():
    script = parse_text("And simply [volume -6dB] allow them [mark here] to [pitch +2st] relax. Then rest.", "c.txt")
    sentence, after = script.phrases
    assert sentence.text == "And simply allow them to relax."
    assert sentence.spans == (WordSpan(11, 31, volume_db=-6.0), WordSpan(25, 31, pitch_st=2.0))
    ((offset, mark),) = sentence.word_marks
    assert (sentence.text[offset:], mark.name, mark.source.col) == ("to relax.", "here", 37)
    assert (after.volume_db, after.pitch_st) == (-6.0, 2.0)  # as any cue: for the phrases after it too
    cut = parse_text("And simply [rate 0.8] allow them to relax.", "c.txt")
    assert [p.text for p in cut.phrases] == ["And simply", "allow them to relax."]  # a rate needs its own clip
