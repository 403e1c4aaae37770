"""The clip cache: every synthesised phrase stored once, keyed by everything that shaped it.

Entries are ``.npy`` files named by a SHA-256 of the engine identity (name,
version, model hash), the voice's synthesis settings, the rate and the exact
text sent. Writes are atomic, so parallel renders and kills never leave a
corrupt entry under a real name; an unreadable entry is discarded and
re-synthesised. Reading an entry touches it, so pruning can drop the least
recently used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from ..files import StoredEntry, atomic_path

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
            if samples.dtype != np.float32 or samples.ndim not in (1, 2):
                raise ValueError(f"unexpected array {samples.dtype} {samples.shape}")
        except FileNotFoundError:
            self._count(hit=False)
            return None
        except (ValueError, OSError, EOFError) as exc:
            log.warning("discarding corrupt cache entry %s (%s); it will be synthesised again", path.name, exc)
            path.unlink(missing_ok=True)
            self._count(hit=False)
            return None
        os.utime(path)  # mark as used, for pruning
        self._count(hit=True)
        return samples

    def _count(self, hit: bool) -> None:
        with self._counting:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def put(self, key: str, samples: np.ndarray) -> None:
        if self.root is None:
            return
        path = self._path(key)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(samples, dtype=np.float32), allow_pickle=False)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def entries(self) -> list[StoredEntry]:
        """Every clip, after clearing what killed writers left half-written."""
        if not self.root or not self.root.is_dir():
            return []
        for stray in self.root.glob("*/.*.part"):
            stray.unlink(missing_ok=True)
        stats = [(path, path.stat()) for path in self.root.glob("*/*.npy")]
        return [StoredEntry(path, stat.st_size, stat.st_mtime) for path, stat in stats]
