"""A static picture of a rendered track for CI artifacts and reviews: waveform per stem, loudness over time
against the target, section markers, and the breath clock's out-breaths under the voice. Reads only the
finished files (as ``drift qc`` does, every format it reads) and the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ConfigError, Source
from .export.decode import decoded
from .files import atomic_path
from .manifest import STEM_NAMES, Layout, Manifest
from .pictures import loudness_series, waveform


def plot_track(track: Path, out: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not track.is_file():
        raise ConfigError("no such track", Source(str(track)))
    layout, _ = Layout.of_file(track)
    manifest = Manifest.read(layout.manifest)
    stems = {"mix": track} | {name: p for name in STEM_NAMES if (p := layout.stem(name)).is_file()}
    rows = len(stems) + 1
    figure, axes = plt.subplots(rows, 1, figsize=(12, 1.6 * rows + 1), sharex=True, constrained_layout=True)
    duration = manifest.duration_s
    for axis, (name, path) in zip(axes, stems.items()):
        audio = decoded(path)
        peaks = np.array(waveform(audio))
        times = np.linspace(0, duration, len(peaks))
        axis.fill_between(times, peaks[:, 0], peaks[:, 1], color="#7a6a4a" if name != "mix" else "#333333", linewidth=0)
        axis.set_ylabel(name)
        axis.set_ylim(-1, 1)
        if name == "voice" or (name == "mix" and "voice" not in stems):
            for onset in manifest.exhale_onsets_s:  # the clock a synced phrase starts on
                axis.axvline(onset, ymin=0, ymax=0.12, color="#48a868", linewidth=1.0)
            axis.text(1.0, 0.02, "▮ exhale onsets", color="#48a868", fontsize=7, ha="right", transform=axis.transAxes)
        if name == "mix":
            series = np.array(loudness_series(audio))
    loudness = axes[-1]
    if len(series):
        loudness.plot(series[:, 0], series[:, 1], color="#333333", linewidth=1, label="short-term loudness")
    target = manifest.loudness.target
    loudness.axhline(
        target, color="#c0392b", linestyle="--", linewidth=1, label=f"target {target:g} {manifest.loudness.target_unit}"
    )
    loudness.set_ylabel("short-term loudness (LUFS)")
    loudness.set_ylim(target - 25, target + 8)
    loudness.legend(loc="lower right", fontsize=8)
    for axis in axes:
        for section in manifest.sections:
            axis.axvline(section.start_s, color="#2e86c1", linewidth=0.8)
    for section in manifest.sections:
        axes[0].text(section.start_s, 1.05, section.name, fontsize=8, transform=axes[0].get_xaxis_transform())
    axes[-1].set_xlabel("seconds")
    figure.suptitle(
        f"{manifest.title}   integrated {manifest.loudness.integrated_lufs:.1f} LUFS   "
        f"true peak {manifest.loudness.true_peak_dbtp:.1f} dBTP"
    )
    out = out or track.with_suffix(".png")
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return out
