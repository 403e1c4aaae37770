"""Producer sessions read back by the formats' own libraries: tracks, media, zero starts, lengths in samples,
sections and marks as markers at their frames, one region per phrase with its words."""

import pytest
import soundfile
from click.testing import CliRunner

from conftest import FIXTURES
from pipeline.cli import main
from pipeline.manifest import Manifest

pytestmark = pytest.mark.slow  # sessions are made from a track rendered with stems

RATE = 48000


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("session")
    result = invoke("render", FIXTURES / "short.txt", "-o", out, "--cache", cache_dir, "--stems", "--format", "flac")
    assert result.exit_code == 0, result.output
    made = invoke("session", out / "short.json")
    assert made.exit_code == 0, made.output
    manifest = Manifest.read(out / "short.json")
    frames = {name: soundfile.info(out / f"short.{name}.wav").frames for name in ("voice", "bed", "tones")}
    return out, manifest, frames


def test_reaper_session_has_every_stem_at_zero_and_every_marker_and_region(rendered):
    import rpp

    out, manifest, frames = rendered
    project = rpp.loads((out / "short.RPP").read_text())
    tracks = project.findall("TRACK")
    assert [t.find("NAME")[1] for t in tracks] == ["voice", "bed", "tones"]
    for track, name in zip(tracks, ("voice", "bed", "tones")):
        item = track.find("ITEM")
        assert float(item.find("POSITION")[1]) == 0
        assert round(float(item.find("LENGTH")[1]) * RATE) == frames[name]
        assert item.find("SOURCE").find("FILE")[1] == f"short.{name}.wav"
    markers = [m for m in project.children if isinstance(m, list) and m[0] == "MARKER"]
    points = {m[3]: float(m[2]) for m in markers if m[4] == "0"}
    for section in manifest.sections:
        assert abs(points[section.name] - section.start_s) * RATE <= 1
    breaths = [float(m[2]) for m in markers if m[3] == "exhale"]
    assert len(breaths) > 2 and breaths == list(manifest.exhale_onsets_s)
    regions = {}
    for m in markers:
        if m[4] == "1":
            regions.setdefault(m[1], []).append((float(m[2]), m[3]))
    assert [spans[0][1] for spans in regions.values()] == list(manifest.speech.texts)
    assert [(spans[0][0], spans[1][0]) for spans in regions.values()] == [tuple(s) for s in manifest.speech.heard_s]


def test_otio_session_reads_back_with_its_clips_and_markers(rendered):
    import opentimelineio as otio

    out, manifest, frames = rendered
    timeline = otio.adapters.read_from_file(str(out / "short.otio"))
    assert [t.name for t in timeline.tracks] == ["voice", "bed", "tones"]
    for track, name in zip(timeline.tracks, ("voice", "bed", "tones")):
        clip = track[0]
        assert clip.media_reference.target_url == f"short.{name}.wav"
        assert clip.source_range.start_time.value == 0 and clip.source_range.duration.value == frames[name]
        assert track.range_of_child_at_index(0).start_time.value == 0
    markers = {m.name: m.marked_range for m in timeline.tracks.markers}
    exhales = [m.marked_range.start_time.value for m in timeline.tracks.markers if m.name == "exhale"]
    assert exhales == [round(t * RATE) for t in manifest.exhale_onsets_s]
    for section in manifest.sections:
        assert abs(markers[section.name].start_time.value - section.start_s * RATE) <= 1
    for (start, end), text in zip(manifest.speech.heard_s, manifest.speech.texts):
        assert abs(markers[text].start_time.value - start * RATE) <= 1
        assert abs(markers[text].duration.value - (end - start) * RATE) <= 1


def test_audacity_labels_and_bad_requests(rendered, tmp_path):
    out, manifest, _ = rendered
    phrases = [line.split("\t") for line in (out / "short.phrases.labels.txt").read_text().splitlines()]
    assert [p[2] for p in phrases] == list(manifest.speech.texts)
    sections = [line.split("\t")[2] for line in (out / "short.sections.labels.txt").read_text().splitlines()]
    assert sections == [s.name for s in manifest.sections]
    breaths = [float(line.split("\t")[0]) for line in (out / "short.breath.labels.txt").read_text().splitlines()]
    assert breaths == list(manifest.exhale_onsets_s)
    unknown = invoke("session", out / "short.json", "--kind", "reaper,protools")
    assert (
        unknown.exit_code != 0
        and "unknown session kind 'protools' (known: reaper, otio, aaf, audacity)" in unknown.output
    )
    (tmp_path / "bare.txt").write_text("---\nvoice: steady\n---\nRest here.\n")
    assert invoke("render", tmp_path / "bare.txt", "-o", tmp_path / "b", "--format", "flac").exit_code == 0
    assert "render the track with --stems first" in invoke("session", tmp_path / "b" / "bare.json").output


def test_render_writes_the_sessions_itself_with_stems_and_refuses_an_unknown_kind(tmp_path, cache_dir):
    result = invoke(
        "render",
        FIXTURES / "short.txt",
        "-o",
        tmp_path,
        "--cache",
        cache_dir,
        "--format",
        "flac",
        "--session",
        "reaper,audacity",
    )
    assert result.exit_code == 0, result.output
    assert {"short.voice.wav", "short.RPP", "short.phrases.labels.txt"} <= {p.name for p in tmp_path.iterdir()}
    again = invoke(
        "render",
        FIXTURES / "short.txt",
        "-o",
        tmp_path,
        "--cache",
        cache_dir,
        "--format",
        "flac",
        "--session",
        "reaper,audacity",
    )
    assert "up to date" in again.output and f"wrote {tmp_path / 'short.RPP'}" in again.output  # made from the manifest
    unknown = invoke("render", FIXTURES / "short.txt", "-o", tmp_path, "--session", "protools")
    assert unknown.exit_code != 0 and "--session: unknown session kind 'protools'" in unknown.output


def test_aaf_session_reads_back_with_linked_stems_at_zero_and_every_marker(rendered):
    import aaf2

    out, manifest, frames = rendered
    with aaf2.open(str(out / "short.aaf"), "r") as aaf:
        composition = next(aaf.content.toplevel())
        sound = [slot for slot in composition.slots if slot.segment.media_kind == "Sound"]
        assert [slot.name for slot in sound] == [f"{n} {c}" for n in ("voice", "bed", "tones") for c in "LR"]
        for slot in sound:
            (clip,) = slot.segment.components
            stem = slot.name.split()[0]
            assert (clip.start, clip.length) == (0, frames[stem])
            tape_link = clip.mob.slots[0].segment.components[0].mob  # master → source mob, which holds the file
            assert (
                tape_link.descriptor["Locator"][0]["URLString"].value == (out / f"short.{stem}.wav").resolve().as_uri()
            )
        (events,) = [slot for slot in composition.slots if slot.segment.media_kind == "DescriptiveMetadata"]
        markers = {(m["Comment"].value, m["Position"].value, m["Length"].value) for m in events.segment.components}
    for section in manifest.sections:
        assert (section.name, round(section.start_s * RATE), 0) in markers
    for (start, end), text in zip(manifest.speech.heard_s, manifest.speech.texts):
        assert (text, round(start * RATE), round((end - start) * RATE)) in markers
    assert sum(name == "exhale" for name, _, _ in markers) == len(manifest.exhale_onsets_s)


def test_each_stem_carries_the_sections_and_marks_as_cue_points_a_daw_reads(rendered):
    import wavinfo

    out, manifest, frames = rendered
    expected = sorted(
        [(round(s.start_s * RATE), s.name) for s in manifest.sections]
        + [(round(m.start_s * RATE), f"mark {m.name}") for m in manifest.marks]
    )
    for name in ("voice", "bed", "tones"):
        cues = wavinfo.WavInfoReader(str(out / f"short.{name}.wav")).cues
        found = sorted((offset, cues.label_and_note(ident)[0]) for ident, offset in cues.each_cue())
        # the manifest keeps times to the millisecond: 48 frames
        assert [(abs(a - b) <= 48, la == lb) for (a, la), (b, lb) in zip(found, expected)] == [(True, True)] * len(
            expected
        )
        assert len(found) == len(expected) >= 2
        audio, _ = soundfile.read(out / f"short.{name}.wav", dtype="float32")
        assert len(audio) == frames[name]  # the audio reads as before: the cues follow the data


def test_each_stem_says_what_it_is_in_bext_and_ixml(rendered):
    import wavinfo

    out, manifest, _ = rendered
    for name in ("voice", "bed", "tones"):
        info = wavinfo.WavInfoReader(str(out / f"short.{name}.wav"))
        assert info.bext.originator == "drift-inward" and info.bext.originator_ref == manifest.input_hash[:32]
        assert f"the {name} stem at the master's gain ({manifest.loudness.gain_db:+.2f} dB)" in info.bext.description
        assert info.bext.time_reference == 0 and info.bext.coding_history.startswith("A=PCM,F=48000,W=32,M=stereo")
        assert info.ixml.project == manifest.title and info.ixml.tape == f"short.{name}.wav"
        assert [track.name for track in info.ixml.track_list] == [f"{name} L", f"{name} R"]
