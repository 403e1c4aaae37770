"""How long the command takes to start: ``drift --help`` and ``drift lint`` of a one-line script, each the fastest
of several runs in a fresh process, beside a bare ``python -c pass`` and ``import numpy`` measured the same way
(the floor under the first, the largest import left under the second). Goal (issue 26): both under 0.3 s.

Also counts the modules each command imports, and names the heavy ones among them: a slow start shows up there
first, and that count does not depend on how busy the machine is."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.test_startup import HEAVY  # the modules the start-up tests keep off the command's path

RUNS = 7
_MODULES = """import atexit, runpy, sys, json
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["drift", *{args!r}]
runpy.run_module("pipeline", run_name="__main__")"""
"""The modules a command imported, printed at exit: ``drift`` leaves without the interpreter's teardown, and
only its atexit handlers run after the command."""


def _fastest(command: list[str]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return round(best, 3)


def _imported(args: list[str]) -> list[str]:
    run = subprocess.run([sys.executable, "-c", _MODULES.format(args=args)], capture_output=True, text=True, check=True)
    return json.loads(run.stderr.strip().splitlines()[-1])


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "one.txt"
        script.write_text("Breathe in, and let the breath go.\n")
        commands = {"help": ["--help"], "lint": ["lint", str(script)]}
        result = {
            "runs": RUNS,
            "python_s": _fastest([sys.executable, "-c", "pass"]),
            "import_numpy_s": _fastest([sys.executable, "-c", "import numpy"]),
        }
        for name, args in commands.items():
            result[f"{name}_s"] = _fastest([sys.executable, "-m", "pipeline", *args])
            modules = _imported(args)
            result[f"{name}_modules"] = len(modules)
            result[f"{name}_heavy"] = [m for m in HEAVY if m in modules]
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
