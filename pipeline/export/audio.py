"""Encoded audio: FLAC, WAV, Opus and Vorbis through libsndfile; MP3 through pedalboard's LAME (a long track's in
parallel segments through ffmpeg's, see ``mp3``); M4A/AAC through ffmpeg at the edge."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE
from ..blocks import Signal, spans
from ..errors import RenderError
from ..files import atomic_path
from . import mp3
from .ogg import serial_for, set_serial
from .tags import Tags, ffmetadata, tag_file
from .wave import append_chunks, clear_peak_time

ENCODER_SETTINGS: dict[str, dict] = {
    "flac": {"format": "FLAC", "subtype": "PCM_24"},
    "wav": {"format": "WAV", "subtype": "PCM_24"},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},  # three times faster to encode than Opus here: the preview's format
    # LAME at a constant 256 kbps, through pedalboard: the same encoder and output as libsndfile's (54 dB SNR,
    # gapless header) in a third of the time, and the MP3 was half of every render.
    "mp3": {"quality": "256"},
    "m4a": {},  # AAC in MP4: libsndfile has no encoder, so ffmpeg (from imageio-ffmpeg) makes it
}
"""How each of the track formats (``manifest.FORMATS``) is encoded."""
M4A_BITRATE = "256k"
"""iTunes Plus's rate. At 192 kbps ffmpeg's AAC lifted the limited peaks of two short voice tracks by up to 2.0 dB
(0.4-2.0 across five levels a tenth of a dB apart); at 256 kbps by at most 0.49, inside the limiter's margin."""


def write_audio(
    path: Path,
    audio: Signal,
    rate: int,
    fmt: str,
    tags: Tags | None = None,
    subtype: str | None = None,
    chunks: bytes = b"",
    blocks: Iterator[np.ndarray] | None = None,
) -> Path:
    """Encode ``audio`` (any signal) block by block into ``path``, tag it, then move it into place.
    ``subtype`` overrides the format's sample format where libsndfile writes it (``"FLOAT"`` for stems); ``chunks``
    are RIFF chunks added to a WAV (``wave``: markers, bext, iXML, which DAWs show when it is dropped in). ``blocks``,
    if given, are ``audio``'s blocks as another reader hands them over (see ``write_all``)."""
    blocks = finite_blocks(audio) if blocks is None else blocks
    try:
        return _write_audio(path, blocks, audio.shape, rate, fmt, tags, subtype, chunks)
    finally:
        blocks.close()  # a reader that leaves early must let the others go on


def _write_audio(
    path: Path,
    blocks,
    shape: tuple[int, int],
    rate: int,
    fmt: str,
    tags: Tags | None,
    subtype: str | None,
    chunks: bytes,
) -> Path:
    import soundfile

    channels = shape[1]
    try:
        with atomic_path(path) as tmp:
            if fmt == "m4a":
                _encode_m4a(tmp, blocks, channels, rate, tags)
            elif fmt == "mp3" and mp3.worth_it(shape[0], rate, channels):
                mp3.encode_segmented(tmp, blocks, shape[0], channels, rate)  # a long track: LAME on every core
            elif fmt == "mp3":
                _encode_mp3(tmp, blocks, channels, rate)
            else:
                _encode_libsndfile(tmp, blocks, shape, rate, fmt, subtype)
                if fmt in ("opus", "ogg"):
                    set_serial(tmp, serial_for(path))
            if tags is not None:
                tag_file(tmp, fmt, tags)
            if fmt == "wav":
                clear_peak_time(tmp)
                if chunks:
                    append_chunks(tmp, chunks)
    except NotFinite as exc:
        raise RenderError(f"refusing to write {path.name}: {exc}") from None
    except (soundfile.LibsndfileError, OSError) as exc:
        raise RenderError(f"cannot write {path}: {_reason(exc, path)}") from None
    return path


class NotFinite(ValueError):
    """Audio about to be encoded holds NaN or infinite samples: a player would make them full-scale noise."""


def finite_blocks(audio: Signal) -> Iterator[np.ndarray]:
    """``audio`` block by block, as the encoders take it, refusing any block with NaN or infinite samples."""
    for start, end in spans(len(audio)):
        block = np.asarray(audio[start:end])
        if not np.isfinite(block).all():
            raise NotFinite(f"samples that are not numbers (NaN or infinite) from {start / SAMPLE_RATE:.1f} s")
        yield block


def _reason(exc: Exception, path: Path) -> str:
    """Why a write failed, in the system's words: libsndfile says only "System error." for a full disk, but the
    C library's errno (which soundfile's cffi keeps) still says which."""
    import soundfile

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


@dataclass(frozen=True, kw_only=True)
class Encoding:
    """One file to write: what ``write_audio`` takes, as a value."""

    path: Path
    audio: Signal
    fmt: str
    tags: Tags | None = None
    subtype: str | None = None
    chunks: bytes = b""


def write_all(encodings: list[Encoding], rate: int) -> list[Path]:
    """Write several files at once, each encoder in its own thread. Encodings of one signal share one reading of
    it (a master made as it is read is made once, not once per format). The encoders (LAME, FLAC, Opus,
    Vorbis, ffmpeg) run in C without holding the GIL, so on two cores a FLAC and an MP3 take the time of the
    slower alone."""
    readers: dict[int, Iterator[Iterator[np.ndarray]]] = {}
    for audio in {id(e.audio): e.audio for e in encodings}.values():
        sharing = sum(e.audio is audio for e in encodings)
        readers[id(audio)] = iter(Tee(finite_blocks(audio), sharing).readers) if sharing > 1 else iter([None])
    jobs = [(e, next(readers[id(e.audio)])) for e in encodings]
    with ThreadPoolExecutor(max(1, len(jobs))) as pool:  # all at once: readers of one signal go at its pace together
        return list(
            pool.map(
                lambda job: write_audio(
                    job[0].path, job[0].audio, rate, job[0].fmt, job[0].tags, job[0].subtype, job[0].chunks, job[1]
                ),
                jobs,
            )
        )


class Tee:
    """One pass over ``blocks`` handed to ``count`` readers, each in its own thread, at most ``depth`` blocks apart.
    A reader that stops (its encoder failed) is dropped and the others go on; an error in the source reaches
    every reader."""

    END = object()

    def __init__(self, blocks: Iterable[np.ndarray], count: int, depth: int = 4):
        self.queues = [queue.Queue(depth) for _ in range(count)]
        self.gone = [threading.Event() for _ in range(count)]
        self.readers = [_Reader(q, gone) for q, gone in zip(self.queues, self.gone)]
        threading.Thread(target=self._pump, args=(blocks,), daemon=True).start()

    def _pump(self, blocks: Iterable[np.ndarray]) -> None:
        try:
            for block in blocks:
                if all(gone.is_set() for gone in self.gone):
                    return
                self._hand_out(block)
            self._hand_out(self.END)
        except BaseException as exc:  # noqa: BLE001 - handed to the readers, who raise it in their own threads
            self._hand_out(exc)

    def _hand_out(self, item) -> None:
        for q, gone in zip(self.queues, self.gone):
            while not gone.is_set():
                try:
                    q.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue


class _Reader:
    """One reader's side of a ``Tee``: iterate it for the blocks; ``close`` it to leave."""

    def __init__(self, blocks: queue.Queue, gone: threading.Event):
        self.blocks, self.gone = blocks, gone

    def __iter__(self) -> _Reader:
        return self

    def __next__(self) -> np.ndarray:
        item = self.blocks.get()
        if item is Tee.END or isinstance(item, BaseException):
            self.close()
            if item is Tee.END:
                raise StopIteration
            raise item
        return item

    def close(self) -> None:
        self.gone.set()


def _encode_libsndfile(
    path: Path, blocks: Iterable[np.ndarray], shape: tuple[int, int], rate: int, fmt: str, subtype: str | None = None
) -> None:
    import soundfile

    settings = {**ENCODER_SETTINGS[fmt], **({"subtype": subtype} if subtype else {})}
    settings["format"] = wave_container(settings["format"], settings["subtype"], *shape)
    extra = {k: settings.pop(k) for k in ("bitrate_mode", "compression_level") if k in settings}
    with soundfile.SoundFile(path, "w", rate, shape[1], **settings, **extra) as encoder:
        for block in blocks:
            encoder.write(block)


WAV_LIMIT = (1 << 32) - (1 << 20)
"""A RIFF WAVE file's sizes are 32-bit: a file this big or more must be RF64 (EBU Tech 3306), or its header
wraps and it reads back short (libsndfile writes plain WAV regardless: an eight-hour float stem is 11 GB)."""
SAMPLE_BYTES = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def wave_container(container: str, subtype: str, frames: int, channels: int) -> str:
    """``container``, or RF64 for a WAV whose samples alone would pass the RIFF size limit."""
    too_big = container == "WAV" and frames * channels * SAMPLE_BYTES.get(subtype, 4) >= WAV_LIMIT
    return "RF64" if too_big else container


def _encode_mp3(path: Path, blocks: Iterable[np.ndarray], channels: int, rate: int) -> None:
    from pedalboard.io import AudioFile

    with (
        open(path, "wb") as file,
        AudioFile(file, "w", rate, channels, format="mp3", **ENCODER_SETTINGS["mp3"]) as encoder,
    ):
        for block in blocks:
            encoder.write(np.ascontiguousarray(block.T))


def _encode_m4a(path: Path, blocks: Iterable[np.ndarray], channels: int, rate: int, tags: Tags | None) -> None:
    """AAC through ffmpeg: our float samples are piped in block by block; ffmpeg only encodes and adds chapters."""
    import imageio_ffmpeg

    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "f32le",
        "-ar",
        str(rate),
        "-ac",
        str(channels),
        "-i",
        "pipe:0",
    ]
    with tempfile.TemporaryDirectory() as folder:
        if tags is not None and tags.chapters:
            chapters = Path(folder) / "chapters.txt"
            chapters.write_text(ffmetadata(tags), encoding="utf-8")
            command += ["-f", "ffmetadata", "-i", str(chapters), "-map", "0:a", "-map_chapters", "1"]
        # PNS (noise substitution) swaps breathy bands for noise: on our beds it put peaks 2.4 dB over the master
        command += ["-c:a", "aac", "-b:a", M4A_BITRATE, "-aac_pns", "0", "-f", "mp4", str(path)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for block in blocks:
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
