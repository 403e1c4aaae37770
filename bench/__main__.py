from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import (
    bench_beds,
    bench_chain,
    bench_draft,
    bench_faults,
    bench_library,
    bench_master,
    bench_mp3,
    bench_preview,
    bench_qc,
    bench_render,
    bench_stages,
    bench_startup,
    bench_studio,
    bench_tests,
    bench_voices,
)

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = {
    "master": bench_master.run,
    "render": bench_render.run,
    "chain": bench_chain.run,
    "library": bench_library.run,
    "beds": bench_beds.run,
    "preview": bench_preview.run,
    "qc": bench_qc.run,
    "faults": bench_faults.run,
    "voices": bench_voices.run,
    "float-model": bench_voices.models,
    "tests": bench_tests.run,
    "draft": bench_draft.run,
    "studio": bench_studio.run,
    "startup": bench_startup.run,
    "stages": bench_stages.run,
    "mp3-segments": bench_mp3.run,
}


def main(names: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    for name in names or list(BENCHMARKS):
        started = time.strftime("%Y-%m-%dT%H:%M:%S")
        result = {"benchmark": name, "started": started, **BENCHMARKS[name]()}
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


main(sys.argv[1:])
