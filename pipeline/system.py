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


def exit_without_teardown(code: int | str | None) -> None:
    """Leave the process now, as ``sys.exit(code)`` would, but without the interpreter's teardown.

    Tearing down a thousand imported modules (scipy, onnxruntime, pedalboard…) and collecting their objects took
    2–3 s after a render had finished, with nothing left to do. Everything that needs the end still gets it: the
    atexit handlers run (thread pools join, logging flushes, temporary folders go) and the standard streams are
    flushed; only the freeing of memory that the kernel reclaims anyway is skipped.
    """
    import atexit
    import threading

    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)  # a profiler or debugger writes its findings once the interpreter unwinds: let it
    threading._shutdown()  # what the interpreter does first: threads still working finish, thread pools join
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed, or a broken pipe: nothing more can reach it
            pass
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr, flush=True)  # as sys.exit("message") prints it
        status = 1
    os._exit(status & 0xFF)
