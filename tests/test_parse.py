import pytest

from pipeline.errors import ScriptError
from pipeline.parse import Break, Pause, Phrase, Section, ScriptErrors, parse_duration, parse_text


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


def test_abbreviations_and_trailing_ellipses_do_not_split_sentences():
    script = parse_text("Dr. Lee is here... and so are you. Rest.", "s.txt")
    assert [p.text for p in script.phrases] == ["Dr. Lee is here... and so are you.", "Rest."]


def test_lines_of_one_paragraph_join_and_blank_lines_are_paragraph_breaks():
    script = parse_text("Soft and\nslow.\n\n\nNext.", "s.txt")
    assert [p.text for p in script.phrases] == ["Soft and slow.", "Next."]
    assert [b.kind for b in events_of(script, Break)] == ["paragraph"]


@pytest.mark.parametrize("cue, seconds", [("[pause 3s]", 3.0), ("[pause 500ms]", 0.5), ("[pause 1.5s]", 1.5), ("[ pause 2 s ]", 2.0)])
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
        ("---\nseed: soon\n---\nHi.", 2, 7, "'seed' must be int"),
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


def test_durations():
    assert parse_duration("750ms") == 0.75
    assert parse_duration("2m") == 120.0
    assert parse_duration("2 parsecs") is None
