"""One rendered track → its files: the master in every format (tagged, with chapters), stems, captions, the
transcript, the cover, and the manifest, written last so that a manifest on disk always describes complete files.

It stands above the render (it takes what ``render`` made) and the encoders of ``export`` (which it drives), so
it is a room of its own: ``export`` stays one layer, below the job."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .audio import SAMPLE_RATE, db_to_gain
from .blocks import BLOCK, Signal, counted, scaled
from .errors import RenderError
from .export.audio import Encoding, write_all, write_audio
from .export.captions import srt, transcript, webvtt
from .export.decode import read_blocks
from .export.tags import Chapter, Tags
from .export.wave import bext_chunk, cue_chunks, ixml_chunk
from .files import atomic_path, file_sha256
from .job import Job, renderer_source_sha256
from .loudness import PeakMeter
from .manifest import STEM_FORMAT, FileRecord, Listing, LoudnessReport, Manifest, MixReport, Renderer, Speech, TimePoint
from .pacing import Timeline
from .progress import Percent
from .render import Rendered
from .speech.text import spoken_words

log = logging.getLogger(__name__)

PEAK_CHECKED_FORMATS = ("m4a",)
"""Lossy formats whose encoder can lift a peak past the limiter's margin (``master.LIMITER_MARGIN_DB``): ffmpeg's
AAC took a short voice track's limited peaks from -1.5 to -0.14 dBTP, over a -1 dBTP ceiling, and by how much
changes at random with the level fed (``export.audio.M4A_BITRATE``). Each is decoded and measured as it is written,
and encoded again a little quieter if it went over (as masters for AAC stores are checked: encode, measure,
trim). On the same tracks LAME at 256 kbps rose 0.01 dB, Opus 0.35 and Vorbis 0.41: inside the margin."""
PEAK_TRIM_MARGIN_DB = 0.2
"""A trimmed encode aims this far under the ceiling: AAC's overshoot moves a little with the level it is fed."""
PEAK_TRIM_TRIES = 3


def write_track(job: Job, rendered: Rendered, progress: Callable[[int, int], None] | None = None) -> Manifest:
    """Encode and write every file of the track, then its manifest; returns the manifest. ``progress`` hears
    (blocks of the master encoded, blocks) at each whole percent."""
    timeline, mastered = rendered.timeline, rendered.master
    layout = job.layout
    layout.manifest.unlink(missing_ok=True)  # the old one must not vouch for new files if this write is cut short
    tags = track_tags(job, timeline)
    audio = mastered.audio
    if progress is not None:
        audio = counted(audio, Percent(progress, -(-len(audio) // BLOCK)))
    encodings = [Encoding(path=layout.track(f), audio=audio, fmt=f, tags=tags) for f in job.formats]
    if job.stems:
        encodings += stem_encodings(job, rendered)
    outputs = write_all(encodings, SAMPLE_RATE)
    gains = {
        layout.track(f).name: kept_under_ceiling(layout.track(f), mastered.audio, job.profile.ceiling_dbtp, tags)
        for f in job.formats
        if f in PEAK_CHECKED_FORMATS
    }
    outputs += write_sidecars(job, timeline)
    if job.cover_file:
        with atomic_path(job.cover_file) as tmp:
            tmp.write_bytes(job.cover)
        outputs.append(job.cover_file)
    manifest = build_manifest(job, rendered, outputs, gains)
    manifest.write(layout.manifest)
    return manifest


def kept_under_ceiling(path: Path, master: Signal, ceiling_dbtp: float, tags: Tags) -> float:
    """Decode the lossy file at ``path``, measure its true peak, and while it is over ``ceiling_dbtp`` encode the
    master again that much quieter (plus a margin). Returns the gain it was left at (0 when the first encode
    held). A file still over after a few tries is a ``RenderError``: it must not pass as finished."""
    gain_db = 0.0
    for _ in range(PEAK_TRIM_TRIES):
        meter = PeakMeter()
        for block in read_blocks(path):
            meter.feed(block)
        over_db = 20 * math.log10(max(meter.true_peak(), 1e-12)) - ceiling_dbtp
        if over_db <= 0:
            return round(gain_db, 2)
        gain_db -= over_db + PEAK_TRIM_MARGIN_DB
        log.info("%s: %.2f dB over the ceiling after encoding; encoding again at %+.2f dB", path.name, over_db, gain_db)
        write_audio(path, scaled(master, db_to_gain(gain_db)), SAMPLE_RATE, path.suffix[1:], tags)
    raise RenderError(f"cannot keep {path.name} under {ceiling_dbtp:g} dBTP: its encoder overshoots at every level")


def stem_encodings(job: Job, rendered: Rendered) -> list[Encoding]:
    """Each stem at the master's gain (before the limiter), as 32-bit float WAV: they line up at zero, sum to the
    mix the limiter received exactly, and never clip however far a stem goes past 0 dBFS. Each carries the
    sections and marks as cue points, a BWF ``bext`` chunk and an iXML chunk saying what it is, so a plain
    WAV dropped into a DAW shows them."""
    gain_db = rendered.master.gain_db
    timeline = rendered.timeline
    cues = tuple(
        sorted([(m.start, m.name) for m in timeline.sections] + [(m.start, f"mark {m.name}") for m in timeline.marks])
    )
    title = job.script.meta.title
    note = (
        f"{title}: the {{name}} stem at the master's gain ({gain_db:+.2f} dB), before the limiter; "
        "the stems sum to the mix."
    )
    history = f"A=PCM,F={SAMPLE_RATE},W=32,M=stereo,T=drift-inward {__version__}\r\n"
    encodings = []
    for name, stem in rendered.stems.named().items():
        path = job.layout.stem(name)
        chunks = (
            cue_chunks(cues)
            + bext_chunk(note.format(name=name), "drift-inward", job.input_hash[:32], history)
            + ixml_chunk(title, path.name, [f"{name} L", f"{name} R"], note.format(name=name))
        )
        encodings.append(
            Encoding(
                path=path, audio=scaled(stem, db_to_gain(gain_db)), fmt=STEM_FORMAT, subtype="FLOAT", chunks=chunks
            )
        )
    return encodings


def write_sidecars(job: Job, timeline: Timeline) -> list[Path]:
    """Captions (WebVTT, SRT) with one cue per phrase, and the transcript."""
    texts = {"vtt": webvtt(timeline), "srt": srt(timeline), "txt": transcript(job.script.meta.title, timeline)}
    written = []
    for suffix, text in texts.items():
        path = job.layout.sidecar(suffix)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def track_tags(job: Job, timeline: Timeline) -> Tags:
    meta = job.script.meta
    ends = [m.start for m in timeline.sections[1:]] + [timeline.frames]
    chapters = tuple(
        Chapter(m.start / SAMPLE_RATE, end / SAMPLE_RATE, m.name) for m, end in zip(timeline.sections, ends)
    )
    comment = "Binaural tones: listen with headphones." if _binaural(timeline) else ""
    return Tags(
        title=meta.title,
        artist=meta.author,
        album=meta.album,
        track=meta.track,
        comment=comment,
        cover=job.cover,
        cover_mime=job.cover_mime,
        chapters=chapters,
    )


def _binaural(timeline: Timeline) -> bool:
    return any(t.cue.kind == "binaural" for t in timeline.tones)


def _seconds(frame: int) -> float:
    return round(frame / SAMPLE_RATE, 3)


def _longest_silence(timeline: Timeline) -> float:
    """The longest stretch without a word that the script itself asked for (lead-in and tail included)."""
    edges = (
        [0] + [x for p in sorted(timeline.phrases, key=lambda p: p.start) for x in (p.start, p.end)] + [timeline.frames]
    )
    gaps = [b - a for a, b in zip(edges[::2], edges[1::2])]
    return max(gaps, default=timeline.frames) / SAMPLE_RATE


def build_manifest(job: Job, rendered: Rendered, outputs: list[Path], gains: dict[str, float]) -> Manifest:
    meta, timeline, stems, mastered = job.script.meta, rendered.timeline, rendered.stems, rendered.master
    words_each = tuple(spoken_words(p.text) if p.voice else 0 for p in timeline.phrases)  # a sound has no words
    words = sum(words_each)
    speech_s = sum(p.heard_end - p.heard_start for p in timeline.phrases if p.voice) / SAMPLE_RATE
    profile = job.profile
    return Manifest(
        title=meta.title,
        script=job.script.path,
        input_hash=job.input_hash,
        renderer=Renderer("drift-inward", __version__, renderer_source_sha256()),
        voice=job.voice.name,
        voices=tuple(sorted(job.voices)),
        ambience=meta.ambience,
        ambiences=tuple(sorted(job.beds)),
        headphones_required=_binaural(timeline),
        seed=meta.seed,
        sample_rate=SAMPLE_RATE,
        duration_s=round(timeline.duration_s, 3),
        target_duration_s=meta.duration_s,
        speech=Speech(
            phrases=len(timeline.phrases),
            words=words,
            speech_s=round(speech_s, 3),
            words_per_minute_spoken=round(60 * words / speech_s, 1) if speech_s else 0.0,
            longest_silence_s=round(_longest_silence(timeline), 3),
            spans_s=tuple((_seconds(p.start), _seconds(p.end)) for p in timeline.phrases),
            heard_s=tuple((_seconds(p.heard_start), _seconds(p.heard_end)) for p in timeline.phrases),
            texts=tuple(p.text for p in timeline.phrases),
            words_each=words_each,
            pace_wpm=job.pace_wpm,
        ),
        loudness=LoudnessReport(
            **dataclasses.asdict(mastered.after),
            profile=profile.name,
            target=profile.target,
            target_unit=profile.unit,
            ceiling_dbtp=profile.ceiling_dbtp,
            gain_db=mastered.gain_db,
            limiter_max_reduction_db=mastered.limiter_max_reduction_db,
        ),
        mix=MixReport(
            voice_gain_db=round(stems.voice_gain_db, 2),
            bed_lufs_between_words=round(stems.bed_lufs, 2),
            voice_to_bed_setting_db=stems.settings.voice_to_bed_db,
            voice_to_bed_db=stems.voice_over_bed,
            settings=dataclasses.asdict(stems.settings),
        ),
        sections=tuple(TimePoint(m.name, _seconds(m.start)) for m in timeline.sections),
        marks=tuple(TimePoint(m.name, _seconds(m.start)) for m in timeline.marks),
        files={p.name: FileRecord(file_sha256(p), p.stat().st_size, gains.get(p.name, 0.0)) for p in outputs},
        listing=Listing(
            author=meta.author,
            album=meta.album,
            season=meta.season,
            episode=meta.track,
            summary=meta.summary,
            cover=job.cover_file.name if job.cover_file else "",
        ),
        exhale_onsets_s=tuple(round(t, 3) for t in timeline.breath.exhale_onsets(timeline.duration_s)),
        draft=job.draft,
    )
