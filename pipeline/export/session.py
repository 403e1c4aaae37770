"""Producer sessions: a rendered track's stems laid out for a DAW, each on its own track at zero, sample-aligned,
at the master's gain (the stems already are), with the sections and marks as markers and one region per phrase
carrying its words: REAPER (``.RPP``, written and read by ``rpp``), OpenTimelineIO (``.otio``, by
``opentimelineio``), AAF (by ``pyaaf2``) and Audacity label files. Read from the manifest and the stems;
nothing is rendered again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import soundfile

from ..audio import SAMPLE_RATE
from ..errors import ConfigError, Source, did_you_mean
from ..files import atomic_path
from ..manifest import STEM_NAMES, Layout, Manifest


def check_kinds(kinds: tuple[str, ...], setting: str = "--kind") -> tuple[str, ...]:
    unknown = [k for k in kinds if k not in WRITERS]
    if unknown:
        hint = did_you_mean(unknown[0], WRITERS) or f" (known: {', '.join(WRITERS)})"
        raise ConfigError(f"unknown session kind '{unknown[0]}'{hint}", Source(setting))
    return kinds


def write_sessions(manifest_path: Path, kinds: tuple[str, ...]) -> list[Path]:
    """Every session kind asked for, beside the track; each file written atomically."""
    check_kinds(kinds)
    layout = Layout(Path(manifest_path).parent, Path(manifest_path).stem)
    manifest = Manifest.read(layout.manifest)
    stems = _stems(layout)
    return [path for kind in kinds for path in WRITERS[kind](layout, manifest, stems)]


def _stems(layout: Layout) -> dict[str, int]:
    """Each stem's file name → its length in frames; the stems must be there (``drift render --stems``)."""
    found = {}
    for name in STEM_NAMES:
        path = layout.stem(name)
        if not path.is_file():
            raise ConfigError(f"no stem {path.name}: render the track with --stems first", Source(str(layout.manifest)))
        found[path.name] = soundfile.info(path).frames
    return found


def _phrases(manifest: Manifest) -> list[tuple[float, float, str]]:
    return [(start, end, text) for (start, end), text in zip(manifest.speech.heard_s, manifest.speech.texts)]


def _marks(manifest: Manifest) -> list[tuple[float, str]]:
    return sorted(
        [(s.start_s, s.name) for s in manifest.sections] + [(m.start_s, f"mark {m.name}") for m in manifest.marks]
    )


def _breaths(manifest: Manifest) -> list[tuple[float, str]]:
    """The listener's out-breaths on the breath clock: where a synced phrase starts."""
    return [(t, "exhale") for t in manifest.exhale_onsets_s]


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_reaper(layout: Layout, manifest: Manifest, stems: dict[str, int]) -> list[Path]:
    import rpp

    points = _marks(manifest) + _breaths(manifest)
    markers = [["MARKER", str(n), f"{t:.6f}", name, "0"] for n, (t, name) in enumerate(points, start=1)]
    first_region = len(markers) + 1
    for n, (start, end, text) in enumerate(_phrases(manifest), start=first_region):
        markers += [["MARKER", str(n), f"{start:.6f}", text, "1"], ["MARKER", str(n), f"{end:.6f}", "", "1"]]
    tracks = [
        rpp.Element(
            "TRACK",
            [],
            [
                ["NAME", name.split(".")[-2]],
                rpp.Element(
                    "ITEM",
                    [],
                    [
                        ["POSITION", "0"],
                        ["LENGTH", f"{length / SAMPLE_RATE:.6f}"],
                        rpp.Element("SOURCE", ["WAVE"], [["FILE", name]]),
                    ],
                ),
            ],
        )
        for name, length in stems.items()
    ]
    project = rpp.Element(
        "REAPER_PROJECT", ["0.1", "6.0", "0"], [["SAMPLERATE", str(SAMPLE_RATE), "0", "0"], *markers, *tracks]
    )
    return [_write_text(layout.sidecar("RPP"), rpp.dumps(project))]


def write_otio(layout: Layout, manifest: Manifest, stems: dict[str, int]) -> list[Path]:
    import opentimelineio as otio

    at = lambda seconds: otio.opentime.RationalTime(round(seconds * SAMPLE_RATE), SAMPLE_RATE)
    timeline = otio.schema.Timeline(name=manifest.title)
    for name, length in stems.items():
        track = otio.schema.Track(name=name.split(".")[-2], kind=otio.schema.TrackKind.Audio)
        track.append(
            otio.schema.Clip(
                name=name,
                media_reference=otio.schema.ExternalReference(target_url=name),
                source_range=otio.opentime.TimeRange(at(0), otio.opentime.RationalTime(length, SAMPLE_RATE)),
            )
        )
        timeline.tracks.append(track)
    for points, color in (
        (_marks(manifest), otio.schema.MarkerColor.RED),
        (_breaths(manifest), otio.schema.MarkerColor.CYAN),
    ):
        for start, name in points:
            timeline.tracks.markers.append(
                otio.schema.Marker(name=name, color=color, marked_range=otio.opentime.TimeRange(at(start), at(0)))
            )
    for start, end, text in _phrases(manifest):
        timeline.tracks.markers.append(
            otio.schema.Marker(
                name=text,
                marked_range=otio.opentime.TimeRange(at(start), at(end - start)),
                color=otio.schema.MarkerColor.GREEN,
            )
        )
    return [_write_text(layout.sidecar("otio"), otio.adapters.write_to_string(timeline, "otio_json"))]


def write_audacity(layout: Layout, manifest: Manifest, stems: dict[str, int]) -> list[Path]:
    """Audacity label files, one per label track (Import > Labels): sections and marks, the phrases, the breaths."""
    points = lambda found: "".join(f"{t:.6f}\t{t:.6f}\t{name}\n" for t, name in found)
    phrases = "".join(f"{start:.6f}\t{end:.6f}\t{text}\n" for start, end, text in _phrases(manifest))
    return [
        _write_text(layout.sidecar("sections.labels.txt"), points(_marks(manifest))),
        _write_text(layout.sidecar("phrases.labels.txt"), phrases),
        _write_text(layout.sidecar("breath.labels.txt"), points(_breaths(manifest))),
    ]


def write_aaf(layout: Layout, manifest: Manifest, stems: dict[str, int]) -> list[Path]:
    """AAF through pyaaf2, for Pro Tools and Media Composer: each stem linked (not embedded) by its absolute file
    URL, as an AMA link is, one sound track per channel at zero; sections, marks, breaths and phrases (with their
    words and lengths) as markers on an event track."""
    import aaf2
    from aaf2 import ama

    target = layout.sidecar("aaf")
    with atomic_path(target) as tmp, aaf2.open(str(tmp), "w") as aaf:
        composition = aaf.create.CompositionMob(manifest.title)
        composition.usage = "Usage_TopLevel"
        aaf.content.mobs.append(composition)
        for name in stems:
            master = ama.create_media_link(aaf, str((layout.folder / name).resolve()), _probe(layout.folder / name))[0]
            for channel, slot in enumerate(master.slots):
                track = composition.create_sound_slot(edit_rate=SAMPLE_RATE)
                track.name = f"{name.split('.')[-2]} {'LR'[channel] if len(master.slots) == 2 else channel + 1}"
                track.segment.components.append(master.create_source_clip(slot_id=slot.slot_id, media_kind="sound"))
        composition.slots.append(_aaf_markers(aaf, manifest))
    return [target]


def _probe(path: Path) -> dict:
    """What pyaaf2's media link reads of a file (ffprobe's shape), from the file itself."""
    info = soundfile.info(path)
    return {
        "format": {"format_name": "wav", "format_long_name": "WAV / WAVE (Waveform Audio)"},
        "streams": [
            {
                "codec_type": "audio",
                "codec_name": "pcm_f32le",
                "sample_rate": str(info.samplerate),
                "duration_ts": info.frames,
                "channels": info.channels,
            }
        ],
    }


def _aaf_markers(aaf, manifest: Manifest):
    """An event track: a marker at each section, mark and breath, and one the length of each phrase, with its words."""
    track = aaf.create.EventMobSlot()
    track["EditRate"].value = SAMPLE_RATE
    track["SlotID"].value = 1000
    events = aaf.create.Sequence(media_kind="DescriptiveMetadata")
    points = [(start, 0.0, name) for start, name in _marks(manifest) + _breaths(manifest)]
    for start, length, comment in sorted(points + [(s, e - s, text) for s, e, text in _phrases(manifest)]):
        marker = aaf.create.DescriptiveMarker()
        marker["Position"].value = round(start * SAMPLE_RATE)
        marker["Length"].value = round(length * SAMPLE_RATE)
        marker["Comment"].value = comment
        events.components.append(marker)
    track.segment = events
    return track


WRITERS: dict[str, Callable[[Layout, Manifest, dict[str, int]], list[Path]]] = {
    "reaper": write_reaper,
    "otio": write_otio,
    "aaf": write_aaf,
    "audacity": write_audacity,
}
"""Session kind → writer."""
