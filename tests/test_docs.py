"""Every example in docs/script-format.md is checked: good ones lint clean, error ones fail as shown."""

import re
from pathlib import Path

import pytest

from pipeline.job import lint

DOC = Path(__file__).resolve().parent.parent / "docs" / "script-format.md"
BLOCKS = re.findall(r"```(drift|drift-error|ssml)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_reference_has_examples_of_every_kind():
    kinds = [kind for kind, _ in BLOCKS]
    assert kinds.count("drift") >= 12 and kinds.count("drift-error") >= 4 and "ssml" in kinds


@pytest.mark.parametrize("kind, text", BLOCKS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(BLOCKS)])
def test_example(kind, text, tmp_path):
    suffix = ".ssml" if kind == "ssml" else ".txt"
    if kind == "drift-error":
        expected, text = text.split("\n", 1)
        path = tmp_path / f"example{suffix}"
        path.write_text(text)
        errors = lint(path)
        assert errors and str(errors[0]) == f"{path}:{expected.removeprefix('// error: ')}"
    else:
        path = tmp_path / f"example{suffix}"
        path.write_text(text)
        assert [str(e) for e in lint(path)] == []
