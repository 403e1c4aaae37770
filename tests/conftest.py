"""Shared fixtures: an independent loudness meter (ffmpeg's ebur128), what of a build is still running, and one
real render."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Ebur128:
    integrated_lufs: float
    true_peak_dbtp: float
    range_lu: float


def ebur128(path: Path) -> Ebur128:
    """Measure a file with ffmpeg's ebur128 filter (libavfilter's own BS.1770 meter)."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostats",
        "-hide_banner",
        "-i",
        str(path),
        "-filter_complex",
        "ebur128=peak=true:framelog=verbose",
        "-f",
        "null",
        "-",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    summary = output[output.rindex("Summary:") :]

    def number(label: str) -> float:
        return float(re.search(rf"{label}:\s+(-?[\d.]+|-inf)", summary).group(1))

    return Ebur128(number("I"), number("Peak"), number("LRA"))


def processes_with(marker: str) -> list[int]:
    """The processes whose command line holds ``marker`` (a build's own output folder, say): what of a build is
    still alive. Linux only (reads /proc); elsewhere nothing is found."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue  # ended while we looked
    return found


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clip-cache")


@pytest.fixture(scope="session")
def short_render(cache_dir, tmp_path_factory):
    """The short fixture rendered once through every stage, with the intermediate values kept."""
    from pipeline.job import RenderOptions, prepare
    from pipeline.render import render
    from pipeline.speech import ClipCache

    job = prepare(FIXTURES / "short.txt", RenderOptions(out_dir=tmp_path_factory.mktemp("build")))
    rendered = render(job, ClipCache(cache_dir))
    return {
        "job": job,
        "clips": rendered.clips,
        "timeline": rendered.timeline,
        "stems": rendered.stems,
        "master": rendered.master,
    }
