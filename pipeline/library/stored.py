"""Finished tracks kept in the cache by input hash, so a fresh output folder is filled without rendering.

A CI job on a clean checkout, or a second output folder, has every clip cached
but no outputs: without this it would mix, master and encode every track
again. An entry holds a track's files (hard links where the cache shares the
output's disk, so it costs no space while the outputs exist) and its manifest.
An entry appears whole or not at all, and a file whose SHA-256 no longer
matches its manifest (edited in place through a link, say) discards the entry
and the track is rendered again.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from ..files import StoredEntry, atomic_path, file_sha256, is_abandoned, prune_least_recently_used, remove, text_sha256
from ..job import Job
from ..manifest import Manifest
from ..speech import ClipCache

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
MAX_BYTES = 5 * 2**30
"""Older tracks beyond this are dropped as new ones are kept (about five renders of our library; as ccache does)."""


class TrackStore:
    """Finished tracks under ``CACHE/tracks``; ``TrackStore(None)`` keeps nothing."""

    def __init__(self, cache_root: Path | None):
        self.root = Path(cache_root) / "tracks" if cache_root else None

    def _entry(self, job: Job) -> Path:
        # The name is part of the key: file names, and a bare script's title, come from it.
        return self.root / text_sha256(f"{job.input_hash}\0{job.layout.name}")

    def keep(self, job: Job, manifest: Manifest) -> None:
        """Link a just-rendered track's files and manifest into the store (the first render to keep it wins)."""
        if self.root is None:
            return
        entry = self._entry(job)
        if entry.exists():
            if (entry / MANIFEST).is_file():
                return
            remove(entry)  # an entry without its manifest is no entry: a kill left it (before removal was atomic)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            for name in manifest.files:
                _link_or_copy(job.layout.folder / name, staging / name)
            manifest.write(staging / MANIFEST)
            os.rename(staging, self._entry(job))  # whole or not at all
            prune_least_recently_used(self.entries(), max_bytes=MAX_BYTES)
        except OSError as exc:
            if not self._entry(job).exists():  # else a parallel render kept the same track first: nothing lost
                log.warning("could not keep %s in the cache (%s); it renders again next time", job.layout.name, exc)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def restore(self, job: Job) -> Manifest | None:
        """Put a stored track's files in the output folder; its manifest, or None if there is no sound entry."""
        if self.root is None:
            return None
        entry = self._entry(job)
        manifest = Manifest.find(entry / MANIFEST)
        try:
            intact = manifest is not None and all(
                file_sha256(entry / name) == record.sha256 for name, record in manifest.files.items()
            )
        except OSError:
            return None
        if not intact:
            if manifest is not None:
                log.warning("discarding the stored %s: a file changed since it was kept", job.layout.name)
                remove(entry)
            return None
        try:
            for name in manifest.files:
                with atomic_path(job.layout.folder / name) as tmp:
                    _link_or_copy(entry / name, tmp)
        except FileNotFoundError:
            return None  # pruned by another process while we linked: render it instead
        manifest = replace(manifest, script=job.script.path)  # the only field that depends on where the script lives
        manifest.write(job.layout.manifest)
        os.utime(entry / MANIFEST)  # mark as used, for pruning
        return manifest

    def entries(self) -> list[StoredEntry]:
        if self.root is None or not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            try:
                if (entry / MANIFEST).is_file():
                    size = sum(f.stat().st_size for f in entry.iterdir())
                    found.append(StoredEntry(entry, size, (entry / MANIFEST).stat().st_mtime))
                elif entry.name.startswith(".trash-") or is_abandoned(entry):
                    remove(entry)  # being removed, left by a killed removal, or half-kept by a killed render
            except FileNotFoundError:
                continue  # pruned by another process while we looked
        return found


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another disk, or a file system without hard links
        shutil.copyfile(source, target)


def cache_contents(cache_root: Path | None) -> dict[str, list[StoredEntry]]:
    """What a cache folder holds, by kind: for `drift cache info` and `drift cache prune`."""
    return {"clips": ClipCache(cache_root).entries(), "finished tracks": TrackStore(cache_root).entries()}
