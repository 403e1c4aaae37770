"""The parser never fails with anything but ScriptError, whatever it is given."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ScriptError
from pipeline.script import parse_ssml, parse_text

SEED_SCRIPTS = [p.read_text() for p in sorted((Path(__file__).parent.parent / "scripts").glob("*.txt"))]
SEED_SCRIPTS.append((Path(__file__).parent / "fixtures" / "short.txt").read_text())
MARKUP = [
    "[",
    "]",
    "{",
    "}",
    "---",
    "\n",
    "\n\n",
    "## ",
    "//",
    "[pause ",
    "[rate 0.9 -> ",
    " until ",
    " over ",
    "[breath pace ",
    "[tone binaural ",
    "Hz",
    "dB",
    "st",
    "->",
    "[at ",
    ":",
    "...",
    ". ",
    "{name}",
    "[bed ",
    "[voice ",
    "[together]",
    "[sound ",
    "breath: ",
    "vars: ",
    "duration: ",
    "\t",
    "\u00a0",
    "é",
    "…",
    "0",
    "-1",
]
settings.register_profile("parser", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_reports(text: str, parse=parse_text, path="fuzz.txt") -> None:
    try:
        parse(text, path)
    except ScriptError as error:
        assert error.source is None or error.source.path == path
        assert str(error)


@pytest.mark.slow
@settings(settings.get_profile("parser"))
@given(st.lists(st.sampled_from(MARKUP) | st.text(max_size=8), max_size=60).map("".join))
def test_random_text(text):
    parses_or_reports(text)


@pytest.mark.slow
@settings(settings.get_profile("parser"))
@given(
    st.sampled_from(SEED_SCRIPTS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40), st.sampled_from(MARKUP)), max_size=6),
)
def test_mutated_library_scripts(script, mutations):
    parses_or_reports(mutated(script, mutations))


def mutated(text: str, mutations) -> str:
    """``text`` with each (where, how much to cut, what to insert) applied in turn."""
    for where, cut, insert in mutations:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    return text


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<speak>",
                "</speak>",
                "<p>",
                "</p>",
                "<s>",
                "</s>",
                "<break time='2s'/>",
                "<prosody rate='slow'>",
                "</prosody>",
                "<foo>",
                "</foo>",
                "text ",
                "&amp;",
                "<mark/>",
                "<audio src='x.wav'/>",
                "<",
                ">",
                "\n",
                "---\n",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_random_ssml(text):
    parses_or_reports(text, parse_ssml, "fuzz.ssml")


SSML_SEEDS = [p.read_text() for p in sorted((Path(__file__).parent / "ssml").glob("*.ssml"))]
SSML_MARKUP = [
    "<break time='1s'/>",
    "<emphasis>",
    "</emphasis>",
    "<prosody rate='-10%'>",
    "</prosody>",
    "<s>",
    "</s>",
    "<say-as interpret-as='ordinal'>",
    "</say-as>",
    "<phoneme alphabet='x-sampa' ph='n\"i:v'>",
    "</phoneme>",
    "[SFX: rain]",
    "<mark name='m'/>",
    " 3 ",
    "?",
    "&amp;",
    "<",
    "\u00a0",
    "*",
    "_",
]


def lint_and_render_agree(text: str, suffix: str) -> None:
    """Whatever lint passes, render's checks before and around synthesis pass too: every phrase has something to
    say once normalised, in pieces the engine takes, and the timeline can be laid (given clip lengths)."""
    from pipeline.audio import frames
    from pipeline.errors import ScriptWarning
    from pipeline.job import RenderOptions, lint, prepare
    from pipeline.pacing import place
    from pipeline.speech.text import SAFE_CHARS, normalise, split_for_engine
    from pipeline.speech.voices import lexicon_for

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_text(text, encoding="utf-8")
        if [e for e in lint(path) if not isinstance(e, ScriptWarning)]:
            return
        job = prepare(path, RenderOptions(out_dir=Path(folder)))
    for phrase in job.script.phrases:
        said = normalise(phrase.text, lexicon_for(job.voices[phrase.voice], phrase), phrase.source)
        assert any(ch.isalnum() for ch in said), phrase  # render's "nothing to say"
        assert all(piece.strip() for piece in split_for_engine(said, SAFE_CHARS))
    lengths = [frames(0.3 + 0.4 * len(getattr(u, "text", "x").split())) for u in job.script.utterances]
    try:
        place(job.script, lengths, job.pauses)
    except ScriptError as error:  # only a time the speech itself overruns, which lint cannot know unspoken
        assert "'duration'" in error.message or "earlier than" in error.message, error


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEED_SCRIPTS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40), st.sampled_from(MARKUP)), max_size=4),
)
def test_what_lint_passes_in_a_script_render_can_lay_out_and_speak(script, mutations):
    lint_and_render_agree(mutated(script, mutations), ".txt")


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SSML_SEEDS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 20), st.sampled_from(SSML_MARKUP)), max_size=4),
)
def test_what_lint_passes_in_ssml_render_can_lay_out_and_speak(document, mutations):
    lint_and_render_agree(mutated(document, mutations), ".ssml")
