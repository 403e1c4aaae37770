"""Library builds: find scripts, plan tracks (shards, personalised batches), render what is stale in
parallel, check without rendering, prune what is orphaned, and keep ``library.json`` — under a lock.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from .. import __version__
from ..errors import ConfigError, DriftError, Source
from ..files import write_json
from ..job import RenderOptions, is_up_to_date, load_variables, prepare
from ..manifest import Layout, Manifest
from ..script import SCRIPT_SUFFIXES
from .track import TrackResult, render_track

LOCK_NAME = ".drift.lock"
LIBRARY_NAME = "library.json"


@dataclass(frozen=True)
class Planned:
    """One track to build: a script, the variables it is personalised with, and its output name."""

    script: Path
    name: str
    variables: dict[str, str] | None = None
    vars_file: str | None = None


def discover(paths: list[Path]) -> list[Path]:
    """Script files named directly or found (recursively) in the folders given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            scripts = sorted(p for p in path.rglob("*") if p.suffix in SCRIPT_SUFFIXES and p.is_file())
            if not scripts:
                raise ConfigError(f"no scripts ({', '.join(SCRIPT_SUFFIXES)}) in this folder", Source(str(path)))
            found += scripts
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError("no such script or folder", Source(str(path)))
    return list(dict.fromkeys(found))


def plan(scripts: list[Path], vars_path: Path | None = None, shard: tuple[int, int] | None = None) -> list[Planned]:
    """Every track to build. A folder of variables files makes one track per file per script."""
    if vars_path is not None and vars_path.is_dir():
        files = sorted(p for p in vars_path.iterdir() if p.suffix in (".yaml", ".yml"))
        if not files:
            raise ConfigError("no variables files (.yaml) in this folder", Source(str(vars_path)))
        tracks = [Planned(s, f"{s.stem}-{f.stem}", load_variables(f), str(f)) for s in scripts for f in files]
    elif vars_path is not None:
        tracks = [Planned(s, s.stem, load_variables(vars_path), str(vars_path)) for s in scripts]
    else:
        tracks = [Planned(s, s.stem) for s in scripts]
    names = [t.name for t in tracks]
    for track in tracks:
        if names.count(track.name) > 1:
            raise ConfigError(f"two scripts would both write '{track.name}': rename one", Source(str(track.script)))
    if shard:
        index, count = shard
        tracks = [t for n, t in enumerate(tracks) if n % count == index - 1]
    return tracks


def parse_shard(text: str) -> tuple[int, int]:
    parts = text.split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not 1 <= int(parts[0]) <= int(parts[1]):
        raise ConfigError(f"--shard: '{text}' must be K/N with 1 ≤ K ≤ N, like 2/4")
    return int(parts[0]), int(parts[1])


def _options_for(options: RenderOptions, track: Planned) -> RenderOptions:
    return replace(options, variables=track.variables) if track.variables is not None else options


def check(tracks: list[Planned], options: RenderOptions) -> list[tuple[Planned, str]]:
    """What a build would render, and why ('stale', 'missing' or an error), rendering nothing."""
    problems = []
    for track in tracks:
        try:
            job = prepare(track.script, _options_for(options, track), track.name)
        except DriftError as error:
            problems.append((track, f"error: {error}"))
            continue
        if not is_up_to_date(job):
            problems.append((track, "stale" if job.layout.manifest.exists() else "missing"))
    return problems


def build(tracks: list[Planned], options: RenderOptions, jobs: int = 1,
          on_done: Callable[[TrackResult], None] | None = None, scheduler: str | None = None) -> list[TrackResult]:
    """Render every stale track (in ``jobs`` processes, or on a Dask cluster) and rewrite library.json."""
    with lock(Path(options.out_dir)):
        if scheduler:
            results = _on_cluster(tracks, options, scheduler, on_done)
        elif jobs <= 1 or len(tracks) <= 1:
            results = []
            for track in tracks:
                results.append(render_track(track.script, _options_for(options, track), name=track.name))
                if on_done:
                    on_done(results[-1])
        else:
            results = _parallel(tracks, options, jobs, on_done)
        write_library(Path(options.out_dir))
    return results


def _parallel(tracks: list[Planned], options: RenderOptions, jobs: int, on_done) -> list[TrackResult]:
    """Each worker process loads each voice once (engines are cached per process) and renders whole tracks."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(render_track, t.script, _options_for(options, t), None, t.name): i for i, t in enumerate(tracks)}
        results: list[TrackResult | None] = [None] * len(tracks)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done:
                on_done(results[futures[future]])
    return results


def _on_cluster(tracks: list[Planned], options: RenderOptions, address: str, on_done) -> list[TrackResult]:
    """The same build on a Dask distributed cluster. Workers need this project installed, the output folder
    and the clip cache on paths they all see (a shared disk); each worker process keeps its voices loaded."""
    try:
        from distributed import Client, as_completed as completed
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}", Source("--scheduler")) from None
    with client:
        futures = {client.submit(render_track, t.script, _options_for(options, t), None, t.name, pure=False): i
                   for i, t in enumerate(tracks)}
        results: list[TrackResult | None] = [None] * len(tracks)
        for future in completed(list(futures)):
            results[futures[future]] = future.result()
            if on_done:
                on_done(results[futures[future]])
    return results


def manifests(out_dir: Path) -> list[tuple[Layout, Manifest]]:
    """Every track in the output folder that has a whole, current manifest."""
    found = []
    for path in sorted(out_dir.glob("*.json")):
        if path.name != LIBRARY_NAME and (manifest := Manifest.find(path)) is not None:
            found.append((Layout(out_dir, path.stem), manifest))
    return found


def write_library(out_dir: Path) -> Path:
    """library.json: every track in the output folder, from its manifest (rendered now or before)."""
    entries = {
        layout.name: {"title": m.title, "script": m.script, "input_hash": m.input_hash, "duration_s": m.duration_s,
                      "loudness": {"integrated_lufs": m.loudness.integrated_lufs, "true_peak_dbtp": m.loudness.true_peak_dbtp},
                      "files": sorted(m.files)}
        for layout, m in manifests(out_dir)}
    if not entries and not (out_dir / LIBRARY_NAME).exists():
        return out_dir / LIBRARY_NAME  # nothing rendered yet: leave the folder as it was
    return write_json(out_dir / LIBRARY_NAME, {"renderer": __version__, "tracks": entries})


def prune(out_dir: Path, keep: set[str]) -> list[Path]:
    """Remove the outputs of tracks whose script is gone (or that no longer belong to the plan)."""
    removed = []
    for layout, manifest in manifests(out_dir):
        if layout.name in keep and Path(manifest.script).exists():
            continue
        for name in manifest.files:
            (out_dir / name).unlink(missing_ok=True)
            removed.append(out_dir / name)
        layout.manifest.unlink()
        removed.append(layout.manifest)
    return removed


@contextmanager
def lock(out_dir: Path) -> Iterator[None]:
    """One build per output folder at a time; a lock left by a dead process is cleared with a message."""
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = _lock_owner(path)
            if owner and _alive(owner):
                raise ConfigError(f"another render (pid {owner}) is writing to this folder; wait for it to finish",
                                  Source(str(out_dir))) from None
            print(f"{out_dir}: cleared a stale lock left by process {owner or '?'}, which is no longer running")
            path.unlink(missing_ok=True)
            _remove_partial_files(out_dir)
    else:
        raise ConfigError("could not take the build lock", Source(str(out_dir)))
    with os.fdopen(fd, "w") as handle:
        handle.write(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()  # a build that wrote nothing leaves no trace


def _remove_partial_files(out_dir: Path) -> None:
    """A dead build's half-written files (``atomic_path``'s hidden ``.part`` names); nobody else writes here."""
    for partial in out_dir.rglob(".*.part"):
        partial.unlink(missing_ok=True)


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
