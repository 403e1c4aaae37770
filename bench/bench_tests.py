"""The test suite's own time: `pytest --durations=15` into bench/results/tests.txt, and its totals here, so a
suite that grows slow is seen in the results like any other benchmark."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def run() -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=15"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    seconds = time.perf_counter() - start
    (RESULTS / "tests.txt").write_text(done.stdout + done.stderr)
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", done.stdout)}
    slowest = re.findall(r"^(\d+\.\d+)s (call|setup|teardown)\s+(\S+)", done.stdout, re.MULTILINE)
    return {
        "exit_code": done.returncode,
        "counts": counts,
        "suite_s": round(seconds, 1),
        "slowest": [{"seconds": float(s), "phase": phase, "test": name} for s, phase, name in slowest[:5]],
        "note": "the whole output, with the 15 slowest steps, is in tests.txt",
    }
