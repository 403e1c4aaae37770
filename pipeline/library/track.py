"""One track of a library build: skip it if it is current, restore it if the cache has it finished, else render,
write and check it. Never raises ``DriftError``: a failed track is a result, so the rest of the library goes on.

The quality checks are part of the track: its manifest is first written without a verdict, the checks run on
the files as a listener's player decodes them, and the manifest is written again with the verdict. Only a
track that passed is ever up to date, or kept in the cache of finished tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..blocks import scratch
from ..deliver import write_track
from ..errors import DriftError, system_error
from ..job import Job, RenderOptions, is_up_to_date, prepare
from ..manifest import Manifest, Verdict
from ..progress import Event, Progress, counter, nowhere
from ..qc import QcReport, qc_files
from ..render import render
from ..speech import ClipCache
from .stored import TrackStore


@dataclass(frozen=True, kw_only=True)
class TrackResult:
    script: str
    status: str  # "rendered" | "up to date" | "restored" (from the cache's finished tracks) | "failed" | "failed qc"
    outputs: tuple[str, ...] = ()
    errors: tuple[DriftError, ...] = ()
    manifest: Manifest | None = None
    timeline: str = ""
    reports: tuple[QcReport, ...] = ()
    """The quality checks of what was rendered now."""
    warnings: tuple[DriftError, ...] = ()
    """What was repaired or ignored in the script on the way in."""


def render_track(
    path: Path, options: RenderOptions, progress: Progress | None = None, name: str | None = None
) -> TrackResult:
    """Render one script unless its outputs are up to date or stored finished in the cache. ``progress`` hears its
    stages as the track ``name`` (the script's stem if none), then encode and qc; its end is the caller's to tell."""
    progress = progress or nowhere
    try:
        job = prepare(path, options, name)
        outputs = (*map(str, job.expected_outputs()), str(job.layout.manifest))
        if not options.force and is_up_to_date(job):
            return TrackResult(script=str(path), status="up to date")
        store = TrackStore(options.cache_dir)
        if not options.force and (manifest := store.restore(job)):
            return TrackResult(script=str(path), status="restored", outputs=outputs, manifest=manifest)
        with scratch() as work:  # every full-length array lives on disk, so memory does not grow with the session
            rendered = render(job, ClipCache(options.cache_dir), work, progress=progress)
            progress(Event(job.layout.name, "encode"))
            manifest = write_track(job, rendered, counter(progress, job.layout.name, "encode"))
        reports = ()
        if options.qc:
            progress(Event(job.layout.name, "qc", 0, len(job.formats)))
            reports = tuple(qc_files([job.layout.track(f) for f in job.formats], warn_only=options.warn_only))
            manifest = _with_verdict(job, manifest, reports)
            if manifest.qc.passed:
                store.keep(job, manifest)
        status = "failed qc" if manifest.qc and not manifest.qc.passed else "rendered"
        return TrackResult(
            script=str(path),
            status=status,
            outputs=outputs,
            manifest=manifest,
            timeline=rendered.timeline.describe(),
            reports=reports,
            warnings=job.script.warnings,
        )
    except DriftError as error:
        return TrackResult(script=str(path), status="failed", errors=tuple(getattr(error, "errors", [error])))
    except OSError as exc:  # a full disk, a folder made read-only mid-build: the track fails, the library goes on
        return TrackResult(script=str(path), status="failed", errors=(system_error(exc),))


def _with_verdict(job: Job, manifest: Manifest, reports: tuple[QcReport, ...]) -> Manifest:
    """The manifest again, now with what the checks said; written over the one without a verdict."""
    named = lambda report, checks: [f"{Path(report.path).name}: {check}" for check in checks]
    failures = [line for r in reports for line in named(r, [r.error] if r.error else r.failures)]
    warnings = [line for r in reports for line in named(r, r.warnings)]
    judged = replace(manifest, qc=Verdict(not failures, tuple(failures), tuple(warnings)))
    judged.write(job.layout.manifest)
    return judged
