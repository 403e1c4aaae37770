"""The file-system edge shared by every stage that writes: atomic writes, content hashes, cache pruning."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ABANDONED_S = 3600
"""A hidden half-written file this old was left by a killed writer (writing one takes well under a minute)."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    Readers see the old file or the whole new one, never a partial write, and a
    process killed mid-write leaves only a hidden ``.part`` file behind.
    """
    tmp = _temporary_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_once(path: Path, write: Callable[[Path], None]) -> bool:
    """Write a file that is never replaced once there: the first writer wins (True); a later one leaves the file
    as it is (False). Two renders sharing a cache then use the same bytes, so each can be reproduced."""
    tmp = _temporary_beside(path)
    try:
        write(tmp)
        try:
            os.link(tmp, path)  # fails if the file exists: no window in which a second writer could replace it
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: nearly as good
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _temporary_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide tracks from other users
    return Path(tmp)


def is_abandoned(path: Path, older_than_s: float = ABANDONED_S) -> bool:
    """A half-written file or folder old enough that no live writer is still at it (writes take seconds)."""
    try:
        return time.time() - path.stat().st_mtime > older_than_s
    except FileNotFoundError:
        return False


def remove(path: Path) -> None:
    """Remove a file, or a folder by renaming it aside first: a kill mid-way leaves no half-removed entry that
    looks whole, only a hidden ``.trash-`` folder that the next look clears."""
    if not path.is_dir():
        path.unlink(missing_ok=True)
        return
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return  # another process removed it first
    shutil.rmtree(trash, ignore_errors=True)


def write_json(path: Path, data) -> Path:
    """``data`` as indented UTF-8 JSON, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredEntry:
    """One thing a cache holds (a file or a folder), its size and when it was last used."""

    path: Path
    bytes: int
    used: float


def prune_least_recently_used(
    entries: list[StoredEntry], older_than_s: float | None = None, max_bytes: int | None = None
) -> tuple[int, int]:
    """Remove entries unused for ``older_than_s``, then the least recently used beyond ``max_bytes``.

    Returns (entries removed, bytes freed)."""
    removed = freed = kept = 0
    now = time.time()
    for entry in sorted(entries, key=lambda e: e.used, reverse=True):
        too_old = older_than_s is not None and now - entry.used > older_than_s
        too_big = max_bytes is not None and kept + entry.bytes > max_bytes
        if too_old or too_big:
            remove(entry.path)
            removed, freed = removed + 1, freed + entry.bytes
        else:
            kept += entry.bytes
    return removed, freed
