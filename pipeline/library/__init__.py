"""Library builds: one track at a time (``track``) and whole folders for CI and producers (``build``)."""

from .stored import TrackStore, cache_contents
from .build import Planned, build, check, discover, parse_shard, plan, prune, write_library
from .track import (Job, RenderOptions, TrackResult, audition, is_up_to_date, lint, load_variables, prepare, render_job,
                    render_track)

__all__ = ["Planned", "build", "check", "discover", "parse_shard", "plan", "prune", "write_library", "Job",
           "RenderOptions", "TrackResult", "audition", "is_up_to_date", "lint", "load_variables", "prepare",
           "render_job", "render_track", "TrackStore", "cache_contents"]
