"""Trust under faults: bad audio, bad values, full disks, concurrent caches, hostile requests. Each test here
failed on the renderer before issue 16 (the note says how)."""

import json
import resource
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import RenderError
from pipeline.export import write_audio
from pipeline.library import TrackStore
from pipeline.speech import ClipCache
from pipeline.speech.text import spoken_words

SCRIPT = """---
title: Faults
voice: steady
---
## Arrival
Let your eyes close. [pause 1s] Rest here.
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line(result) -> str:
    """The error a command printed: one line, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# --- non-finite audio ---------------------------------------------------------------------------


def test_a_sound_with_nan_is_refused_by_lint_and_render_naming_the_file(tmp_path):
    audio = np.zeros((4800, 1), np.float32)
    audio[100] = np.nan
    soundfile.write(tmp_path / "bell.wav", audio, 48000, subtype="FLOAT")
    (tmp_path / "s.txt").write_text(SCRIPT + "[sound bell.wav]\n")
    assert (
        "s.txt:7:1: sound file 'bell.wav' holds samples that are not numbers"
        in invoke("lint", tmp_path / "s.txt").output
    )
    rendered = invoke("render", tmp_path / "s.txt", "-o", tmp_path / "out")
    assert rendered.exit_code == 1 and "bell.wav" in rendered.output and "Traceback" not in rendered.output
    assert not (tmp_path / "out" / "s.flac").exists()


def test_audio_with_nan_is_never_encoded_under_its_name(tmp_path):
    audio = np.zeros((48000, 2), np.float32)
    audio[30000:] = np.nan
    with pytest.raises(RenderError, match="refusing to write x.wav: samples that are not numbers .* from 0.0 s"):
        write_audio(tmp_path / "x.wav", audio, 48000, "wav")
    assert list(tmp_path.iterdir()) == []


def test_a_cache_entry_of_the_wrong_shape_empty_or_not_finite_is_discarded(tmp_path, caplog):
    cache = ClipCache(tmp_path)
    for key, bad in [
        ("a" * 64, np.zeros((10, 3), np.float32)),
        ("b" * 64, np.zeros(0, np.float32)),
        ("c" * 64, np.array([0.0, np.inf], np.float32)),
    ]:
        path = cache._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, bad)
        assert cache.get(key) is None and not path.exists()
    assert caplog.text.count("discarding a bad cache entry") == 3


def test_qc_fails_non_finite_samples_prints_valid_json_and_measures_every_channel(tmp_path):
    rate = 48000
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(rate * 5) / rate)).astype(np.float32)
    broken = np.stack([tone, tone], axis=1)
    broken[rate] = np.nan
    soundfile.write(tmp_path / "nan.wav", broken, rate, subtype="FLOAT")
    many = np.zeros((rate * 5, 10), np.float32)
    many[:, 7] = 0.999 * np.sign(tone)  # full scale on the eighth channel only
    soundfile.write(tmp_path / "ten.wav", many, rate, subtype="FLOAT")
    result = invoke("qc", tmp_path, "--json")
    assert result.exit_code == 1
    reports = {r["file"].split("/")[-1]: r for r in json.loads(result.output)}  # strict JSON: no NaN
    failed = lambda name: {c["name"] for c in reports[name]["checks"] if not c["ok"]}
    assert "non-finite samples" in failed("nan.wav")
    assert "clipped samples" in failed("ten.wav")  # channel 0 alone is silence: the old qc saw nothing


def test_qc_of_a_folder_with_nothing_to_check_is_an_error(tmp_path):
    assert "no finished tracks" in one_line(invoke("qc", tmp_path))


# --- the clip cache shared by concurrent renders and maintenance -------------------------------------


def test_the_first_clip_stored_wins_and_every_render_uses_it(tmp_path):
    first, second = ClipCache(tmp_path), ClipCache(tmp_path)
    mine, theirs = np.ones(100, np.float32), np.full(100, 0.5, np.float32)
    assert first.put("d" * 64, mine) is mine
    assert np.array_equal(second.put("d" * 64, theirs), mine)  # the second render uses what the cache holds
    assert np.array_equal(second.get("d" * 64), mine)


@pytest.mark.slow
def test_a_finished_track_entry_left_without_its_manifest_is_replaced_not_kept_forever(tmp_path, cache_dir):
    from pipeline.job import RenderOptions, prepare

    (tmp_path / "s.txt").write_text(SCRIPT)
    cache = tmp_path / "cache"
    job = prepare(tmp_path / "s.txt", RenderOptions(out_dir=tmp_path / "out", cache_dir=cache))
    broken = TrackStore(cache)._entry(job)
    broken.mkdir(parents=True)
    (broken / "s.flac").write_bytes(b"half of a prune killed mid-way")
    assert invoke("render", tmp_path / "s.txt", "-o", tmp_path / "out", "--cache", cache).exit_code == 0
    assert (broken / "manifest.json").is_file() and "1 finished tracks" in invoke(
        "cache", "info", "--cache", cache
    ).output


@pytest.mark.slow
def test_maintenance_beside_a_render_leaves_it_whole(tmp_path):
    """cache prune in a loop while a render writes clips into the same cache: the render never fails."""
    (tmp_path / "s.txt").write_text(SCRIPT + "\n".join(f"Phrase number {n} of this test." for n in range(30)))
    cache, stop = tmp_path / "cache", threading.Event()

    def prune_forever():
        while not stop.is_set():
            subprocess.run(
                [sys.executable, "-m", "pipeline", "cache", "prune", "--older-than", "0d", "--cache", str(cache)],
                capture_output=True,
            )

    pruner = threading.Thread(target=prune_forever)
    pruner.start()
    try:
        rendered = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "render",
                str(tmp_path / "s.txt"),
                "-o",
                str(tmp_path / "out"),
                "--cache",
                str(cache),
                "--format",
                "flac",
                "--no-qc",
            ],
            capture_output=True,
            text=True,
        )
    finally:
        stop.set()
        pruner.join()
    assert rendered.returncode == 0, rendered.stderr


# --- values and lengths --------------------------------------------------------------------------


@pytest.mark.slow
def test_variables_are_text_as_written(tmp_path):
    (tmp_path / "s.txt").write_text("---\nvoice: steady\n---\nYour answer was {answer}, at {time}, room {room}.\n")
    (tmp_path / "v.yaml").write_text("answer: No\ntime: 12:30\nroom: 010\n")
    result = invoke(
        "render",
        tmp_path / "s.txt",
        "--vars",
        tmp_path / "v.yaml",
        "-o",
        tmp_path / "out",
        "--timeline",
        "--no-qc",
        "--format",
        "flac",
    )
    assert result.exit_code == 0, result.output
    assert "Your answer was No, at 12:30, room 010." in result.output


def test_a_phrase_too_long_to_say_is_reported_by_lint_before_anything_is_synthesised(tmp_path):
    (tmp_path / "s.txt").write_text("---\nvoice: steady\n---\nHello {name}.\n")
    (tmp_path / "v.yaml").write_text("name: " + "and more " * 1500 + "\n")
    result = invoke("render", tmp_path / "s.txt", "--vars", tmp_path / "v.yaml", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "characters with no sentence end" in result.output
    (tmp_path / "w.txt").write_text("Say " + "a" * 200 + " now.\n")
    assert "cannot be said" in invoke("lint", tmp_path / "w.txt").output


@pytest.mark.slow
def test_a_long_phrase_reaches_the_engine_in_pieces(tmp_path, monkeypatch):
    from pipeline.script import parse_text
    from pipeline.speech import load_voice, speak
    from pipeline.speech.engines import engine_for
    from pipeline.speech.text import SAFE_CHARS

    voice = load_voice("steady")
    engine, sent = engine_for(voice), []
    monkeypatch.setattr(engine, "synthesize", lambda text, rate: sent.append(text) or np.full(2400, 0.1, np.float32))
    phrase = parse_text("Rest " + "and rest " * 100 + "here.", "p.txt").phrases[0]
    speak(phrase, voice, ClipCache(None))
    assert len(sent) > 1 and max(map(len, sent)) <= SAFE_CHARS


@pytest.mark.slow
def test_speaking_rate_counts_the_words_as_said(tmp_path):
    assert spoken_words("The number today is 22899") == 12  # twenty-two thousand, eight hundred and ninety-nine
    (tmp_path / "n.txt").write_text("---\nvoice: steady\n---\nThe number today is 22899.\n")
    assert invoke("render", tmp_path / "n.txt", "-o", tmp_path / "out", "--format", "flac").exit_code == 0
    assert json.loads((tmp_path / "out" / "n.json").read_text())["speech"]["words"] == 12


# --- system errors are one line ----------------------------------------------------------------


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "s.txt").write_text(SCRIPT)
    assert "Not a directory" in one_line(invoke("render", tmp_path / "s.txt", "-o", tmp_path / "file" / "out"))
    assert "/dev/null" in one_line(invoke("render", tmp_path / "s.txt", "-o", "/dev/null"))


def _small_disk():
    """In the child: files may grow to 300 kB, and going past it is an error (EFBIG), not a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


@pytest.mark.slow
def test_a_disk_that_fills_up_mid_render_is_one_line_and_leaves_nothing_half_written(tmp_path, cache_dir):
    (tmp_path / "s.txt").write_text(SCRIPT)
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "render",
        str(tmp_path / "s.txt"),
        "-o",
        str(tmp_path / "out"),
        "--cache",
        str(cache_dir),
        "--format",
        "wav",
    ]
    result = subprocess.run(command, capture_output=True, text=True, preexec_fn=_small_disk)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]  # progress lines aside
    assert len(errors) == 1 and errors[0].endswith("File too large")  # the scratch space or s.wav, by name
    assert not (tmp_path / "out" / "s.wav").exists() and not list((tmp_path / "out").glob(".*.part"))


def test_an_encoder_that_runs_out_of_disk_says_so_in_one_line_naming_the_file(tmp_path):
    command = [
        sys.executable,
        "-c",
        "import numpy as np, pathlib; from pipeline.export import write_audio; "
        f"write_audio(pathlib.Path({str(tmp_path / 'x.flac')!r}), np.random.default_rng(0).uniform(-0.5, 0.5, "
        "(480000, 2)).astype(np.float32), 48000, 'flac')",
    ]
    result = subprocess.run(command, capture_output=True, text=True, preexec_fn=_small_disk)
    assert f"cannot write {tmp_path / 'x.flac'}: File too large" in result.stderr  # not libsndfile's "System error."
    assert not list(tmp_path.iterdir())


def test_a_sound_outside_the_scripts_folder_or_not_audio_is_a_lint_error(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "s.txt").write_text(SCRIPT + "[sound /etc/passwd]\n[sound notes.wav]\n")
    output = invoke("lint", tmp_path / "s.txt").output
    assert "outside the script's folder" in output


# --- the preview server, as a hostile page would call it -------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from pipeline.preview import serve

    folder = tmp_path_factory.mktemp("served")
    (folder / "mix.ogg").write_bytes(bytes(range(256)) * 40)
    running, url = serve(folder)
    yield running.server_address[1]
    running.shutdown()


def _ask(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        return connection.recv(4096)


def test_the_preview_server_answers_hostile_requests_with_a_status(server):
    host = f"Host: 127.0.0.1:{server}\r\n".encode()
    assert _ask(server, b"GET /mix.ogg HTTP/1.1\r\n" + host + b"Range: bytes=" + b"9" * 4300 + b"-\r\n\r\n").startswith(
        b"HTTP/1.0 416"
    )
    assert _ask(server, b"GET /mix%00.ogg HTTP/1.1\r\n" + host + b"\r\n").startswith(b"HTTP/1.0 400")
    assert _ask(server, b"GET /mix.ogg HTTP/1.1\r\nHost: evil.example:80\r\n\r\n").startswith(b"HTTP/1.0 403")
    assert _ask(server, b"GET /mix.ogg HTTP/1.1\r\n" + host + b"\r\n").startswith(b"HTTP/1.0 200")
