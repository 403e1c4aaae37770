"""The clip cache: every synthesised phrase stored once, keyed by everything that shaped it.

Entries are ``.npy`` files named by a SHA-256 of the engine identity (name,
version, model hash), the voice's synthesis settings, the rate and the exact
text sent. An entry is written once and never replaced: when two renders
synthesise the same phrase, the first stored wins and both use it, so either
render can be reproduced from the cache. Kills never leave a corrupt entry
under a real name; an entry that is unreadable, empty, of the wrong shape or
not finite is discarded with a warning and synthesised again. Reading an
entry touches it, so pruning can drop the least recently used; pruning never
touches a file a render is still writing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from ..files import StoredEntry, is_abandoned, write_once

CACHE_VERSION = 2
"""Bump when what is stored changes, so old entries are never misread."""

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    env = os.environ.get("DRIFT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "drift-inward"


class ClipCache:
    """Content-addressed store of raw engine output; ``ClipCache(None)`` caches nothing."""

    def __init__(self, root: Path | None):
        self.root = Path(root) / "clips" if root else None
        self.hits = self.misses = 0
        self._counting = threading.Lock()  # phrases are spoken from several threads

    def key(self, identity: dict, settings: dict, text: str, rate: float) -> str:
        material = {"v": CACHE_VERSION, "engine": identity, "settings": settings, "rate": round(rate, 4), "text": text}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def derived_key(self, keys: list[str], processing: dict) -> str:
        """The key of something made from cached entries by ``processing`` (a cleaned clip from raw pieces)."""
        material = {"v": CACHE_VERSION, "from": keys, "processing": processing}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        if self.root is None:
            return None
        path = self._path(key)
        try:
            samples = np.load(path, allow_pickle=False)
            if problem := _problem(samples):
                raise ValueError(problem)
        except FileNotFoundError:
            self._count(hit=False)
            return None
        except (ValueError, OSError, EOFError) as exc:
            log.warning("discarding a bad cache entry %s (%s); it will be synthesised again", path.name, exc)
            path.unlink(missing_ok=True)
            self._count(hit=False)
            return None
        try:
            os.utime(path)  # mark as used, for pruning
        except FileNotFoundError:
            pass  # pruned since it was read: what was read is whole
        self._count(hit=True)
        return samples

    def _count(self, hit: bool) -> None:
        with self._counting:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def put(self, key: str, samples: np.ndarray) -> np.ndarray:
        """Store ``samples`` unless another render stored this entry first; returns what the cache holds, which
        is what the render must use. A cache that cannot be written (a full disk) only costs time."""
        if self.root is None:
            return samples
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        try:
            if write_once(self._path(key), lambda tmp: _save(tmp, samples)):
                return samples
        except OSError as exc:
            log.warning(
                "could not keep a clip in the cache (%s: %s); it is synthesised again next time",
                exc.filename or self.root,
                exc.strerror,
            )
            return samples
        stored = self.get(key)
        return samples if stored is None else stored

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def entries(self) -> list[StoredEntry]:
        """Every clip, after clearing what killed writers left half-written."""
        if not self.root or not self.root.is_dir():
            return []
        for stray in self.root.glob("*/.*.part"):
            if is_abandoned(stray):  # a younger one is a live render's clip being written
                stray.unlink(missing_ok=True)
        found = []
        for path in self.root.glob("*/*.npy"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # pruned by another process while we looked
            found.append(StoredEntry(path, stat.st_size, stat.st_mtime))
        return found


def _save(path: Path, samples: np.ndarray) -> None:
    with open(path, "wb") as handle:  # a handle: np.save would add ".npy" to a temporary name
        np.save(handle, samples, allow_pickle=False)


def _problem(samples: np.ndarray) -> str:
    """What is wrong with a cache entry as audio, or "" if nothing is."""
    if (
        samples.dtype != np.float32
        or samples.ndim not in (1, 2)
        or (samples.ndim == 2 and samples.shape[1] not in (1, 2))
    ):
        return f"unexpected array {samples.dtype} {samples.shape}"
    if not len(samples):
        return "empty"
    if not np.isfinite(samples).all():
        return "samples that are not finite"
    return ""
