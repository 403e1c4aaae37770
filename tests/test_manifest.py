"""The manifest and the output layout: one naming rule (dots allowed) and one typed, versioned schema."""

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.job import RenderOptions, is_up_to_date, prepare
from pipeline.manifest import MANIFEST_VERSION, Layout, Manifest

SCRIPT = """---
title: Dotted name
voice: steady
---
## Arrival
Let your eyes close. [pause 1s] Rest here.
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def dotted(tmp_path_factory, cache_dir):
    """A script whose name has dots, rendered with stems."""
    root = tmp_path_factory.mktemp("dotted")
    (root / "session.v2.txt").write_text(SCRIPT)
    result = invoke(
        "render", root / "session.v2.txt", "-o", root / "build", "--cache", cache_dir, "--stems", "--format", "flac"
    )
    assert result.exit_code == 0, result.output
    return root, result.output


def test_layout_names_every_file_of_a_track(tmp_path):
    layout = Layout(tmp_path, "session.v2")
    assert [p.name for p in layout.expected(("flac", "mp3"), stems=True)] == [
        "session.v2.flac",
        "session.v2.mp3",
        "session.v2.voice.wav",
        "session.v2.bed.wav",
        "session.v2.tones.wav",
        "session.v2.vtt",
        "session.v2.srt",
        "session.v2.txt",
    ]
    assert layout.manifest.name == "session.v2.json"


def test_a_file_is_read_back_to_its_track_and_stem_whatever_the_dots(tmp_path):
    (tmp_path / "session.v2.json").write_text("{}")
    assert Layout.of_file(tmp_path / "session.v2.flac") == (Layout(tmp_path, "session.v2"), None)
    assert Layout.of_file(tmp_path / "session.v2.voice.flac") == (Layout(tmp_path, "session.v2"), "voice")
    (tmp_path / "take.bed.json").write_text("{}")  # a track whose own name ends like a stem
    assert Layout.of_file(tmp_path / "take.bed.flac") == (Layout(tmp_path, "take.bed"), None)
    assert Layout.of_file(tmp_path / "loose.tones.wav") == (Layout(tmp_path, "loose"), "tones")


@pytest.mark.slow
def test_a_dotted_name_is_rendered_checked_and_plotted(dotted):
    root, output = dotted
    build = root / "build"
    assert "quality checks passed on 1 file(s)" in output  # the master, not its stems, and not skipped
    checked = invoke("qc", build)
    assert checked.exit_code == 0 and checked.output.count("PASS") == 1, checked.output
    assert "voice over bed" in checked.output  # its stems were found by the same rule
    plotted = invoke("plot", build / "session.v2.flac", "-o", root / "plot.png")
    assert plotted.exit_code == 0, plotted.output
    assert "session.v2" in json.loads((build / "library.json").read_text())["tracks"]


@pytest.mark.slow
def test_the_manifest_is_typed_and_reads_back_as_written(dotted):
    root, _ = dotted
    path = root / "build" / "session.v2.json"
    manifest = Manifest.read(path)
    assert manifest.manifest_version == MANIFEST_VERSION
    assert manifest.as_dict() == json.loads(path.read_text())
    assert set(manifest.files) == {p.name for p in Layout(root / "build", "session.v2").expected(("flac",), True)}
    assert manifest.loudness.target == -16.0 and manifest.loudness.target_unit == "LUFS"
    balance = manifest.mix.voice_to_bed_db
    assert manifest.mix.voice_to_bed_setting_db == 15.0
    assert balance.low_db <= balance.median_db <= balance.high_db and 12 <= balance.median_db <= 18


@pytest.mark.slow
def test_a_manifest_of_another_version_or_shape_is_refused_by_name(tmp_path, dotted):
    root, _ = dotted
    data = json.loads((root / "build" / "session.v2.json").read_text())
    old = tmp_path / "old.json"
    old.write_text(json.dumps({k: v for k, v in data.items() if k != "manifest_version"}))
    with pytest.raises(ConfigError, match="manifest version 1 is not 2") as raised:
        Manifest.read(old)
    assert str(old) in str(raised.value)
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({**data, "loudness": {**data["loudness"], "integrated_lufs": "loud"}}))
    with pytest.raises(ConfigError, match="expected fields"):
        Manifest.read(odd)
    assert Manifest.find(tmp_path / "missing.json") is None


@pytest.mark.slow
def test_a_track_whose_manifest_is_from_an_older_renderer_is_stale(dotted):
    root, _ = dotted
    job = prepare(root / "session.v2.txt", RenderOptions(out_dir=root / "build", formats=("flac",), stems=True))
    assert is_up_to_date(job)
    path = job.layout.manifest
    current = path.read_text()
    try:
        path.write_text(json.dumps({**json.loads(current), "manifest_version": 1}))
        assert not is_up_to_date(job)
    finally:
        path.write_text(current)


@pytest.mark.slow
def test_stems_are_float_and_never_clip_even_past_full_scale(tmp_path, cache_dir):
    """Taken before the limiter, a loud voice stem passes 0 dBFS; as integer FLAC it was clipped in runs."""
    import numpy as np
    import soundfile

    (tmp_path / "loud.txt").write_text(
        "---\nvoice: steady\n---\n[volume +12dB] Let your eyes close, now. [volume 0dB] Rest here.\n"
    )
    result = invoke(
        "render",
        tmp_path / "loud.txt",
        "-o",
        tmp_path / "out",
        "--cache",
        cache_dir,
        "--stems",
        "--format",
        "flac,mp3",
        "--no-qc",
    )
    assert result.exit_code == 0, result.output
    voice, rate = soundfile.read(tmp_path / "out" / "loud.voice.wav", dtype="float32")
    assert soundfile.info(tmp_path / "out" / "loud.voice.wav").subtype == "FLOAT"
    assert np.abs(voice).max() > 1.0  # kept, not clipped
    pinned = np.abs(voice) == 1.0
    assert not (pinned[2:] & pinned[1:-1] & pinned[:-2]).any()
    assert sorted(p.name for p in (tmp_path / "out").glob("loud.*.wav")) == [
        "loud.bed.wav",
        "loud.tones.wav",
        "loud.voice.wav",
    ]  # one stem each, whatever the track's formats
