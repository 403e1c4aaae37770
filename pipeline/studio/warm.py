"""Speaking ahead: while a person reads a script in the studio, its phrases are spoken with the draft voice into the
clip cache, so that "Preview this section" (which places every phrase of the script before it mixes the section)
and a draft render find them said.

One thread does it, for the script the page has open (a newer one supersedes it within a phrase), and never at the
same time as a preview: both take ``speaking``, so a preview asked for while its script is being spoken waits for
the phrases to be there instead of speaking them a second time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import DriftError
from ..job import RenderOptions, prepare
from ..speech import ClipCache, synthesize


class _Superseded(Exception):
    pass


class Warmer:
    def __init__(self, cache_dir: Path | None):
        self.cache_dir = cache_dir
        self.speaking = threading.Lock()
        """Held while phrases are spoken: by the warmer, or by a preview."""
        self._state = threading.Condition()
        self._wanted: Path | None = None
        self._generation = 0
        self._thread: threading.Thread | None = None
        self.spoken: list[Path] = []
        """Scripts whose every phrase is in the cache (for the tests and the benchmark)."""

    def want(self, path: Path) -> None:
        """Speak this script's phrases next (dropping any other script's not yet spoken). Without a clip cache there
        is nowhere to keep them, and nothing is done."""
        if self.cache_dir is None:
            return
        with self._state:
            self._wanted, self._generation = Path(path), self._generation + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="studio-warmer", daemon=True)
                self._thread.start()
            self._state.notify()

    def wanted_now(self) -> tuple[Path, ...]:
        """The script being (or about to be) spoken ahead, if any."""
        with self._state:
            return (self._wanted,) if self._wanted is not None else ()

    def drop(self) -> None:
        """Stop speaking ahead (a preview of another script needs the cores)."""
        with self._state:
            self._wanted, self._generation = None, self._generation + 1

    def idle(self, timeout_s: float) -> bool:
        """Wait until nothing is wanted or being spoken."""
        with self._state:
            return self._state.wait_for(lambda: self._wanted is None, timeout_s)

    def _run(self) -> None:
        while True:
            with self._state:
                self._state.wait_for(lambda: self._wanted is not None)
                path, generation = self._wanted, self._generation
            try:
                with self.speaking:
                    self._speak(path, generation)
                self.spoken.append(path)
            except (_Superseded, DriftError, OSError, ValueError):
                pass  # superseded, or not speakable yet (lint says why on the page)
            with self._state:
                if self._generation == generation:
                    self._wanted = None
                self._state.notify_all()

    def _speak(self, path: Path, generation: int) -> None:
        def progress(done: int, total: int) -> None:
            if self._generation != generation:
                raise _Superseded()  # the phrases not yet begun are cancelled

        job = prepare(path, RenderOptions(cache_dir=self.cache_dir, draft=True))
        synthesize(job.script, job.voices, ClipCache(self.cache_dir), progress, job.pace_wpm)
