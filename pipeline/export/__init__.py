"""Audio → files: encoded audio with tags and chapters, stems, captions and transcript (``deliver`` puts a track's
files and its manifest together).

This stage owns the bytes on disk. Every file is written to a temporary name
in its destination folder, finished (tags included) and only then renamed
into place, so an interrupted render never leaves a half-written file behind.
"""

from .audio import ENCODER_SETTINGS, Encoding, write_all, write_audio
from .captions import srt, transcript, webvtt
from .tags import Chapter, Tags, read_cover, tag_file

__all__ = [
    "ENCODER_SETTINGS",
    "Encoding",
    "write_all",
    "write_audio",
    "srt",
    "webvtt",
    "transcript",
    "Chapter",
    "Tags",
    "read_cover",
    "tag_file",
]
