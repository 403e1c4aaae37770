"""A 2-minute preview of a cached script vs a full cold render, and the preview page's weight for a 20-minute span."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pipeline.library import RenderOptions, render_track
from pipeline.preview import render_preview

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "the-settled-nervous-system.txt"


def run() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        options = RenderOptions(out_dir=root / "build", cache_dir=root / "cache")
        start = time.perf_counter()
        render_track(SCRIPT, options)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        render_preview(SCRIPT, root / "preview", options, span=(120.0, 240.0))
        preview = time.perf_counter() - start
        render_preview(SCRIPT, root / "whole", options, span=(0.0, 20 * 60.0))
        weight = sum(p.stat().st_size for p in (root / "whole").iterdir())
        page = (root / "whole" / "preview.html").stat().st_size
    return {"cold_render_s": round(cold, 2), "preview_2min_cached_s": round(preview, 2),
            "preview_over_cold_render": round(preview / cold, 3),
            "page_weight_mb_whole_track": round(weight / 2**20, 2), "page_html_kb": round(page / 1024, 1),
            "note": "the script is 10 minutes long, so the 20-minute span is the whole track; weight scales with length"}
