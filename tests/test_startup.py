"""The command starts at once: building its command tree imports nothing heavy, and ``drift lint`` imports no
part of the render path. Each check runs in a fresh interpreter and reads ``sys.modules``; how long that takes is
measured in bench/bench_startup.py, never here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "numpy",
    "scipy",
    "scipy.signal",
    "soundfile",
    "soxr",
    "pedalboard",
    "rich",
    "starlette",
    "uvicorn",
    "onnxruntime",
    "kokoro_onnx",
    "torch",
    "yaml",
    "ftfy",
    "num2words",
    "defusedxml",
    "mutagen",
    "matplotlib",
    "feedgen",
    "distributed",
)
"""Third-party modules that take tens of milliseconds to a second to import; scipy.signal alone took a second."""
RENDER_PATH = (
    "pipeline.render",
    "pipeline.mix",
    "pipeline.master",
    "pipeline.beds",
    "pipeline.export",
    "pipeline.qc",
    "pipeline.library",
    "pipeline.job",
    "pipeline.speech",
    "pipeline.progress",
)


def _modules_after(code: str) -> set[str]:
    """``sys.modules`` once ``code`` has run in a fresh interpreter: read at exit, because ``drift`` leaves
    without the interpreter's teardown (only the atexit handlers run)."""
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        f"{code}"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    return set(json.loads(run.stderr.strip().splitlines()[-1]))


def _modules_after_command(*args: str) -> set[str]:
    return _modules_after(f"""import sys
sys.argv = ["drift", *{list(args)!r}]
from pipeline.cli import main
try:
    main()
except SystemExit:
    pass""")


def test_importing_the_cli_imports_nothing_heavy():
    loaded = _modules_after("import pipeline.cli")
    assert "pipeline.cli" in loaded
    assert sorted(loaded & {*HEAVY, *RENDER_PATH}) == []


def test_help_imports_nothing_heavy():
    loaded = _modules_after_command("--help")
    assert "click" in loaded
    assert sorted(loaded & {*HEAVY, *RENDER_PATH}) == []


def test_lint_of_a_script_imports_neither_the_signal_libraries_nor_the_render_path(tmp_path):
    script = tmp_path / "one.txt"
    script.write_text("Breathe in, and let the breath go.\n")
    loaded = _modules_after_command("lint", str(script))
    assert "pipeline.job" in loaded  # lint did run
    heavy = {
        "scipy",
        "scipy.signal",
        "soundfile",
        "soxr",
        "pedalboard",
        "rich",
        "starlette",
        "onnxruntime",
        "kokoro_onnx",
        "torch",
        "ftfy",
        "num2words",
        "defusedxml",
        "mutagen",
    }
    render = {"pipeline.render", "pipeline.mix", "pipeline.library", "pipeline.qc"}
    assert sorted(loaded & (heavy | render)) == []


@pytest.mark.slow
def test_the_signal_libraries_are_still_there_when_a_track_is_measured():
    """The other side: measuring loudness still imports what it needs, on first use."""
    loaded = _modules_after(
        "import numpy as np\nfrom pipeline.loudness import measure\nmeasure(np.zeros((48_000, 2), dtype=np.float32))"
    )
    assert "scipy.signal" in loaded
