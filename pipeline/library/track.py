"""One track of a library build: skip it if it is current, restore it if the cache has it finished, else render
and write it. Never raises ``DriftError``: a failed track is a result, so the rest of the library goes on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..blocks import scratch
from ..errors import DriftError
from ..export.track import write_track
from ..job import RenderOptions, is_up_to_date, prepare
from ..manifest import Manifest
from ..render import Progress, render
from ..speech import ClipCache
from .stored import TrackStore


@dataclass(frozen=True)
class TrackResult:
    script: str
    status: str  # "rendered" | "up to date" | "restored" (from the cache's finished tracks) | "failed"
    outputs: tuple[str, ...] = ()
    errors: tuple[DriftError, ...] = ()
    manifest: Manifest | None = None
    timeline: str = ""


def render_track(path: Path, options: RenderOptions, progress: Progress | None = None, name: str | None = None) -> TrackResult:
    """Render one script unless its outputs are up to date or stored finished in the cache."""
    try:
        job = prepare(path, options, name)
        outputs = (*map(str, job.expected_outputs()), str(job.layout.manifest))
        if not options.force and is_up_to_date(job):
            return TrackResult(str(path), "up to date")
        store = TrackStore(options.cache_dir)
        if not options.force and (manifest := store.restore(job)):
            return TrackResult(str(path), "restored", outputs, (), manifest)
        with scratch() as work:  # every full-length array lives on disk, so memory does not grow with the session
            rendered = render(job, ClipCache(options.cache_dir), work, progress=progress)
            manifest = write_track(job, rendered, work)
        store.keep(job, manifest)
        return TrackResult(str(path), "rendered", outputs, (), manifest, rendered.timeline.describe())
    except DriftError as error:
        return TrackResult(str(path), "failed", errors=tuple(getattr(error, "errors", [error])))
