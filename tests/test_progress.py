"""One Progress protocol: events made in forked workers, on several threads at once, reach the building process
whole and in each thread's order; and a render's stages arrive as its track's events."""

import multiprocessing
import threading

from pipeline.library.build import _from_workers
from pipeline.progress import Event, counter


def _speak(progress, track: str, count: int) -> None:
    """A worker's render, as far as progress goes: two threads (the render and an encoder) reporting at once."""
    threads = [
        threading.Thread(
            target=lambda stage=stage: [progress(Event(track, stage, n, count)) for n in range(1, count + 1)]
        )
        for stage in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_events_from_forked_workers_and_their_threads_arrive_whole_and_in_order():
    heard: list[Event] = []
    context = multiprocessing.get_context("fork")
    with _from_workers(heard.append) as to_parent:
        workers = [context.Process(target=_speak, args=(to_parent, f"track-{n}", 500)) for n in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert len(heard) == 3 * 2 * 500  # more than a pipe holds: the relay reads while they write
    for n in range(3):
        for stage in ("a", "b"):
            counts = [e.done for e in heard if e.track == f"track-{n}" and e.stage == stage]
            assert counts == list(range(1, 501))


def test_a_stage_count_is_heard_as_its_tracks_events():
    heard: list[Event] = []
    count = counter(heard.append, "session", "master")
    count(3, 10)
    assert heard == [Event("session", "master", 3, 10)]
