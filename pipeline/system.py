"""The operating-system edge: child processes that die with the build that started them.

A render's worker processes and encoders must never outlive it: a killed
build that left workers synthesising and writing would race the next build
for the same files. On Linux the kernel ends them (``PR_SET_PDEATHSIG``); the
build lock is shared with the workers, so it is free only once they are gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (a no-op where the kernel cannot)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)
