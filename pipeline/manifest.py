"""What a rendered track is, on disk: the ``Layout`` that names its files and the ``Manifest`` that describes them.

Every writer and reader of a track's files goes through here (render, qc,
plot, library builds, pruning, the track cache, preview), so the naming rule
and the manifest's schema exist once. A track ``NAME`` in a folder is:

    NAME.FORMAT          the master, in each format (flac, mp3, …)
    NAME.STEM.wav        stems (voice, bed, tones), with --stems: 32-bit float, so they never clip
    NAME.vtt .srt .txt   captions and transcript
    NAME.json            the manifest, written last

``NAME`` may contain dots (``session.v2``): a file is read back as a stem
only when its owner's manifest says so or no track of the longer name exists.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, Source, did_you_mean
from .files import write_json
from .loudness import Loudness, Spread

MANIFEST_VERSION = 2
"""1: the unversioned manifest before 0.2 (``mix.voice_to_bed_db`` was the setting). 2: versioned, the balance
measured."""
STEM_NAMES = ("voice", "bed", "tones")
STEM_FORMAT = "wav"
"""Stems are 32-bit float WAV whatever the track's formats: taken before the limiter, a voice stem can pass
0 dBFS, and float keeps every sample, so the stems sum to the pre-limiter mix exactly."""
SIDECARS = ("vtt", "srt", "txt")
"""Captions (WebVTT, SRT) and the transcript."""
FORMATS = ("flac", "wav", "opus", "ogg", "mp3", "m4a")
"""The formats a track's master can be written in (``export.audio`` has an encoder for each)."""
DEFAULT_FORMATS = ("flac", "mp3")


def check_formats(names: list[str] | tuple[str, ...], setting: str = "--format") -> tuple[str, ...]:
    """The formats named, each once, in order; an unknown one is a ``ConfigError`` naming ``setting``."""
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        hint = did_you_mean(unknown[0], FORMATS) or f" (available: {', '.join(FORMATS)})"
        raise ConfigError(f"{setting}: unknown format '{unknown[0]}'{hint}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Layout:
    """The files of the track ``name`` in ``folder``."""

    folder: Path
    name: str

    @property
    def manifest(self) -> Path:
        return self.folder / f"{self.name}.json"

    def track(self, fmt: str) -> Path:
        return self.folder / f"{self.name}.{fmt}"

    def stem(self, stem: str) -> Path:
        return self.folder / f"{self.name}.{stem}.{STEM_FORMAT}"

    def sidecar(self, suffix: str) -> Path:
        return self.folder / f"{self.name}.{suffix}"

    def audio(self, formats: tuple[str, ...], stems: bool) -> list[Path]:
        """The master in every format, then (with ``stems``) each stem."""
        return [self.track(f) for f in formats] + [self.stem(s) for s in STEM_NAMES if stems]

    def expected(self, formats: tuple[str, ...], stems: bool) -> list[Path]:
        """Everything but the manifest, which vouches for these."""
        return self.audio(formats, stems) + [self.sidecar(s) for s in SIDECARS]

    @classmethod
    def of_file(cls, path: Path) -> tuple[Layout, str | None]:
        """The track an audio file belongs to, and which stem it is (None: the master itself)."""
        path = Path(path)
        base = path.name[: -len(path.suffix)] if path.suffix else path.name
        for stem in STEM_NAMES:
            if base.endswith(f".{stem}"):
                owner = cls(path.parent, base[: -len(stem) - 1])
                if owner.manifest.exists() or not cls(path.parent, base).manifest.exists():
                    return owner, stem
        return cls(path.parent, base), None


# --- the manifest ----------------------------------------------------------------------


@dataclass(frozen=True)
class Renderer:
    name: str
    version: str
    source_sha256: str
    """A hash of the renderer's code (the modules ``job.RENDERER`` imports): the same version with other code is
    another renderer."""


@dataclass(frozen=True, kw_only=True)
class Speech:
    phrases: int
    words: int
    """Words as said: "22899" is eight (twenty-two thousand, eight hundred and ninety-nine)."""
    speech_s: float
    """Seconds of speech: each spoken phrase from its first sound to its last, added up (pauses between phrases
    and inserted sounds excluded)."""
    words_per_minute_spoken: float
    longest_silence_s: float
    """The longest stretch without a word that the script asked for, lead-in and tail included."""
    spans_s: tuple[tuple[float, float], ...]
    """Every phrase's (and inserted sound's) clip as [start, end] seconds: where clips join (qc looks for clicks
    there). A clip carries a little quiet at each edge (``edge_pad_s``)."""
    heard_s: tuple[tuple[float, float], ...]
    """When each phrase's first sound is heard and its last ends: the silences between are the pauses as written,
    and captions use these times."""
    texts: tuple[str, ...]
    """Each phrase's words as written (an inserted sound as ``[sound FILE]``): captions, session regions."""
    words_each: tuple[int, ...] = ()
    """Each phrase's words as said (0 for an inserted sound): with ``heard_s``, each phrase's pace."""
    pace_wpm: tuple[float, float] | None = None
    """The words a minute each phrase was held to: the script's ``pace:``, else its profile's."""


@dataclass(frozen=True, kw_only=True)
class Listing:
    """What a player or a podcast feed shows of a track, from its front matter."""

    author: str = ""
    album: str = ""
    season: int = 0
    episode: int = 0
    """The script's ``track`` number (0: the feed numbers tracks in library order)."""
    summary: str = ""
    cover: str = ""
    """The cover image's file beside the track (``NAME.cover.jpg``), or "" for none."""


@dataclass(frozen=True, kw_only=True)
class LoudnessReport(Loudness):
    """The master's delivery figures (measured as BS.1770 says), and what they were held to."""

    profile: str
    target: float
    """The profile's level, in ``target_unit``."""
    target_unit: str
    """"LUFS" (integrated loudness) or "dBFS RMS" (ACX)."""
    ceiling_dbtp: float
    gain_db: float
    """The one gain the master applied to the mix."""
    limiter_max_reduction_db: float


@dataclass(frozen=True, kw_only=True)
class MixReport:
    voice_gain_db: float
    """What levelled the voice stem to the mix's voice loudness."""
    bed_lufs_between_words: float
    voice_to_bed_setting_db: float
    """How far under the voice the mix was asked to set the ducked bed (its settings' ``voice_to_bed_db``)."""
    voice_to_bed_db: Spread | None
    """How far under it the bed was, measured: the voice's K-weighted loudness over the bed's in each phrase
    (``mix.voice_over_bed``; None: no phrase had a bed under it). qc measures it again on the stems."""
    settings: dict[str, float] = field(default_factory=dict)
    """Every setting the stems were mixed with (``mix.MixSettings``), by name."""


@dataclass(frozen=True)
class TimePoint:
    name: str
    start_s: float


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    bytes: int
    gain_db: float = 0.0
    """The level this file was encoded at against the master: below 0 where a lossy encoder overshot the ceiling
    and the file was encoded again quieter (``deliver.kept_under_ceiling``)."""


@dataclass(frozen=True)
class Verdict:
    """What the quality checks said of the track's files (``drift qc``'s checks, run as the track was made)."""

    passed: bool
    failures: tuple[str, ...] = ()
    """"FILE: check" for every hard failure (and every file that could not be read)."""
    warnings: tuple[str, ...] = ()
    """"FILE: check" for advisory checks that failed but were asked to warn only."""


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """Everything known about one rendered track; written last, so it always describes complete files."""

    title: str
    script: str
    """The script's path as it was given."""
    input_hash: str
    """A hash of every input: unchanged, and the track is up to date."""
    renderer: Renderer
    voice: str
    """The script's main voice preset."""
    voices: tuple[str, ...]
    ambience: str
    """The opening bed preset ("none": silence)."""
    ambiences: tuple[str, ...]
    headphones_required: bool
    """Binaural tones play: the listener needs headphones."""
    seed: int
    sample_rate: int
    duration_s: float
    target_duration_s: float | None
    speech: Speech
    loudness: LoudnessReport
    mix: MixReport
    sections: tuple[TimePoint, ...]
    marks: tuple[TimePoint, ...]
    files: dict[str, FileRecord]
    """Every file of the track (manifest aside) by name, with its SHA-256 and size."""
    listing: Listing = Listing()
    """How players and feeds list the track: from the script's front matter."""
    exhale_onsets_s: tuple[float, ...] = ()
    """When each of the listener's out-breaths begins on the breath clock (an inhale at 0:00): ``drift plot`` draws
    them, and a synced phrase's first sound lands on one."""
    draft: bool = False
    """Rendered with ``--draft``: every voice spoken by its Piper stand-in, for auditioning, not release."""
    qc: Verdict | None = None
    """None: not checked (``--no-qc``, or a build killed before its checks ended). Only a track that passed
    is ever up to date or kept in the cache of finished tracks."""
    manifest_version: int = field(default=MANIFEST_VERSION)

    @property
    def qc_status(self) -> str:
        return "unchecked" if self.qc is None else "passed" if self.qc.passed else "failed"

    def write(self, path: Path) -> Path:
        return write_json(path, self.as_dict())

    def as_dict(self) -> dict:
        """The manifest as its JSON reads: the version first, tuples as lists."""
        fields = dataclasses.asdict(self)
        return json.loads(json.dumps({"manifest_version": fields.pop("manifest_version"), **fields}))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest at ``path``; a missing, unreadable or older one is a ``ConfigError`` naming it."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("no manifest (render the track first)", Source(str(path))) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot read manifest: {getattr(exc, 'strerror', None) or exc}", Source(str(path))
            ) from None
        except ValueError:
            raise ConfigError("manifest is not valid JSON", Source(str(path))) from None
        if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
            found = data.get("manifest_version", 1) if isinstance(data, dict) else "?"
            raise ConfigError(
                f"manifest version {found} is not {MANIFEST_VERSION}: render the track again", Source(str(path))
            )
        try:
            return _build(cls, data)
        except (TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"manifest does not have the expected fields ({exc})", Source(str(path))) from None

    @classmethod
    def find(cls, path: Path) -> Manifest | None:
        """The manifest at ``path`` if it is a whole, current one; else None (the track is to be made again)."""
        try:
            return cls.read(path)
        except ConfigError:
            return None


@functools.cache
def _hints(kind) -> dict:
    """A dataclass's field types, resolved once: resolving them is most of the cost of reading a manifest."""
    return typing.get_type_hints(kind)


def _build(kind, data):
    """``data`` (parsed JSON) as the typed value ``kind``: dataclasses, tuples, dicts, optionals, plain values."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        names = {f.name for f in dataclasses.fields(kind)}
        if not isinstance(data, dict) or not set(data) <= names:
            raise ValueError(
                f"{kind.__name__}: unexpected {sorted(set(data) - names) if isinstance(data, dict) else data!r}"
            )
        return kind(**{name: _build(hints[name], value) for name, value in data.items()})
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        return _build(next(a for a in args if a is not type(None)), data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], item) for item in data)
        return tuple(_build(a, item) for a, item in zip(args, data, strict=True))
    if origin is dict:
        return {str(k): _build(args[1], v) for k, v in data.items()}
    if kind is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if not isinstance(data, kind):
        raise ValueError(f"expected {kind.__name__}, got {data!r}")
    return data
