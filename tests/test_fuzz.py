"""The parser never fails with anything but ScriptError, whatever it is given."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ScriptError
from pipeline.script import parse_text
from pipeline.script import parse_ssml

SEED_SCRIPTS = [p.read_text() for p in sorted((Path(__file__).parent.parent / "scripts").glob("*.txt"))]
SEED_SCRIPTS.append((Path(__file__).parent / "fixtures" / "short.txt").read_text())
MARKUP = ["[", "]", "{", "}", "---", "\n", "\n\n", "## ", "//", "[pause ", "[rate 0.9 -> ", " until ", " over ",
          "[breath pace ", "[tone binaural ", "Hz", "dB", "st", "->", "[at ", ":", "...", ". ", "{name}", "[bed ",
          "[voice ", "[together]", "[sound ", "breath: ", "vars: ", "duration: ", "\t", "\u00a0", "é", "…", "0", "-1"]
settings.register_profile("parser", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_reports(text: str, parse=parse_text, path="fuzz.txt") -> None:
    try:
        parse(text, path)
    except ScriptError as error:
        assert error.source is None or error.source.path == path
        assert str(error)


@settings(settings.get_profile("parser"))
@given(st.lists(st.sampled_from(MARKUP) | st.text(max_size=8), max_size=60).map("".join))
def test_random_text(text):
    parses_or_reports(text)


@settings(settings.get_profile("parser"))
@given(st.sampled_from(SEED_SCRIPTS), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40), st.sampled_from(MARKUP)), max_size=6))
def test_mutated_library_scripts(script, mutations):
    for where, cut, insert in mutations:
        at = int(where * len(script))
        script = script[:at] + insert + script[at + cut :]
    parses_or_reports(script)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<speak>", "</speak>", "<p>", "</p>", "<s>", "</s>", "<break time='2s'/>",
                                         "<prosody rate='slow'>", "</prosody>", "<foo>", "</foo>", "text ", "&amp;",
                                         "<mark/>", "<audio src='x.wav'/>", "<", ">", "\n", "---\n"]), max_size=40).map("".join))
def test_random_ssml(text):
    parses_or_reports(text, parse_ssml, "fuzz.ssml")
