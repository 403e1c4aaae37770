"""Progress a person can follow while a library builds: each track's stage (speech with its phrase count, mix,
master, encode, qc) as live lines on a terminal (rich), and as one line per stage per track, with the time
since the build began, in a log that is not a terminal (CI), never more often than every few seconds.

One protocol carries it from the render to whoever shows it: a ``Progress`` hears ``Event``s. The render makes
them (naming its track), a build hands them on (from worker processes over a pipe, from a Dask cluster over a
topic: ``library.build``), and the terminal, the log and the studio's page show them. A stage inside the render
only counts its own work (a ``Count``: done, total), which the render turns into events with ``counter``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TextIO

STAGES = ("speech", "mix", "master", "encode", "qc")
"""What rendering a track goes through, in order; a track then ends with its status ("rendered", "up to date"…)."""
LOG_EVERY_S = 10.0
"""In a log, a long stage's count is repeated at most this often."""


@dataclass(frozen=True)
class Event:
    """Where one track's making has got to: its stage, and how far through it (``done`` of ``total``; 0 of 0 when
    the stage has no count)."""

    track: str
    stage: str
    """One of ``STAGES``, or the track's final status."""
    done: int = 0
    total: int = 0


class Progress(Protocol):
    """What hears a track's events as it is made; every layer from the render up takes one and hands it on."""

    def __call__(self, event: Event, /) -> None: ...


def nowhere(event: Event) -> None:
    """The ``Progress`` of a caller that wants none."""


Count = Callable[[int, int], None]
"""How a stage counts its own work: (done, total), as often as it likes (``Percent`` thins it)."""


def counter(progress: Progress, track: str, stage: str) -> Count:
    """A stage's count of its work, heard as its track's events."""
    return lambda done, total: progress(Event(track, stage, done, total))


class Percent:
    """Counts the blocks of a long pass and calls ``report(done, total)`` at each whole percent, not each block:
    events may cross processes (a pipe, a Dask scheduler), and an eight-hour master is 21,000 blocks a pass."""

    def __init__(self, report: Count, total: int):
        self.report, self.total, self.done, self.said = report, max(total, 1), 0, -1

    def __call__(self, *_) -> None:
        self.done += 1
        if (percent := 100 * self.done // self.total) != self.said:
            self.said = percent
            self.report(self.done, self.total)

    def grow(self, more: int) -> None:
        """Another pass is needed: the total grows by its blocks."""
        self.total += more


@contextmanager
def reporter(total_tracks: int, quiet: bool = False, stream: TextIO | None = None) -> Iterator[Progress]:
    """Where a build's events go: nowhere when quiet, live lines on a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if quiet:
        yield nowhere
    elif stream.isatty():
        with _live(total_tracks, stream) as show:
            yield show
    else:
        yield LogLines(stream)


class LogLines:
    """One line when a track enters a stage, its count again at most every ``LOG_EVERY_S``, one when it ends."""

    def __init__(self, stream: TextIO):
        self.stream, self.started = stream, time.monotonic()
        self.last: dict[str, tuple[str, float]] = {}

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        stage, said_at = self.last.get(event.track, ("", 0.0))
        if event.stage == stage and now - said_at < LOG_EVERY_S:
            return
        self.last[event.track] = (event.stage, now)
        percent = f" {100 * event.done // event.total} %" if event.total else ""
        count = (
            {
                "speech": f" {event.done}/{event.total} phrases",
                "qc": f" of {event.total} file(s): loudness, peaks, clicks, dead air, pace, balance",
            }.get(event.stage, percent)
            if event.total
            else ""
        )
        elapsed = time.strftime("%M:%S", time.gmtime(now - self.started))
        print(f"[{elapsed}] {event.track}: {event.stage}{count}", file=self.stream, flush=True)


@contextmanager
def _live(total_tracks: int, stream: TextIO) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    columns = (
        TextColumn("{task.description:<32}"),
        TextColumn("{task.fields[stage]:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Bars(*columns, console=Console(file=stream), transient=False) as bars:
        overall = bars.add_task("library", total=total_tracks, stage="tracks")
        tasks: dict[str, int] = {}

        def show(event: Event) -> None:
            if event.track not in tasks:
                tasks[event.track] = bars.add_task(event.track, total=None, stage="")
            task = tasks[event.track]
            if event.stage in STAGES:
                bars.update(task, stage=event.stage, completed=event.done, total=event.total or None)
            else:
                bars.update(task, stage=event.stage, completed=1, total=1)
                bars.advance(overall)

        yield show
