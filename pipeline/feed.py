"""A podcast feed of a rendered library, for listeners: RSS 2.0 with the iTunes and Podcasting 2.0 namespaces.

One item per finished track: its enclosure (byte length and type), duration, a GUID that is its input hash
(stable while the track is), episode number (library order), chapters from its sections as a Podcasting 2.0
JSON chapters file beside it, and its captions as transcripts. Written with ``feedgen``; the Podcasting 2.0
tags through a small feedgen extension. A second run over unchanged tracks writes the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlparse

from .errors import ConfigError, Source
from .files import atomic_path, write_json
from .library.build import manifests
from .manifest import Layout, Manifest

FEED_NAME = "feed.xml"
ENCLOSURE_TYPES = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
}
"""Enclosure formats in the order a podcast player is likeliest to play them."""
PODCAST_NS = "https://podcastindex.org/namespace/1.0"


def write_feed(
    folder: Path, base_url: str, title: str | None = None, listener: str | None = None, out: Path | None = None
) -> tuple[Path, list[str]]:
    """The feed of every finished track in ``folder`` (only ``listener``'s, named NAME-LISTENER, when given),
    written to ``out`` (default: ``folder/feed.xml``). Returns the feed and what was skipped, and why."""
    base = _base_url(base_url)
    tracks, skipped = [], []
    for layout, manifest in manifests(folder):
        if listener is not None and not layout.name.endswith(f"-{listener}"):
            continue
        enclosure = _enclosure(layout, manifest)
        if enclosure is None:
            skipped.append(f"{layout.name}: no audio file left (deleted after rendering?); not listed")
            continue
        tracks.append((layout, manifest, enclosure))
    feed = _feed(folder, base, title or folder.resolve().name, tracks, listener)
    target = out or folder / FEED_NAME
    with atomic_path(target) as tmp:
        tmp.write_bytes(feed)
    return target, skipped


def _base_url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"'{text}' is not an http(s) address like https://example.org/sessions/", Source("--base-url")
        )
    return text.rstrip("/") + "/"


def _enclosure(layout: Layout, manifest: Manifest) -> Path | None:
    for fmt in ENCLOSURE_TYPES:
        path = layout.track(fmt)
        if path.name in manifest.files and path.is_file():
            return path
    return None


def _feed(folder: Path, base: str, title: str, tracks: list, listener: str | None) -> bytes:
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.load_extension("podcast")
    feed.register_extension("podcast2", _Podcast2, _Podcast2Entry, rss=True, atom=False)
    feed.title(title)
    feed.link(href=base, rel="alternate")
    feed.description(f"Guided sessions from Drift Inward{' for ' + listener if listener else ''}.")
    feed.language("en")
    feed.podcast.itunes_category("Health & Fitness", "Mental Health")
    feed.podcast.itunes_explicit("no")
    authors = sorted({m.listing.author for _, m, _ in tracks if m.listing.author})
    if authors:
        feed.podcast.itunes_author(", ".join(authors))
    covers = [(layout, m.listing.cover) for layout, m, _ in tracks if m.listing.cover]
    if covers:  # the show's art: the first track's cover
        feed.podcast.itunes_image(base + quote(covers[0][1]))
    newest = datetime.fromtimestamp(0, UTC)
    for episode, (layout, manifest, enclosure) in enumerate(tracks, start=1):
        published = datetime.fromtimestamp(enclosure.stat().st_mtime, UTC).replace(microsecond=0)
        newest = max(newest, published)
        item = feed.add_entry(order="append")
        item.guid(manifest.input_hash, permalink=False)
        item.title(manifest.title)
        item.description(_summary(manifest))
        item.enclosure(
            base + quote(enclosure.name), str(enclosure.stat().st_size), ENCLOSURE_TYPES[enclosure.suffix[1:]]
        )
        item.published(published)
        item.podcast.itunes_duration(round(manifest.duration_s))
        listing = manifest.listing
        item.podcast.itunes_episode(listing.episode or episode)
        if listing.season:
            item.podcast.itunes_season(listing.season)
        if listing.author:
            item.podcast.itunes_author(listing.author)
        if listing.cover and (layout.folder / listing.cover).is_file():
            item.podcast.itunes_image(base + quote(listing.cover))
        chapters = _write_chapters(layout, manifest)
        item.podcast2.chapters(base + quote(chapters.name))
        for suffix, kind in (("vtt", "text/vtt"), ("srt", "application/x-subrip")):
            if layout.sidecar(suffix).is_file():
                item.podcast2.transcript(base + quote(layout.sidecar(suffix).name), kind)
    feed.lastBuildDate(newest)  # from the tracks, not the clock: an unchanged library gives the same bytes
    return feed.rss_str(pretty=True)


def _summary(manifest: Manifest) -> str:
    """The script's own summary, or one made from the title, length and parts; with a headphones note."""
    headphones = " Binaural tones: listen with headphones." if manifest.headphones_required else ""
    minutes = round(manifest.duration_s / 60)
    said = manifest.listing.summary or f"{manifest.title}: {minutes} minutes, in {len(manifest.sections)} parts."
    return said + headphones


def _write_chapters(layout: Layout, manifest: Manifest) -> Path:
    """Podcasting 2.0 JSON chapters (version 1.2.0) from the track's sections."""
    path = layout.sidecar("chapters.json")
    chapters = {"version": "1.2.0", "chapters": [{"startTime": s.start_s, "title": s.name} for s in manifest.sections]}
    if not path.is_file() or json.loads(path.read_text(encoding="utf-8")) != chapters:
        write_json(path, chapters)
    return path


def _ns_element(parent, tag: str, **attributes):
    from lxml import etree

    element = etree.SubElement(parent, f"{{{PODCAST_NS}}}{tag}")
    for key, value in attributes.items():
        element.set(key, value)
    return element


class _Podcast2:
    """The Podcasting 2.0 namespace on the channel (feedgen has no extension of its own for it)."""

    def extend_ns(self):
        return {"podcast": PODCAST_NS}

    def extend_rss(self, feed):
        return feed

    def extend_atom(self, feed):
        return feed


class _Podcast2Entry:
    def __init__(self):
        self._chapters: str | None = None
        self._transcripts: list[tuple[str, str]] = []

    def extend_ns(self):
        return {"podcast": PODCAST_NS}

    def chapters(self, url: str) -> None:
        self._chapters = url

    def transcript(self, url: str, kind: str) -> None:
        self._transcripts.append((url, kind))

    def extend_rss(self, item):
        if self._chapters:
            _ns_element(item, "chapters", url=self._chapters, type="application/json+chapters")
        for url, kind in self._transcripts:
            _ns_element(item, "transcript", url=url, type=kind, language="en")
        return item

    def extend_atom(self, entry):
        return entry
