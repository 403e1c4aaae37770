"""Engine sessions shared between the threads that speak phrases: each thread borrows one no other is using."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

Session = TypeVar("Session")


class SessionPool(Generic[Session]):
    """One single-threaded session per core: two phrases at once on two cores beat one two-threaded session
    (short phrases parallelise poorly inside a model)."""

    def __init__(self, sessions: list[Session]):
        self.size = len(sessions)
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for session in sessions:
            self._free.put(session)
        self._make: Callable[[], Session] | None = None
        self._made = threading.Lock()

    @classmethod
    def lazy(cls, make: Callable[[], Session], size: int) -> SessionPool[Session]:
        """A pool whose ``size`` sessions are made by ``make`` when one is first borrowed: a render whose every
        phrase is cached never loads the model (3–10 s of onnxruntime start-up on two cores)."""
        pool = cls([])
        pool.size, pool._make = size, make
        return pool

    def _fill(self) -> None:
        with self._made:
            if self._make is not None:
                for _ in range(self.size):
                    self._free.put(self._make())
                self._make = None

    @contextmanager
    def narrowed_to_one(self) -> Iterator[Session]:
        """Hold back every session but one, which stays in the pool and is yielded: for measuring a session's
        own cost on the same session from both sides (the render benchmark)."""
        self._fill()
        held = [self._free.get() for _ in range(self.size)]
        self._free.put(held[0])
        try:
            yield held[0]
        finally:
            self._free.get()
            for session in held:
                self._free.put(session)

    @contextmanager
    def borrow(self) -> Iterator[Session]:
        if self._make is not None:
            self._fill()
        session = self._free.get()
        try:
            yield session
        finally:
            self._free.put(session)


def single_threaded_session(model_path: Path, config: dict[str, str] | None = None):
    """An onnxruntime session on one thread, on the CPU (a pool gives each core its own); ``config``: session
    config entries (``add_session_config_entry``)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return onnxruntime.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
