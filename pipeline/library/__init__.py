"""Library builds: whole folders for CI and producers (``build``), one track at a time (``track``), and finished
tracks kept in the cache (``stored``)."""

from ..script import discover
from .build import Planned, build, check, parse_shard, plan, prune, shard_of, write_library
from .stored import TrackStore, cache_contents
from .track import TrackResult, render_track

__all__ = [
    "Planned",
    "build",
    "check",
    "discover",
    "parse_shard",
    "plan",
    "prune",
    "write_library",
    "shard_of",
    "TrackStore",
    "cache_contents",
    "TrackResult",
    "render_track",
]
