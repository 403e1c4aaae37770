"""Long sessions: a render's scratch does not grow with the bed that runs on after the last word, and a render
that makes its bed and master again for every pass (no scratch budget) writes the same bytes as one that keeps
them. The eight-hour figures are in ``bench/results/master.json``."""

import json
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from pipeline.blocks import BLOCK, Computed, Generated, scratch
from pipeline.cli import main
from pipeline.export.audio import Tee
from pipeline.job import RenderOptions, prepare
from pipeline.render import render
from pipeline.speech import ClipCache

pytestmark = pytest.mark.slow  # long sessions rendered

SLEEP = """---
title: Sleep
voice: steady
ambience: rain-on-leaves
---
Let the rain carry you. [pause 3s] Nothing to hold.
[end {end}]
"""


def files_of(out, name):
    return {file: record["sha256"] for file, record in json.loads((out / f"{name}.json").read_text())["files"].items()}


def test_a_render_with_no_scratch_budget_writes_the_same_bytes_in_every_format(tmp_path, cache_dir):
    runner = CliRunner()
    outputs = []
    for budget in ("1024", "0"):
        out = tmp_path / budget
        result = runner.invoke(
            main,
            [
                "render",
                str(FIXTURES / "short.txt"),
                "-o",
                str(out),
                "--cache",
                str(cache_dir),
                "--stems",
                "--format",
                "flac,mp3,wav,opus,ogg,m4a",
                "--no-qc",
            ],
            env={"DRIFT_SCRATCH_MB": budget},
        )
        assert result.exit_code == 0, result.output
        outputs.append(files_of(out, "short"))
    assert outputs[0] == outputs[1] and len(outputs[0]) == 12  # six formats, three stems, captions, transcript


def scratch_of(tmp_path, cache_dir, end: str) -> tuple[int, int]:
    script = tmp_path / "sleep.txt"
    script.write_text(SLEEP.format(end=end))
    job = prepare(script, RenderOptions(out_dir=tmp_path, cache_dir=cache_dir))
    with scratch(budget=0) as work:
        rendered = render(job, ClipCache(cache_dir), work)
        assert np.isfinite(rendered.master.audio[len(rendered.master.audio) - BLOCK :]).all()
        return rendered.timeline.frames, work.stored_bytes


def test_scratch_holds_the_words_not_the_hours_of_bed_after_them(tmp_path, cache_dir):
    short_frames, short_bytes = scratch_of(tmp_path, cache_dir, "0:01:00")
    long_frames, long_bytes = scratch_of(tmp_path, cache_dir, "0:05:00")
    assert long_frames == 5 * short_frames
    assert long_bytes == short_bytes  # the voice's sounding blocks, whatever the length
    assert 0 < long_bytes < long_frames * 2 * 4 / 10  # a tenth of one stereo stem of the session


def test_disk_arrays_store_only_blocks_that_sound():
    with scratch() as work:
        array = work.zeros(10 * BLOCK)
        array[0 : 10 * BLOCK] = np.zeros((10 * BLOCK, 2), np.float32)
        assert array.stored_bytes == 0 and not array[:].any()
        array[3 * BLOCK - 5 : 3 * BLOCK + 5] += np.ones((10, 2), np.float32)
        assert array.stored_bytes == 2 * BLOCK * 2 * 4  # the two blocks the write touched
        assert array[:].sum() == 20 and array[3 * BLOCK - 6 : 3 * BLOCK + 6][:, 0].tolist() == [0] + [1] * 10 + [0]


def test_generated_signals_read_anywhere_and_start_again_only_when_read_backwards():
    made = []

    def blocks():
        for start in range(0, 10_000, 1000):
            made.append(start)
            yield np.full((1000, 1), start, np.float32) + np.arange(1000, dtype=np.float32)[:, None]

    signal = Generated(10_000, 1, blocks)
    whole = np.arange(10_000, dtype=np.float32)[:, None]
    for start, end in [(0, 700), (500, 2500), (2400, 9000), (8990, 10_000)]:  # overlapping, forwards
        assert np.array_equal(signal[start:end], whole[start:end])
    assert signal.restarts == 0 and len(made) == 10
    assert np.array_equal(signal[100:200], whole[100:200]) and signal.restarts == 1


@pytest.mark.parametrize("budget, stored", [(1 << 30, True), (0, False)])
def test_keep_stores_a_signal_only_while_the_budget_has_room(budget, stored):
    signal = Computed(3 * BLOCK, 2, lambda a, b: np.ones((b - a, 2), np.float32))
    heard = []
    with scratch(budget=budget) as work:
        kept = work.keep(signal, listen=lambda block: heard.append(len(block)))
        assert (kept is not signal) == stored and sum(heard) == 3 * BLOCK
        assert np.array_equal(kept[BLOCK - 1 : BLOCK + 1], np.ones((2, 2), np.float32))


def test_a_tee_hands_every_reader_every_block_and_survives_a_reader_that_leaves():
    blocks = [np.full((4, 2), n, np.float32) for n in range(50)]
    tee = Tee(iter(blocks), 3, depth=2)
    quitter = tee.readers[2]
    next(quitter)
    quitter.close()  # its encoder failed: the others must not wait for it
    results = {}

    def read(index):
        results[index] = [int(block[0, 0]) for block in tee.readers[index]]

    threads = [threading.Thread(target=read, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == {0: list(range(50)), 1: list(range(50))}


def test_an_error_in_the_source_reaches_every_reader():
    def broken():
        yield np.zeros((4, 2), np.float32)
        raise ValueError("NaN in the master")

    tee = Tee(broken(), 2)
    for reader in tee.readers:
        with pytest.raises(ValueError, match="NaN in the master"):
            list(reader)


def test_a_wav_past_the_riff_size_limit_is_rf64_and_keeps_its_tags_and_markers(tmp_path, monkeypatch):
    """An eight-hour float stem is 11 GB: as plain RIFF its 32-bit sizes wrap and it reads back short."""
    import subprocess

    import imageio_ffmpeg
    import soundfile
    import wavinfo

    from pipeline.export import audio as audio_module
    from pipeline.export.tags import Chapter, Tags
    from pipeline.export.wave import cue_chunks

    assert audio_module.wave_container("WAV", "FLOAT", 8 * 3600 * 48_000, 2) == "RF64"
    assert audio_module.wave_container("WAV", "FLOAT", 3 * 3600 * 48_000, 2) == "WAV"
    monkeypatch.setattr(audio_module, "WAV_LIMIT", 1000)  # so that a second of audio is "too big"
    audio = (np.random.default_rng(0).standard_normal((48_000, 2)) * 0.1).astype(np.float32)
    tags = Tags(
        title="Sleep",
        artist="Drift",
        album="Nights",
        track=1,
        chapters=(Chapter(0, 0.5, "Settling"), Chapter(0.5, 1, "Rain")),
    )
    path = audio_module.write_audio(
        tmp_path / "long.wav",
        audio,
        48_000,
        "wav",
        tags,
        subtype="FLOAT",
        chunks=cue_chunks(((100, "Settling"), (24_000, "Rain"))),
    )
    assert path.read_bytes()[:4] == b"RF64"
    decoded, _ = soundfile.read(path, dtype="float32")
    assert np.array_equal(decoded, audio)
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    ).stderr  # ffmpeg -i with no output exits 1 after describing the file
    assert "title           : Sleep" in probe and "title           : Rain" in probe
    cues = wavinfo.WavInfoReader(str(path)).cues
    assert [offset for _, offset in cues.each_cue()] == [100, 24_000]
