"""Producer preview: render one section or span with its stems, and a self-contained player page.

This module owns quick listening. It reuses the clip cache (so a second
preview of a script is near-instant), renders only the span asked for, and writes a page with every stem in sync
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
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .audio import SAMPLE_RATE, clock, db_to_gain, frames
from .blocks import scaled, scratch
from .errors import ConfigError, Source
from .export import Encoding, write_all
from .files import atomic_path, text_sha256, write_json
from .job import Job, RenderOptions, prepare
from .master import Master
from .pacing import Timeline
from .pictures import loudness_series, waveform
from .render import render
from .speech import ClipCache

PREVIEW_FORMAT = "ogg"
"""Vorbis: every browser the page targets decodes it, and it encodes three times faster than Opus here."""
PEAK_COLUMNS = 1200
"""Waveform resolution on the page: min/max pairs per stem."""


@dataclass(frozen=True, kw_only=True)
class Preview:
    folder: Path
    page: Path
    start_s: float
    end_s: float
    figures: dict
    reused: bool = False
    """True when the folder already held this exact preview, so nothing was rendered."""


def render_preview(
    script: Path, out: Path, options: RenderOptions, section: str | None = None, span: tuple[float, float] | None = None
) -> Preview:
    job = prepare(script, options)
    key = text_sha256(f"{job.input_hash}:{section!r}:{span!r}")
    if (data := _unchanged(out, key)) is not None:
        return Preview(
            folder=out,
            page=out / "preview.html",
            start_s=data["offset_s"],
            end_s=data["offset_s"] + data["duration_s"],
            figures=data["qc"],
            reused=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    with scratch() as work:
        rendered = render(job, ClipCache(options.cache_dir), work, span=lambda timeline: _span(timeline, section, span))
        mastered = rendered.master
        tracks = {"mix": mastered.audio}
        gain = db_to_gain(mastered.gain_db)
        tracks.update({name: scaled(stem, gain) for name, stem in rendered.stems.named().items()})
        written = write_all(
            [
                Encoding(path=out / f"{name}.{PREVIEW_FORMAT}", audio=audio, fmt=PREVIEW_FORMAT)
                for name, audio in tracks.items()
            ],
            SAMPLE_RATE,
        )
        files = {name: path.name for name, path in zip(tracks, written)}
        data = {**page_data(job, rendered.timeline, tracks, files, mastered), "input_hash": key}
    page = out / "preview.html"
    with atomic_path(page) as tmp:
        tmp.write_text(PAGE.replace("/*DATA*/null", json.dumps(data)), encoding="utf-8")
    write_json(out / "preview.json", data)  # last: its hash vouches for everything above
    return Preview(
        folder=out, page=page, start_s=data["offset_s"], end_s=data["offset_s"] + data["duration_s"], figures=data["qc"]
    )


def _unchanged(out: Path, key: str) -> dict | None:
    """The page data of the preview in ``out``, if it was made from exactly these inputs and span and is whole."""
    try:
        data = json.loads((out / "preview.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = [out / "preview.html"] + [out / stem["file"] for stem in data.get("stems", [])]
    return data if data.get("input_hash") == key and all(f.is_file() for f in files) else None


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
        raise ConfigError(
            f"span {start_s:g}s–{end_s:g}s is outside the track (0–{timeline.duration_s:.1f}s)", Source("--from/--to")
        )
    return frames(start_s), min(frames(end_s), timeline.frames)


def page_data(job: Job, timeline: Timeline, tracks: dict, files: dict, mastered: Master) -> dict:
    rate = SAMPLE_RATE
    return {
        "title": job.script.meta.title,
        "offset_s": timeline.origin / rate,
        "duration_s": timeline.duration_s,
        "stems": [
            {"name": name, "file": files[name], "peaks": waveform(tracks[name], PEAK_COLUMNS)}
            for name in ("mix", "voice", "bed", "tones")
        ],
        "sections": [{"name": m.name, "t": m.start / rate} for m in timeline.sections],
        "cues": [
            {"name": f"bed {b.cue.name or ('off' if b.cue.off else f'{b.cue.gain_db:+g} dB')}", "t": b.start / rate}
            for b in timeline.beds
        ]
        + [{"name": f"tone {t.cue.kind}", "t": t.start / rate} for t in timeline.tones]
        + [{"name": m.name, "t": m.start / rate, "kind": "mark"} for m in timeline.marks],
        "breath": _exhales(timeline),
        "phrases": [{"text": p.text, "start": p.start / rate, "end": p.end / rate} for p in timeline.phrases],
        "loudness": loudness_series(tracks["mix"]),
        "target": job.profile.target,
        "target_unit": job.profile.unit,
        "figures": figures(mastered, timeline.duration_s),
        "qc": {
            "integrated_lufs": mastered.after.integrated_lufs,
            "range_lu": mastered.after.range_lu,
            "true_peak_dbtp": mastered.after.true_peak_dbtp,
            "limiter_max_reduction_db": mastered.limiter_max_reduction_db,
            "duration_s": round(timeline.duration_s, 2),
            "profile": job.profile.name,
        },
    }


def figures(mastered: Master, duration_s: float) -> list[tuple[str, str]]:
    """The span's delivery figures as a person reads them: a label, then the value with its unit."""
    after, profile = mastered.after, mastered.profile
    level = "RMS level" if profile.by_rms else "Integrated loudness"
    return [
        (level, f"{profile.reading(after):.1f} {profile.unit} (target {profile.target:g})"),
        ("Loudness range", f"{after.range_lu:.1f} LU"),
        ("True peak", f"{after.true_peak_dbtp:.1f} dBTP (ceiling {profile.ceiling_dbtp:g})"),
        ("Limiter's deepest gain reduction", f"{mastered.limiter_max_reduction_db:.1f} dB"),
        ("Length", clock(duration_s, 1)),
        ("Loudness profile", profile.description),
    ]


def _exhales(timeline: Timeline) -> list[float]:
    """Exhale onsets within the span, in seconds from its start (the breath clock runs from the track's start)."""
    origin_s = timeline.origin / SAMPLE_RATE
    return [
        round(t - origin_s, 3) for t in timeline.breath.exhale_onsets(origin_s + timeline.duration_s) if t >= origin_s
    ]


def serve(folder: Path, port: int = 0) -> tuple[socketserver.TCPServer, str]:
    """Serve the preview folder on 127.0.0.1 only; port 0 picks a free one. Returns the server and the page URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    try:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}", Source("--port")) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/preview.html"


LOCAL_HOSTS = ("127.0.0.1", "localhost")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """The preview folder, quietly, with byte ranges: an audio element seeks by asking for the bytes at the
    new time, and without ranges it cannot seek past what it has downloaded.

    Only for this machine: a request naming another host (a web page rebinding its DNS name to 127.0.0.1) is
    refused, an idle connection is closed after ``timeout`` seconds, and a malformed request gets a 400."""

    timeout = 30

    def send_head(self):
        if self.headers.get("Host", "").rsplit(":", 1)[0].strip("[]") not in LOCAL_HOSTS:
            self.send_error(403, "only this machine may ask")
            return None
        translated = self.translate_path(self.path)
        try:
            if "\0" in translated:
                raise ValueError("embedded null byte")
            path = Path(translated)
            is_file = path.is_file()
        except (ValueError, OSError):  # a NUL byte, a name too long
            self.send_error(400, "bad path")
            return None
        wanted = re.fullmatch(r"bytes=(\d{0,18})-(\d{0,18})", self.headers.get("Range", "").strip())
        if self.headers.get("Range") and not wanted:
            return self._unsatisfiable(path)
        if not wanted or not is_file or wanted.groups() == ("", ""):
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        start = int(first) if first else max(size - int(last), 0)  # "bytes=-N" is the last N bytes
        end = min(int(last), size - 1) if first and last else size - 1
        if start > end:
            return self._unsatisfiable(path)
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

    def _unsatisfiable(self, path: Path):
        self.send_response(416)
        self.send_header("Content-Range", f"bytes */{path.stat().st_size if path.is_file() else 0}")
        self.end_headers()
        return None

    def log_message(self, *args) -> None:
        pass


PAGE = (Path(__file__).parent / "preview.html").read_text(encoding="utf-8")
