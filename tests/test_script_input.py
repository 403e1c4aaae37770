"""Real-world files on the way in (issue 17, in part): hostile SSML is refused, other encodings are read,
damaged text is repaired with a warning, and lint finds every character render would refuse, in one run."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.script import parse_file

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY a "lol lol lol lol lol lol lol lol lol lol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<speak>&g;</speak>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE speak [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<speak>&secret;</speak>
"""


def lint(*paths):
    return CliRunner().invoke(main, ["lint", *map(str, paths)])


def test_entity_bombs_and_external_entities_are_refused_at_once_in_one_line(tmp_path):
    for name, text in (("bomb.ssml", BOMB), ("external.ssml", EXTERNAL)):
        (tmp_path / name).write_text(text)
        result = lint(tmp_path / name)  # refused before any entity is expanded (the old parser ran for minutes)
        assert result.exit_code == 1 and f"{name}:2:" in result.output and "may not declare a DTD" in result.output
        assert "root:" not in result.output  # nothing of /etc/passwd was read


def test_malformed_ssml_names_the_line_and_column_of_the_first_mismatch(tmp_path):
    (tmp_path / "bad.ssml").write_text("<speak>\n<p>Rest here.</s>\n</speak>\n")
    result = lint(tmp_path / "bad.ssml")
    assert result.exit_code == 1 and "bad.ssml:2:16: not well-formed SSML: mismatched tag" in result.output


def test_ssml_in_utf16_with_a_byte_order_mark_is_read(tmp_path):
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<speak>Rest here, café.</speak>\n'
    (tmp_path / "u16.ssml").write_bytes(text.encode("utf-16"))
    assert [p.text for p in parse_file(tmp_path / "u16.ssml").phrases] == ["Rest here, café."]


def test_double_encoded_text_is_repaired_with_a_warning_that_shows_the_repair(tmp_path):
    (tmp_path / "s.txt").write_bytes("Rest here \u2014 slowly.\n".encode("utf-8").decode("latin-1").encode("utf-8"))
    result = lint(tmp_path / "s.txt")
    assert result.exit_code == 0, result.output
    assert "s.txt:1:11: warning: text looked double-encoded" in result.output and "→ '—'" in result.output
    assert parse_file(tmp_path / "s.txt").phrases[0].text == "Rest here \u2014 slowly."


def test_lint_reports_every_character_render_would_refuse_escaped_and_by_code_point(tmp_path):
    (tmp_path / "s.txt").write_text("One \x07 here. [pause 1s] Two \u2603 there.\n")
    result = lint(tmp_path / "s.txt")
    assert result.exit_code == 1
    assert "s.txt:1:5: the voice cannot speak '\\x07' (U+0007 <control>)" in result.output
    assert "the voice cannot speak '\u2603' (U+2603 SNOWMAN)" in result.output


def test_a_second_mistake_on_a_line_after_an_unclosed_cue_is_found(tmp_path):
    (tmp_path / "s.txt").write_text("Rest [pause 1s here, then {nobody} arrives.\n")
    output = lint(tmp_path / "s.txt").output
    assert "'[' starts a cue that is never closed" in output and "variable 'nobody' has no value" in output


CLOUD = """<?xml version="1.0"?>
<speak xmlns:amazon="http://www.amazon.com/ssml" xmlns:mstts="http://www.w3.org/2001/mstts">
  <meta name="drift:profile" content="meditation"/>
  <meta name="drift:ambience" content="none"/>
  <p>[Softly] Let your eyes close. <break time="900ms"/> Breathe in for <say-as interpret-as="digits">478</say-as>.</p>
  <p><amazon:effect name="whispered">Here.</amazon:effect> <mstts:express-as style="calm">Rest now.</mstts:express-as>
     <phoneme alphabet="ipa" ph="ni:v">Niamh</phoneme> is here. Your <say-as interpret-as="ordinal">3</say-as> breath.
     <say-as interpret-as="characters">SOS</say-as>. [SFX: soft chime]</p>
</speak>
"""


def test_ssml_as_the_cloud_engines_write_it_imports_with_warnings_not_refusals(tmp_path):
    (tmp_path / "cloud.ssml").write_text(CLOUD)
    result = lint(tmp_path / "cloud.ssml")
    assert result.exit_code == 0 and "4 warning(s)" in result.output, result.output
    for element in ("<mstts:express-as>", "amazon:effect name='whispered'"):
        assert element in result.output
    script = parse_file(tmp_path / "cloud.ssml")
    assert script.meta.profile == "meditation" and script.meta.ambience == "none"  # settings carried by the SSML
    assert [p.text for p in script.phrases] == [
        "Let your eyes close.",
        "Breathe in for 4 7 8.",
        "Here.",
        "Rest now.",
        "Niamh is here.",
        "Your third breath.",
        "S O S.",
    ]
    assert script.phrases[2].volume_db == -6.0  # the whisper, as near as these voices come
    assert script.phrases[4].lexicon == (("Niamh", "ni:v"),)  # said as its phonemes by voices that take them
    marks = [e.name for e in script.events if type(e).__name__ == "Mark"]
    assert marks == ["direction: Softly", "direction: SFX: soft chime"]  # stage directions are marks, not speech


def test_a_bad_drift_setting_in_ssml_is_an_error_where_it_is_written(tmp_path):
    (tmp_path / "bad.ssml").write_text('<speak><meta name="drift:colour" content="blue"/>Rest.</speak>\n')
    assert "bad.ssml:1:8: unknown setting 'colour'" in lint(tmp_path / "bad.ssml").output
    (tmp_path / "loud.ssml").write_text('<speak><meta name="drift:profile" content="loud"/>Rest.</speak>\n')
    assert "loud.ssml:1:8: unknown loudness profile 'loud'" in lint(tmp_path / "loud.ssml").output


@pytest.mark.slow
def test_voice_and_ambience_options_serve_a_file_that_names_none(tmp_path, cache_dir):
    (tmp_path / "bare.ssml").write_text("<speak>Rest here.</speak>\n")
    (tmp_path / "named.txt").write_text("---\nvoice: steady\nambience: ocean\n---\nRest here.\n")
    result = CliRunner().invoke(
        main,
        [
            "render",
            str(tmp_path / "bare.ssml"),
            str(tmp_path / "named.txt"),
            "-o",
            str(tmp_path / "out"),
            "--cache",
            str(cache_dir),
            "--voice",
            "steady",
            "--ambience",
            "none",
            "--format",
            "flac",
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    bare, named = (json.loads((tmp_path / "out" / f"{n}.json").read_text()) for n in ("bare", "named"))
    assert (bare["voice"], bare["ambience"], bare["ambiences"]) == ("steady", "none", [])
    assert (named["voice"], named["ambience"]) == ("steady", "ocean")  # what a script says wins
    unknown = CliRunner().invoke(main, ["lint", str(tmp_path / "bare.ssml")])
    assert unknown.exit_code == 0


def test_ssml_phoneme_in_ipa_or_x_sampa_belongs_to_its_sentence_and_other_alphabets_warn():
    from pipeline.script import parse_ssml
    from pipeline.script.xsampa import xsampa_to_ipa

    script = parse_ssml(
        '<speak><p>Say <phoneme alphabet="ipa" ph="nˈiːv">Niamh</phoneme>. And '
        '<phoneme alphabet="x-sampa" ph=\'t@"meIt@U\'>tomato</phoneme> too. '
        '<phoneme alphabet="sapi" ph="n iy v">Niamh</phoneme> again.</p></speak>',
        "p.ssml",
    )
    first, second, third = script.phrases
    assert first.lexicon == (("Niamh", "nˈiːv"),) and second.lexicon == (("tomato", "təˈmeɪtəʊ"),)
    assert third.lexicon == () and 'alphabet="sapi"' in script.warnings[0].message
    assert xsampa_to_ipa("r\\`{S") == "ɻæʃ"
    with pytest.raises(ValueError, match="'\\^' is not an X-SAMPA symbol"):
        xsampa_to_ipa("a^")


def test_an_ssml_rate_in_numbers_is_a_share_of_the_voices_natural_speed_and_in_words_of_the_presets():
    from pipeline.script import parse_ssml
    from pipeline.speech import load_voice
    from pipeline.speech.voices import speed_of

    script = parse_ssml(
        '<speak><p><prosody rate="85%">Quicker.</prosody> <prosody rate="slow">Slower.</prosody> '
        '<prosody rate="0.9"><prosody rate="slow">Both.</prosody></prosody> '
        '<prosody rate="slow"><prosody rate="slow">Slower still.</prosody></prosody> '
        '<prosody rate="90%"><prosody rate="0.8">A share of a share.</prosody> Back.</prosody> Plain.</p></speak>',
        "r.ssml",
    )
    heart = load_voice("heart")  # its own rate, a share of Kokoro's natural speed
    speeds = [round(speed_of(heart, phrase), 3) for phrase in script.phrases]
    assert speeds == [0.85, round(0.8 * heart.rate, 3), 0.72, round(0.64 * heart.rate, 3), 0.72, 0.9, heart.rate]


def test_a_script_that_does_not_parse_is_still_checked_for_its_settings(tmp_path):
    script = tmp_path / "two.txt"
    script.write_text("---\ntitle: x\nprofile: loudest\nvoice: nobody\n---\nHello [paws 2s] there.\n")
    output = lint(script).output
    found = [line.split(": ", 1)[0] for line in output.splitlines() if line.startswith(str(script))]
    assert found == [f"{script}:3:10", f"{script}:4:8", f"{script}:6:7"]
    assert "unknown loudness profile 'loudest'" in output and "unknown voice 'nobody'" in output


# --- lint knows what the voice can say, and reports every mistake (issue 24, item 5) -----------------------------


def problems(path):
    from pipeline.job import lint as lint_file

    return [(str(p.source), p.message) for p in lint_file(path)]


def test_every_character_no_voice_can_say_is_an_error_at_its_own_place_even_beside_other_mistakes(tmp_path):
    script = tmp_path / "s.txt"
    script.write_text(
        '---\nvars: {gift: "\u2603"}\n---\nRest here,\n  and let \u2603\u2603 go. [pause soon]\nA {gift} for you.\n'
    )
    found = problems(script)
    snowmen = [where for where, message in found if "cannot speak '\u2603' (U+2603 SNOWMAN)" in message]
    assert snowmen == [f"{script}:5:11", f"{script}:5:12", f"{script}:6:3"]  # on the next line; the {gift} itself
    assert (f"{script}:5:25", "bad pause length 'soon': write it like 2s, 1.5s, 750ms or 2 breaths") in found


def test_a_phoneme_the_voice_lacks_is_an_error_where_it_is_written_naming_the_nearest_it_has(tmp_path, monkeypatch):
    (tmp_path / "n.ssml").write_text(
        '<speak>\n<p>Say <phoneme alphabet="ipa" ph="nˈɝs">nurse</phoneme> and '
        '<phoneme alphabet="x-sampa" ph="n3\'s">nurse</phoneme>.</p>\n</speak>\n'
    )
    found = problems(tmp_path / "n.ssml")  # the default narrator is Kokoro, whose table has no ɝ
    assert [where for where, _ in found] == [f"{tmp_path / 'n.ssml'}:2:38"]  # X-SAMPA's 3\' is ɜ ... ʲ: both known
    assert "voice 'default' (kokoro) has no phoneme 'ɝ'" in found[0][1] and "the nearest it has is 'ɜː'" in found[0][1]
    monkeypatch.setenv("DRIFT_VOICES", str(tmp_path))
    steady = (Path(__file__).parent.parent / "voices" / "steady.toml").read_text()
    (tmp_path / "mine.toml").write_text(steady + 'judge = { phonemes = "ʤˈʌʤ" }\n')
    (tmp_path / "j.txt").write_text("---\nvoice: mine\n---\nThe judge rests.\n")
    found = problems(tmp_path / "j.txt")  # Piper's table has no ligatures: each one, where the preset writes it
    line = len(steady.splitlines()) + 1
    assert [where for where, _ in found] == [
        f"{tmp_path / 'mine.toml'}:{line}:23",
        f"{tmp_path / 'mine.toml'}:{line}:26",
    ]
    assert all("has no phoneme 'ʤ'" in message and "nearest it has is 'dʒ'" in message for _, message in found)


def test_two_mistakes_on_one_line_are_two_errors(tmp_path):
    (tmp_path / "s.txt").write_text("[pause -1s] And rest. [bed no-such-bed]\n")
    found = problems(tmp_path / "s.txt")
    assert [where for where, _ in found] == [f"{tmp_path / 's.txt'}:1:8", f"{tmp_path / 's.txt'}:1:23"]
    assert "bad pause length '-1s'" in found[0][1] and "unknown ambience 'no-such-bed'" in found[1][1]


def test_a_file_with_six_mistakes_gets_six_errors_in_one_run(tmp_path):
    (tmp_path / "s.txt").write_text(
        "---\nprofile: podcastt\n---\nHello \u2603 there. [pause soon]\n"
        "[voice nobody] Who? [bed no-such-bed]\n[sound missing.wav] Rest.\n"
    )
    found = problems(tmp_path / "s.txt")
    assert [(where.split(":", 1)[1], message.split(" '")[0]) for where, message in found] == [
        ("2:10", "unknown loudness profile"),
        ("4:7", "the voice cannot speak"),
        ("4:23", "bad pause length"),
        ("5:16", "unknown voice"),
        ("5:21", "unknown ambience"),
        ("6:1", "sound file"),
    ]


SLOW = """<speak>
  <p><prosody rate="30%">Let your eyes close. Breathe in. And let it go.</prosody></p>
  <p>Rest here.</p>
</speak>
"""


@pytest.mark.slow
def test_an_ssml_rate_beyond_the_voice_is_met_as_closely_as_it_allows_with_one_warning(tmp_path, cache_dir):
    from pipeline.job import RenderOptions, prepare
    from pipeline.pacing import place
    from pipeline.speech.voices import speed_of

    (tmp_path / "slow.ssml").write_text(SLOW)
    result = lint(tmp_path / "slow.ssml")  # 30% of the natural speed, below Kokoro's 0.35
    assert result.exit_code == 0 and "1 warning(s)" in result.output, result.output
    warning = (
        f"{tmp_path / 'slow.ssml'}:2:26: warning: SSML rate met as closely as the voice allows: 3 phrases ask "
        "the voice 'default' (kokoro, which speaks 0.35–2 of its natural speed) for 0.3: spoken at 0.35"
    )
    assert warning in result.output
    job = prepare(tmp_path / "slow.ssml", RenderOptions(out_dir=tmp_path / "out"))  # what a release render speaks
    assert [speed_of(job.voices[p.voice], p) for p in job.script.phrases] == pytest.approx([0.35, 0.35, 0.35, 0.8])
    assert all(0.35 <= speed_of(job.voices[p.voice], p) for p in job.script.phrases)  # Kokoro takes each as it is
    place(job.script, [0] * len(job.script.utterances), job.pauses)  # lint's laid timeline, as render lays it
    draft = CliRunner().invoke(
        main,
        [
            "render",
            "--draft",
            str(tmp_path / "slow.ssml"),
            "-o",
            str(tmp_path / "out"),
            "--cache",
            str(cache_dir),
            "--format",
            "flac",
            "--ambience",
            "none",
        ],
    )
    assert draft.exit_code == 0 and warning in draft.output, draft.output


def test_unclosed_ssml_elements_are_named_where_they_opened(tmp_path):
    (tmp_path / "open.ssml").write_text(
        '<speak>\n  <p>Rest here.\n    <prosody rate="slow">Slower.\n'
        '  <prosody volume="soft">Softer.\n  </p>\n</speak>\n'
    )
    assert (
        f"{tmp_path / 'open.ssml'}:5:5: not well-formed SSML: mismatched tag: <prosody> opened at 3:5 and "
        "<prosody> at 4:3 are not closed"
    ) in lint(tmp_path / "open.ssml").output
    (tmp_path / "end.ssml").write_text('<speak>\n<p><prosody rate="slow">Slower.\n')
    assert (
        "no element found: <speak> opened at 1:1, <p> at 2:1 and <prosody> at 2:4 are not closed"
        in lint(tmp_path / "end.ssml").output
    )


def test_every_bad_attribute_of_an_ssml_element_is_reported(tmp_path):
    (tmp_path / "p.ssml").write_text('<speak><prosody rate="glacial" pitch="deep">Rest.</prosody></speak>\n')
    output = lint(tmp_path / "p.ssml").output
    assert "p.ssml:1:8: prosody rate 'glacial'" in output and "p.ssml:1:8: prosody pitch 'deep'" in output
