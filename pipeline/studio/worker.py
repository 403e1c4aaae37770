"""The studio's render, in a process of its own so that a cancel (or a closed tab) can end it at once; and its
speaking ahead (``--speak``), in one of its own at a low priority.

``python -m pipeline.studio.worker SCRIPT --out DIR --cache DIR [--draft]`` runs the normal build of one script,
as ``drift render SCRIPT -o DIR [--draft]`` does (the same ``library.build``, its lock, qc and library.json), and
writes the build's own progress events, then the result, as one JSON object a line on its standard output.
Whatever else the build prints goes to standard error. Killed at any moment, it leaves no partial file under a
final name (every file is written under a hidden name and renamed when whole), and the next build clears what it
left.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..errors import DriftError, system_error
from ..job import RenderOptions, prepare
from ..library import TrackResult, build
from ..library.build import Planned
from ..manifest import Layout, Manifest
from ..progress import Event
from ..speech import ClipCache, synthesize
from ..system import die_with_parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.studio.worker")
    parser.add_argument("script", type=Path)
    parser.add_argument("--out", type=Path, default=Path("build"))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--draft", action="store_true")
    parser.add_argument(
        "--speak",
        action="store_true",
        help="Only speak the script's phrases with the draft voice into the clip cache, at low priority.",
    )
    args = parser.parse_args(argv)
    die_with_parent()  # the studio's server gone, the render goes too
    if args.speak:
        return speak_ahead(args.script, args.cache)
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # anything the build prints (a stale lock cleared) reaches standard error, not the events
    sys.stdout = sys.stderr

    def emit(kind: str, **data) -> None:
        events.write(json.dumps({"kind": kind, **data}) + "\n")

    def progress(event: Event) -> None:
        emit("progress", stage=event.stage, done=event.done, total=event.total)

    options = RenderOptions(out_dir=args.out, cache_dir=args.cache, draft=args.draft)
    try:
        results = build([Planned(args.script, args.script.stem)], options, 1, on_progress=progress)
    except DriftError as error:
        emit("error", message=str(error))
        return 1
    except OSError as exc:
        emit("error", message=str(system_error(exc)))
        return 1
    emit("result", **summary(results[0], Manifest.find(Layout(args.out, args.script.stem).manifest)))
    return 0


def speak_ahead(script: Path, cache_dir: Path | None) -> int:
    """Every phrase of ``script`` spoken with the draft voice into the clip cache (what a draft preview or render
    would speak first), behind whatever the person is doing: the lowest share of the processor."""
    os.nice(10)
    try:
        job = prepare(script, RenderOptions(cache_dir=cache_dir, draft=True))
        synthesize(job.script, job.voices, ClipCache(cache_dir), None, job.pace_wpm)
    except (DriftError, OSError):
        return 1  # not speakable yet: the page's lint says why
    return 0


def summary(result: TrackResult, on_disk: Manifest | None = None) -> dict:
    """What the page shows when a render ends: the status, the qc verdict, and the delivery figures (of the track
    on disk when nothing was rendered: up to date, or restored from the cache)."""
    data = {
        "status": result.status,
        "errors": [str(e) for e in result.errors],
        "warnings": [str(w) for w in result.warnings],
    }
    manifest = result.manifest or on_disk
    if manifest is not None:
        loudness = manifest.loudness
        data.update(
            {
                "title": manifest.title,
                "qc": manifest.qc_status,
                "failures": list(manifest.qc.failures) if manifest.qc else [],
                "qc_warnings": list(manifest.qc.warnings) if manifest.qc else [],
                "duration_s": manifest.duration_s,
                "draft": manifest.draft,
                "voice": manifest.voice,
                "figures": {
                    "integrated": loudness.integrated_lufs,
                    "range_lu": loudness.range_lu,
                    "true_peak_dbtp": loudness.true_peak_dbtp,
                    "target": loudness.target,
                    "target_unit": loudness.target_unit,
                    "ceiling_dbtp": loudness.ceiling_dbtp,
                    "profile": loudness.profile,
                    "words_per_minute": manifest.speech.words_per_minute_spoken,
                },
                "files": sorted(manifest.files),
            }
        )
    return data


if __name__ == "__main__":
    sys.exit(main())
