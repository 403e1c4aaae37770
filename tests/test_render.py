"""End to end: real Piper speech, real encoders, measured by an independent meter."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FIXTURES, ebur128
from pipeline.audio import frames
from pipeline.cli import main
from pipeline.files import file_sha256
from pipeline.script import Pause, Phrase


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("build")
    result = CliRunner().invoke(
        main, ["render", str(FIXTURES / "short.txt"), "-o", str(out), "--cache", str(cache_dir)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["flac", "mp3"])
def test_track_meets_podcast_loudness_by_ffmpegs_meter(rendered, suffix):
    measured = ebur128(rendered / f"short.{suffix}")
    assert measured.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert measured.true_peak_dbtp < -1.0


@pytest.mark.slow
def test_manifest_describes_the_track_and_its_files(rendered):
    manifest = json.loads((rendered / "short.json").read_text())
    assert manifest["title"] == "Short fixture"
    assert manifest["voice"] == "steady" and manifest["ambience"] == "hearth"
    assert manifest["loudness"]["integrated_lufs"] == pytest.approx(-16.0, abs=0.3)
    assert manifest["loudness"]["true_peak_dbtp"] <= -1.0
    assert [s["name"] for s in manifest["sections"]] == ["Arrival", "Rest"]
    for name, entry in manifest["files"].items():
        assert file_sha256(rendered / name) == entry["sha256"]
    assert len(manifest["input_hash"]) == 64


@pytest.mark.slow
def test_nothing_but_finished_files_is_left_in_the_output(rendered):
    assert sorted(p.name for p in rendered.iterdir()) == [
        "library.json",
        "short.flac",
        "short.json",
        "short.mp3",
        "short.srt",
        "short.txt",
        "short.vtt",
    ]


@pytest.mark.slow
def test_unchanged_track_is_skipped_and_a_forced_render_is_byte_identical(rendered, cache_dir):
    before = json.loads((rendered / "short.json").read_text())["files"]
    runner = CliRunner()
    again = runner.invoke(main, ["render", str(FIXTURES / "short.txt"), "-o", str(rendered), "--cache", str(cache_dir)])
    assert again.exit_code == 0 and "up to date" in again.output
    forced = runner.invoke(
        main, ["render", str(FIXTURES / "short.txt"), "-o", str(rendered), "--cache", str(cache_dir), "--force"]
    )
    assert forced.exit_code == 0 and "rendered" in forced.output
    assert json.loads((rendered / "short.json").read_text())["files"] == before  # same cache → same bytes


WINDOW_S = 0.01


def voice_activity(voice: np.ndarray) -> np.ndarray:
    """Per 10 ms window: is the voice sounding (above −45 dBFS RMS)?"""
    window = frames(WINDOW_S)
    usable = len(voice) // window * window
    rms = np.sqrt(np.square(voice[:usable].mean(axis=1)).reshape(-1, window).mean(axis=1))
    return rms > 10 ** (-45 / 20)


def silence_after(active: np.ndarray, index: int) -> float:
    """Seconds of silence in the first silent run at or after window ``index``."""
    while active[index]:
        index += 1
    end = index
    while not active[end]:
        end += 1
    return (end - index) * WINDOW_S


@pytest.mark.slow
def test_voice_sounds_where_the_script_speaks_and_is_silent_for_each_pause(short_render):
    timeline, stems, script = short_render["timeline"], short_render["stems"], short_render["job"].script
    active = voice_activity(stems.voice)
    window = frames(WINDOW_S)
    edge = round(0.05 / WINDOW_S)
    for phrase in timeline.phrases:
        span = active[phrase.start // window : phrase.end // window]
        sounding = np.flatnonzero(span)
        assert span.mean() > 0.5, phrase.text  # mostly voiced; commas leave short gaps
        assert sounding[0] <= edge and sounding[-1] >= len(span) - 1 - edge, phrase.text
    spoken = 0
    pauses_checked = 0
    for event in script.events:
        if isinstance(event, Pause):
            last_word_tail = (timeline.phrases[spoken - 1].end - frames(0.1)) // window
            assert silence_after(active, last_word_tail) == pytest.approx(event.seconds, abs=0.05)
            pauses_checked += 1
        spoken += isinstance(event, Phrase)
    assert pauses_checked == 2


def test_ogg_pages_get_our_serial_and_checksums_that_match_libsndfiles(tmp_path):
    import struct
    import subprocess

    import imageio_ffmpeg
    import soundfile

    from pipeline.export.ogg import ogg_crc, set_serial

    audio = (np.random.default_rng(0).standard_normal((48_000 * 3, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "x.opus"
    soundfile.write(path, audio, 48_000, format="OGG", subtype="OPUS")
    data = path.read_bytes()
    header, segments = bytearray(data[:27]), data[27 : 27 + data[26]]
    stored = struct.unpack("<I", header[22:26])[0]
    header[22:26] = bytes(4)
    assert ogg_crc(bytes(header) + segments + data[27 + len(segments) : 27 + len(segments) + sum(segments)]) == stored
    set_serial(path, 12345)
    rewritten = path.read_bytes()
    pages = [i for i in range(len(rewritten)) if rewritten[i : i + 4] == b"OggS"]
    assert len(pages) > 3 and {struct.unpack("<I", rewritten[i + 14 : i + 18])[0] for i in pages} == {12345}
    check = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and check.stderr == ""  # ffmpeg says "CRC mismatch!" for a page whose sum is wrong
    assert soundfile.info(path).frames == len(audio)
