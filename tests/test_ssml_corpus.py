"""SSML as Google, Azure and Amazon Polly users write it (tests/ssml/, written for these tests): each file lints
with only the warnings documented for it, renders and passes its checks, and its breaks are heard as written."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.script import parse_file

CORPUS = Path(__file__).parent / "ssml"
WARNINGS = {
    "google.ssml": [
        '<audio src="missing-chime.wav"> is not a file beside the script',
        "<par>",
        "<media>",
        "<google:style>",
    ],
    "azure.ssml": ["<mstts:express-as>", "<lang>"],
    "polly.ssml": [
        "<amazon:domain>",
        "stage direction '[Softly]'",
        "whispered",
        "<amazon:effect name='drc'>",
        "stage direction '[SFX: soft chime]'",
    ],
}
BREAKS = {"google.ssml": (0, 0.9), "azure.ssml": (0, 1.5)}
"""A written break: the phrase it follows, and its length in seconds."""


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_each_file_lints_with_only_its_documented_warnings(name):
    result = CliRunner().invoke(main, ["lint", str(CORPUS / name)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if ": warning: " in line]
    assert len(warnings) == len(WARNINGS[name])
    for expected, line in zip(WARNINGS[name], warnings):
        assert expected in line


def test_what_each_vendor_writes_is_honoured():
    google, azure, polly = (parse_file(CORPUS / f"{n}.ssml") for n in ("google", "azure", "polly"))
    assert google.meta.profile == "meditation" and google.meta.voice == "steady"
    texts = [p.text for p in google.phrases]
    assert "Today is 11/30/2026, and this is your second session." in texts  # say-as ordinal
    assert any("doctor Rivera" in t for t in texts) and any("a soft chime" in t for t in texts)  # sub; fallback
    breathe = next(p for p in google.phrases if p.text.startswith("Breathe in"))
    assert (breathe.natural_rate, breathe.pitch_st) == (0.9, -2.0)  # 90%: of the voice's natural speed
    assert dict(next(p for p in google.phrases if p.text.startswith("Say Niamh")).lexicon) == {"Niamh": "ˈniːv"}
    find, notice = azure.phrases[:2]
    assert (find.rate, find.volume_db, notice.rate) == (0.8, -4.5, 0.9)  # "slow", "soft", "-10%": of the preset's
    assert {p.voice for p in azure.phrases} == {"steady"} and azure.phrases[-1].pitch_st == -2.0
    assert "5 5 5 0 1 0 0" in azure.phrases[3].text  # say-as telephone, digit by digit
    marks = {
        name: [e.name for e in s.events if type(e).__name__ == "Mark"]
        for name, s in (("google", google), ("azure", azure), ("polly", polly))
    }
    assert marks == {
        "google": ["after-name"],
        "azure": ["middle"],
        "polly": ["direction: Softly", "direction: SFX: soft chime"],
    }
    assert dict(polly.phrases[4].lexicon) == {"tomato": "təˈmɑːtəʊ"}  # X-SAMPA, as IPA
    assert polly.phrases[1].volume_db == -6.0 and polly.phrases[3].text == "Spell it: S O S."
    assert not [
        p.text for s in (google, azure, polly) for p in s.phrases if "  " in p.text
    ]  # one space where pieces meet


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_each_file_renders_passes_its_checks_and_its_breaks_are_heard_as_written(name, tmp_path, cache_dir):
    result = CliRunner().invoke(
        main,
        [
            "render",
            str(CORPUS / name),
            "-o",
            str(tmp_path),
            "--cache",
            str(cache_dir),
            "--voice",
            "steady",
            "--format",
            "flac",
            "--stems",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / f"{Path(name).stem}.json").read_text())
    assert manifest["qc"]["passed"]
    if name not in BREAKS:
        return
    after, seconds = BREAKS[name]
    heard = manifest["speech"]["heard_s"]
    assert heard[after + 1][0] - heard[after][1] == pytest.approx(seconds, abs=0.001)
    voice, rate = soundfile.read(tmp_path / f"{Path(name).stem}.voice.wav", dtype="float32")
    window = int(0.005 * rate)
    level = 10 * np.log10(
        np.maximum(np.convolve(np.square(voice.mean(axis=1)), np.ones(window) / window, "same"), 1e-18)
    )
    start, end = int(heard[after][0] * rate), int(heard[after + 1][1] * rate)
    loud = np.flatnonzero(level[start:end] > -50)
    # 20 ms, not the 10 of tests/test_constructs.py: here the break follows a soft phrase (-4.5 dB) whose clip edge
    # is trimmed relative to its own peak and whose room tail crosses -50 dBFS later (azure: 14.8 ms short)
    assert abs(np.diff(loud).max() / rate - seconds) < 0.020, np.diff(loud).max() / rate
