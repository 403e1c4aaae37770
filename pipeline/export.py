"""Master → files: encoded audio and the track manifest, written atomically.

This module owns the bytes on disk. Every file is written to a temporary name
in its destination folder and renamed into place only when complete, so an
interrupted render never leaves a half-written track behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from .errors import ConfigError, RenderError
from .blocks import spans
from .files import atomic_path

FORMATS: dict[str, dict] = {
    "flac": {"format": "FLAC", "subtype": "PCM_24"},
    "wav": {"format": "WAV", "subtype": "PCM_24"},
    # libsndfile's LAME: constant bitrate, compression_level 0.2 ≈ 256 kbps at 48 kHz.
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III", "bitrate_mode": "CONSTANT", "compression_level": 0.2},
}
DEFAULT_FORMATS = ("flac", "mp3")


def check_formats(names: list[str] | tuple[str, ...], setting: str = "--format") -> tuple[str, ...]:
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ConfigError(f"{setting}: unknown format '{unknown[0]}' (available: {', '.join(FORMATS)})")
    return tuple(dict.fromkeys(names))


def write_audio(path: Path, audio: np.ndarray, rate: int, fmt: str) -> Path:
    """Encode ``audio`` (an array or a memory map) block by block into ``path``, atomically."""
    settings = dict(FORMATS[fmt])
    extra = {k: settings.pop(k) for k in ("bitrate_mode", "compression_level") if k in settings}
    try:
        with atomic_path(path) as tmp:
            with soundfile.SoundFile(tmp, "w", rate, audio.shape[1], **settings, **extra) as encoder:
                for start, end in spans(len(audio)):
                    encoder.write(np.asarray(audio[start:end]))
    except (soundfile.LibsndfileError, OSError) as exc:
        raise RenderError(f"cannot write {fmt.upper()}: {exc}", None) from exc
    return path


def write_json(path: Path, data: dict) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
