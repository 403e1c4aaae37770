"""A long track's MP3 encoded in parallel segments: the joined stream decodes (ffmpeg) to the source's length and
alignment, its joints are no noisier than elsewhere and the click detector hears nothing there, every frame's main
data is its own, and the gapless header gives mutagen the true length. Short tracks keep the single encoder."""

import subprocess

import imageio_ffmpeg
import mutagen.mp3
import numpy as np
import pytest

from pipeline.blocks import spans
from pipeline.export import audio as export_audio
from pipeline.export import mp3, write_audio
from pipeline.qc import _Clicks

RATE = 48_000
DELAY = mp3.ENCODER_DELAY + 529  # LAME's delay and the decoder's: where a joint between frames is heard


def sweep_and_noise(seconds: float, seed: int = 1, top: float = 8000, noise: float = 0.02) -> np.ndarray:
    """A sine sweep (50 Hz to ``top``) under noise (RMS), continuous across every joint; not a whole number of
    frames, so the last segment pads."""
    frames = int(seconds * RATE) + 777
    rising = np.exp(np.linspace(np.log(50), np.log(top), frames))
    phase = 2 * np.pi * np.cumsum(rising) / RATE
    noise = noise * np.random.default_rng(seed).standard_normal((frames, 2))
    return (0.3 * np.stack([np.sin(phase), np.sin(phase + 0.5)], axis=1) + noise).astype(np.float32)


def encode(path, source, segment_s, workers=None):
    segment = int(segment_s * RATE) // mp3.FRAME * mp3.FRAME
    blocks = (source[a:b] for a, b in spans(len(source)))
    mp3.encode_segmented(path, blocks, len(source), source.shape[1], RATE, segment=segment, workers=workers)
    joints = [start - DELAY for start in range(segment, len(source), segment)]
    return joints


def decode(path) -> np.ndarray:
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-"], capture_output=True
    )
    assert done.returncode == 0 and not done.stderr, done.stderr  # ffmpeg's decoder complains of a broken stream
    return np.frombuffer(done.stdout, "<f4").reshape(-1, 2)


def db(values: np.ndarray) -> float:
    return 10 * float(np.log10(np.mean(np.square(values, dtype=np.float64)) + 1e-30))


def joint_levels(source, decoded, joints, reach=mp3.FRAME):
    """The error (decoded − source) in dB near each joint, and away from every joint."""
    error = (decoded - source)[:, 0]
    near = [db(error[j - reach : j + reach]) for j in joints]
    away = np.ones(len(error), dtype=bool)
    for j in joints:
        away[max(j - 3 * reach, 0) : j + 3 * reach] = False
    away[: 4 * mp3.FRAME] = away[-4 * mp3.FRAME :] = False  # the track's own start and end
    return np.array(near), db(error[away])


def clicks_at(audio, joints) -> int:
    """What qc's click detector finds around the joints, every 5 ms from a frame before to a frame after."""
    places = sorted(p for j in joints for p in range(j - mp3.FRAME, j + mp3.FRAME + 1, 240))
    clicks = _Clicks(places)
    for a, b in spans(len(audio)):
        clicks.feed(audio[a:b], a)
    clicks.finish(len(audio))
    return clicks.found


def check_joined(path, source, joints):
    decoded = decode(path)
    assert decoded.shape == source.shape  # gapless: the header's delay and padding trimmed, nothing else
    probe = decoded[RATE : 3 * RATE, 0]
    lags = np.correlate(probe, source[RATE - 500 : 3 * RATE + 500, 0], "valid")
    assert int(np.argmax(lags)) - 500 == 0  # aligned with the source to the sample

    near, away = joint_levels(source, decoded, joints)
    assert away < -35  # the error is the coder's noise, not a misplaced frame
    assert np.all(np.abs(near - away) < 2.0), near - away
    assert abs(float(np.mean(near)) - away) < 0.5

    assert clicks_at(decoded, joints) == 0

    data = path.read_bytes()
    size = mp3.frame_bytes(RATE)
    frames = [data[i : i + size] for i in range(size, len(data), size)]
    assert len(data) % size == 0 and all(f[0] == 0xFF and f[1] & 0xE0 == 0xE0 for f in frames)
    assert [mp3.main_data_begin(f) for f in frames] == [0] * len(frames)

    info = mutagen.mp3.MP3(path).info
    assert abs(info.length * RATE - len(source)) <= mp3.FRAME
    assert info.bitrate_mode == mutagen.mp3.BitrateMode.CBR and info.bitrate == mp3.BITRATE * 1000
    return decoded


def test_segments_join_into_one_gapless_stream(tmp_path):
    source = sweep_and_noise(30)
    joints = encode(tmp_path / "joined.mp3", source, segment_s=5, workers=2)
    assert len(joints) == 6
    check_joined(tmp_path / "joined.mp3", source, joints)


def test_the_header_counts_the_frames_and_checks_them_as_lame_does(tmp_path):
    source = sweep_and_noise(6)
    encode(tmp_path / "joined.mp3", source, segment_s=2)
    data = (tmp_path / "joined.mp3").read_bytes()
    size = mp3.frame_bytes(RATE)
    info = data[:size]
    at = info.index(b"Info")
    frames, total = int.from_bytes(info[at + 8 : at + 12], "big"), int.from_bytes(info[at + 12 : at + 16], "big")
    assert (frames + 1) * size == total == len(data)
    tag = info[at + 120 : at + 156]
    assert tag.startswith(b"LAME")
    delay_padding = int.from_bytes(tag[21:24], "big")
    assert delay_padding >> 12 == mp3.ENCODER_DELAY
    assert frames * mp3.FRAME - (delay_padding >> 12) - (delay_padding & 0xFFF) == len(source)
    assert int.from_bytes(tag[28:32], "big") == len(data)
    assert int.from_bytes(tag[32:34], "big") == mp3.crc16(data[size:])  # the music CRC, over every audio frame
    assert int.from_bytes(tag[34:36], "big") == mp3.crc16(info[: at + 154])  # the tag's own CRC (190 bytes)


def test_a_click_at_a_joint_would_be_heard(tmp_path):
    """On a low sweep under quiet noise (a pad, as our beds are) the detector hears a one-sample step of 0.06 at a
    joint, and none at the joints themselves. (On the bright sweep above it needs a step of about 0.5: its
    threshold is 8 times the curvature around, which a loud 8 kHz tone and -34 dB noise make large.)"""
    source = sweep_and_noise(12, top=500, noise=0.002)
    joints = encode(tmp_path / "joined.mp3", source, segment_s=4)
    decoded = decode(tmp_path / "joined.mp3").copy()
    assert clicks_at(source, joints) == clicks_at(decoded, joints) == 0
    decoded[joints[1] + 100 :] += 0.06
    assert clicks_at(decoded, joints) > 0  # heard from each place within 10 ms of it


def test_short_tracks_keep_the_single_encoder_byte_for_byte(tmp_path):
    source = sweep_and_noise(10)
    written = write_audio(tmp_path / "short.mp3", source, RATE, "mp3")
    export_audio._encode_mp3(tmp_path / "direct.mp3", (source[a:b] for a, b in spans(len(source))), 2, RATE)
    assert written.read_bytes() == (tmp_path / "direct.mp3").read_bytes()
    long = mp3.SEGMENTED_FROM_S * RATE
    assert not mp3.worth_it(long - 1, RATE, 2) and not mp3.worth_it(long, 44_100, 2)
    assert mp3.worth_it(long, RATE, 2) == (mp3.cores() > 1)
    assert int(export_audio.ENCODER_SETTINGS["mp3"]["quality"]) == mp3.BITRATE  # both encoders at one bitrate


def test_a_long_track_is_written_in_segments_and_tagged(tmp_path, monkeypatch):
    """Through ``write_audio``, as a render writes it: the ID3 tag goes before the joined frames."""
    from pipeline.export import Tags

    monkeypatch.setattr(mp3, "SEGMENTED_FROM_S", 10)
    monkeypatch.setattr(mp3, "SEGMENT_S", 4)
    monkeypatch.setattr(mp3, "cores", lambda: 2)
    source = sweep_and_noise(14)
    path = write_audio(tmp_path / "long.mp3", source, RATE, "mp3", Tags(title="Long"))
    assert decode(path).shape == source.shape
    read = mutagen.mp3.MP3(path)
    assert str(read.tags["TIT2"]) == "Long" and abs(read.info.length * RATE - len(source)) <= mp3.FRAME
    assert not list(tmp_path.glob(".mp3-segments-*"))  # the raw segments are gone


def test_plan_cuts_at_whole_frames_and_covers_the_track():
    segment = 10 * mp3.FRAME
    plan = mp3.plan(35 * mp3.FRAME + 7, segment)
    assert [s.read_start for s in plan] == [0, 2 * mp3.FRAME, 12 * mp3.FRAME, 22 * mp3.FRAME]
    assert [s.skip for s in plan] == [0, mp3.PRE_ROLL, mp3.PRE_ROLL, mp3.PRE_ROLL]
    assert [s.keep for s in plan] == [10, 10, 10, None]
    assert plan[0].read_end == (10 + mp3.POST_ROLL) * mp3.FRAME and plan[-1].read_end == 35 * mp3.FRAME + 7
    with pytest.raises(ValueError):
        mp3.plan(100_000, 1000)


@pytest.mark.slow
def test_minutes_of_sweep_join_without_a_click_in_small_segments(tmp_path):
    source = sweep_and_noise(180, seed=2)
    joints = encode(tmp_path / "joined.mp3", source, segment_s=15)
    assert len(joints) == 12
    check_joined(tmp_path / "joined.mp3", source, joints)


@pytest.mark.slow
def test_a_strike_on_a_joint_costs_no_more_than_one_mid_segment(tmp_path):
    """Where the encoders might disagree (a transient makes LAME switch to short blocks, and the two sides of a
    joint must choose alike for the filterbank's aliasing to cancel), the error is that of the same strike
    encoded in one piece: decaying 2 kHz bursts put at and around each joint, then half a segment away."""
    segment = int(5 * RATE) // mp3.FRAME * mp3.FRAME
    seconds = np.arange(4800) / RATE
    burst = (0.5 * np.sin(2 * np.pi * 2000 * seconds) * np.exp(-seconds * 60)).astype(np.float32)
    levels = []
    for shift in (0, segment // 2):
        source = sweep_and_noise(60, top=2000, noise=0.005)
        starts = range(segment, len(source) - 10_000, segment)
        for k, start in enumerate(starts):
            at = start - DELAY + (-600, -300, 0, 200, 500, 900)[k % 6] - shift
            source[at : at + len(burst)] += burst[:, None]
        joints = encode(tmp_path / "struck.mp3", source, segment_s=5)
        error = (decode(tmp_path / "struck.mp3") - source)[:, 0]
        levels.append(np.array([db(error[j - shift - mp3.FRAME : j - shift + mp3.FRAME]) for j in joints]))
        if shift == 0:
            assert clicks_at(decode(tmp_path / "struck.mp3"), joints) == 0
    on_joints, mid_segment = levels
    assert abs(float(np.mean(on_joints)) - float(np.mean(mid_segment))) < 1.0
    assert on_joints.max() < mid_segment.max() + 2.0
