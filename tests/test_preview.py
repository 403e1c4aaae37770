"""The preview page in a real browser (Debian's Chromium, driven by Playwright): it loads cleanly,
every stem decodes, mute and solo change the audio graph, markers seek, the transcript follows."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from pipeline.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason="Chromium not installed (make test installs Debian's chromium)"),
    pytest.mark.slow,
]  # renders previews and drives a browser


@pytest.fixture(scope="module")
def preview(tmp_path_factory, cache_dir):
    from pipeline.job import RenderOptions
    from pipeline.preview import render_preview, serve

    folder = tmp_path_factory.mktemp("preview")
    result = render_preview(FIXTURES / "short.txt", folder, RenderOptions(cache_dir=cache_dir))
    server, url = serve(folder)
    yield result, url
    server.shutdown()


@pytest.fixture(scope="module")
def page(preview):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        tab = browser.new_page()
        errors = []
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(preview[1])
        tab.wait_for_function(
            "window.preview && Object.values(window.preview.elements).every(a => a.readyState >= 2)", timeout=30_000
        )
        yield tab, errors
        browser.close()


ARTEFACTS = Path(__file__).parent.parent / "build" / "test-artefacts"
"""Where the page's screenshot is kept, to be looked at (CI uploads it)."""


def test_page_loads_without_console_errors(page):
    tab, errors = page
    assert errors == []
    assert tab.locator("#qc").inner_text().count("\n") >= 4


def test_figures_read_with_labels_and_units_and_a_screenshot_is_kept(page):
    tab, _ = page
    figures = tab.locator("#qc").inner_text()
    assert re.search(r"Integrated loudness\s+\u22121\d\.\d LUFS \(target \u221216\)", figures), figures
    assert re.search(r"True peak\s+\u2212\d\.\d dBTP \(ceiling \u22121\)", figures) and "Loudness range" in figures
    assert "_" not in figures
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTEFACTS / "preview.png"), full_page=True)
    assert (ARTEFACTS / "preview.png").stat().st_size > 10_000


def overlapping(tab, lane: str) -> list:
    boxes = tab.evaluate(f"""[...document.querySelectorAll('.lane.{lane} .marker')].map(m => {{
        const r = m.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; }})""")
    return [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
    ]


def test_labels_of_close_events_never_overlap(page):
    tab, _ = page
    assert tab.locator(".lane.sections .marker").count() == 2 and overlapping(tab, "sections") == []
    tab.evaluate("""window.preview.markers(window.preview.lane('crowded', 'Crowded'),
        Array.from({length: 12}, (_, i) => ({name: `event number ${i}`, t: 1 + i * 0.2})), 'cue')""")
    assert tab.locator(".lane.crowded .marker").count() == 12 and overlapping(tab, "crowded") == []
    height = tab.evaluate("document.querySelector('.lane.crowded').getBoundingClientRect().height")
    assert height > 3 * 19  # the lane grew to hold the stacked labels


def test_breath_has_its_own_lane_at_the_exhale_onsets(page, preview):
    tab, _ = page
    ticks = [float(t) for t in tab.locator(".lane.breath .tick").evaluate_all("ts => ts.map(t => t.dataset.t)")]
    manifest_like = preview[0].folder / "preview.json"
    assert ticks == json.loads(manifest_like.read_text())["breath"] and len(ticks) >= 3
    assert all(0 <= t <= preview[0].figures["duration_s"] for t in ticks)
    period = np.diff(ticks)
    assert np.allclose(period, period[0], atol=0.01)  # the fixture breathes at one steady pace


def test_every_stem_decodes_to_the_full_length(page, preview):
    tab, _ = page
    lengths = tab.evaluate("""async () => {
        const out = {};
        for (const [name, audio] of Object.entries(window.preview.elements)) {
            const bytes = await (await fetch(audio.src)).arrayBuffer();
            out[name] = (await window.preview.ctx.decodeAudioData(bytes)).duration;
        }
        return out;
    }""")
    assert set(lengths) == {"mix", "voice", "bed", "tones"}
    for duration in lengths.values():
        assert duration == pytest.approx(preview[0].figures["duration_s"], abs=0.1)


def test_mute_and_solo_change_the_audio_graph(page):
    tab, _ = page
    gains = lambda: tab.evaluate(
        "Object.fromEntries(Object.entries(window.preview.gains).map(([k, g]) => [k, g.gain.value]))"
    )
    assert gains() == {"mix": 1, "voice": 0, "bed": 0, "tones": 0}
    tab.locator('input.gain[data-stem="voice"]').fill("1")
    tab.locator('input.gain[data-stem="bed"]').fill("1")
    tab.locator('input.solo[data-stem="voice"]').check()
    assert gains() == {"mix": 0, "voice": 1, "bed": 0, "tones": 0}
    tab.locator('input.solo[data-stem="voice"]').uncheck()
    tab.locator('input.mute[data-stem="mix"]').check()
    assert gains() == {"mix": 0, "voice": 1, "bed": 1, "tones": 0}


def test_clicking_a_marker_seeks_and_the_transcript_follows(page):
    tab, _ = page
    marker = tab.locator(".marker.section", has_text="Rest")
    target = float(marker.get_attribute("data-t"))
    marker.click()
    assert tab.evaluate("window.preview.elements.mix.currentTime") == pytest.approx(target, abs=0.05)
    phrase = tab.locator(".phrase").nth(2)
    start = float(phrase.get_attribute("data-start"))
    tab.evaluate(f"window.preview.seek({start + 0.2})")
    assert tab.locator(".phrase.current").inner_text() == phrase.inner_text()
    tab.locator(".phrase").nth(1).click()  # a phrase seeks too
    assert tab.evaluate("window.preview.elements.mix.currentTime") == pytest.approx(
        float(tab.locator(".phrase").nth(1).get_attribute("data-start")), abs=0.05
    )
    assert tab.locator(".phrase.current").inner_text() == tab.locator(".phrase").nth(1).inner_text()


def test_preview_command_reports_bad_input(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["preview", str(FIXTURES / "short.txt"), "--section", "Nowhere", "-o", str(tmp_path)])
    assert missing.exit_code != 0 and "no section 'Nowhere' (sections: Arrival, Rest)" in missing.output
    outside = runner.invoke(main, ["preview", str(FIXTURES / "short.txt"), "--from", "50:00", "-o", str(tmp_path)])
    assert outside.exit_code != 0 and "outside the track" in outside.output


def test_a_port_in_use_is_a_clear_error(preview):
    from pipeline.errors import ConfigError
    from pipeline.preview import serve

    port = int(preview[1].split(":")[2].split("/")[0])
    with pytest.raises(ConfigError, match=f"cannot serve on 127.0.0.1:{port}"):
        serve(preview[0].folder, port)


def test_plot_writes_a_png(tmp_path, cache_dir):
    from pipeline.plot import plot_track

    result = CliRunner().invoke(
        main,
        [
            "render",
            str(FIXTURES / "short.txt"),
            "-o",
            str(tmp_path),
            "--cache",
            str(cache_dir),
            "--stems",
            "--format",
            "flac",
        ],
    )
    assert result.exit_code == 0, result.output
    png = plot_track(tmp_path / "short.flac")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000
    onsets = json.loads((tmp_path / "short.json").read_text())["exhale_onsets_s"]
    assert onsets[0] == pytest.approx(3.0) and np.allclose(np.diff(onsets), 7.5)  # 8 breaths a minute, 4:6
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    green = pixels[..., 1] - pixels[..., [0, 2]].max(axis=-1) > 0.15  # nothing else in the picture is green
    columns = np.flatnonzero(green[:, : int(pixels.shape[1] * 0.9)].any(axis=0))  # left of the key's label
    ticks = 1 + np.count_nonzero(np.diff(columns) > 3)
    assert len(columns) and ticks == len(onsets)  # one tick per out-breath, under the voice


def test_plot_reads_a_track_block_by_block_not_whole(tmp_path, cache_dir):
    """An eight-hour track is 11 GB as float32: ``drift plot`` reads it where it is used."""
    import soundfile

    from pipeline.export.decode import decoded

    result = CliRunner().invoke(
        main,
        ["render", str(FIXTURES / "short.txt"), "-o", str(tmp_path), "--cache", str(cache_dir), "--format", "flac"],
    )
    assert result.exit_code == 0, result.output
    signal = decoded(tmp_path / "short.flac")
    whole, _ = soundfile.read(tmp_path / "short.flac", dtype="float32", always_2d=True)
    assert not isinstance(signal, np.ndarray) and signal.shape == whole.shape
    assert np.array_equal(signal[70_000:140_000], whole[70_000:140_000])


def test_plot_reads_every_format_qc_reads(tmp_path, cache_dir):
    """``drift plot`` and ``drift qc`` decode through one reader: an M4A that qc checks is drawn, and its picture
    is the FLAC's within what AAC changes."""
    from pipeline.export.decode import decoded, read_blocks
    from pipeline.pictures import waveform

    result = CliRunner().invoke(
        main,
        [
            "render",
            str(FIXTURES / "short.txt"),
            "-o",
            str(tmp_path),
            "--cache",
            str(cache_dir),
            "--format",
            "flac,m4a",
            "--no-qc",
        ],
    )
    assert result.exit_code == 0, result.output
    plotted = CliRunner().invoke(main, ["plot", str(tmp_path / "short.m4a"), "-o", str(tmp_path / "m4a.png")])
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "m4a.png").read_bytes().startswith(b"\x89PNG")
    m4a, flac = decoded(tmp_path / "short.m4a"), decoded(tmp_path / "short.flac")
    assert len(m4a) == sum(len(block) for block in read_blocks(tmp_path / "short.m4a"))
    assert abs(len(m4a) - len(flac)) < 4096  # AAC's priming and padding, at most
    heard, written = np.ptp(waveform(m4a, 200), axis=1), np.ptp(waveform(flac, 200), axis=1)
    assert np.corrcoef(heard, written)[0, 1] > 0.95 and np.median(np.abs(heard - written)) < 0.02


def test_an_unchanged_preview_is_reused_and_an_edit_renders_it_again(tmp_path, cache_dir):
    from pipeline.job import RenderOptions
    from pipeline.preview import render_preview

    script = tmp_path / "s.txt"
    script.write_text((FIXTURES / "short.txt").read_text())
    options, folder = RenderOptions(cache_dir=cache_dir), tmp_path / "preview"
    first = render_preview(script, folder, options, span=(0.0, 5.0))
    made = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = render_preview(script, folder, options, span=(0.0, 5.0))
    assert again.reused and not first.reused and again.figures == first.figures
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == made
    render_preview(script, folder, options, span=(0.0, 4.0))  # another span is another preview
    assert (folder / "mix.ogg").stat().st_mtime_ns != made["mix.ogg"]
    script.write_text(script.read_text() + "\nOne more line.\n")
    changed = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    render_preview(script, folder, options, span=(0.0, 4.0))
    assert (folder / "preview.json").stat().st_mtime_ns != changed["preview.json"]


def test_the_preview_server_answers_byte_ranges_so_players_can_seek(preview):
    import urllib.error
    import urllib.request

    url = preview[1].replace("preview.html", "mix.ogg")
    whole = urllib.request.urlopen(url).read()
    fetch = lambda spec: urllib.request.urlopen(urllib.request.Request(url, headers={"Range": spec}))
    middle = fetch("bytes=100-199")
    assert middle.status == 206 and middle.read() == whole[100:200]
    assert middle.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert fetch("bytes=-50").read() == whole[-50:] and fetch("bytes=1000-").read() == whole[1000:]
    with pytest.raises(urllib.error.HTTPError, match="416"):
        fetch(f"bytes={len(whole)}-")
