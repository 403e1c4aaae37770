"""drift qc catches each defect a listener would hear, planted on purpose, and passes the clean track."""

import json
import shutil

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from conftest import FIXTURES
from pipeline.cli import main
from pipeline.files import file_sha256
from pipeline.manifest import Manifest
from pipeline.qc import qc_file, voice_to_bed

pytestmark = pytest.mark.slow  # a real track is rendered, then damaged on purpose


@pytest.fixture(scope="module")
def clean(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("clean")
    result = CliRunner().invoke(
        main,
        [
            "render",
            str(FIXTURES / "short.txt"),
            "-o",
            str(out),
            "--cache",
            str(cache_dir),
            "--stems",
            "--format",
            "flac",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def track(clean, tmp_path):
    for path in clean.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / "short.flac"


def plant(path, change, stem=None):
    """Alter a file as a renderer bug would, keeping its manifest consistent with the new bytes."""
    target = path.with_name(f"short.{stem}.wav") if stem else path
    audio, rate = soundfile.read(target, dtype="float32", always_2d=True)
    soundfile.write(target, np.clip(change(audio), -1, 1), rate, subtype="FLOAT" if stem else "PCM_24")
    manifest_path = path.with_name("short.json")
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][target.name]["sha256"] = file_sha256(target)
    manifest_path.write_text(json.dumps(manifest))


def failures(path):
    report = qc_file(path)
    assert not report.error, report.error
    return {c.name for c in report.checks if not c.ok}


def test_the_clean_track_passes(track):
    assert failures(track) == set()


def test_clipping_is_caught(track):
    plant(track, lambda a: a * 4)
    assert {"clipped samples", "true peak"} <= failures(track)


def test_a_click_at_a_join_is_caught(track):
    second_phrase = json.loads(track.with_name("short.json").read_text())["speech"]["spans_s"][1][0]

    def click(audio):
        audio[int(second_phrase * 48_000) + 5] += 0.4
        return audio

    plant(track, click)
    assert failures(track) == {"clicks at joins"}


def test_thirty_seconds_of_dead_air_is_caught(track):
    spans = json.loads(track.with_name("short.json").read_text())["speech"]["spans_s"]
    cut = int(spans[1][1] * 48_000)
    plant(track, lambda a: np.concatenate([a[:cut], np.zeros((48_000 * 30, 2), np.float32), a[cut:]]))
    assert "dead air" in failures(track)


def test_a_bed_only_3_db_under_the_voice_is_caught(track):
    manifest = Manifest.read(track.with_name("short.json"))
    ratio = voice_to_bed(track, manifest)
    assert 12 <= ratio <= 18
    assert ratio == pytest.approx(manifest.mix.voice_to_bed_db.median_db, abs=0.05)  # one measure: the mix's
    plant(track, lambda a: a * np.float32(10 ** ((ratio - 3) / 20)), stem="bed")
    assert voice_to_bed(track, Manifest.read(track.with_name("short.json"))) == pytest.approx(3, abs=0.3)
    assert failures(track) == {"voice over bed"}


def test_the_balance_is_judged_against_the_setting_the_mix_used(track):
    ratio = voice_to_bed(track, Manifest.read(track.with_name("short.json")))
    rewrite_manifest(track, lambda m: m["mix"].update(voice_to_bed_setting_db=ratio + 4))
    check = next(c for c in qc_file(track).checks if c.name == "voice over bed")
    assert not check.ok and check.limit == f"{ratio + 1:g}–{ratio + 7:g} dB"


def rewrite_manifest(track, change):
    path = track.with_name("short.json")
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_one_phrase_said_too_fast_is_caught_by_number_and_a_draft_only_warns(track):
    manifest = Manifest.read(track.with_name("short.json"))
    long_phrase = next(n for n, words in enumerate(manifest.speech.words_each) if words >= 6)
    start, end = manifest.speech.heard_s[long_phrase]

    def rush(data):  # the same words in two thirds of the time: 1.5 times the pace
        data["speech"]["heard_s"][long_phrase][1] = start + (end - start) * 2 / 3

    rewrite_manifest(track, rush)
    assert failures(track) == {"speaking rate", "phrase pace"}  # the fixture's one phrase long enough to judge
    check = next(c for c in qc_file(track).checks if c.name == "phrase pace")
    assert f"phrase {long_phrase + 1}:" in check.value and check.value.startswith("1 of ")
    rewrite_manifest(track, lambda data: data.update(draft=True))
    report = qc_file(track)
    assert report.ok and report.warnings == ("speaking rate", "phrase pace")


def test_a_scripts_own_pace_is_the_one_held(track):
    rewrite_manifest(track, lambda data: data["speech"].update(pace_wpm=[60, 80]))
    assert {"speaking rate", "phrase pace"} <= failures(track)


def test_a_track_3_lu_too_loud_is_caught(track):
    plant(track, lambda a: a * np.float32(10 ** (3 / 20)))
    assert "loudness" in failures(track)


def test_bad_files_are_reported_each_and_the_run_goes_on(track):
    folder = track.parent
    (folder / "noise.flac").write_text("this is not audio")
    truncated = folder / "cut.flac"
    truncated.write_bytes(track.read_bytes()[:200])
    tampered = folder / "short.flac"
    with open(tampered, "r+b") as handle:  # mid-file: the audio, not the header's zero padding
        handle.seek(tampered.stat().st_size // 2)
        handle.write(b"\xff" * 64)
    result = CliRunner().invoke(main, ["qc", str(folder), "--json"])
    assert result.exit_code == 1
    reports = {r["file"].rsplit("/", 1)[1]: r for r in json.loads(result.stdout)}
    assert "not readable audio" in reports["noise.flac"]["error"]
    assert reports["cut.flac"]["error"]
    assert "does not match its manifest" in reports["short.flac"]["error"]


def test_render_runs_the_same_checks_and_can_be_told_not_to(tmp_path, cache_dir):
    script = tmp_path / "fast.txt"  # held to a pace slower than the voice will go
    script.write_text(
        "---\ntitle: Fast\nvoice: steady\nambience: none\npace: 40-50\n---\n"
        "Let the whole of your body grow heavy and warm now.\n"
    )
    args = ["render", str(script), "-o", str(tmp_path / "out"), "--cache", str(cache_dir), "--format", "flac"]
    failed = CliRunner().invoke(main, args)
    assert failed.exit_code == 1 and "speaking rate" in failed.output
    assert CliRunner().invoke(main, [*args, "--force", "--no-qc"]).exit_code == 0


def test_defects_straddling_the_decoders_blocks_are_caught_once(tmp_path):
    """qc streams the file in blocks: a clipped run and a click exactly on a block edge still count once each."""
    from pipeline.blocks import BLOCK

    rng = np.random.default_rng(0)
    clean = (rng.standard_normal((3 * BLOCK, 2)) * 0.01).astype(np.float32)
    soundfile.write(tmp_path / "clean.flac", clean, 48_000, subtype="PCM_24")
    clipped = clean.copy()
    clipped[BLOCK - 1 : BLOCK + 2] = 1.0
    soundfile.write(tmp_path / "clipped.flac", clipped, 48_000, subtype="PCM_24")
    clicked = clean.copy()
    clicked[2 * BLOCK] += 0.4
    soundfile.write(tmp_path / "clicked.flac", clicked, 48_000, subtype="PCM_24")
    value = lambda name, check: {c.name: c.value for c in qc_file(tmp_path / name).checks}[check]
    assert value("clean.flac", "clipped samples") == 0 and value("clean.flac", "clicks at joins") == 0
    assert value("clipped.flac", "clipped samples") == 1
    assert value("clicked.flac", "clicks at joins") == 1


def test_a_file_at_another_rate_is_measured_after_resampling(track, tmp_path):
    import soxr

    audio, _ = soundfile.read(track, dtype="float32", always_2d=True)
    soundfile.write(tmp_path / "at44.flac", soxr.resample(audio, 48_000, 44_100), 44_100, subtype="PCM_24")
    ours = {c.name: c.value for c in qc_file(track).checks}
    resampled = {c.name: c.value for c in qc_file(tmp_path / "at44.flac").checks}
    assert resampled["loudness"] == pytest.approx(ours["loudness"], abs=0.05)
