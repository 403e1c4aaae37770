"""Encoded audio: FLAC, WAV, Opus and Vorbis through libsndfile; MP3 through pedalboard's LAME; M4A/AAC through
ffmpeg at the edge."""

from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from ..blocks import spans
from ..errors import ConfigError, RenderError
from ..files import atomic_path
from .tags import Tags, ffmetadata, tag_file

FORMATS: dict[str, dict] = {
    "flac": {"format": "FLAC", "subtype": "PCM_24"},
    "wav": {"format": "WAV", "subtype": "PCM_24"},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},  # three times faster to encode than Opus here: the preview's format
    # LAME at a constant 256 kbps, through pedalboard: the same encoder and output as libsndfile's (54 dB SNR,
    # gapless header) in a third of the time, and the MP3 was half of every render.
    "mp3": {"quality": "256"},
    "m4a": {},  # AAC in MP4: libsndfile has no encoder, so ffmpeg (from imageio-ffmpeg) makes it
}
M4A_BITRATE = "192k"
DEFAULT_FORMATS = ("flac", "mp3")


def check_formats(names: list[str] | tuple[str, ...], setting: str = "--format") -> tuple[str, ...]:
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ConfigError(f"{setting}: unknown format '{unknown[0]}' (available: {', '.join(FORMATS)})")
    return tuple(dict.fromkeys(names))


def write_audio(path: Path, audio: np.ndarray, rate: int, fmt: str, tags: Tags | None = None) -> Path:
    """Encode ``audio`` (an array or a disk array) block by block into ``path``, tag it, then move it into place."""
    try:
        with atomic_path(path) as tmp:
            if fmt == "m4a":
                _encode_m4a(tmp, audio, rate, tags)
            elif fmt == "mp3":
                _encode_mp3(tmp, audio, rate)
            else:
                _encode_libsndfile(tmp, audio, rate, fmt)
            if tags is not None:
                tag_file(tmp, fmt, tags)
    except (soundfile.LibsndfileError, OSError) as exc:
        raise RenderError(f"cannot write {path.name}: {exc}", None) from exc
    return path


@dataclass(frozen=True)
class Encoding:
    """One file to write: what ``write_audio`` takes, as a value."""

    path: Path
    audio: np.ndarray
    fmt: str
    tags: Tags | None = None


def write_all(encodings: list[Encoding], rate: int) -> list[Path]:
    """Write several files at once. The encoders (LAME, FLAC, Opus, Vorbis, ffmpeg) run in C without
    holding the GIL, so on two cores a FLAC and an MP3 take the time of the slower alone."""
    workers = max(1, min(len(encodings), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda e: write_audio(e.path, e.audio, rate, e.fmt, e.tags), encodings))


def _encode_libsndfile(path: Path, audio: np.ndarray, rate: int, fmt: str) -> None:
    settings = dict(FORMATS[fmt])
    extra = {k: settings.pop(k) for k in ("bitrate_mode", "compression_level") if k in settings}
    with soundfile.SoundFile(path, "w", rate, audio.shape[1], **settings, **extra) as encoder:
        for start, end in spans(len(audio)):
            encoder.write(np.asarray(audio[start:end]))


def _encode_mp3(path: Path, audio: np.ndarray, rate: int) -> None:
    from pedalboard.io import AudioFile

    with open(path, "wb") as file, AudioFile(file, "w", rate, audio.shape[1], format="mp3", **FORMATS["mp3"]) as encoder:
        for start, end in spans(len(audio)):
            encoder.write(np.ascontiguousarray(np.asarray(audio[start:end]).T))


def _encode_m4a(path: Path, audio: np.ndarray, rate: int, tags: Tags | None) -> None:
    """AAC through ffmpeg: our float samples are piped in block by block; ffmpeg only encodes and adds chapters."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(rate),
               "-ac", str(audio.shape[1]), "-i", "pipe:0"]
    with tempfile.TemporaryDirectory() as folder:
        if tags is not None and tags.chapters:
            chapters = Path(folder) / "chapters.txt"
            chapters.write_text(ffmetadata(tags), encoding="utf-8")
            command += ["-f", "ffmetadata", "-i", str(chapters), "-map", "0:a", "-map_chapters", "1"]
        command += ["-c:a", "aac", "-b:a", M4A_BITRATE, "-f", "mp4", str(path)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for start, end in spans(len(audio)):
                process.stdin.write(np.ascontiguousarray(audio[start:end], dtype="<f4").tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            raise RenderError(f"ffmpeg could not encode M4A: {error.splitlines()[-1] if error else 'unknown error'}")

