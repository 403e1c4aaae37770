"""Speaking ahead: while a person reads a script in the studio, its phrases are spoken with the draft voice into the
clip cache, so that "Preview this section" (which places every phrase of the script before it mixes the section)
and a draft render find them said.

It runs in a process of its own at a lower priority (``worker --speak``): typing and lint come first on a busy
machine, and the memory that speaking a whole script takes goes back when it ends instead of staying with the
server. One at a time, for the script the page has open: opening another ends it. A preview of the script being
spoken waits for it rather than speaking the same phrases a second time; a preview of another script ends it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

WAIT_FOR_IT_S = 600.0
"""The longest a preview waits for its script's phrases to be spoken ahead before it speaks the rest itself."""


class Warmer:
    def __init__(self, cache_dir: Path | None):
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._process: subprocess.Popen | None = None

    def want(self, path: Path) -> None:
        """Speak this script's phrases ahead (ending any other script's). Without a clip cache there is nowhere to
        keep them, and nothing is done."""
        if self.cache_dir is None:
            return
        path = Path(path)
        with self._lock:
            self._end()  # another script, or this one changed: start from what it says now
            command = [
                sys.executable,
                "-m",
                "pipeline.studio.worker",
                str(path),
                "--speak",
                "--cache",
                str(self.cache_dir),
            ]
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._path = path

    def settle(self, path: Path) -> None:
        """Before a preview of ``path``: wait for its phrases if they are being spoken, else end what is."""
        with self._lock:
            process, speaking = self._process, self._path
        if process is None or process.poll() is not None:
            return
        if speaking == Path(path):
            try:
                process.wait(WAIT_FOR_IT_S)
                return
            except subprocess.TimeoutExpired:
                pass
        with self._lock:
            if self._process is process:
                self._end()

    def speaking(self) -> Path | None:
        """The script being spoken ahead now, if any."""
        with self._lock:
            return self._path if self._process is not None and self._process.poll() is None else None

    def stop(self) -> None:
        with self._lock:
            self._end()

    def _end(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process, self._path = None, None
