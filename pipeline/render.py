"""The pipeline, stated once: a ``Job`` → clips → ``Timeline`` → ``Stems`` → ``Master``.

Track builds, previews, voice auditions and the tests all render through
``render``; what they do with the result (encode it, crop it, play it) is
theirs. Long arrays live in the caller's ``Scratch`` when one is given, so
memory does not grow with the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import frames
from .blocks import Scratch
from .errors import Source
from .files import text_sha256
from .job import Job, RenderOptions, resolve
from .master import Master, master
from .mix import Stems, mix
from .pacing import LEAD_IN_S, Timeline, crop, place
from .progress import Event, Progress, counter, nowhere
from .script import NO_AMBIENCE, parse_text
from .speech import Clip, ClipCache, load_voice, synthesize

Span = Callable[[Timeline], tuple[int, int]]
"""Picks the frames [start, end) to render from the whole score (a preview's section or times)."""


@dataclass(frozen=True)
class Rendered:
    clips: tuple[Clip, ...]
    timeline: Timeline
    stems: Stems
    master: Master


def render(
    job: Job, cache: ClipCache, work: Scratch | None = None, span: Span | None = None, progress: Progress | None = None
) -> Rendered:
    """Speak every phrase (cached), place the clips on the breath clock, mix them over the beds, master the mix.

    With ``span``, only that part of the score is mixed and mastered (whole phrases, with a margin).
    ``progress`` hears the track's stages (named by its layout): ("speech", phrases done, phrases), ("mix", 0, 0)
    as it begins, then ("master", blocks done, blocks) at each whole percent (``pipeline.progress.STAGES``).
    """
    progress, track = progress or nowhere, job.layout.name
    clips = synthesize(job.script, job.voices, cache, counter(progress, track, "speech"), job.pace_wpm)
    timeline = place(job.script, [clip.frames for clip in clips], job.pauses, [clip.anchors for clip in clips])
    if span is not None:
        timeline = crop(timeline, *span(timeline))
    progress(Event(track, "mix"))
    stems = mix(timeline, clips, job.voices, job.beds, work=work)
    progress(Event(track, "master"))
    mastered = master(stems.mix, job.profile, work=work, progress=counter(progress, track, "master"))
    return Rendered(clips, timeline, stems, mastered)


def audition(voice_name: str, text: str, cache_dir: Path | None) -> np.ndarray:
    """One line spoken by a voice preset, levelled and through its chain as in a track, with no bed, at the
    default profile's loudness: for choosing voices."""
    load_voice(voice_name, Source("voices say"))  # an unknown name is the option's mistake, not the script's
    script = parse_text(f"---\nvoice: {voice_name}\nambience: {NO_AMBIENCE}\n---\n{text}", "voices say")
    job = resolve(script, RenderOptions(cache_dir=cache_dir), "audition", text_sha256(text))
    rendered = render(job, ClipCache(cache_dir))
    return rendered.master.audio[frames(LEAD_IN_S - 0.5) :]
