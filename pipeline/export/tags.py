"""Tags and chapters in every format: ID3 (MP3, WAV) with CHAP/CTOC, Vorbis comments (FLAC, Opus), MP4 atoms."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import clock
from ..errors import ConfigError, Source
from .wave import append_chunks, riff_chunk

GENRE = "Meditation"


@dataclass(frozen=True)
class Chapter:
    start_s: float
    end_s: float
    title: str


@dataclass(frozen=True, kw_only=True)
class Tags:
    title: str
    artist: str = ""
    album: str = ""
    track: int = 0
    tracks: int = 0
    genre: str = GENRE
    comment: str = ""
    cover: bytes = b""
    cover_mime: str = ""
    chapters: tuple[Chapter, ...] = field(default_factory=tuple)


def read_cover(path: Path, where: Source | None) -> tuple[bytes, str]:
    """Cover art bytes and MIME type; only JPEG and PNG are accepted (what every player shows)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read cover image '{path.name}': {exc.strerror}", where) from None
    if data.startswith(b"\xff\xd8\xff"):
        return data, "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data, "image/png"
    raise ConfigError(f"cover '{path.name}' is not a JPEG or PNG image", where)


def tag_file(path: Path, fmt: str, tags: Tags) -> None:
    {"mp3": _id3_mp3, "wav": _id3_wav, "flac": _flac, "opus": _ogg, "ogg": _ogg, "m4a": _mp4}[fmt](path, tags)


def _id3_frames(tags: Tags) -> list:
    from mutagen.id3 import APIC, CHAP, COMM, CTOC, TALB, TCON, TIT2, TPE1, TRCK, CTOCFlags

    frames = [TIT2(encoding=3, text=tags.title), TCON(encoding=3, text=tags.genre)]
    if tags.artist:
        frames.append(TPE1(encoding=3, text=tags.artist))
    if tags.album:
        frames.append(TALB(encoding=3, text=tags.album))
    if tags.track:
        frames.append(TRCK(encoding=3, text=f"{tags.track}/{tags.tracks}" if tags.tracks else str(tags.track)))
    if tags.comment:
        frames.append(COMM(encoding=3, lang="eng", desc="", text=tags.comment))
    if tags.cover:
        frames.append(APIC(encoding=3, mime=tags.cover_mime, type=3, desc="Cover", data=tags.cover))
    if tags.chapters:
        ids = [f"chp{i}" for i in range(len(tags.chapters))]
        frames.append(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text="Chapters")],
            )
        )
        for chapter_id, chapter in zip(ids, tags.chapters):
            frames.append(
                CHAP(
                    element_id=chapter_id,
                    start_time=round(chapter.start_s * 1000),
                    end_time=round(chapter.end_s * 1000),
                    sub_frames=[TIT2(encoding=3, text=chapter.title)],
                )
            )
    return frames


def _id3_mp3(path: Path, tags: Tags) -> None:
    from mutagen.id3 import ID3

    id3 = ID3()
    for frame in _id3_frames(tags):
        id3.add(frame)
    id3.save(path, v2_version=3 if not tags.chapters else 4)


def _id3_wav(path: Path, tags: Tags) -> None:
    from mutagen.id3 import ID3
    from mutagen.wave import WAVE

    with open(path, "rb") as file:
        rf64 = file.read(4) == b"RF64"
    if rf64:  # mutagen reads RIFF only: the same ID3 tag, as an "id3 " chunk
        id3, tag = ID3(), io.BytesIO()
        for frame in _id3_frames(tags):
            id3.add(frame)
        id3.save(tag)
        append_chunks(path, riff_chunk(b"id3 ", tag.getvalue()))
        return
    wave = WAVE(path)
    wave.add_tags()
    for frame in _id3_frames(tags):
        wave.tags.add(frame)
    wave.save()


def _vorbis_comments(tags: Tags) -> dict[str, list[str]]:
    comments = {"TITLE": [tags.title], "GENRE": [tags.genre]}
    for key, value in (("ARTIST", tags.artist), ("ALBUM", tags.album), ("COMMENT", tags.comment)):
        if value:
            comments[key] = [value]
    if tags.track:
        comments["TRACKNUMBER"] = [str(tags.track)]
        if tags.tracks:
            comments["TRACKTOTAL"] = [str(tags.tracks)]
    for number, chapter in enumerate(tags.chapters, start=1):  # the Vorbis chapter convention players read
        comments[f"CHAPTER{number:03d}"] = [clock(chapter.start_s, hours=True)]
        comments[f"CHAPTER{number:03d}NAME"] = [chapter.title]
    return comments


def _picture(tags: Tags):
    from mutagen.flac import Picture

    picture = Picture()
    picture.type, picture.mime, picture.desc, picture.data = 3, tags.cover_mime, "Cover", tags.cover
    return picture


def _flac(path: Path, tags: Tags) -> None:
    from mutagen.flac import FLAC

    audio = FLAC(path)
    for key, value in _vorbis_comments(tags).items():
        audio[key] = value
    if tags.cover:
        audio.add_picture(_picture(tags))
    audio.save()


def _ogg(path: Path, tags: Tags) -> None:
    """Opus or Vorbis in Ogg: both carry Vorbis comments, and the cover as a base64 FLAC picture block."""
    import mutagen

    audio = mutagen.File(path)
    for key, value in _vorbis_comments(tags).items():
        audio[key] = value
    if tags.cover:
        audio["METADATA_BLOCK_PICTURE"] = [base64.b64encode(_picture(tags).write()).decode("ascii")]
    audio.save()


def _mp4(path: Path, tags: Tags) -> None:
    from mutagen.mp4 import MP4, MP4Cover

    audio = MP4(path)
    audio["\xa9nam"], audio["\xa9gen"] = [tags.title], [tags.genre]
    for key, value in (("\xa9ART", tags.artist), ("\xa9alb", tags.album), ("\xa9cmt", tags.comment)):
        if value:
            audio[key] = [value]
    if tags.track:
        audio["trkn"] = [(tags.track, tags.tracks)]
    if tags.cover:
        kind = MP4Cover.FORMAT_PNG if tags.cover_mime == "image/png" else MP4Cover.FORMAT_JPEG
        audio["covr"] = [MP4Cover(tags.cover, imageformat=kind)]
    audio.save()


def ffmetadata(tags: Tags) -> str:
    """Chapters for ffmpeg's MP4 muxer (mutagen reads MP4 chapters but cannot write them)."""
    lines = [";FFMETADATA1"]
    for chapter in tags.chapters:
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(chapter.start_s * 1000)}",
            f"END={round(chapter.end_s * 1000)}",
            f"title={_escape(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    for char in "\\=;#\n":
        text = text.replace(char, "\\" + char)
    return text
