"""Library builds: find scripts, plan tracks (shards, personalised batches), render what is stale in
parallel, check without rendering, prune what is orphaned, and keep ``library.json`` — under a lock.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import pickle
import select
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .. import __version__
from ..errors import ConfigError, DriftError, RenderError, Source
from ..files import write_json
from ..job import RenderOptions, load_variables, prepare, staleness
from ..manifest import Layout, Manifest
from ..progress import Event, Progress, nowhere
from ..system import die_with_parent
from .track import TrackResult, render_track

log = logging.getLogger(__name__)
LOCK_NAME = ".drift.lock"
LIBRARY_NAME = "library.json"


@dataclass(frozen=True)
class Planned:
    """One track to build: a script, the variables it is personalised with, and its output name."""

    script: Path
    name: str
    variables: dict[str, str] | None = None
    vars_file: str | None = None


def plan(scripts: list[Path], vars_path: Path | None = None) -> list[Planned]:
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
    return tracks


def shard_of(tracks: list[Planned], shard: tuple[int, int] | None) -> list[Planned]:
    """The K-th of N equal shares of the tracks (every N-th, so long and short scripts spread evenly)."""
    if not shard:
        return tracks
    index, count = shard
    return [t for n, t in enumerate(tracks) if n % count == index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    parts = text.split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not 1 <= int(parts[0]) <= int(parts[1]):
        raise ConfigError(f"--shard: '{text}' must be K/N with 1 ≤ K ≤ N, like 2/4")
    return int(parts[0]), int(parts[1])


def _options_for(options: RenderOptions, track: Planned) -> RenderOptions:
    return replace(options, variables=track.variables) if track.variables is not None else options


def check(tracks: list[Planned], options: RenderOptions) -> list[tuple[Planned, str]]:
    """What a build would render, and why ('missing', 'stale', 'failed qc', 'unchecked' or an error), rendering
    nothing."""
    problems = []
    for track in tracks:
        try:
            job = prepare(track.script, _options_for(options, track), track.name)
        except DriftError as error:
            problems.append((track, f"error: {error}"))
            continue
        if why := staleness(job):
            problems.append((track, why))
    return problems


def build(
    tracks: list[Planned],
    options: RenderOptions,
    jobs: int = 1,
    on_done: Callable[[TrackResult], None] | None = None,
    scheduler: str | None = None,
    prune_against: list[Planned] | None = None,
    on_removed: Callable[[Path], None] | None = None,
    on_progress: Progress | None = None,
) -> list[TrackResult]:
    """Render every stale track (in ``jobs`` processes, or on a Dask cluster) and rewrite library.json, under the
    folder's lock. With ``prune_against`` (the whole library's plan, every shard), first remove what it orphans.
    ``on_progress`` hears each track's stages and its end (from worker processes and cluster workers too)."""
    progress, finished, ended = on_progress or nowhere, on_done or (lambda result: None), set()

    def heard(event: Event) -> None:
        if event.track not in ended:  # events from another process can arrive after the track's result
            progress(event)

    def done(track: Planned, result: TrackResult) -> None:
        ended.add(track.name)
        progress(Event(track.name, result.status))
        finished(result)

    with lock(Path(options.out_dir)):
        if prune_against is not None:
            for path in prune(Path(options.out_dir), prune_against):
                if on_removed:
                    on_removed(path)
        if scheduler:
            results = _on_cluster(tracks, options, scheduler, done, heard)
        elif jobs <= 1 or len(tracks) <= 1:
            results = []
            for track in tracks:
                results.append(render_track(track.script, _options_for(options, track), heard, track.name))
                done(track, results[-1])
        else:
            results = _parallel(tracks, options, jobs, done, heard)
        write_library(Path(options.out_dir))
    return results


@dataclass(frozen=True)
class PipeProgress:
    """A forked worker's ``Progress``: each event goes back to the building process as one write to a pipe the
    worker inherited (a queue cannot travel with a task; the pipe's number can). A write of at most ``PIPE_BUF``
    bytes is atomic, so events from several workers and their encoders' threads never interleave."""

    fd: int

    def __call__(self, event: Event) -> None:
        data = pickle.dumps(event)
        if len(data) + 4 <= select.PIPE_BUF:  # an event is a hundred bytes; a longer one is not worth splitting
            os.write(self.fd, len(data).to_bytes(4, "little") + data)


@contextmanager
def _from_workers(progress: Progress) -> Iterator[PipeProgress]:
    """The ``Progress`` for workers forked inside this block: what they write, a thread here hands to ``progress``."""
    read_fd, write_fd = os.pipe()

    def relay() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            try:
                while size := int.from_bytes(pipe.read(4), "little"):  # a size of 0 (or the pipe's end) ends it
                    progress(pickle.loads(pipe.read(size)))
            except BaseException:
                while pipe.read(1 << 16):  # progress failed here: still, no worker may block on a full pipe
                    pass
                raise

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        yield PipeProgress(write_fd)
    finally:
        os.write(write_fd, bytes(4))
        thread.join(timeout=5)
        os.close(write_fd)


def _parallel(
    tracks: list[Planned], options: RenderOptions, jobs: int, on_done, progress: Progress
) -> list[TrackResult]:
    """Each worker process loads each voice once (engines are cached per process) and renders whole tracks; their
    events come back over a pipe (``PipeProgress``).

    Workers are forked, so they hold the build lock with us, and die with us (``die_with_parent``)."""
    context = multiprocessing.get_context("fork")
    with _from_workers(progress) as to_parent:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=die_with_parent)
        with pool:
            futures = {
                pool.submit(render_track, t.script, _options_for(options, t), to_parent, t.name): i
                for i, t in enumerate(tracks)
            }
            results: list[TrackResult | None] = [None] * len(tracks)
            try:
                for future in as_completed(futures):
                    index = futures[future]
                    results[index] = future.result()
                    on_done(tracks[index], results[index])
            except BrokenProcessPool:
                raise RenderError(
                    "a render worker was killed (out of memory?); what it was writing was not kept, "
                    "and the tracks it had not finished render again next time"
                ) from None
    return results


@dataclass(frozen=True)
class TopicProgress:
    """A Dask worker's ``Progress``: events go to the client as structured events on the build's own topic. It
    holds its worker, found in the task's thread: events also come from the encoders' threads, where Dask cannot
    find it."""

    worker: object
    topic: str

    def __call__(self, event: Event) -> None:
        self.worker.log_event(self.topic, (event.track, event.stage, event.done, event.total))


def _render_on_worker(script: Path, options: RenderOptions, name: str, topic: str) -> TrackResult:
    """``render_track`` as a Dask task, its events sent on ``topic``."""
    from distributed import get_worker

    return render_track(script, options, TopicProgress(get_worker(), topic), name)


def _on_cluster(
    tracks: list[Planned], options: RenderOptions, address: str, on_done, progress: Progress
) -> list[TrackResult]:
    """The same build on a Dask distributed cluster. Workers need this project installed, the output folder
    and the clip cache on paths they all see (a shared disk); each worker process keeps its voices loaded.
    Stages come back as Dask's structured events on a topic of this build's own."""
    try:
        from distributed import Client
        from distributed import as_completed as completed
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}", Source("--scheduler")) from None
    topic = f"drift-progress-{uuid.uuid4().hex}"

    with client:
        client.subscribe_topic(topic, lambda message: progress(Event(*message[1])))  # message: (time, event)
        futures = {
            client.submit(_render_on_worker, t.script, _options_for(options, t), t.name, topic, pure=False): i
            for i, t in enumerate(tracks)
        }
        results: list[TrackResult | None] = [None] * len(tracks)
        for future in completed(list(futures)):
            index = futures[future]
            results[index] = future.result()
            on_done(tracks[index], results[index])
        client.unsubscribe_topic(topic)
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
        layout.name: {
            "title": m.title,
            "script": m.script,
            "input_hash": m.input_hash,
            "duration_s": m.duration_s,
            "qc": m.qc_status,
            "loudness": {"integrated_lufs": m.loudness.integrated_lufs, "true_peak_dbtp": m.loudness.true_peak_dbtp},
            "files": sorted(m.files),
        }
        for layout, m in manifests(out_dir)
    }
    if not entries and not (out_dir / LIBRARY_NAME).exists():
        return out_dir / LIBRARY_NAME  # nothing rendered yet: leave the folder as it was
    return write_json(out_dir / LIBRARY_NAME, {"renderer": __version__, "tracks": entries})


def prune(out_dir: Path, library: list[Planned]) -> list[Path]:
    """Remove the outputs of tracks the library no longer makes: their script is gone, or their script is in the
    library but no longer makes a track of that name (a listener's variables file removed). ``library`` is the
    whole plan, every shard's tracks, so one shard never removes another's."""
    names = {t.name for t in library}
    scripts = {Path(t.script).resolve() for t in library}
    removed = []
    for layout, manifest in manifests(out_dir):
        script = Path(manifest.script)
        if script.exists() and (layout.name in names or script.resolve() not in scripts):
            continue
        for name in manifest.files:
            (out_dir / name).unlink(missing_ok=True)
            removed.append(out_dir / name)
        layout.manifest.unlink()
        removed.append(layout.manifest)
    return removed


@contextmanager
def lock(out_dir: Path) -> Iterator[None]:
    """One build per output folder at a time, by an OS lock (``flock``) that dies with its holder.

    Worker processes share it (they are forked holding it), so the folder is free only once every one of them
    is gone. The holder's PID and start time are written in the file for the message a second build prints; a
    file left with a name in it means its holder died, and the dead build's half-written files are cleared (a
    warning on the ``pipeline.library.build`` log says so, as the caches report what they discard).
    """
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, stale = _take_lock(out_dir / LOCK_NAME, out_dir)
    except OSError as exc:
        raise ConfigError(f"cannot write here: {exc.strerror}", Source(str(exc.filename or out_dir))) from None
    if stale:
        log.warning("%s: cleared a stale lock left by %s, which is no longer running", out_dir, stale)
        _remove_partial_files(out_dir)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    try:
        yield
    finally:
        (out_dir / LOCK_NAME).unlink(missing_ok=True)  # before the lock is let go: a later build finds no name
        os.close(fd)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()  # a build that wrote nothing leaves no trace


def _take_lock(path: Path, out_dir: Path) -> tuple[int, str]:
    """The locked file's descriptor, and who held it before if they died holding it ("" if nobody)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "starting"
            os.close(fd)
            raise ConfigError(
                f"another render ({holder}) is writing to this folder; wait for it to finish", Source(str(out_dir))
            ) from None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:  # not a file its holder removed while we opened it
                return fd, os.pread(fd, 200, 0).decode(errors="replace").strip()
        except FileNotFoundError:
            pass
        os.close(fd)


def _remove_partial_files(out_dir: Path) -> None:
    """A dead build's half-written files (``atomic_path``'s hidden ``.part`` names); nobody else writes here."""
    for unfinished in out_dir.rglob(".*.part"):
        unfinished.unlink(missing_ok=True)
