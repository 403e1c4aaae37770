"""Encoded audio: FLAC, WAV, Opus and Vorbis through libsndfile; MP3 through pedalboard's LAME; M4A/AAC through
ffmpeg at the edge."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from ..audio import SAMPLE_RATE
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


def write_audio(path: Path, audio: np.ndarray, rate: int, fmt: str, tags: Tags | None = None,
                subtype: str | None = None, cues: tuple[tuple[int, str], ...] = ()) -> Path:
    """Encode ``audio`` (an array or a disk array) block by block into ``path``, tag it, then move it into place.
    ``subtype`` overrides the format's sample format where libsndfile writes it (``"FLOAT"`` for stems); ``cues``
    (frame, label) become WAV cue points, which DAWs show as markers when the file is dropped in."""
    try:
        with atomic_path(path) as tmp:
            if fmt == "m4a":
                _encode_m4a(tmp, audio, rate, tags)
            elif fmt == "mp3":
                _encode_mp3(tmp, audio, rate)
            else:
                _encode_libsndfile(tmp, audio, rate, fmt, subtype)
            if tags is not None:
                tag_file(tmp, fmt, tags)
            if cues and fmt == "wav":
                add_cue_points(tmp, cues)
    except NotFinite as exc:
        raise RenderError(f"refusing to write {path.name}: {exc}") from None
    except (soundfile.LibsndfileError, OSError) as exc:
        raise RenderError(f"cannot write {path}: {_reason(exc, path)}") from None
    return path


def add_cue_points(path: Path, cues: tuple[tuple[int, str], ...]) -> None:
    """Append a ``cue `` chunk and a ``LIST``/``adtl`` chunk of ``labl`` names to a RIFF WAVE file, and grow its
    RIFF size to match (libsndfile writes no cue points; wavinfo and DAWs read these)."""
    points = b"".join(struct.pack("<II4sIII", n, frame, b"data", 0, 0, frame) for n, (frame, _) in enumerate(cues, 1))
    labels = b"adtl" + b"".join(_chunk(b"labl", struct.pack("<I", n) + name.encode("utf-8") + b"\0")
                                for n, (_, name) in enumerate(cues, 1))
    extra = _chunk(b"cue ", struct.pack("<I", len(cues)) + points) + _chunk(b"LIST", labels)
    with open(path, "r+b") as wave:
        if wave.read(4) != b"RIFF":
            return  # RF64 (over 4 GB): no room in a 32-bit RIFF size; the sessions still carry the markers
        size = struct.unpack("<I", wave.read(4))[0]
        if size + len(extra) >= 1 << 32:
            return
        wave.seek(0, os.SEEK_END)
        wave.write(extra)
        wave.seek(4)
        wave.write(struct.pack("<I", size + len(extra)))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


class NotFinite(ValueError):
    """Audio about to be encoded holds NaN or infinite samples: a player would make them full-scale noise."""


def finite_blocks(audio: np.ndarray):
    """``audio`` block by block, as the encoders take it, refusing any block with NaN or infinite samples."""
    for start, end in spans(len(audio)):
        block = np.asarray(audio[start:end])
        if not np.isfinite(block).all():
            raise NotFinite(f"samples that are not numbers (NaN or infinite) from {start / SAMPLE_RATE:.1f} s")
        yield block


def _reason(exc: Exception, path: Path) -> str:
    """Why a write failed, in the system's words: libsndfile says only "System error." for a full disk, but the
    C library's errno (which soundfile's cffi keeps) still says which."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    errno = getattr(getattr(soundfile, "_ffi", None), "errno", 0)
    if getattr(exc, "code", None) == 2 and errno:  # SF_ERR_SYSTEM
        return os.strerror(errno)
    try:
        if shutil.disk_usage(path.parent).free < 1 << 20:
            return "No space left on device"
    except OSError:
        pass
    return str(exc)


@dataclass(frozen=True)
class Encoding:
    """One file to write: what ``write_audio`` takes, as a value."""

    path: Path
    audio: np.ndarray
    fmt: str
    tags: Tags | None = None
    subtype: str | None = None
    cues: tuple[tuple[int, str], ...] = ()


def write_all(encodings: list[Encoding], rate: int) -> list[Path]:
    """Write several files at once. The encoders (LAME, FLAC, Opus, Vorbis, ffmpeg) run in C without
    holding the GIL, so on two cores a FLAC and an MP3 take the time of the slower alone."""
    workers = max(1, min(len(encodings), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda e: write_audio(e.path, e.audio, rate, e.fmt, e.tags, e.subtype, e.cues), encodings))


def _encode_libsndfile(path: Path, audio: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> None:
    settings = {**FORMATS[fmt], **({"subtype": subtype} if subtype else {})}
    extra = {k: settings.pop(k) for k in ("bitrate_mode", "compression_level") if k in settings}
    with soundfile.SoundFile(path, "w", rate, audio.shape[1], **settings, **extra) as encoder:
        for block in finite_blocks(audio):
            encoder.write(block)


def _encode_mp3(path: Path, audio: np.ndarray, rate: int) -> None:
    from pedalboard.io import AudioFile

    with open(path, "wb") as file, AudioFile(file, "w", rate, audio.shape[1], format="mp3", **FORMATS["mp3"]) as encoder:
        for block in finite_blocks(audio):
            encoder.write(np.ascontiguousarray(block.T))


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
        # PNS (noise substitution) swaps breathy bands for noise: on our beds it put peaks 2.4 dB over the master
        command += ["-c:a", "aac", "-b:a", M4A_BITRATE, "-aac_pns", "0", "-f", "mp4", str(path)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for block in finite_blocks(audio):
                process.stdin.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:  # nothing of ours outlives the write that started it
            process.kill()
            process.wait()
            raise
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            raise RenderError(f"ffmpeg could not encode M4A: {error.splitlines()[-1] if error else 'unknown error'}")

