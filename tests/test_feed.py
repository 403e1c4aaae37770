"""The listener feed: RSS 2.0 with the iTunes and Podcasting 2.0 namespaces, read back by feedparser."""

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import main

pytestmark = pytest.mark.slow  # the feed is made from a rendered library

SCRIPT = """---
title: {title}
voice: steady
vars: {{name: friend}}
---
## Arrival
Let your eyes close, {{name}}. [pause 1s] Rest here.

## Return
Welcome back.
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def library(tmp_path_factory, cache_dir):
    root = tmp_path_factory.mktemp("feed")
    (root / "scripts").mkdir()
    (root / "listeners").mkdir()
    for name in ("one", "two"):
        (root / "scripts" / f"{name}.txt").write_text(SCRIPT.format(title=f"Session {name}"))
    for listener in ("sam", "robin"):
        (root / "listeners" / f"{listener}.yaml").write_text(f"name: {listener.title()}\n")
    for extra in ((), ("--vars", root / "listeners")):
        result = invoke(
            "render",
            root / "scripts",
            "-o",
            root / "build",
            "--cache",
            cache_dir,
            "--format",
            "mp3,flac",
            "--jobs",
            1,
            *extra,
        )
        assert result.exit_code == 0, result.output
    return root


def test_the_feed_lists_every_track_with_its_enclosure_chapters_and_transcripts(library):
    import feedparser

    build = library / "build"
    result = invoke("feed", build, "--base-url", "https://example.org/sessions/", "--title", "Drift Inward")
    assert result.exit_code == 0, result.output
    parsed = feedparser.parse((build / "feed.xml").read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "Drift Inward" and len(parsed.entries) == 6  # two scripts, and two listeners each
    for entry in parsed.entries:
        name = entry.enclosures[0].href.rsplit("/", 1)[1].removesuffix(".mp3")
        manifest = json.loads((build / f"{name}.json").read_text())
        assert entry.id == manifest["input_hash"] and entry.guidislink is False
        assert int(entry.enclosures[0].length) == (build / f"{name}.mp3").stat().st_size
        assert entry.enclosures[0].type == "audio/mpeg" and entry.itunes_duration == str(round(manifest["duration_s"]))
        chapters = json.loads((build / f"{name}.chapters.json").read_text())
        assert [c["startTime"] for c in chapters["chapters"]] == [s["start_s"] for s in manifest["sections"]]
    xml = (build / "feed.xml").read_text()
    assert 'xmlns:podcast="https://podcastindex.org/namespace/1.0"' in xml and "xmlns:itunes" in xml
    assert xml.count("<podcast:chapters ") == 6 and xml.count('type="text/vtt"') == 6


def test_a_second_feed_of_an_unchanged_library_is_the_same_bytes(library):
    build = library / "build"
    first = (invoke("feed", build, "--base-url", "https://example.org/s"), (build / "feed.xml").read_bytes())
    again = (invoke("feed", build, "--base-url", "https://example.org/s"), (build / "feed.xml").read_bytes())
    assert first[0].exit_code == again[0].exit_code == 0 and first[1] == again[1]


def test_one_feed_per_listener_lists_only_their_tracks(library):
    import feedparser

    result = invoke("feed", library / "build", "--base-url", "https://example.org/s/", "--vars", library / "listeners")
    assert result.exit_code == 0, result.output
    for listener in ("sam", "robin"):
        parsed = feedparser.parse((library / "build" / listener / "feed.xml").read_bytes())
        assert sorted(e.enclosures[0].href.rsplit("/", 1)[1] for e in parsed.entries) == [
            f"one-{listener}.mp3",
            f"two-{listener}.mp3",
        ]


def test_bad_base_url_and_deleted_audio(library, tmp_path):
    refused = invoke("feed", library / "build", "--base-url", "ftp://example.org/")
    assert refused.exit_code != 0 and "--base-url" in refused.output and "http(s)" in refused.output
    import shutil

    copy = tmp_path / "build"
    shutil.copytree(library / "build", copy)
    for audio in copy.glob("two.*"):
        if audio.suffix in (".mp3", ".flac"):
            audio.unlink()
    result = invoke("feed", copy, "--base-url", "https://example.org/s/")
    assert result.exit_code == 0 and "two: no audio file left" in result.output
    assert "two.mp3" not in (copy / "feed.xml").read_text()


def test_author_season_episode_summary_and_cover_come_from_the_front_matter(tmp_path, cache_dir):
    import feedparser
    import matplotlib.image
    import numpy as np

    matplotlib.image.imsave(tmp_path / "art.png", np.full((8, 8, 3), 0.5))
    (tmp_path / "s.txt").write_text(
        "---\ntitle: Dusk\nauthor: Ana Reyes\nseason: 2\ntrack: 7\ncover: art.png\n"
        "summary: A short rest at the end of the day.\nvoice: steady\nambience: none\n---\n"
        "Rest here.\n"
    )
    out = tmp_path / "build"
    assert invoke("render", tmp_path / "s.txt", "-o", out, "--cache", cache_dir, "--format", "mp3").exit_code == 0
    assert (out / "s.cover.png").read_bytes() == (tmp_path / "art.png").read_bytes()
    assert "s.cover.png" in json.loads((out / "s.json").read_text())["files"]  # part of the track, hashed
    assert invoke("feed", out, "--base-url", "https://example.org/d/").exit_code == 0
    parsed = feedparser.parse((out / "feed.xml").read_bytes())
    (item,) = parsed.entries
    assert (item.itunes_season, item.itunes_episode, item.author) == ("2", "7", "Ana Reyes")
    assert item.summary.startswith("A short rest at the end of the day.")
    assert item.image.href == "https://example.org/d/s.cover.png" and parsed.feed.image.href == item.image.href


def test_the_cover_is_read_once_when_the_job_is_made(tmp_path, cache_dir):
    """The job carries the cover's bytes: the input hash, the tags and the copy beside the track come from one read,
    so a cover replaced while a track renders cannot give it two covers (or a hash of the other)."""
    import matplotlib.image
    import mutagen
    import numpy as np

    from pipeline.deliver import write_track
    from pipeline.job import RenderOptions, prepare
    from pipeline.render import render
    from pipeline.speech import ClipCache

    matplotlib.image.imsave(tmp_path / "art.png", np.full((8, 8, 3), 0.5))
    first = (tmp_path / "art.png").read_bytes()
    (tmp_path / "s.txt").write_text(
        "---\ntitle: Dusk\ncover: art.png\nvoice: steady\nambience: none\n---\nRest here.\n"
    )
    job = prepare(tmp_path / "s.txt", RenderOptions(out_dir=tmp_path / "build", formats=("mp3",), cache_dir=cache_dir))
    assert (job.cover, job.cover_mime) == (first, "image/png")
    matplotlib.image.imsave(tmp_path / "art.png", np.full((8, 8, 3), 0.9))  # replaced while the track renders
    assert (tmp_path / "art.png").read_bytes() != first
    write_track(job, render(job, ClipCache(cache_dir)))
    assert (tmp_path / "build" / "s.cover.png").read_bytes() == first
    assert mutagen.File(tmp_path / "build" / "s.mp3").tags.getall("APIC")[0].data == first
    changed = prepare(tmp_path / "s.txt", RenderOptions(out_dir=tmp_path / "build", formats=("mp3",)))
    assert changed.input_hash != job.input_hash and changed.cover == (tmp_path / "art.png").read_bytes()
