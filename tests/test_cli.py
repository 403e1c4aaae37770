import json

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from pipeline.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def all_commands(group=main, prefix=()):
    yield list(prefix)
    for name, command in getattr(group, "commands", {}).items():
        yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("command", list(all_commands()), ids=lambda c: " ".join(c) or "drift")
def test_every_command_teaches_with_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 4


def test_voices_and_ambience_list_the_bundled_presets():
    assert "default" in invoke("voices").output
    assert "hearth" in invoke("ambience", "list").output


BAD_SCRIPTS = {
    "no-text.txt": ("---\ntitle: Empty\n---\n\n", "no-text.txt:4:1: script has no text to speak"),
    "bad-voice.txt": ("---\nvoice: nobody\n---\nHello.\n", "bad-voice.txt:2:8: unknown voice 'nobody'"),
    "bad-bed.txt": (
        "---\nambience: hearht\n---\nHello.\n",
        "bad-bed.txt:2:11: unknown ambience 'hearht' (did you mean 'hearth'?)",
    ),
    "bad-cue.txt": ("Hello. [pause soon] There.\n", "bad-cue.txt:1:15: bad pause length 'soon'"),
    "bad-profile.txt": ("---\nprofile: loud\n---\nHello.\n", "bad-profile.txt:2:10: unknown loudness profile 'loud'"),
}


@pytest.mark.parametrize("name", sorted(BAD_SCRIPTS))
def test_bad_script_is_one_line_a_failure_exit_and_no_output(tmp_path, name):
    text, expected = BAD_SCRIPTS[name]
    script = tmp_path / name
    script.write_text(text)
    out = tmp_path / "build"
    result = invoke("render", str(script), "-o", str(out), "--quiet")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{script.parent}/{expected}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_missing_folder_is_a_clear_error(tmp_path):
    result = invoke("render", str(tmp_path / "nowhere"), "-o", str(tmp_path / "build"))
    assert result.exit_code != 0
    assert "nowhere: no such script or folder" in result.output
    assert not (tmp_path / "build").exists()


def test_lint_reports_every_problem_with_a_caret_and_fails(tmp_path):
    (tmp_path / "a.txt").write_text("One [pause] two [nope].\n")
    (tmp_path / "b.txt").write_text("Fine.\n")
    result = invoke("lint", str(tmp_path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{tmp_path}/a.txt:1:5: pause needs a length")
    assert lines[1:3] == ["    One [pause] two [nope].", "        ^"]
    assert lines[3].startswith(f"{tmp_path}/a.txt:1:17: unknown cue '[nope]'")
    assert lines[5] == "                    ^"


def test_lint_json_lists_every_problem(tmp_path):
    (tmp_path / "a.txt").write_text("---\ntitel: x\n---\nOne [pause] two.\n")
    result = invoke("lint", "--json", str(tmp_path))
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert [(r["line"], r["col"]) for r in records] == [(2, 1), (4, 5)]
    assert records[0]["file"] == f"{tmp_path}/a.txt" and "did you mean 'title'" in records[0]["message"]


def test_lint_passes_good_scripts():
    result = invoke("lint", str(FIXTURES / "short.txt"))
    assert result.exit_code == 0 and "1 script(s) OK" in result.output


@pytest.mark.slow
def test_ambience_render_writes_an_audition_file(tmp_path):
    out = tmp_path / "hearth.flac"
    result = invoke("ambience", "render", "hearth", "--duration", "3s", "-o", str(out))
    assert result.exit_code == 0, result.output
    import soundfile

    info = soundfile.info(out)
    assert (info.samplerate, info.channels) == (48_000, 2) and info.duration == pytest.approx(3.0)


@pytest.mark.slow
def test_vars_file_personalises_and_timeline_shows_it(tmp_path, cache_dir):
    script = tmp_path / "hello.txt"
    script.write_text("---\nvars: {name: friend}\n---\nHello {name}.\n")
    (tmp_path / "sam.yaml").write_text("name: Sam\n")
    result = invoke(
        "render",
        str(script),
        "-o",
        str(tmp_path / "build"),
        "--cache",
        str(cache_dir),
        "--vars",
        str(tmp_path / "sam.yaml"),
        "--timeline",
        "--format",
        "flac",
    )
    assert result.exit_code == 0, result.output
    assert "Hello Sam." in result.stdout and "friend" not in result.stdout
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == [
        "hello.flac",
        "hello.json",
        "hello.srt",
        "hello.txt",
        "hello.vtt",
        "library.json",
    ]


def test_bad_vars_file_is_one_line(tmp_path):
    (tmp_path / "s.txt").write_text("Hi.\n")
    (tmp_path / "v.yaml").write_text("name: [unclosed\n")
    result = invoke("render", str(tmp_path / "s.txt"), "--vars", str(tmp_path / "v.yaml"), "-o", str(tmp_path / "b"))
    assert result.exit_code != 0 and "v.yaml:2:1: variables file is not valid YAML" in result.output
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_voices_say_writes_an_audition(tmp_path, cache_dir):
    out = tmp_path / "deep.flac"
    result = invoke("voices", "say", "steady", "Sink a little deeper.", "-o", str(out), "--cache", str(cache_dir))
    assert result.exit_code == 0, result.output
    import soundfile

    assert soundfile.info(out).duration > 1.0


def test_cache_info_and_prune_commands(tmp_path):
    (tmp_path / "clips" / "ab").mkdir(parents=True)
    (tmp_path / "clips" / "ab" / "old.npy").write_bytes(b"x" * 2048)
    assert "1 clips" in invoke("cache", "info", "--cache", str(tmp_path)).output
    result = invoke("cache", "prune", "--older-than", "0d", "--cache", str(tmp_path))
    assert result.exit_code == 0 and "removed 1 entries" in result.output
    bad = invoke("cache", "prune", "--older-than", "soon", "--cache", str(tmp_path))
    assert bad.exit_code == 2 and "--older-than" in bad.output


@pytest.mark.slow
def test_a_log_gets_one_line_per_stage_per_track_and_no_more(tmp_path, cache_dir):
    from conftest import FIXTURES

    args = ["render", str(FIXTURES / "short.txt"), "-o", str(tmp_path), "--cache", str(cache_dir), "--format", "flac"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    stages = [
        line.split("] ", 1)[1].split(":")[1].split()[0] for line in result.stderr.splitlines() if line.startswith("[")
    ]
    assert stages == ["speech", "mix", "master", "encode", "qc", "rendered"]  # a track's phrases come in one line
    assert "qc of 1 file(s): loudness" in result.stderr
    again = [line for line in invoke(*args).stderr.splitlines() if line.startswith("[")]
    assert len(again) == 1 and again[0].endswith("short: up to date")


def test_a_long_stage_repeats_its_count_at_most_every_few_seconds(monkeypatch):
    import io

    from pipeline import progress

    clock = iter(range(0, 1000, 1))
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    log = io.StringIO()
    lines = progress.LogLines(log)
    for done in range(1, 41):  # one phrase a second
        lines(progress.Event("t", "speech", done, 40))
    lines(progress.Event("t", "mix"))
    said = log.getvalue().splitlines()
    assert [line.split("] ")[1] for line in said] == [
        "t: speech 1/40 phrases",
        "t: speech 11/40 phrases",
        "t: speech 21/40 phrases",
        "t: speech 31/40 phrases",
        "t: mix",
    ]


@pytest.mark.slow
def test_long_passes_report_whole_percents_up_to_the_end(monkeypatch):
    import io

    import numpy as np

    from pipeline import progress
    from pipeline.blocks import BLOCK
    from pipeline.master import PROFILES, master

    heard = []
    rng = np.random.default_rng(0)
    programme = (rng.standard_normal((BLOCK * 150, 2)) * 0.05).astype(np.float32)  # 150 blocks: more than 100
    master(programme, PROFILES["podcast"], progress=lambda done, total: heard.append((done, total)))
    percents = [100 * done // total for done, total in heard]
    assert heard[-1][0] == heard[-1][1] and percents == sorted(set(percents))  # each whole percent once, to 100
    assert heard[-1][1] == 300 and len(heard) == 101  # measuring and limiting, 150 blocks each; not one per block
    clock = iter(range(0, 1000, 11))
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    log = io.StringIO()
    lines = progress.LogLines(log)
    for done, total in heard[:3]:
        lines(progress.Event("t", "master", done, total))
    assert [line.split("] ")[1] for line in log.getvalue().splitlines()] == [
        "t: master 0 %",
        "t: master 1 %",
        "t: master 2 %",
    ]
