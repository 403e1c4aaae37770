"""A script resolved into a ``Job``: every preset, setting and file it names, loaded, checked and hashed.

This module owns what a track depends on. ``prepare`` turns a script path and
the render options into a job; ``input_hash`` covers everything the track's
bytes depend on (script, variables, presets, sounds, cover, settings, engine
and renderer versions, the renderer's own code), so ``is_up_to_date`` can
skip a track whose inputs have not changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from . import __version__, presets
from .beds import BedPreset, load_bed
from .errors import ConfigError, DriftError, ScriptError, Source
from .export.tags import read_cover
from .files import file_sha256, text_sha256
from .imports import PACKAGE, closure
from .manifest import DEFAULT_FORMATS, Layout, Manifest, check_formats
from .master import Profile, profile_named
from .pacing import Pauses, place
from .script import NO_AMBIENCE, BedCue, Insert, Script, ScriptErrors, parse_file
from .speech import EDGE_PAD_S, VoicePreset, load_insert, load_voice
from .speech.sayable import lexicon_problems, phoneme_problems, within_reach
from .speech.text import length_problem, unspeakable
from .speech.voices import ENGINE_PACKAGES, SPEED_RANGES, draft_voice, speed_of

RENDERER = ("render", "deliver", "job")
"""The modules a track is made from: the pipeline, the track writer, and this module (presets, the input hash).
The renderer's code is what they import; the CLI, feeds, previews, drafting, qc and plots are not part of it."""


@dataclass(frozen=True, kw_only=True)
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
    qc: bool = True
    """Check every rendered track as ``drift qc`` would; a track that fails is never up to date."""
    warn_only: frozenset[str] = frozenset()
    """Advisory checks (qc.ADVISORY) whose failure only warns."""
    script_defaults: tuple[tuple[str, str], ...] = ()
    """Front-matter settings (``voice``, ``ambience``) for scripts that do not set them: ``--voice``, ``--ambience``."""
    draft: bool = False
    """Speak every voice with its Piper stand-in (``--draft``): a session to audition in seconds, never the release."""


@dataclass(frozen=True, kw_only=True)
class Job:
    """One track with everything it depends on resolved and hashed."""

    script: Script
    voices: dict[str, VoicePreset]
    beds: dict[str, BedPreset]
    profile: Profile
    formats: tuple[str, ...]
    layout: Layout
    input_hash: str
    stems: bool = False
    draft: bool = False
    cover: bytes = b""
    """The script's cover image as read when the job was made (b"": none): hashed, tagged and copied from here."""
    cover_mime: str = ""

    @property
    def voice(self) -> VoicePreset:
        """The script's main voice: its pause defaults pace the session."""
        return self.voices[self.script.meta.voice]

    @property
    def pauses(self) -> Pauses:
        voice = self.voice
        return Pauses.for_voice(voice.sentence_pause_s, voice.paragraph_pause_s, self.script.meta.pauses, EDGE_PAD_S)

    @property
    def pace_wpm(self) -> tuple[float, float]:
        """Words a minute each phrase is held to: the script's ``pace:``, else its profile's."""
        return self.script.meta.pace_wpm or self.profile.pace_wpm

    @property
    def cover_file(self) -> Path | None:
        """The cover image copied beside the track (for feeds and players that show one), if the script has one."""
        cover = self.script.meta.cover
        suffix = Path(cover).suffix.lower().replace(".jpeg", ".jpg")
        return self.layout.sidecar(f"cover{suffix}") if cover else None

    def expected_outputs(self) -> list[Path]:
        return self.layout.expected(self.formats, self.stems) + ([self.cover_file] if self.cover_file else [])


def prepare(path: Path, options: RenderOptions, name: str | None = None, *, hashed: bool = True) -> Job:
    """Parse a script and resolve everything it names; every input is hashed into ``input_hash`` (unless not
    ``hashed``: lint needs no hash, and hashing the renderer's code costs more than checking a short script). A
    script with mistakes is still checked as far as it could be read, so the ``ScriptErrors`` raised lists every
    mistake in it (a bad cue and an unknown bed on one line, a character no voice can say on the next)."""
    path = Path(path)
    try:
        script = parse_file(path, options.variables, dict(options.script_defaults))
    except ScriptErrors as errors:
        if errors.script is None:
            raise
        resolve(errors.script, options, name or path.stem, "", errors.errors)  # raises, with what it finds too
        raise
    try:
        script_sha256 = file_sha256(path)
    except OSError as exc:
        raise ConfigError(f"cannot read script: {exc.strerror}", Source(str(path))) from None
    return resolve(script, options, name or path.stem, script_sha256, hashed=hashed)


def resolve(
    script: Script,
    options: RenderOptions,
    name: str,
    script_sha256: str,
    found: list[DriftError] | tuple = (),
    *,
    hashed: bool = True,
) -> Job:
    """A parsed script's job: presets loaded, files checked, settings chosen, inputs hashed. ``found``: mistakes
    already found in the script, read as far as it could be; the checks here run all the same, and every problem
    is raised together. An SSML rate beyond its voice is met as closely as the voice allows (one warning), the
    same for lint, render and ``--draft`` (whose stand-ins speak what the release voices would)."""
    meta, folder, problems = script.meta, Path(script.path).parent, list(found)
    voices, beds = _presets(script, problems)
    script = within_reach(script, voices)
    _check_phrases(script, voices, problems)
    if options.draft:
        voices = _checked(problems, lambda: {name: draft_voice(preset) for name, preset in voices.items()}, {})
    _check_speeds(script, voices, problems)
    cover, cover_mime = _check_files(script, folder, problems)
    if options.profile:
        profile = _checked(problems, lambda: profile_named(options.profile, Source("--profile")))
    else:
        profile = _checked(problems, lambda: profile_named(meta.profile, meta.sources.get("profile")))
    formats = _checked(
        problems,
        lambda: check_formats(
            options.formats or meta.formats or DEFAULT_FORMATS,
            "--format" if options.formats else f"{script.path}: formats",
        ),
    )
    if problems:
        if len(problems) == 1 and not isinstance(problems[0], ScriptError) and not script.warnings:
            raise problems[0]  # one preset or setting: its own kind of error, as it always was
        raise ScriptErrors([*problems, *script.warnings], meta, script)
    input_hash = ""
    if hashed:
        inputs = _inputs(script, folder, script_sha256, options, voices, beds, profile, formats, cover)
        input_hash = text_sha256(json.dumps(inputs, sort_keys=True))
    return Job(
        script=script,
        voices=voices,
        beds=beds,
        profile=profile,
        formats=formats,
        layout=Layout(Path(options.out_dir), name),
        input_hash=input_hash,
        stems=options.stems,
        draft=options.draft,
        cover=cover,
        cover_mime=cover_mime,
    )


def _checked(problems: list[DriftError], check, failed=None):
    """What ``check()`` returns, or ``failed`` with its error added to ``problems``: one run reports them all."""
    try:
        return check()
    except ScriptErrors as errors:
        problems.extend(errors.errors)
    except DriftError as error:
        problems.append(error)
    return failed


def _presets(script: Script, problems: list[DriftError]) -> tuple[dict[str, VoicePreset], dict[str, BedPreset]]:
    """Every voice and bed preset the script names, loaded (errors point at where it first names each)."""
    meta, voices, beds, tried = script.meta, {}, {}, set()
    for name, where in [(meta.voice, meta.sources.get("voice")), *script.voices.items()]:
        if name not in tried:
            tried.add(name)
            if (voice := _checked(problems, lambda: load_voice(name, where))) is not None:
                voices[name] = voice
    named = [] if meta.ambience == NO_AMBIENCE else [(meta.ambience, meta.sources.get("ambience"))]
    named += [(event.name, event.source) for event in script.events if isinstance(event, BedCue) and event.name]
    for name, where in dict(reversed(named)).items():  # each bed once, where it is first named
        if (bed := _checked(problems, lambda: load_bed(name, where))) is not None:
            beds[name] = bed
    return voices, beds


def _check_phrases(script: Script, voices: dict[str, VoicePreset], problems: list[DriftError]) -> None:
    """Phrases too long to speak well, every character no voice can say and every phoneme symbol (SSML
    ``<phoneme>``, a lexicon's) the phrase's voice lacks, each where it is written: lint finds what render would
    refuse or drop unsaid. Phonemes are checked against the release voices, under ``--draft`` too."""
    problems += [
        ScriptError(problem, phrase.source) for phrase in script.phrases if (problem := length_problem(phrase.text))
    ]
    for phrase in script.phrases:
        problems += unspeakable(phrase.text, phrase.source_at)  # what render sends: every character sayable
        if (voice := voices.get(phrase.voice)) is None:
            continue  # its preset could not be loaded: reported where it is named
        for index, (_, ipa) in enumerate(phrase.lexicon):
            places = phrase.lexicon_at[index] if index < len(phrase.lexicon_at) else ()
            problems += phoneme_problems(voice, ipa, lambda i: places[i] if i < len(places) else phrase.source)
    problems += lexicon_problems(list(voices.values()))


def _check_speeds(script: Script, voices: dict[str, VoicePreset], problems: list[DriftError]) -> None:
    """Phrases faster or slower than their engine can speak (an SSML rate has been met as closely as it allows)."""
    for phrase in script.phrases:
        if (voice := voices.get(phrase.voice)) is None:
            continue
        low, high = SPEED_RANGES.get(voice.engine, (0.0, float("inf")))
        if not low <= (speed := speed_of(voice, phrase)) <= high:
            base = (
                f"SSML's rate {phrase.natural_rate:g}" if phrase.natural_rate else f"the preset's rate {voice.rate:g}"
            )
            problems.append(
                ScriptError(
                    f"the voice '{voice.name}' ({voice.engine}) speaks at {low:g}–{high:g} of its "
                    f"natural speed, and this phrase asks for {speed:.3f} ({base} × the "
                    f"script's {phrase.rate:.2f})",
                    phrase.source,
                )
            )


def _check_files(script: Script, folder: Path, problems: list[DriftError]) -> tuple[bytes, str]:
    """Every file the script inserts is read as render would read it, so lint finds what render would refuse; the
    cover is read once, here, and its bytes and MIME type returned (b"", "" for none, or one that cannot be used)."""
    for event in script.events:
        if isinstance(event, Insert):
            _checked(problems, lambda: load_insert(event, folder))
    if not script.meta.cover:
        return b"", ""
    return _checked(
        problems, lambda: read_cover(folder / script.meta.cover, script.meta.sources.get("cover")), (b"", "")
    )


def _inputs(
    script: Script,
    folder: Path,
    script_sha256: str,
    options: RenderOptions,
    voices: dict,
    beds: dict,
    profile: Profile,
    formats: tuple[str, ...],
    cover: bytes,
) -> dict:
    """Everything the track's bytes depend on: change any of it and the track is stale."""
    meta = script.meta
    return {
        "renderer": [__version__, renderer_source_sha256()],
        "engines": {engine: engine_versions(engine) for engine in sorted({voice.engine for voice in voices.values()})},
        "script": script_sha256,
        "variables": {name: value for name, value in (options.variables or {}).items() if name in script.uses},
        "voices": {name: file_sha256(Path(v.path)) for name, v in sorted(voices.items())},
        "lexicon": file_sha256(lexicon) if (lexicon := presets.shared("voices")) else None,
        "beds": {name: file_sha256(Path(b.path)) for name, b in sorted(beds.items())},
        "sounds": {e.path: file_sha256(folder / e.path) for e in script.events if isinstance(e, Insert)},
        "cover": hashlib.sha256(cover).hexdigest() if meta.cover else None,
        "profile": profile.name,
        "formats": formats,
        "stems": options.stems,
        "warn_only": sorted(options.warn_only),
        "draft": options.draft,
    }


@cache
def engine_versions(engine: str) -> dict[str, str | None]:
    """The installed version of each package of ``engine`` (``ENGINE_PACKAGES``); None for one not installed."""
    return {package: _installed_version(package) for package in ENGINE_PACKAGES[engine]}


def _installed_version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=4)
def renderer_source_sha256(package: Path = PACKAGE) -> str:
    """A hash of the renderer's own code, the files ``RENDERER`` imports (found in the code, not listed): changing
    how tracks are made makes every track stale, version bump or not; editing the CLI or a feed does not."""
    digest = hashlib.sha256()
    for path in closure(RENDERER, package):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(package).as_posix()}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def staleness(job: Job) -> str | None:
    """Why the track must be made again ("missing", "stale", "failed qc", "unchecked"), or None if it is current:
    its manifest says it was made from exactly these inputs and passed its checks, and every file it lists is there."""
    manifest = Manifest.find(job.layout.manifest)
    if manifest is None:
        return "stale" if job.layout.manifest.exists() else "missing"
    if manifest.input_hash != job.input_hash or not all(p.is_file() for p in job.expected_outputs()):
        return "stale"
    return None if manifest.qc_status == "passed" else "failed qc" if manifest.qc_status == "failed" else "unchecked"


def is_up_to_date(job: Job) -> bool:
    return staleness(job) is None


def load_variables(path: Path) -> dict[str, str]:
    """A --vars file: YAML mapping variable names to plain text."""
    import yaml

    try:  # every value as the text written: YAML 1.1 would read "No" as False and "12:30" as 750
        values = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read variables file: {exc}", Source(str(path))) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = Source(str(path), mark.line + 1, mark.column + 1) if mark else Source(str(path))
        raise ConfigError(f"variables file is not valid YAML: {getattr(exc, 'problem', exc)}", where) from None
    if not isinstance(values, dict) or any(not isinstance(v, str) for v in values.values()):
        raise ConfigError("a variables file maps names to plain text, like 'name: Sam'", Source(str(path)))
    return {str(k): str(v) for k, v in values.items()}


def lint(path: Path, options: RenderOptions = RenderOptions()) -> list[DriftError]:
    """Every problem that would stop ``path`` from rendering, found without rendering it, and every warning
    (``ScriptWarning``: repaired or ignored, not fatal). The timeline is laid with silent clips of no length:
    whatever cannot fit then (an ``[at]`` or ``[end]`` inside the lead-in and pauses before it, a ``duration``
    shorter than the pauses) cannot fit once spoken either."""
    try:
        job = prepare(path, options, hashed=False)
        place(job.script, [0] * len(job.script.utterances), job.pauses)
        return list(job.script.warnings)
    except ScriptErrors as errors:
        found = [*errors.errors, *(_setting_errors(errors.meta, options) if errors.script is None else [])]
        unique = list({(type(e), str(e)): e for e in found}.values())  # a shared lexicon's mistake, once
        return sorted(
            unique,
            key=lambda e: (e.source.path != str(path), e.source.line, e.source.col) if e.source else (False, 0, 0),
        )
    except DriftError as error:
        return [error]


def _setting_errors(meta, options: RenderOptions) -> list[DriftError]:
    """The presets a script's front matter names, checked even though its body could not be read: one lint run
    reports a wrong profile beside a bad cue."""
    if meta is None:
        return []
    checks = [
        lambda: profile_named(meta.profile, meta.sources.get("profile")) if not options.profile else None,
        lambda: load_voice(meta.voice, meta.sources.get("voice")),
        lambda: load_bed(meta.ambience, meta.sources.get("ambience")) if meta.ambience != NO_AMBIENCE else None,
    ]
    found = []
    for check in checks:
        try:
            check()
        except DriftError as error:
            found.append(error)
    return found
