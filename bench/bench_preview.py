"""A 2-minute preview of a cached script vs a full cold render, and the preview page's weight for a 20-minute span."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pipeline.job import RenderOptions
from pipeline.library import render_track
from pipeline.preview import render_preview

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "the-settled-nervous-system.txt"


def run() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        script = root / SCRIPT.name
        script.write_text(SCRIPT.read_text(encoding="utf-8"), encoding="utf-8")
        options = RenderOptions(out_dir=root / "build", cache_dir=root / "cache")
        cold = _timed(lambda: render_track(script, options))
        preview = lambda folder: render_preview(script, root / folder, options, span=(120.0, 240.0))
        cached = _timed(lambda: preview("preview"))
        repeat = _timed(lambda: preview("preview"))
        script.write_text(
            script.read_text(encoding="utf-8").replace("A steady voice.", "A calm, steady voice."), encoding="utf-8"
        )
        edited = _timed(lambda: preview("preview"))
        render_preview(script, root / "whole", options, span=(0.0, 20 * 60.0))
        weight = sum(p.stat().st_size for p in (root / "whole").iterdir())
        page = (root / "whole" / "preview.html").stat().st_size
    return {
        "cold_render_s": round(cold, 2),
        "preview_2min_cached_s": round(cached, 2),
        "preview_over_cold_render": round(cached / cold, 3),
        "repeat_preview_over_cold_render": round(repeat / cold, 4),
        "preview_after_one_sentence_edit_over_cold_render": round(edited / cold, 3),
        "page_weight_mb_whole_track": round(weight / 2**20, 2),
        "page_html_kb": round(page / 1024, 1),
        "note": "cached: every clip in the cache, a new folder; repeat: the same preview again (reused); "
        "edit: one sentence changed, so one clip is synthesised and the span mixed, mastered and encoded again. "
        "The script is 10 minutes long, so the 20-minute span is the whole track; weight scales with length",
    }


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start
