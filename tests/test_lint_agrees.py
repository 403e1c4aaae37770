"""Lint and render agree: whatever ``drift lint`` passes renders, with the draft voice and the release voice, and
whatever a render refuses, lint reported. Checked on library scripts mutated at random (cut short, so each
example renders in seconds), with insertions of the kinds of mistake people make: characters no voice can say,
phoneme symbols a voice lacks, cues out of range, unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.errors import DriftError, ScriptWarning
from pipeline.job import RenderOptions, lint, prepare
from pipeline.render import render
from pipeline.speech import ClipCache

LIBRARY = sorted((Path(__file__).parents[1] / "scripts").glob("*.txt"))
INSERTS = [
    "☃",
    "🙂",
    "é",
    "—",
    "ß",
    "Ω",
    "42",
    "[[ ˈhɛloʊ ]]",
    "[[ ʘ ]]",
    "[pause 2s]",
    "[pause 900s]",
    "[rate 0.9]",
    "[rate 0.05]",
    "[pitch +2st]",
    "[pitch +40st]",
    "{name}",
    "{nobody}",
    "[bed ocean]",
    "[bedd ocean]",
    "## ",
    "\n\n",
    ". ",
    "[",
    "]",
]


def excerpt(path: Path, paragraphs: int = 2) -> str:
    """A library script's front matter and its first few paragraphs, without a bed (faster, and the bed is not
    what lint and render might disagree on)."""
    head, _, body = path.read_text().partition("\n---\n")
    head = "\n".join(line for line in head.splitlines() if not line.startswith(("ambience:", "duration:")))
    kept = [p for p in body.split("\n\n") if p.strip() and not p.lstrip().startswith("//")][:paragraphs]
    return f"{head}\nambience: none\n---\n" + "\n\n".join(kept) + "\n"


def mutated(text: str, mutations) -> str:
    body_at = text.index("\n---\n") + 5  # the front matter stays whole: its own errors are another test's
    for where, insert in mutations:
        at = body_at + int(where * (len(text) - body_at))
        text = text[:at] + insert + text[at:]
    return text


def agree(tmp: Path, cache: Path, text: str, draft: bool) -> None:
    script = tmp / "mutated.txt"
    script.write_text(text)
    options = RenderOptions(out_dir=tmp / "out", cache_dir=cache, draft=draft, qc=False, formats=("wav",))
    errors = [e for e in lint(script, options) if not isinstance(e, ScriptWarning)]
    try:
        rendered = render(prepare(script, options), ClipCache(options.cache_dir))
        assert len(rendered.clips) >= 2
        refused = None
    except DriftError as error:
        refused = error
    if refused is not None:
        assert errors, f"render refused what lint passed: {refused}\n{text}"
    else:
        assert not errors, f"lint reported what renders: {[str(e) for e in errors]}\n{text}"


def shared_cache(factory) -> Path:
    """One clip cache for every example: the unchanged phrases of an excerpt are spoken once."""
    return factory.getbasetemp() / "lint-agrees-cache"


MUTATIONS = st.lists(st.tuples(st.floats(0, 1), st.sampled_from(INSERTS)), min_size=1, max_size=3)
RENDERS = [(0.6, "[pause 2s]"), (0.8, "é")]
"""A mutation that renders, tried first: most random ones hold a mistake, so a render is not left to chance."""
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@SETTINGS
@given(script=st.sampled_from(LIBRARY), mutations=MUTATIONS)
@example(script=LIBRARY[0], mutations=RENDERS)
def test_lint_and_a_draft_render_agree(tmp_path_factory, script, mutations):
    agree(
        tmp_path_factory.mktemp("draft"),
        shared_cache(tmp_path_factory),
        mutated(excerpt(script), mutations),
        draft=True,
    )


@pytest.mark.slow
@settings(SETTINGS, max_examples=6)  # Kokoro speaks each new phrase in seconds: fewer examples than the draft's
@given(script=st.sampled_from(LIBRARY), mutations=MUTATIONS)
@example(script=LIBRARY[0], mutations=RENDERS)
def test_lint_and_a_release_render_agree(tmp_path_factory, script, mutations):
    agree(
        tmp_path_factory.mktemp("release"),
        shared_cache(tmp_path_factory),
        mutated(excerpt(script), mutations),
        draft=False,
    )


def test_a_snowman_is_reported_by_lint_and_refused_by_render(tmp_path):
    """The plainest case of agreement, and a check that the excerpt and mutation helpers reach the body."""
    text = excerpt(LIBRARY[0]) + "Rest here ☃ now.\n"
    script = tmp_path / "snowman.txt"
    script.write_text(text)
    options = RenderOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", draft=True, qc=False)
    assert any("☃" in str(e) or "U+2603" in str(e) for e in lint(script, options))
    with pytest.raises(DriftError):
        prepare(script, options)
