"""Faults, counted: kill a library build at random moments and check what is left; run a render beside cache
maintenance in a loop. Goals (issue 16): 0 failures of 20 kills, 0 failures of the concurrent loop.

After each kill (the main process alone, or the whole process group, alternately): no process of ours is still
alive, no file under a final name is partial (every manifest's SHA-256 matches its files, every audio file
decodes), the next build succeeds, and ``--check`` then passes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile

from pipeline.files import file_sha256
from pipeline.manifest import Manifest
from tests.conftest import processes_with  # the tests' own look at what of a build still runs

KILLS = int(os.environ.get("DRIFT_BENCH_KILLS", 20))
LOOP_S = 60.0
SCRIPT = """---
title: Fault bench {n}
voice: steady
---
## Arrival
{body}
"""


def _library(scripts: Path, edition: int) -> Path:
    """Three scripts; each edition changes one phrase of each, so every track is stale and the build has work."""
    scripts.mkdir(exist_ok=True)
    for n in range(3):
        body = "\n".join(f"Breath {n} {k}, slow and easy. [pause 8s]" for k in range(8))
        (scripts / f"track-{n}.txt").write_text(SCRIPT.format(n=n, body=f"{body}\nEdition {edition}."))
    return scripts


def _whole(out: Path) -> list[str]:
    """What is wrong with the visible files: a manifest whose files differ from it, or audio that does not decode."""
    problems = []
    for manifest_path in out.glob("*.json"):
        if manifest_path.name == "library.json":
            continue
        manifest = Manifest.find(manifest_path)
        if manifest is None:
            problems.append(f"{manifest_path.name}: unreadable")
            continue
        for name, record in manifest.files.items():
            if not (out / name).is_file() or file_sha256(out / name) != record.sha256:
                problems.append(f"{name}: differs from its manifest")
    for audio in out.glob("*.flac"):
        try:
            soundfile.info(audio)
        except RuntimeError as exc:
            problems.append(f"{audio.name}: {exc}")
    return problems


def kills(root: Path, scripts: Path) -> dict:
    out, cache = root / "out", root / "cache"
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "render",
        str(scripts),
        "-o",
        str(out),
        "--cache",
        str(cache),
        "--jobs",
        "2",
        "--format",
        "flac",
        "-q",
    ]
    subprocess.run(command, capture_output=True)  # warm the clip cache: the kills then land in mixing and encoding
    rng, failures, moments = random.Random(0), [], []
    for attempt in range(KILLS):
        whole_group = attempt % 2 == 1
        _library(scripts, attempt + 1)
        build = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        moment = rng.uniform(0.5, 12.0)
        moments.append(round(moment, 2))
        time.sleep(moment)
        if whole_group:
            os.killpg(build.pid, signal.SIGKILL)
        else:
            build.kill()
        build.wait()
        deadline = time.time() + 10
        while processes_with(str(out)) and time.time() < deadline:
            time.sleep(0.1)
        stray = processes_with(str(out))
        partial = _whole(out)
        rerun = subprocess.run(command, capture_output=True, text=True)
        check = subprocess.run(command + ["--check"], capture_output=True, text=True)
        problem = ([f"{len(stray)} stray processes"] if stray else []) + partial
        problem += [f"next build failed: {rerun.stderr.strip()[-300:]}"] if rerun.returncode else []
        problem += [f"--check failed: {(check.stdout + check.stderr).strip()[-300:]}"] if check.returncode else []
        problem += [f"after the next build: {p}" for p in _whole(out)]
        if problem:
            failures.append(
                {"kill": attempt, "whole_group": whole_group, "after_s": round(moment, 2), "problems": problem}
            )
    return {"kills": KILLS, "failures": len(failures), "failed": failures, "kill_moments_s": moments}


def concurrent(root: Path, scripts: Path) -> dict:
    """Render (forced, cold clips for an edited script) while `cache prune --older-than 0d` runs in a loop."""
    cache, out = root / "loop-cache", root / "loop-out"
    prune = [sys.executable, "-m", "pipeline", "cache", "prune", "--older-than", "0d", "--cache", str(cache)]
    renders = failures = 0
    errors: list[str] = []
    deadline = time.time() + LOOP_S
    pruner = subprocess.Popen(
        ["bash", "-c", f"while true; do {' '.join(prune)} >/dev/null || echo PRUNE FAILED; done"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        while time.time() < deadline:
            render = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "render",
                    str(scripts),
                    "-o",
                    str(out),
                    "--cache",
                    str(cache),
                    "--jobs",
                    "2",
                    "--format",
                    "flac",
                    "--force",
                    "-q",
                ],
                capture_output=True,
                text=True,
            )
            renders += 1
            if render.returncode:
                failures += 1
                errors.append(render.stderr.strip()[-300:])
    finally:
        os.killpg(pruner.pid, signal.SIGKILL)
        output = pruner.communicate()[0]
    prunes = output.count("PRUNE FAILED")
    return {
        "seconds": LOOP_S,
        "renders": renders,
        "render_failures": failures,
        "prune_failures": prunes,
        "errors": errors[:3],
    }


def run() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scripts = _library(root / "scripts", 0)
        return {
            "kills": kills(root, scripts),
            "render_beside_cache_prune": concurrent(root, scripts),
            "note": "goal: 0 failures of 20 kills (main process alone and whole group, alternately), "
            "0 failures in the concurrent loop",
        }
