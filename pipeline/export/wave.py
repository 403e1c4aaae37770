"""What a WAV carries for a DAW besides its samples, added to the file libsndfile wrote: cue points with labels
(markers), a Broadcast WAV ``bext`` chunk (EBU Tech 3285: description, originator, reference, coding history)
and an iXML chunk (project, tape, track names, a note). Through soundfile, libsndfile writes none of them;
wavinfo and DAWs read them all. Nothing here is time-stamped, so the same render writes the same bytes."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from xml.etree import ElementTree

BEXT_VERSION = 2
NOT_MEASURED = 0x7FFF
"""EBU Tech 3285 v2: a loudness field holding this was not measured."""
IXML_VERSION = "2.10"


def riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def cue_chunks(cues: tuple[tuple[int, str], ...]) -> bytes:
    """A ``cue `` chunk and a ``LIST``/``adtl`` chunk of ``labl`` names: (frame, label) markers."""
    if not cues:
        return b""
    points = b"".join(struct.pack("<II4sIII", n, frame, b"data", 0, 0, frame) for n, (frame, _) in enumerate(cues, 1))
    labels = b"adtl" + b"".join(
        riff_chunk(b"labl", struct.pack("<I", n) + name.encode("utf-8") + b"\0") for n, (_, name) in enumerate(cues, 1)
    )
    return riff_chunk(b"cue ", struct.pack("<I", len(cues)) + points) + riff_chunk(b"LIST", labels)


def _ascii(text: str, size: int) -> bytes:
    """A fixed-size ASCII field (Tech 3285 says ASCII), NUL-padded; what ASCII cannot say becomes '?'."""
    return text.encode("ascii", "replace")[:size].ljust(size, b"\0")


def bext_chunk(description: str, originator: str, reference: str, coding_history: str) -> bytes:
    """A Broadcast WAV extension: the stem starts at the session's zero (time reference 0); no date or time is
    written (it would make every render's bytes differ), and loudness is marked not measured."""
    fields = struct.pack(
        "<256s32s32s10s8sQH64s5h180s",
        _ascii(description, 256),
        _ascii(originator, 32),
        _ascii(reference, 32),
        bytes(10),
        bytes(8),
        0,
        BEXT_VERSION,
        bytes(64),
        *([NOT_MEASURED] * 5),
        bytes(180),
    )
    return riff_chunk(b"bext", fields + coding_history.encode("ascii", "replace") + b"\0")


def ixml_chunk(project: str, tape: str, track_names: list[str], note: str) -> bytes:
    """An iXML document: the project (the session's title), tape (the track's file name), one named track per
    channel, and a note."""
    root = ElementTree.Element("BWFXML")
    for tag, text in (
        ("IXML_VERSION", IXML_VERSION),
        ("PROJECT", project),
        ("TAPE", tape),
        ("TAKE", "1"),
        ("NOTE", note),
    ):
        ElementTree.SubElement(root, tag).text = text
    tracks = ElementTree.SubElement(root, "TRACK_LIST")
    ElementTree.SubElement(tracks, "TRACK_COUNT").text = str(len(track_names))
    for index, name in enumerate(track_names, 1):
        track = ElementTree.SubElement(tracks, "TRACK")
        for tag, text in (("CHANNEL_INDEX", index), ("INTERLEAVE_INDEX", index), ("NAME", name)):
            ElementTree.SubElement(track, tag).text = str(text)
    return riff_chunk(b"iXML", ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def append_chunks(path: Path, chunks: bytes) -> None:
    """Append chunks to a RIFF WAVE file and grow its RIFF size to match (in an RF64 file, the 64-bit size in
    its ``ds64`` chunk)."""
    with open(path, "r+b") as wave:
        magic = wave.read(4)
        if magic == b"RF64":
            wave.seek(20)
            size, layout = struct.unpack("<Q", wave.read(8))[0], "<Q"
        elif magic == b"RIFF":
            size, layout = struct.unpack("<I", wave.read(4))[0], "<I"
            if size + len(chunks) >= 1 << 32:
                return  # cannot happen for what we write: a WAV that large is written as RF64
        else:
            return
        wave.seek(0, os.SEEK_END)
        wave.write(chunks)
        wave.seek(20 if magic == b"RF64" else 4)
        wave.write(struct.pack(layout, size + len(chunks)))


def clear_peak_time(path: Path) -> None:
    """Zero the time libsndfile stamps into a float WAV's ``PEAK`` chunk, so that the same render writes the same
    bytes (the peaks themselves stay: DAWs read them)."""
    with open(path, "r+b") as wave:
        if wave.read(4) not in (b"RIFF", b"RF64"):
            return
        wave.seek(12)
        while len(header := wave.read(8)) == 8:
            kind, size = header[:4], struct.unpack("<I", header[4:])[0]
            if kind == b"PEAK":
                wave.seek(4, os.SEEK_CUR)  # the chunk's version, then its timestamp
                wave.write(bytes(4))
                return
            if kind == b"data":
                return  # libsndfile writes PEAK before the samples
            wave.seek(size + size % 2, os.SEEK_CUR)
