"""The house rules a newcomer relies on: data flows forward through the stages, so imports do too."""

import pytest

from pipeline.imports import PACKAGE, imports, module_name

LAYERS = {
    # foundations: the audio type, files, errors, presets
    "errors": 0,
    "files": 0,
    "audio": 0,
    "kernels": 0,
    "blocks": 0,
    "presets": 0,
    "system": 0,
    "progress": 0,
    "imports": 0,
    # what a track is made of and measured by: the language, loudness, the files of a track
    "script": 1,
    "loudness": 1,
    "manifest": 1,
    "pictures": 1,
    # stages that read the script
    "speech": 2,
    "beds": 2,
    "pacing": 2,
    # stages over the timeline; encoders
    "mix": 3,
    "master": 3,
    "export": 3,
    "job": 4,
    "render": 5,
    # a description becomes a script (screened, understood, composed, linted)
    "draft": 5,
    # a rendered track → its files and manifest (the encoders of export, driven)
    "deliver": 6,
    # what uses whole renders
    "qc": 7,
    "plot": 7,
    "preview": 7,
    "library": 7,
    "feed": 8,
    # the local page that drafts, edits, previews and renders (drift studio)
    "studio": 8,
    "cli": 9,
    "__main__": 10,
}


def layer(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in LAYERS:
            return LAYERS[".".join(parts[:end])]
    raise AssertionError(f"module pipeline.{module} has no layer: add it to LAYERS")


GRAPH = {module_name(p): imports(p) for p in PACKAGE.rglob("*.py") if module_name(p)}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_from_a_higher_layer(module):
    higher = sorted(t for t in GRAPH[module] if layer(t) > layer(module))
    assert not higher, f"pipeline.{module} (layer {layer(module)}) imports {higher}"


def test_the_import_graph_has_no_circle():
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            raise AssertionError("import circle: " + " → ".join(on_path[on_path.index(module) :] + [module]))
        if module in done or module not in GRAPH:
            return
        on_path.append(module)
        for target in sorted(GRAPH[module]):
            visit(target)
        on_path.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)


def test_the_checks_can_fail():
    """The rules above read real imports: a lower module importing a higher one is seen."""
    assert "job" in GRAPH["render"] and "render" in GRAPH["deliver"]
    assert layer("speech.engines") == 2 and layer("deliver") > layer("export.audio")


def test_no_package_spans_layers():
    """Every module sits in its package's layer: the table names packages and top-level modules only."""
    assert all("." not in name for name in LAYERS)
