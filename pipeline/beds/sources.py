"""One sound source per layer kind, each rendering any frame range of its layer.

Sources are stateful only where sound needs it (filter state, the file
reader's position); everything that moves slowly is a function of the absolute
frame, so blocks join exactly. Noise is drawn per generation block, so a seed
always gives the same samples.
"""

from __future__ import annotations

import numpy as np

from ..audio import SAMPLE_RATE, equal_power_fades, resample
from ..blocks import CONTROL_STEP, Rechunker, at_audio_rate, control_frames
from ..errors import ConfigError, Source
from .layers import DroneLayer, FileLayer, NoiseLayer, RainLayer, ToneLayer, WindLayer
from .tones import beat_cycles, fraction, tone

# Noise colour as an IIR filter on white noise.
_PINK = ([0.049922035, -0.095993537, 0.050612699, -0.004408786], [1.0, -2.494956002, 2.017265875, -0.522189400])
_BROWN_POLE = 1.0 - 2 * np.pi * 20.0 / SAMPLE_RATE  # leaky integrator: −6 dB/oct above 20 Hz
_BROWN = ([1.0 - _BROWN_POLE], [1.0, -_BROWN_POLE])
SUBSONIC_HZ = 20.0
"""Noise layers always lose what lies below hearing: it only spends headroom, and reads as drifting DC."""


def _sos_rms(sos: np.ndarray) -> float:
    """RMS of unit white noise through ``sos``, so ``level_db`` means the same whatever the filtering."""
    from scipy import signal

    impulse = np.zeros(4 * SAMPLE_RATE)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2)))


def _slow_coarse(start: int, count: int, period_s: float, phase: float) -> np.ndarray:
    """A slow sine (−1…1) at the control frames over [start, start+count); ``at_audio_rate`` fills it in."""
    return np.sin(2 * np.pi * control_frames(start, count) / SAMPLE_RATE / period_s + phase)


def _white(rng: np.random.Generator, count: int) -> np.ndarray:
    """Unit-variance white noise, two channels. Uniform, not Gaussian: four times faster to draw, it has the
    same flat spectrum, and every filter downstream makes it Gaussian anyway (central limit)."""
    return (rng.random((count, 2)) - 0.5) * np.sqrt(12.0)


def _stereo(noise: np.ndarray, width: float) -> np.ndarray:
    """Two decorrelated channels narrowed to ``width`` (0 mono … 1 independent), at the same power:
    mid/side with the side scaled by ``width``, written as one 2×2 mix."""
    if width >= 1.0:
        return noise
    norm = np.sqrt(2 * (1 + width**2))
    same, other = (1 + width) / norm, (1 - width) / norm
    left, right = noise[:, 0], noise[:, 1]
    return np.stack([left * same + right * other, left * other + right * same], axis=1)


class Noise:
    def __init__(self, layer: NoiseLayer, rng: np.random.Generator):
        from scipy import signal

        self.layer, self.rng = layer, rng
        sections = []
        if layer.color != "white":
            sections.append(signal.tf2sos(*(_PINK if layer.color == "pink" else _BROWN)))
        if layer.lowpass_hz > 0:
            sections.append(signal.butter(2, layer.lowpass_hz, "lowpass", fs=SAMPLE_RATE, output="sos"))
        sections.append(signal.butter(2, layer.highpass_hz or SUBSONIC_HZ, "highpass", fs=SAMPLE_RATE, output="sos"))
        self.sos = np.vstack(sections)
        self.state = np.zeros((len(self.sos), 2, 2))
        self.gain = 10 ** (layer.level_db / 20) / _sos_rms(self.sos)
        self.swell_phase = rng.uniform(0, 2 * np.pi)

    def render(self, start: int, count: int) -> np.ndarray:
        from scipy import signal

        white, self.state = signal.sosfilt(self.sos, _white(self.rng, count), axis=0, zi=self.state)
        out = (_stereo(white, float(np.clip(self.layer.width, 0, 1))) * self.gain).astype(np.float32)
        if self.layer.swell_s > 0:
            wave = 0.5 + 0.5 * _slow_coarse(start, count, self.layer.swell_s, self.swell_phase)
            depth = float(np.clip(self.layer.swell_depth, 0, 1))
            out *= at_audio_rate((1 - depth) + depth * wave**1.5, count)[:, None]
        return out


class Drone:
    """Detuned sine pairs whose level, brightness and place in the stereo field drift slowly."""

    def __init__(self, layer: DroneLayer, rng: np.random.Generator):
        self.layer = layer
        count = len(layer.notes_hz)
        self.phases = rng.uniform(0, 2 * np.pi, size=(count, 5))
        # Incommensurate periods so the notes never swell in lockstep.
        self.periods = layer.swell_s * (1 + 0.37 * np.arange(count)) * rng.uniform(0.9, 1.1, count)
        # Each note's pair of half-amplitude sines (+ harmonic) has RMS ≈ 0.46 at mid-swell.
        self.gain = 10 ** (layer.level_db / 20) / (0.46 * np.sqrt(count)) * np.sqrt(2)  # undo the pan's −3 dB

    def render(self, start: int, count: int) -> np.ndarray:
        out = np.zeros((count, 2), dtype=np.float32)
        spread = 2 ** (self.layer.detune_cents / 1200)
        seconds = control_frames(start, count) / SAMPLE_RATE
        for i, freq in enumerate(self.layer.notes_hz):
            ph, period = self.phases[i], self.periods[i]
            # sin(a) + sin(b) = 2 sin((a+b)/2) cos((a−b)/2): the detuned pair is one sine under a slow beat,
            # and the beat joins the other slow curves at control rate.
            beat = 2 * np.cos(np.pi * freq * (spread - 1 / spread) * seconds + (ph[0] - ph[1]) / 2)
            brightness = 0.1 + 0.08 * _slow_coarse(start, count, period * 0.77, ph[4])
            level = 0.5 * (0.65 + 0.35 * _slow_coarse(start, count, period, ph[2]))
            angle = (0.5 + 0.5 * self.layer.width * _slow_coarse(start, count, period * 1.618, ph[3])) * (np.pi / 2)
            pair = _sine(start, count, freq * (spread + 1 / spread) / 2, (ph[0] + ph[1]) / 2)
            harmonic = _sine(start, count, 2 * freq, ph[0])  # a moving touch of second harmonic: warmth
            sound = pair * at_audio_rate(beat, count) + harmonic * at_audio_rate(brightness, count)
            out[:, 0] += sound * at_audio_rate(level * np.cos(angle), count)
            out[:, 1] += sound * at_audio_rate(level * np.sin(angle), count)
        return out * np.float32(self.gain)


_SINE_STRETCH = 4096


def _sine(start: int, count: int, freq: float, phase: float) -> np.ndarray:
    """sin(2π·freq·t + phase) over frames [start, start+count). Each 4096-frame stretch starts from its exact
    float64 phase and only the short ramp inside it is float32: hours of phase stay exact, the sine stays fast."""
    step = freq / SAMPLE_RATE
    heads = start + _SINE_STRETCH * np.arange(-(-count // _SINE_STRETCH), dtype=np.float64)
    offsets = fraction(heads * step + phase / (2 * np.pi))
    ramp = np.arange(_SINE_STRETCH, dtype=np.float32) * np.float32(step)
    return np.sin(np.float32(2 * np.pi) * (offsets[:, None] + ramp).ravel()[:count])


_RAIN_CHUNK = 16384
_BIGGEST_DROP = 2.0
"""Drop sizes vary (lognormal about 1) up to twice the median: the rare bigger drop peaked 25 dB over the
bed's loudness and drove the master limiter 8 dB down, pumping the whole mix; capped, rain's peaks sit
14 dB over its loudness, like the other beds'."""


class Rain:
    """Drops: sparse clicks at random times, each a short decaying burst through a resonant band, over a soft hiss."""

    def __init__(self, layer: RainLayer, rng: np.random.Generator):
        from scipy import signal

        self.layer, self.rng = layer, rng
        low, high = layer.brightness_hz / 2, min(layer.brightness_hz * 2, SAMPLE_RATE / 2.2)
        self.sos = signal.butter(2, [low, high], "bandpass", fs=SAMPLE_RATE, output="sos")
        self.state = np.zeros((len(self.sos), 2, 2))
        self.gain = 10 ** (layer.level_db / 20) / _sos_rms(self.sos) / np.sqrt(max(layer.drops_per_s, 1) * 0.004 + 0.05)
        self.chunks = Rechunker(lambda: self._chunk(_RAIN_CHUNK))

    def render(self, start: int, count: int) -> np.ndarray:
        """Drawn in fixed chunks: the number of drops must not depend on the caller's block size."""
        return self.chunks.take(count)

    def _chunk(self, count: int) -> np.ndarray:
        from scipy import signal

        drops = np.zeros((count, 2))
        number = self.rng.poisson(self.layer.drops_per_s * count / SAMPLE_RATE)
        where = self.rng.integers(0, count, size=number)
        sizes = np.minimum(self.rng.lognormal(0.0, 0.6, size=number), _BIGGEST_DROP)
        pan = self.rng.uniform(0.5 - self.layer.width / 2, 0.5 + self.layer.width / 2, size=number)
        np.add.at(drops[:, 0], where, sizes * np.cos(pan * np.pi / 2))
        np.add.at(drops[:, 1], where, sizes * np.sin(pan * np.pi / 2))
        drops = signal.lfilter([1.0], [1.0, -0.995], drops, axis=0)  # each click rings ~4 ms
        drops += 0.2 * _white(self.rng, count)  # the hiss of rain further away
        drops, self.state = signal.sosfilt(self.sos, drops, axis=0, zi=self.state)
        return (drops * self.gain).astype(np.float32)


class Wind:
    """Noise through a band-pass whose centre and level wander slowly: gusts."""

    def __init__(self, layer: WindLayer, rng: np.random.Generator):
        from scipy import signal

        self.layer, self.rng = layer, rng
        self.pink = signal.tf2sos(*_PINK)
        self.pink_state = np.zeros((len(self.pink), 2, 2))
        self.band_state = np.zeros((2, 2))
        self.phases = rng.uniform(0, 2 * np.pi, 3)
        self.gain = 10 ** (layer.level_db / 20) * 4.0

    def render(self, start: int, count: int) -> np.ndarray:
        from scipy import signal

        noise, self.pink_state = signal.sosfilt(self.pink, _white(self.rng, count), axis=0, zi=self.pink_state)
        noise = _stereo(noise, float(np.clip(self.layer.width, 0, 1)))
        out = np.empty_like(noise)
        position = 0.5 + 0.5 * _slow_coarse(start, count, self.layer.gust_s, self.phases[0])
        sub = 4 * CONTROL_STEP  # the band moves slowly: retune it every 21 ms, keeping the filter's state
        for a in range(0, count, sub):
            centre = self.layer.low_hz + (self.layer.high_hz - self.layer.low_hz) * float(position[a // CONTROL_STEP])
            b_coef, a_coef = signal.iirpeak(centre, 2.0, fs=SAMPLE_RATE)
            out[a : a + sub], self.band_state = signal.lfilter(
                b_coef, a_coef, noise[a : a + sub], axis=0, zi=self.band_state
            )
        gust = at_audio_rate(0.55 + 0.45 * _slow_coarse(start, count, self.layer.gust_s * 0.61, self.phases[1]), count)
        return (out * gust[:, None] * self.gain).astype(np.float32)


class ToneSource:
    def __init__(self, layer: ToneLayer, rng: np.random.Generator):
        self.layer = layer
        self.gain = 10 ** (layer.level_db / 20) * np.sqrt(2)  # a sine's RMS is 1/√2 of its peak

    def render(self, start: int, count: int) -> np.ndarray:
        t = (start + np.arange(count, dtype=np.float64)) / SAMPLE_RATE
        layer = self.layer
        beats = beat_cycles(layer.beat_hz, layer.beat_to_hz or None, layer.ramp_s, t)
        return tone(layer.kind, t * layer.carrier_hz, beats) * np.float32(self.gain)


class FileLoop:
    """A user's recording looped for any length: each pass starts at a fresh point and crossfades (equal power)
    into the next, so no seam clicks and no pass begins where the last one did."""

    def __init__(self, layer: FileLayer, rng: np.random.Generator):
        import soundfile

        try:
            data, rate = soundfile.read(layer.file, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, OSError) as exc:
            raise ConfigError(f"cannot read ambience file: {exc}", Source(layer.file)) from None
        if not np.isfinite(data).all():
            raise ConfigError("ambience file holds samples that are not numbers (NaN or infinite)", Source(layer.file))
        data = resample(data, rate)
        self.audio = data if data.shape[1] == 2 else np.repeat(data[:, :1], 2, axis=1)
        self.fade = min(int(layer.crossfade_s * SAMPLE_RATE), len(self.audio) // 3)
        if len(self.audio) < 2 * max(self.fade, 1):
            raise ConfigError("ambience file is too short to loop", Source(layer.file))
        rms = float(np.sqrt(np.mean(np.square(self.audio)))) or 1.0
        self.gain = 10 ** (layer.level_db / 20) / rms
        self.rng = rng
        self.passes = Rechunker(self._next_pass)
        self.tail = None

    def _next_pass(self) -> np.ndarray:
        start = int(self.rng.integers(0, max(len(self.audio) // 2 - self.fade, 1)))
        body = self.audio[start:].copy()
        ramp = equal_power_fades(0, self.fade, self.fade, self.fade, 0)
        if self.tail is not None:
            body[: self.fade] = body[: self.fade] * ramp + self.tail * ramp[::-1]
        self.tail = body[-self.fade :].copy()
        return body[: -self.fade]

    def render(self, start: int, count: int) -> np.ndarray:
        return self.passes.take(count) * np.float32(self.gain)


SOURCES = {
    NoiseLayer: Noise,
    DroneLayer: Drone,
    RainLayer: Rain,
    WindLayer: Wind,
    ToneLayer: ToneSource,
    FileLayer: FileLoop,
}
