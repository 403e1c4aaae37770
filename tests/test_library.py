"""Library builds: what a producer and CI get, and how builds behave when inputs change or processes die."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

import pipeline.job as job_module
import pipeline.library.stored as stored_module
import pipeline.library.track as track_module
from conftest import processes_with
from pipeline.cli import main
from pipeline.library import TrackStore

pytestmark = pytest.mark.slow  # every test builds a library of real tracks

SCRIPT = """---
title: Library fixture
author: Drift Inward
album: Tests
voice: steady
track: 3
---
## Arrival
Let your eyes close. [pause 1s] Rest here.

## Return
Welcome back.
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def library(tmp_path, cache_dir):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "one.txt").write_text(SCRIPT)
    (scripts / "two.txt").write_text(
        SCRIPT.replace("Library fixture", "Second").replace("Welcome back.", "Hello again.")
    )
    return {"scripts": scripts, "out": tmp_path / "build", "cache": cache_dir, "root": tmp_path}


def render(lib, *extra):
    return invoke("render", lib["scripts"], "-o", lib["out"], "--cache", lib["cache"], "--jobs", 1, *extra)


def test_every_format_a_track_can_name_has_an_encoder():
    from pipeline.export import ENCODER_SETTINGS
    from pipeline.manifest import FORMATS

    assert set(ENCODER_SETTINGS) == set(FORMATS) == {"flac", "mp3", "opus", "ogg", "wav", "m4a"}


def test_every_format_is_tagged_with_chapters(library, tmp_path):
    result = render(library, "--format", "flac,mp3,opus,ogg,wav,m4a")
    assert result.exit_code == 0, result.output
    out = library["out"]
    for fmt in ("flac", "mp3", "opus", "ogg", "wav", "m4a"):
        tags = mutagen.File(out / f"one.{fmt}").tags
        text = " ".join(str(v) for v in (tags.values() if hasattr(tags, "values") else []))
        assert "Library fixture" in text and "Drift Inward" in text, fmt
    id3 = mutagen.File(out / "one.mp3").tags
    chapters = sorted(id3.getall("CHAP"), key=lambda c: c.start_time)
    assert [c.sub_frames["TIT2"].text[0] for c in chapters] == ["Arrival", "Return"]
    for fmt in ("flac", "opus", "ogg"):
        assert mutagen.File(out / f"one.{fmt}")["CHAPTER002NAME"] == ["Return"], fmt
    for fmt in ("mp3", "m4a"):
        probe = subprocess.run(
            [
                *([] if shutil.which("ffprobe") else [sys.executable]),
                _ffprobe(),
                "-v",
                "error",
                "-show_chapters",
                "-of",
                "json",
                str(out / f"one.{fmt}"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        found = sorted(json.loads(probe.stdout)["chapters"], key=lambda c: float(c["start_time"]))
        assert [c["tags"]["title"] for c in found] == ["Arrival", "Return"], fmt
    manifest = json.loads((out / "one.json").read_text())
    assert chapters[1].start_time == round(manifest["sections"][1]["start_s"] * 1000)


def _ffprobe():
    """ffprobe where the machine has it; else a shim reading ffmpeg's own report (imageio-ffmpeg ships no ffprobe)."""
    return shutil.which("ffprobe") or str(Path(__file__).parent / "ffprobe_shim.py")


def test_captions_follow_the_timeline(library):
    assert render(library, "--timeline").exit_code == 0
    out = library["out"]
    vtt, srt = (out / "one.vtt").read_text(), (out / "one.srt").read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == srt.count(" --> ") == 3
    manifest = json.loads((out / "one.json").read_text())
    first = vtt.split("\n\n")[1].splitlines()
    assert first[1] == "Let your eyes close."
    start = first[0].split(" --> ")[0]
    h, m, s = start.split(":")
    assert float(h) * 3600 + float(m) * 60 + float(s) == pytest.approx(6.02, abs=0.001)  # the lead-in, then the
    # clip's 20 ms of quiet: a caption starts with the first sound heard
    assert "## Arrival" in (out / "one.txt").read_text() and manifest["speech"]["phrases"] == 3


def test_stems_line_up_and_sum_to_the_track(library):
    assert render(library, "--stems", "--format", "wav").exit_code == 0
    out = library["out"]
    track, rate = soundfile.read(out / "one.wav", dtype="float32")
    stems = [soundfile.read(out / f"one.{name}.wav", dtype="float32")[0] for name in ("voice", "bed", "tones")]
    assert all(s.shape == track.shape for s in stems)
    summed = sum(stems)
    assert np.allclose(summed[: rate * 5], track[: rate * 5], atol=2e-4)  # bed alone, under the ceiling: exact
    loud = np.abs(track) > 0.05
    assert np.corrcoef(summed[loud], track[loud])[0, 1] > 0.98  # under speech the limiter is the only difference


def test_check_is_clean_after_a_build_and_names_what_each_edit_makes_stale(library, tmp_path, monkeypatch):
    voices, beds = tmp_path / "voices", tmp_path / "ambience"
    shutil.copytree(Path(__file__).parent.parent / "voices", voices)
    shutil.copytree(Path(__file__).parent.parent / "ambience", beds)
    monkeypatch.setenv("DRIFT_VOICES", str(voices))
    monkeypatch.setenv("DRIFT_AMBIENCE", str(beds))
    vars_file = tmp_path / "sam.yaml"
    vars_file.write_text("name: Sam\n")
    (library["scripts"] / "one.txt").write_text(SCRIPT.replace("Welcome back.", "Welcome back, {name}."))
    run = lambda *a: render(library, "--vars", vars_file, *a)
    assert run("--check").exit_code == 1  # nothing built yet
    assert run().exit_code == 0
    assert run("--check").exit_code == 0
    edits = [
        lambda: (library["scripts"] / "two.txt").write_text(SCRIPT.replace("Rest here.", "Rest here now.")),
        lambda: (voices / "steady.toml").write_text(
            (voices / "steady.toml").read_text().replace("rate = 0.5 ", "rate = 0.49 ")
        ),
        lambda: (beds / "hearth.toml").write_text(
            (beds / "hearth.toml").read_text().replace("swell_s = 26.0", "swell_s = 27.0")
        ),
        lambda: vars_file.write_text("name: Robin\n"),
        lambda: monkeypatch.setattr(job_module, "renderer_source_sha256", lambda: "the renderer's code changed"),
    ]
    expected = [{"two"}, {"one", "two"}, {"one", "two"}, {"one"}, {"one", "two"}]
    for edit, stale in zip(edits, expected):
        edit()
        checked = run("--check")
        assert checked.exit_code == 1
        assert {
            line.split()[1] for line in checked.output.splitlines() if line.startswith(("stale", "missing"))
        } == stale
        assert run().exit_code == 0 and run("--check").exit_code == 0


def test_personalised_batch_renders_one_track_per_listener(library, tmp_path):
    listeners = tmp_path / "listeners"
    listeners.mkdir()
    for name in ("ana", "ben"):
        (listeners / f"{name}.yaml").write_text(f"name: {name.title()}\n")
    (library["scripts"] / "two.txt").unlink()
    (library["scripts"] / "one.txt").write_text(SCRIPT.replace("Welcome back.", "Welcome back, {name}."))
    result = render(library, "--vars", listeners, "--timeline")
    assert result.exit_code == 0, result.output
    assert (library["out"] / "one-ana.flac").is_file() and (library["out"] / "one-ben.flac").is_file()
    assert "Welcome back, Ana." in result.output and "Welcome back, Ben." in result.output


def test_shards_split_the_library_and_prune_removes_orphans(library):
    assert render(library, "--shard", "1/2").exit_code == 0
    assert (library["out"] / "one.json").exists() and not (library["out"] / "two.json").exists()
    assert render(library, "--shard", "2/2").exit_code == 0
    assert (library["out"] / "two.json").exists()
    assert render(library, "--shard", "2/2", "--prune").exit_code == 0
    assert (library["out"] / "one.json").exists()  # another shard's track is not an orphan
    only_two = invoke(
        "render", library["scripts"] / "two.txt", "-o", library["out"], "--cache", library["cache"], "--prune"
    )
    assert only_two.exit_code == 0, only_two.output
    assert (library["out"] / "one.json").exists()  # nor is a track whose script was simply not named this time
    (library["scripts"] / "two.txt").unlink()
    result = render(library, "--prune")
    assert result.exit_code == 0 and not any(p.name.startswith("two.") for p in library["out"].iterdir())
    assert set(json.loads((library["out"] / "library.json").read_text())["tracks"]) == {"one"}
    assert invoke("render", library["scripts"], "--shard", "3/2").exit_code != 0


def test_a_build_refused_by_the_lock_prunes_nothing(library):
    assert render(library).exit_code == 0
    (library["scripts"] / "two.txt").unlink()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(library["out"] / ".drift.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert render(library, "--prune").exit_code != 0
        assert (library["out"] / "two.json").exists() and (library["out"] / "two.flac").exists()
    finally:
        holder.kill()
        holder.wait()


def test_two_jobs_give_the_same_files_as_one(library, tmp_path):
    assert render(library, "--force").exit_code == 0  # forced: rendered, not linked from the cache's finished tracks
    serial = json.loads((library["out"] / "library.json").read_text())
    parallel_out = tmp_path / "parallel"
    result = invoke(
        "render", library["scripts"], "-o", parallel_out, "--cache", library["cache"], "--jobs", 2, "--force"
    )
    assert result.exit_code == 0 and result.stdout.count("rendered") == 2, result.output
    parallel = json.loads((parallel_out / "library.json").read_text())
    for name in ("one", "two"):
        files = lambda folder: json.loads((folder / f"{name}.json").read_text())["files"]
        assert files(library["out"]) == files(parallel_out)
    assert serial["tracks"].keys() == parallel["tracks"].keys()
    for name in ("one", "two"):  # each worker's stages came back (over its pipe), in order, ending with its status
        said = [
            line.split(f"] {name}: ", 1)[1].split()[0] for line in result.stderr.splitlines() if f"] {name}: " in line
        ]
        assert list(dict.fromkeys(said)) == ["speech", "mix", "master", "encode", "qc", "rendered"], said
        assert said[-1] == "rendered", said


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"pid %d, started just now" % os.getpid())
print("held", flush=True)
time.sleep(60)
"""


def test_a_live_lock_stops_a_second_build_and_a_dead_holders_lock_is_cleared(library, caplog):
    out = library["out"]
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out / ".drift.lock")], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    blocked = render(library)
    assert blocked.exit_code != 0 and f"another render (pid {holder.pid}, started just now)" in blocked.output
    holder.kill()  # dies holding it: the kernel lets the lock go, the file keeps its name
    holder.wait()
    cleared = render(library)
    assert cleared.exit_code == 0 and f"cleared a stale lock left by pid {holder.pid}" in caplog.text  # a warning
    assert not (out / ".drift.lock").exists()


def test_a_lock_file_naming_a_live_process_does_not_block_when_nobody_holds_it(library):
    """The old lock was a bare PID: any live process with that number (PID 1 in a container) blocked every build."""
    out = library["out"]
    out.mkdir()
    (out / ".drift.lock").write_text("1")
    assert render(library).exit_code == 0


def test_a_killed_build_leaves_no_partial_file_and_resumes(library, tmp_path):
    script = library["scripts"] / "one.txt"
    script.write_text(SCRIPT + "\n" + "\n".join(f"Long breath number {n}. [pause 20s]" for n in range(12)))
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "render",
        str(library["scripts"]),
        "-o",
        str(library["out"]),
        "--cache",
        str(library["cache"]),
        "--jobs",
        "1",
        "--format",
        "flac,mp3",
        "-q",
    ]
    temporary = tmp_path / "tmp"  # where the render's scratch files live
    temporary.mkdir()
    process = subprocess.Popen(command, env={**os.environ, "TMPDIR": str(temporary)})
    deadline = time.time() + 60
    while time.time() < deadline and not (writing := list(library["out"].glob(".*.part"))):
        time.sleep(0.05)  # wait until it is writing a file
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert writing, "the render never started writing a file, so the kill tested nothing"
    left = sum(f.stat().st_size for f in temporary.rglob("*") if f.is_file())
    assert left < 1e6  # the system took the scratch back (a library's small session file may stay)
    finished = {p.name for p in library["out"].iterdir() if not p.name.startswith(".")}
    for name in finished:  # whatever is under a real name is whole
        if name.endswith(".flac"):
            assert soundfile.info(library["out"] / name).frames > 0
    assert "one.json" not in finished or "one.flac" in finished
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "cleared a stale lock" in rerun.stderr and not list(library["out"].rglob(".*.part"))  # a warning
    checked = invoke("render", library["scripts"], "-o", library["out"], "--cache", library["cache"], "--check")
    assert checked.exit_code == 0, checked.output + rerun.stdout


def test_a_fresh_output_folder_is_filled_from_the_cache_without_rendering(library, monkeypatch):
    cache, fresh = library["root"] / "own-cache", library["root"] / "fresh"  # a CI checkout: cache kept, no outputs
    first = invoke("render", library["scripts"], "-o", library["out"], "--cache", cache, "--jobs", 1, "--stems")
    assert first.exit_code == 0, first.output
    assert "2 finished tracks" in invoke("cache", "info", "--cache", cache).output
    monkeypatch.setattr(track_module, "render", lambda *a, **k: pytest.fail("a stored track was rendered again"))
    again = invoke("render", library["scripts"], "-o", fresh, "--cache", cache, "--jobs", 1, "--stems")
    assert again.exit_code == 0 and again.stdout.count("restored") == 2, again.output
    for made in library["out"].iterdir():
        assert (fresh / made.name).read_bytes() == made.read_bytes(), made.name  # manifests and library.json too
    assert invoke("render", library["scripts"], "-o", fresh, "--cache", cache, "--stems", "--check").exit_code == 0
    pruned = invoke("cache", "prune", "--older-than", "0d", "--cache", cache)
    assert pruned.exit_code == 0 and "0 finished tracks" in invoke("cache", "info", "--cache", cache).output


def test_a_stored_track_whose_file_changed_is_discarded_and_rendered_again(library, caplog):
    cache = library["root"] / "own-cache"
    assert invoke("render", library["scripts"], "-o", library["out"], "--cache", cache, "--jobs", 1).exit_code == 0
    stored = next((cache / "tracks").glob("*/one.flac"))
    with open(stored, "r+b") as handle:  # edited in place, as a tag editor would through a hard link
        handle.seek(-16, os.SEEK_END)
        handle.write(bytes(16))
    fresh = library["root"] / "fresh"
    result = invoke("render", library["scripts"], "-o", fresh, "--cache", cache, "--jobs", 1)
    assert result.exit_code == 0 and result.stdout.count("restored") == 1 and "rendered" in result.stdout
    assert "a file changed since it was kept" in caplog.text
    manifest = json.loads((fresh / "one.json").read_text())
    assert manifest["files"]["one.flac"]["sha256"] == hashlib.sha256((fresh / "one.flac").read_bytes()).hexdigest()


def test_the_cache_drops_the_least_recently_used_tracks_beyond_its_budget(library, monkeypatch):
    unbounded, bounded = library["root"] / "cache-a", library["root"] / "cache-b"
    assert invoke("render", library["scripts"], "-o", library["out"], "--cache", unbounded, "--jobs", 1).exit_code == 0
    sizes = [entry.bytes for entry in TrackStore(unbounded).entries()]
    assert len(sizes) == 2
    monkeypatch.setattr(stored_module, "MAX_BYTES", max(sizes) + 1)  # room for one track, not two
    assert (
        invoke(
            "render", library["scripts"], "-o", library["root"] / "b", "--cache", bounded, "--jobs", 1, "--force"
        ).exit_code
        == 0
    )
    kept = TrackStore(bounded).entries()
    assert [json.loads((e.path / "manifest.json").read_text())["title"] for e in kept] == ["Second"]  # the newer


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "flac,aiff"], "unknown format 'aiff'"),
        (["--shard", "0/2"], "--shard"),
    ],
)
def test_bad_build_options_are_one_line(library, args, message):
    result = render(library, *args)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_a_cover_that_is_not_an_image_is_an_error(library):
    (library["scripts"] / "cover.jpg").write_text("not an image")
    (library["scripts"] / "one.txt").write_text(SCRIPT.replace("track: 3", "track: 3\ncover: cover.jpg"))
    result = render(library)
    assert result.exit_code == 1 and "one.txt:7:8: cover 'cover.jpg' is not a JPEG or PNG image" in result.output


def test_an_unwritable_output_folder_is_a_clear_error(library, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    result = invoke("render", library["scripts"], "-o", blocker / "build", "--cache", library["cache"])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_the_same_build_runs_on_a_dask_cluster(library):
    distributed = pytest.importorskip("distributed", reason="Dask not installed: pip install 'dask[distributed]'")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = render(
            library, "--force", "--scheduler", cluster.scheduler_address
        )  # render, not restore from the cache
    assert result.exit_code == 0, result.output
    for stage in ("speech", "mix", "master", "encode", "qc"):  # the workers' stages reach this log
        assert re.search(rf"^\[\d\d:\d\d\] one: {stage}", result.stderr, re.MULTILINE), result.stderr
    assert {"one.flac", "two.flac", "library.json"} <= {p.name for p in library["out"].iterdir()}
    assert render(library, "--check").exit_code == 0
    unreachable = render(library, "--force", "--scheduler", "tcp://127.0.0.1:9")
    assert unreachable.exit_code != 0 and "cannot reach the Dask scheduler" in unreachable.output


RUSHED = SCRIPT.replace(
    "---\n## Arrival", "pace: 40-50\n---\n## Arrival\nLet the whole of your body grow heavy and warm now."
)
"""Held to a pace slower than its voice can be slowed to (a fifth of Joe's own), so re-pacing cannot save it."""


def status_of(output: str, script: str) -> str:
    """The status column of a script's line in the build summary."""
    return next(line.split()[1] for line in output.splitlines() if line.startswith(script + " "))


def test_a_track_that_fails_its_checks_is_never_current_nor_kept(library, tmp_path):
    (library["scripts"] / "one.txt").write_text(RUSHED)
    first = render(library)
    assert first.exit_code == 1 and "speaking rate" in first.output and "failed qc" in first.output
    manifest = json.loads((library["out"] / "one.json").read_text())
    assert manifest["qc"]["passed"] is False and any("speaking rate" in f for f in manifest["qc"]["failures"])
    assert json.loads((library["out"] / "library.json").read_text())["tracks"]["one"]["qc"] == "failed"
    check = render(library, "--check")
    assert check.exit_code == 1 and "failed qc one" in " ".join(check.output.split())
    again = render(library)
    assert again.exit_code == 1 and status_of(again.output, "one.txt") == "failed"  # "failed qc", not "up to date"
    fresh = invoke("render", library["scripts"], "-o", tmp_path / "fresh", "--cache", library["cache"], "--jobs", 1)
    assert fresh.exit_code == 1 and status_of(fresh.output, "one.txt") == "failed"  # never kept as finished
    assert status_of(fresh.output, "two.txt") == "restored"
    warned = render(library, "--warn-only", "pace")
    assert warned.exit_code == 0 and "warning:" in warned.output and "speaking rate" in warned.output
    assert render(library, "--warn-only", "pace", "--check").exit_code == 0
    assert render(library, "--check").exit_code == 1  # the verdict depends on what was allowed to warn
    refused = render(library, "--warn-only", "loudness")
    assert refused.exit_code != 0 and "'loudness' is not an advisory check" in refused.output


def test_an_unchecked_track_is_never_current(library):
    for name in ("one", "two"):  # not a track the shared cache already holds finished (and checked)
        (library["scripts"] / f"{name}.txt").write_text(
            SCRIPT.replace("Welcome back.", f"Welcome back, {name} unchecked.")
        )
    assert render(library, "--no-qc").exit_code == 0
    check = render(library, "--check")
    assert check.exit_code == 1 and "unchecked" in check.output
    assert render(library).exit_code == 0 and render(library, "--check").exit_code == 0


def test_killing_the_build_kills_its_workers_and_frees_the_lock(library):
    for name in ("one", "two"):
        (library["scripts"] / f"{name}.txt").write_text(
            SCRIPT + "\n".join(f"Slow breath {name} {n}. [pause 20s]" for n in range(10))
        )
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "render",
        str(library["scripts"]),
        "-o",
        str(library["out"]),
        "--cache",
        str(library["cache"]),
        "--jobs",
        "2",
        "--format",
        "flac",
        "-q",
    ]
    main_process = subprocess.Popen(command)
    deadline = time.time() + 60
    while time.time() < deadline and len(processes_with(str(library["out"]))) < 3:
        time.sleep(0.05)  # the build and its two workers
    assert len(processes_with(str(library["out"]))) >= 3, "the workers never started"
    main_process.kill()  # the main process only, as an unlucky CI runner would
    main_process.wait()
    deadline = time.time() + 10
    while time.time() < deadline and processes_with(str(library["out"])):
        time.sleep(0.05)
    assert not processes_with(str(library["out"]))
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    check = invoke(
        "render", library["scripts"], "-o", library["out"], "--cache", library["cache"], "--check", "--format", "flac"
    )
    assert check.exit_code == 0, check.output
