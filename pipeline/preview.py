"""Producer preview: render one section or span with its stems, and a self-contained player page.

This module owns quick listening. It reuses the clip cache (so a second
preview of a script is near-instant), crops the timeline to the span asked
for, mixes and masters only that, and writes a page with every stem in sync
(mute, solo, gain), waveforms, section and cue markers that seek, the
transcript following the playhead, loudness over time against the target,
and the QC figures. The page works offline: every asset is local or inline.
"""

from __future__ import annotations

import http.server
import io
import json
import re
import socketserver
import threading
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, db_to_gain, frames
from .blocks import scaled, scratch, spans
from .errors import ConfigError, Source
from .export import Encoding, write_all, write_json
from .files import atomic_path, text_sha256
from .library import RenderOptions, prepare
from .loudness import LoudnessMeter
from .master import master
from .mix import mix
from .pacing import Marker, Timeline, ToneChange, place
from .speech import ClipCache, synthesize

PREVIEW_FORMAT = "ogg"
"""Vorbis: every browser the page targets decodes it, and it encodes three times faster than Opus here."""
PEAK_COLUMNS = 1200
"""Waveform resolution on the page: min/max pairs per stem."""
MARGIN_S = 1.0


@dataclass(frozen=True)
class Preview:
    folder: Path
    page: Path
    start_s: float
    end_s: float
    figures: dict
    reused: bool = False
    """True when the folder already held this exact preview, so nothing was rendered."""


def render_preview(script: Path, out: Path, options: RenderOptions, section: str | None = None,
                   span: tuple[float, float] | None = None) -> Preview:
    job = prepare(script, options)
    clips = synthesize(job.script, job.voices, ClipCache(options.cache_dir))
    full = place(job.script, clips, job.voice)
    start, end = _span(full, section, span)
    key = text_sha256(f"{job.input_hash}:{start}:{end}")
    if (figures := _unchanged_figures(out, key)) is not None:
        return Preview(out, out / "preview.html", start / SAMPLE_RATE, end / SAMPLE_RATE, figures, reused=True)
    timeline, first_bed = crop(full, start, end, job.script.meta.ambience)
    out.mkdir(parents=True, exist_ok=True)
    with scratch() as work:
        stems = mix(timeline, clips, job.voices, job.beds, first_bed, job.script.meta.seed, work=work)
        mastered = master(stems.mix_into(work.zeros(timeline.frames)), job.profile, work=work)
        tracks = {"mix": mastered.audio}
        tracks.update({name: scaled(stem, db_to_gain(mastered.gain_db), work) for name, stem in stems.named().items()})
        written = write_all([Encoding(out / f"{name}.{PREVIEW_FORMAT}", audio, PREVIEW_FORMAT)
                             for name, audio in tracks.items()], SAMPLE_RATE)
        files = {name: path.name for name, path in zip(tracks, written)}
        data = {**page_data(job, timeline, tracks, files, mastered, start), "input_hash": key}
    page = out / "preview.html"
    with atomic_path(page) as tmp:
        tmp.write_text(PAGE.replace("/*DATA*/null", json.dumps(data)), encoding="utf-8")
    write_json(out / "preview.json", data)  # last: its hash vouches for everything above
    return Preview(out, page, start / SAMPLE_RATE, end / SAMPLE_RATE, data["qc"])


def _unchanged_figures(out: Path, key: str) -> dict | None:
    """The QC figures of the preview in ``out``, if it was made from exactly these inputs and span and is whole."""
    try:
        data = json.loads((out / "preview.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = [out / "preview.html"] + [out / stem["file"] for stem in data.get("stems", [])]
    return data.get("qc") if data.get("input_hash") == key and all(f.is_file() for f in files) else None


def _span(timeline: Timeline, section: str | None, span: tuple[float, float] | None) -> tuple[int, int]:
    if section is not None:
        names = [m.name for m in timeline.sections]
        matches = [i for i, m in enumerate(timeline.sections) if m.name.lower() == section.lower()]
        if not matches:
            raise ConfigError(f"no section '{section}' (sections: {', '.join(names) or 'none'})", Source("--section"))
        i = matches[0]
        end = timeline.sections[i + 1].start if i + 1 < len(timeline.sections) else timeline.frames
        return timeline.sections[i].start, end
    start_s, end_s = span if span else (0.0, timeline.duration_s)
    if not 0 <= start_s < end_s or start_s >= timeline.duration_s:
        raise ConfigError(f"span {start_s:g}s–{end_s:g}s is outside the track (0–{timeline.duration_s:.1f}s)",
                          Source("--from/--to"))
    return frames(start_s), min(frames(end_s), timeline.frames)


def crop(timeline: Timeline, start: int, end: int, first_bed: str) -> tuple[Timeline, str]:
    """The part of a timeline in [start, end), widened to whole phrases, shifted to start at 0 (with a margin)."""
    inside = [p for p in timeline.phrases if p.start < end and p.end > start]
    if inside:
        start, end = min(start, inside[0].start), max(end, max(p.end for p in inside))
    start, end = max(0, start - frames(MARGIN_S)), min(timeline.frames, end + frames(MARGIN_S))
    shift = lambda frame: max(frame - start, 0)
    phrases = tuple(replace(p, start=p.start - start) for p in inside)
    sections = tuple(replace(m, start=shift(m.start)) for m in timeline.sections if m.start < end and _section_end(timeline, m) > start)
    marks = tuple(replace(m, start=shift(m.start)) for m in timeline.marks if start <= m.start < end)
    for change in timeline.beds:  # the bed playing at the start of the span is the one to begin with
        if change.start <= start and change.cue.name and not change.cue.off:
            first_bed = change.cue.name
    beds = tuple(replace(b, start=shift(b.start)) for b in timeline.beds if start < b.start < end)
    before = [t for t in timeline.tones if t.start < start]
    tones = tuple(([_tone_from(before[-1], start)] if before else [])
                  + [_tone_from(t, start) for t in timeline.tones if start <= t.start < end])
    return Timeline(timeline.sample_rate, end - start, phrases, sections, marks, beds, tones, timeline.breath), first_bed


def _section_end(timeline: Timeline, marker: Marker) -> int:
    later = [m.start for m in timeline.sections if m.start > marker.start]
    return min(later) if later else timeline.frames


def _tone_from(change: ToneChange, start: int) -> ToneChange:
    """A tone change moved into the span; one that began before it starts at 0 with its glide partly done."""
    if change.start >= start:
        return replace(change, start=change.start - start)
    done = start - change.start
    beat = change.cue.beat
    if beat is not None and beat.end is not None and change.ramp_frames:
        progress = min(done / change.ramp_frames, 1.0)
        beat = replace(beat, start=beat.start + (beat.end - beat.start) * progress)
    return ToneChange(0, replace(change.cue, beat=beat), max(change.ramp_frames - done, 0))


def page_data(job, timeline: Timeline, tracks: dict, files: dict, mastered, offset: int) -> dict:
    rate = timeline.sample_rate
    return {
        "title": job.script.meta.title,
        "offset_s": offset / rate,
        "duration_s": timeline.duration_s,
        "stems": [{"name": name, "file": files[name], "peaks": waveform(tracks[name])} for name in ("mix", "voice", "bed", "tones")],
        "sections": [{"name": m.name, "t": m.start / rate} for m in timeline.sections],
        "cues": [{"name": f"bed {b.cue.name or ('off' if b.cue.off else f'{b.cue.gain_db:+g}dB')}", "t": b.start / rate} for b in timeline.beds]
        + [{"name": f"tone {t.cue.kind}", "t": t.start / rate} for t in timeline.tones]
        + [{"name": f"mark {m.name}", "t": m.start / rate} for m in timeline.marks],
        "phrases": [{"text": p.text, "start": p.start / rate, "end": p.end / rate} for p in timeline.phrases],
        "loudness": loudness_series(tracks["mix"]),
        "target": job.profile.target_lufs,
        "target_unit": "dBFS RMS" if job.profile.by_rms else "LUFS",
        "qc": {"integrated_lufs": mastered.after.integrated_lufs, "range_lu": mastered.after.range_lu,
               "true_peak_dbtp": mastered.after.true_peak_dbtp, "limiter_max_reduction_db": mastered.limiter_max_reduction_db,
               "duration_s": round(timeline.duration_s, 2), "profile": job.profile.name},
    }


def waveform(audio) -> list[list[float]]:
    """Min and max per page column, so the page draws an hour as quickly as a minute; read block by block."""
    total = len(audio)
    columns = min(PEAK_COLUMNS, max(total, 1))
    edges = np.linspace(0, total, columns + 1).astype(int)
    low, high = np.full(columns, np.inf), np.full(columns, -np.inf)
    for a, b in spans(total):
        block = np.asarray(audio[a:b])
        mono = block[:, 0].copy()
        for channel in range(1, block.shape[1]):
            mono += block[:, channel]
        mono /= block.shape[1]
        first, last = np.searchsorted(edges, [a, b - 1], side="right") - 1
        starts = np.maximum(edges[first : last + 1], a) - a
        low[first : last + 1] = np.minimum(low[first : last + 1], np.minimum.reduceat(mono, starts))
        high[first : last + 1] = np.maximum(high[first : last + 1], np.maximum.reduceat(mono, starts))
    if not total:
        return [[0.0, 0.0]]
    return [[round(float(lo), 3), round(float(hi), 3)] for lo, hi in zip(low, high)]


def loudness_series(audio, every_s: float = 0.5) -> list[list[float]]:
    """Short-term loudness (3 s windows) every half second: [time, LUFS]."""
    meter = LoudnessMeter(2)
    for a, b in spans(len(audio)):
        meter.feed(np.asarray(audio[a:b]))
    windows = meter.windows(30)
    step = max(int(every_s / 0.1), 1)
    return [[round((i + 30) * 0.1, 2), round(float(-0.691 + 10 * np.log10(max(w, 1e-20))), 2)]
            for i, w in enumerate(windows) if i % step == 0]


def serve(folder: Path, port: int = 0) -> tuple[socketserver.TCPServer, str]:
    """Serve the preview folder on 127.0.0.1 only; port 0 picks a free one. Returns the server and the page URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    try:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}", Source("--port")) from None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/preview.html"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """The preview folder, quietly, with byte ranges: an audio element seeks by asking for the bytes at the
    new time, and without ranges it cannot seek past what it has downloaded."""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if not wanted or not path.is_file() or wanted.groups() == ("", ""):
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        start = int(first) if first else max(size - int(last), 0)  # "bytes=-N" is the last N bytes
        end = min(int(last), size - 1) if first and last else size - 1
        if start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with open(path, "rb") as handle:
            handle.seek(start)
            body = handle.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args) -> None:
        pass


PAGE = (Path(__file__).parent / "preview.html").read_text(encoding="utf-8")
