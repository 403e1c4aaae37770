"""The ``drift`` command: translates arguments into library calls and results into lines.

No rendering logic lives here. Every ``DriftError`` becomes one line on
stderr (``file:line:col: message``) and a non-zero exit; ``--quiet`` silences
everything but errors.

Each command imports what it uses when it runs: building the command tree
imports click and nothing heavy, so ``drift --help`` and ``drift lint`` start
at once (tests/test_startup.py holds this module to that).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .errors import ConfigError, DriftError, ScriptWarning, Source, did_you_mean, system_error

if TYPE_CHECKING:
    from .library import TrackResult

AUDITION_LUFS = -23.0
"""Beds auditioned alone play at about the level they sit at under a voice."""


def one_line_errors(command):
    """Every ``DriftError`` a command meets, and every system error (a full disk, a read-only folder), becomes one
    line on stderr and exit status 1: no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DriftError as error:
            raise click.ClickException(str(error)) from None
        except OSError as exc:
            raise click.ClickException(str(system_error(exc))) from None

    return wrapper


class LazyChoice(click.Choice):
    """A choice among names a module defines, read when a value is checked or the help is shown: importing that
    module (the master's profiles pull in numpy) while the command tree is built would slow every command."""

    def __init__(self, names: Callable[[], Iterable[str]]):
        self.names = names
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.names())

    @choices.setter
    def choices(self, value) -> None:
        pass  # click.Choice sets it; the names are read each time instead


class LazyHelp(click.Option):
    """An option whose help names what a module defines (the formats), made when the help is shown."""

    def __init__(self, *args, make_help: Callable[[], str], **kwargs):
        super().__init__(*args, **kwargs)
        self.make_help = make_help

    def get_help_record(self, ctx: click.Context):
        self.help = self.make_help()
        return super().get_help_record(ctx)


def _profiles() -> list[str]:
    from .master import PROFILES

    return sorted(PROFILES)


def _formats() -> tuple[str, ...]:
    from .manifest import FORMATS

    return FORMATS


def _fail(errors) -> None:
    for error in errors:
        click.echo(_one_line(error), err=True)


cache_option = click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    callback=lambda ctx, param, value: value or _default_cache_dir(),
    help="Clip cache folder (default: $DRIFT_CACHE or ~/.cache/drift-inward).",
)


def _default_cache_dir() -> Path:
    from .speech import default_cache_dir

    return default_cache_dir()


def _split_list(ctx, param, value: str | None):
    return tuple(part.strip().lower() for part in value.split(",") if part.strip()) if value else None


draft_option = click.option(
    "--draft",
    is_flag=True,
    help="Speak every Kokoro or Coqui voice with its Piper stand-in (the preset's 'draft'): a session in seconds.",
)

warn_only_option = click.option(
    "--warn-only",
    "warn_only",
    callback=_split_list,
    metavar="LIST",
    help="Advisory checks that only warn: pace (speaking rate), balance (voice over bed).",
)


class _Command(click.Group):
    def __call__(self, *args, **kwargs):
        """As the program (the ``drift`` script, ``python -m pipeline``), exit without the interpreter's teardown,
        which took seconds after the work was done; ``main`` (what CliRunner calls) is left as click has it."""
        try:
            code = self.main(*args, **kwargs)
        except SystemExit as done:
            code = done.code
        from .system import exit_without_teardown

        exit_without_teardown(code)


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drift")
def main() -> None:
    """Render guided-meditation scripts into finished, loudness-normalised tracks.

    \b
    Quick start:
      drift render scripts/            # every script in a folder, into build/
      drift lint scripts/              # check scripts without rendering
      drift voices                     # the voice presets you can name
      drift ambience list              # the ambient beds you can name
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Folder for tracks and manifests.",
)
@click.option(
    "--format",
    "formats",
    callback=_split_list,
    metavar="LIST",
    cls=LazyHelp,
    make_help=lambda: (
        f"Comma-separated formats to write (from {', '.join(_formats())}; default: the script's, else flac,mp3)."
    ),
)
@click.option(
    "--profile", type=LazyChoice(_profiles), help="Loudness profile for every track, overriding each script's own."
)
@click.option("--voice", help="Voice preset for scripts that name none (SSML imports, bare text files).")
@click.option("--ambience", help="Bed preset for scripts that name none ('none': no bed).")
@click.option("--stems", is_flag=True, help="Also write voice, bed and tones stems beside each track.")
@click.option(
    "--session",
    "session_kinds",
    callback=_split_list,
    metavar="LIST",
    help="Also write DAW sessions of each track's stems (reaper, otio, aaf, audacity); implies --stems.",
)
@draft_option
@click.option("--force", is_flag=True, help="Render even tracks whose outputs are up to date.")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Render nothing: list what is missing, stale, failed its checks or was never checked; exit 1 if any.",
)
@click.option(
    "--prune",
    "prune_orphans",
    is_flag=True,
    help="Also remove outputs whose script is gone (or no longer makes that track); never another shard's.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1),
    default=os.cpu_count() or 1,
    show_default="the cores",
    help="Tracks rendered at once, each in its own process.",
)
@click.option("--shard", metavar="K/N", help="Render only the K-th of N equal shares of the tracks (CI matrices).")
@click.option(
    "--scheduler", metavar="ADDRESS", help="Render on a Dask cluster (tcp://host:8786) instead of local processes."
)
@cache_option
@click.option(
    "--vars",
    "vars_path",
    type=click.Path(path_type=Path, exists=False),
    help="YAML file of values for the scripts' {variables}, or a folder of them: one track per file.",
)
@click.option("--timeline", "show_timeline", is_flag=True, help="Print each rendered track's timeline.")
@click.option(
    "--no-qc",
    "skip_qc",
    is_flag=True,
    help="Do not check what is rendered (quicker drafts); an unchecked track is never up to date.",
)
@warn_only_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@one_line_errors
def render(
    paths,
    out_dir,
    formats,
    profile,
    voice,
    ambience,
    stems,
    session_kinds,
    draft,
    force,
    check_only,
    prune_orphans,
    jobs,
    shard,
    scheduler,
    cache_dir,
    vars_path,
    show_timeline,
    skip_qc,
    warn_only,
    quiet,
) -> None:
    """Render scripts (files or folders of .txt/.ssml scripts) into finished tracks.

    Each track gets its audio in every format (tagged, with chapters),
    captions (.vtt, .srt), a transcript and a JSON manifest; build/library.json
    lists them all. Tracks whose inputs are unchanged are skipped.

    \b
    Examples:
      drift render scripts/                       # what changed, into build/
      drift render scripts/ --check               # CI: is the library current?
      drift render scripts/ --jobs 2 --shard 1/2  # half the library, two at a time
      drift render turning-toward.txt --vars listeners/ --stems
    """
    from .job import RenderOptions
    from .library import build, check, discover, parse_shard, plan, shard_of
    from .progress import reporter
    from .qc import advisory_checks

    scripts = discover(list(paths))
    library = plan(scripts, vars_path)
    tracks = shard_of(library, parse_shard(shard) if shard else None)
    if vars_path is not None and not vars_path.exists():
        raise ConfigError("no such variables file or folder", Source(str(vars_path)))
    defaults = tuple((key, value) for key, value in (("voice", voice), ("ambience", ambience)) if value)
    if session_kinds:
        from .export.session import check_kinds

        stems = bool(check_kinds(tuple(session_kinds), "--session"))
    options = RenderOptions(
        out_dir=out_dir,
        formats=formats,
        profile=profile,
        force=force,
        cache_dir=cache_dir,
        stems=stems,
        qc=not skip_qc,
        warn_only=advisory_checks(warn_only or (), Source("--warn-only")),
        script_defaults=defaults,
        draft=draft,
    )
    if check_only:
        _report_check(check(tracks, options), len(tracks), quiet)
        return
    with reporter(len(tracks), quiet) as progress:
        results = build(
            tracks,
            options,
            jobs,
            scheduler=scheduler,
            prune_against=library if prune_orphans else None,
            on_removed=lambda path: click.echo(f"removed {path}", err=quiet),
            on_progress=progress,
        )
    if session_kinds:
        _write_sessions(tracks, out_dir, tuple(session_kinds), quiet)
    _after_render(results, show_timeline, quiet)


def _write_sessions(tracks, out_dir: Path, kinds: tuple[str, ...], quiet: bool) -> None:
    """DAW sessions for every track of the build that has a manifest: small files made from it each time."""
    from .export.session import write_sessions
    from .manifest import Layout

    for track in tracks:
        manifest = Layout(out_dir, track.name).manifest
        if manifest.is_file():
            for path in write_sessions(manifest, kinds):
                if not quiet:
                    click.echo(f"wrote {path}")


def _qc_summary(results: list[TrackResult], quiet: bool) -> None:
    """What the checks said of everything rendered now: failures in full, warnings by name, a count."""
    reports = [report for r in results for report in r.reports]
    _print_reports([r for r in reports if not r.ok])
    for report in reports:
        for name in report.warnings:
            click.echo(f"warning: {report.path}: {name} is outside its range (asked to warn only)", err=True)
    failed = sum(not r.ok for r in reports)
    if failed:
        click.echo(
            f"quality checks failed on {failed} file(s): those tracks are kept, marked failed, and render "
            "again next time",
            err=True,
        )
    elif reports and not quiet:
        click.echo(f"quality checks passed on {len(reports)} file(s)")


def _report_check(problems, total: int, quiet: bool) -> None:
    for track, why in problems:
        click.echo(f"{why:<9} {track.name}  ({track.script}{', ' + track.vars_file if track.vars_file else ''})")
    if not quiet:
        click.echo(f"{total - len(problems)} of {total} track(s) up to date")
    if problems:
        sys.exit(1)


def _after_render(results: list[TrackResult], show_timeline: bool, quiet: bool) -> None:
    if show_timeline:
        for result in results:
            click.echo(f"\n{result.script}\n{result.timeline or _not_rendered(result)}")
    for result in results:
        for warning in result.warnings:
            click.echo(_one_line(warning), err=True)
    if not quiet:
        _summary(results)
    _qc_summary(results, quiet)
    failed = [r for r in results if r.status == "failed"]
    for result in failed:
        _fail(result.errors)
    if failed or any(r.status == "failed qc" for r in results):
        sys.exit(1)


def _not_rendered(result: TrackResult) -> str:
    if result.status == "failed":
        return f"(not rendered: it failed — {result.errors[0].message if result.errors else 'see above'})"
    return f"(not rendered: {result.status}; --force renders it again)"


def _summary(results: list[TrackResult]) -> None:
    from .audio import clock

    click.echo(f"{'track':<40} {'status':<11} {'length':>8} {'LUFS':>7} {'dBTP':>7}")
    for r in results:
        length, lufs, peak = "", "", ""
        if r.manifest:
            length = clock(r.manifest.duration_s, decimals=1)
            lufs, peak = r.manifest.loudness.integrated_lufs, r.manifest.loudness.true_peak_dbtp
        click.echo(f"{Path(r.script).name:<40} {r.status:<11} {length:>8} {lufs:>7} {peak:>7}")


@main.command()
@click.argument("script", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--section", help="Preview this section (by its heading).")
@click.option("--from", "start", help="Start of the span, like 2:00 or 90s.")
@click.option("--to", "end", help="End of the span, like 5:00.")
@click.option("--vars", "vars_file", type=click.Path(path_type=Path, dir_okay=False), help="YAML file of variables.")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the preview (default: build/preview/SCRIPT).",
)
@click.option("--serve", is_flag=True, help="Serve the page on 127.0.0.1 (a free port, printed) until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port for --serve (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@draft_option
@cache_option
@one_line_errors
def preview(script, section, start, end, vars_file, out, serve, port, open_browser, draft, cache_dir) -> None:
    """Render one section or span with its stems, and a player page to listen and look.

    The page plays every stem in sync (mute, solo, gain), shows waveforms,
    section and cue markers that seek, the transcript following the playhead,
    loudness over time against the target and the QC figures. It works offline.

    \b
    Examples:
      drift preview scripts/turning-toward.txt --section Deepening --serve
      drift preview scripts/turning-toward.txt --from 2:00 --to 5:00 --open
    """
    from .job import RenderOptions, load_variables
    from .preview import render_preview
    from .preview import serve as serve_folder

    span = None
    if start or end:
        span = (_clock_option(start or "0s", "--from"), _clock_option(end or "6h", "--to"))
    variables = load_variables(vars_file) if vars_file else None
    folder = out or Path("build") / "preview" / script.stem
    result = render_preview(
        script, folder, RenderOptions(cache_dir=cache_dir, variables=variables, draft=draft), section, span
    )
    made = "unchanged, reused" if result.reused else "wrote"
    click.echo(f"{made} {result.page} ({result.start_s:.1f}s–{result.end_s:.1f}s)")
    if serve or open_browser:
        server, url = serve_folder(result.folder, port) if serve else (None, result.page.resolve().as_uri())
        click.echo(f"serving {url}" if server else url)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        if server:
            _wait_for_interrupt(server)


def _clock_option(text: str, option: str) -> float:
    from .script import parse_duration

    seconds = parse_duration(text)
    if seconds is None:
        raise ConfigError(f"'{text}' is not a time like 2:00 or 90s", Source(option))
    return seconds


def _wait_for_interrupt(server) -> None:
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        server.shutdown()


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--kind",
    "kinds",
    callback=_split_list,
    metavar="LIST",
    default="reaper,otio,aaf,audacity",
    show_default=True,
    help="Sessions to write: reaper (.RPP), otio (OpenTimelineIO), aaf (Pro Tools, Media "
    "Composer; stems linked by absolute path), audacity (label files).",
)
@one_line_errors
def session(manifest, kinds) -> None:
    """Write DAW sessions for a track rendered with --stems: every stem on its own track at zero, its sections
    and marks as markers, one region per phrase with its words.

    \b
    Example:
      drift render s.txt --stems && drift session build/s.json --kind reaper,otio
    """
    from .export.session import write_sessions

    for path in write_sessions(manifest, kinds):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--base-url", required=True, metavar="URL", help="Where the folder is served from (http or https).")
@click.option("--title", help="The feed's title (default: the folder's name).")
@click.option(
    "--vars",
    "vars_path",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The listeners' variables folder: one feed per listener, FOLDER/LISTENER/feed.xml.",
)
@one_line_errors
def feed(folder, base_url, title, vars_path) -> None:
    """Write a podcast feed of the rendered tracks in FOLDER, for listeners to subscribe to.

    RSS 2.0 with the iTunes and Podcasting 2.0 namespaces: one item per track
    (enclosure, duration, a GUID from its input hash, episode number), its
    sections as JSON chapters, its captions as transcripts. A track whose audio
    was deleted is left out with a warning.

    \b
    Examples:
      drift feed build/ --base-url https://example.org/sessions/
      drift feed build/ --base-url https://example.org/sessions/ --vars listeners/
    """
    from .feed import write_feed

    listeners = sorted(p.stem for p in vars_path.iterdir() if p.suffix in (".yaml", ".yml")) if vars_path else [None]
    for listener in listeners:
        out = folder / listener / "feed.xml" if listener else None
        path, skipped = write_feed(folder, base_url, title, listener, out)
        for line in skipped:
            click.echo(f"warning: {line}", err=True)
        click.echo(f"wrote {path}")


@main.command()
@click.argument("track", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--out", type=click.Path(path_type=Path, dir_okay=False), help="PNG file (default: beside the track)."
)
@one_line_errors
def plot(track, out) -> None:
    """Draw a rendered track: waveform per stem, loudness over time with its target, section markers.

    \b
    Example:
      drift plot build/turning-toward.flac
    """
    from .plot import plot_track

    click.echo(f"wrote {plot_track(track, out)}")


@main.command(name="qc")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--profile", type=LazyChoice(_profiles), help="Hold every track to this profile (default: its manifest's)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@warn_only_option
@one_line_errors
def qc_command(paths, profile, as_json, warn_only) -> None:
    """Check finished tracks as a listener would hear them; exit 1 if any fails.

    Measures loudness, loudness range and true peak on the decoded file,
    sample peak, DC offset, clipping, clicks at phrase joins, dead air longer
    than the script asked for, non-finite samples, voice over bed (from
    stems), speaking rate and duration (from the manifest). Every channel of
    a file is measured.

    \b
    Example:
      drift qc build/
    """
    from .qc import advisory_checks, find_tracks, qc_files

    tracks = find_tracks(list(paths))
    reports = qc_files(tracks, profile, advisory_checks(warn_only or (), Source("--warn-only")))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, allow_nan=False))
    else:
        _print_reports(reports)
    if not all(r.ok for r in reports):
        sys.exit(1)


def _print_reports(reports) -> None:
    for report in reports:
        click.echo(f"{'PASS' if report.ok else 'FAIL'}  {report.path}")
        if report.error:
            click.echo(f"      {report.error}")
        for item in report.checks:
            mark = " " if item.ok else "!" if item.name in report.warn_only else "✗"
            click.echo(f"    {mark} {item.name:<18} {str(item.value):>10}   {item.limit}")


@main.command(name="lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list (for editors and CI).")
@click.option(
    "--style",
    is_flag=True,
    help="Also warn where the writing works against the listener (docs/writing-guide.md): negatives, commands, "
    "promises, sentences over one breath, instructions with no pause. Checks drafting modules too.",
)
@one_line_errors
def lint_command(paths, as_json, style) -> None:
    """Check scripts for mistakes without rendering anything.

    Reports every problem, each as file:line:col: message followed by the
    offending line and a caret under the place, and exits 1 if there are any
    errors (style findings are warnings).

    \b
    Example:
      drift lint scripts/
      drift lint --style scripts/ modules/
      drift lint --json scripts/ > problems.json
    """
    from .job import lint
    from .script import discover

    scripts = discover(list(paths))
    if style:
        from .draft.check import lint_with_style

        problems = [problem for path in scripts for problem in lint_with_style(path)]
    else:
        problems = [problem for path in scripts for problem in lint(path)]
    errors = [p for p in problems if not isinstance(p, ScriptWarning)]
    if as_json:
        click.echo(json.dumps([_as_record(p) for p in problems], indent=2))
    else:
        for problem in problems:
            click.echo(_one_line(problem) + _excerpt(problem), err=True)
        if not errors:
            click.echo(f"{len(scripts)} script(s) OK" + (f", {len(problems)} warning(s)" if problems else ""))
    if errors:
        sys.exit(1)


def _one_line(problem: DriftError) -> str:
    if isinstance(problem, ScriptWarning):
        return f"{problem.source}: warning: {problem.message}" if problem.source else f"warning: {problem.message}"
    return str(problem)


def _as_record(error: DriftError) -> dict:
    source = error.source
    return {
        "file": source.path if source else None,
        "line": source.line if source else None,
        "col": source.col if source else None,
        "message": error.message,
        "severity": "warning" if isinstance(error, ScriptWarning) else "error",
    }


def _excerpt(error: DriftError) -> str:
    """The offending line with a caret under the column, as compilers show it."""
    source = error.source
    if not source or source.line <= 0:
        return ""
    try:
        line = Path(source.path).read_text(encoding="utf-8").splitlines()[source.line - 1]
    except (OSError, UnicodeDecodeError, IndexError):
        return ""
    return f"\n    {line}\n    {' ' * (max(source.col, 1) - 1)}^"


STOPPED_EXIT = 3
"""``drift draft``'s exit status when the safety screen stops a description: not an error, and not a session."""


@main.command(name="draft")
@click.argument("description", required=False)
@click.option(
    "--file",
    "description_file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Read the description from a file ('-': standard input, also used when no description is given).",
)
@click.option(
    "--intake",
    "intake_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="An intake file (YAML): the description and any settings (docs/drafting.md); options override it.",
)
@click.option("--name", help="The listener's name, said at moments of warmth (default: 'friend').")
@click.option(
    "--partner", help="The other person's name (default: their role from the description, like 'your husband')."
)
@click.option("--together", "mode", flag_value="together", default=None, help="For two people listening side by side.")
@click.option("--solo", "mode", flag_value="solo", help="For one listener (the default).")
@click.option("--minutes", type=click.FloatRange(5, 60), help="The session's length, 5 to 60 minutes (default 15).")
@click.option("--ending", type=click.Choice(["awake", "asleep"]), help="Return awake (counting up), or drift to sleep.")
@click.option(
    "--bed-until", metavar="TIME", help="With --ending asleep: the bed runs on until this time (8h, 8:00:00)."
)
@click.option("--voice", help="Voice preset (default: default).")
@click.option("--ambience", help="Bed preset (default: hearth; rain-on-leaves for sleep).")
@click.option(
    "--profile", type=LazyChoice(_profiles), help="Loudness profile (default: podcast; meditation for sleep)."
)
@click.option(
    "--theme",
    "themes",
    callback=_split_list,
    metavar="LIST",
    help="Work with these themes (one or two) instead of the ones the description maps to.",
)
@click.option("--seed", type=click.IntRange(0), help="Another seed gives other variants of the same session.")
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("scripts/drafts"),
    show_default=True,
    help="Folder for the drafted script.",
)
@click.option("--render", "then_render", is_flag=True, help="Go straight on to audio, into build/ (the normal render).")
@click.option("--explain", is_flag=True, help="Print what was understood and why, and write nothing.")
@click.option(
    "--keep-intake",
    is_flag=True,
    help="Also keep the description, beside the script (NAME.intake.yaml). Off by default: it is personal.",
)
@click.option(
    "--llm-endpoint",
    metavar="URL",
    help="An OpenAI-compatible server (llama.cpp, vLLM, Ollama) to write the reflection and the scene. "
    "The description is sent there; without this option it never leaves the machine.",
)
@click.option("--no-llm", is_flag=True, help="Write from the bank alone, even where a local model is installed.")
@cache_option
@click.pass_context
@one_line_errors
def draft_command(
    ctx,
    description,
    description_file,
    intake_file,
    name,
    partner,
    mode,
    minutes,
    ending,
    bed_until,
    voice,
    ambience,
    profile,
    themes,
    seed,
    out_dir,
    then_render,
    explain,
    keep_intake,
    llm_endpoint,
    no_llm,
    cache_dir,
) -> None:
    """Describe a relationship challenge; get a session made for it.

    A safety screen reads the description first. If it shows danger (thoughts
    of suicide or self-harm, abuse, psychosis, intoxication or driving, a
    listener under 18), no session is made: a kind answer and where to turn
    are printed, and the exit status is 3. Otherwise the description is mapped
    to themes and a situation, and a script is composed from the written
    modules in modules/, checked by lint and the style check, and written to
    the output folder. The description itself is never written, logged or
    sent anywhere (unless --keep-intake or --llm-endpoint says so).

    \b
    Examples:
      drift draft "when he goes quiet after a fight I panic and keep texting him"
      drift draft --file me.txt --minutes 20 --name Ana --render
      drift draft --intake intake.yaml --explain
      echo "we live like roommates" | drift draft --together --ending asleep --bed-until 8h
    """
    from .draft import Stopped, draft, make_intake, read_intake
    from .draft.llm import slot_writer
    from .draft.write import write_draft

    if description_file is not None:
        description = _read_description(description_file)
    elif description is None and intake_file is None:
        description = _read_description(Path("-"))
    settings = {
        "description": description,
        "name": name,
        "partner": partner,
        "mode": mode,
        "minutes": minutes,
        "ending": ending,
        "bed_until": bed_until,
        "voice": voice,
        "ambience": ambience,
        "profile": profile,
        "themes": themes,
        "seed": seed,
    }
    given = {key: value for key, value in settings.items() if value not in (None, ())}
    intake = read_intake(intake_file, given) if intake_file else make_intake(given)
    writer = None if no_llm else slot_writer(llm_endpoint)
    result = draft(intake, cache_dir, writer)
    if isinstance(result, Stopped):
        click.echo(result.answer.text())
        sys.exit(STOPPED_EXIT)
    if explain:
        for line in [
            *result.understanding.explain(),
            f"modules: {', '.join(result.modules)}",
            f"length: {result.target_s / 60:g} minutes (the modules take about {result.estimated_s / 60:.1f}; "
            f"every pause stretches ×{result.pause_stretch:.2f} to fit)",
            *result.notes,
        ]:
            click.echo(line)
        return
    path = write_draft(result, out_dir, intake if keep_intake else None)
    click.echo(f"wrote {path} ({result.target_s / 60:g} minutes: {', '.join(result.understanding.chosen)})")
    for note in result.notes:
        click.echo(f"  {note}")
    if then_render:
        ctx.invoke(render, paths=(path,), cache_dir=cache_dir)


def _read_description(path: Path) -> str:
    if str(path) == "-":
        if sys.stdin.isatty():
            raise ConfigError("no description: give it as an argument, with --file, or on standard input")
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the description: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}", Source(str(path))
        ) from None


@main.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True), default=Path("scripts"))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Output folder: tracks, previews and library.json (as drift render -o).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port to serve on (default: a free one, printed)."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on. Anything but this machine's loopback needs a token (--token, or one is made "
    "and printed): every request must then carry it.",
)
@click.option("--token", metavar="TOKEN", help="The secret a request must carry (16 characters or more).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser; just print its address.")
@cache_option
@one_line_errors
def studio(folder, out_dir, port, host, token, no_browser, cache_dir) -> None:
    """A page to make sessions in: describe, edit with lint beside it, listen, render.

    Serves http://127.0.0.1:PORT/ until Ctrl-C. On the page: describe a
    relationship challenge and get a drafted session (the safety screen comes
    first, as with drift draft; the description is never stored unless you tick
    the box); edit the script with drift lint's diagnostics on their lines as you
    type; preview the section under the cursor with the draft voice; render
    the script (draft voice by default) with its progress and qc verdict; and
    play what the output folder holds. Scripts are read and written only inside
    FOLDER (drafts go to FOLDER/drafts); tracks go to --out.

    \b
    Examples:
      drift studio                          # scripts/ and build/, a free port, opens your browser
      drift studio my-scripts -o my-build --port 8765 --no-browser
      drift studio --host 0.0.0.0           # reachable from the network: prints an address with a token
    """
    from .studio import prepare_studio, serve

    bound = prepare_studio(folder, out_dir, cache_dir, host, port, token)
    click.echo(f"drift studio: {bound.url}  (Ctrl-C to stop)")
    if not no_browser:
        import webbrowser

        webbrowser.open(bound.url)
    serve(bound)


@main.group(invoke_without_command=True)
@click.pass_context
def voices(ctx) -> None:
    """List the voice presets a script can name in its 'voice:' line."""
    from . import presets
    from .speech import load_voice

    if ctx.invoked_subcommand:
        return
    for name in presets.available("voices"):
        try:
            preset = load_voice(name)
            click.echo(f"{name:<16} {preset.engine:<7} rate {preset.rate:<5} {preset.description}")
        except DriftError as error:
            click.echo(f"{name:<16} (broken: {error})")


@voices.command(name="say")
@click.argument("name")
@click.argument("text")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Output file (default: voice-NAME.flac); the format follows the extension.",
)
@cache_option
@one_line_errors
def voices_say(name, text, out, cache_dir) -> None:
    """Audition a voice preset: speak TEXT with it, through its chain, into a file.

    \b
    Example:
      drift voices say deep "Let yourself sink a little deeper." -o deep.flac
    """
    from .audio import SAMPLE_RATE
    from .export import write_audio
    from .render import audition

    out = out or Path(f"voice-{name}.flac")
    write_audio(out, audition(name, text, cache_dir), SAMPLE_RATE, _format_of(out))
    click.echo(f"wrote {out}")


@voices.command(name="phonemes")
@click.argument("name")
@click.argument("text")
@one_line_errors
def voices_phonemes(name, text) -> None:
    """Print the phonemes a voice says for TEXT, its lexicon applied: a start for an entry that fixes a word.

    Piper and Kokoro voices (both phonemise with espeak-ng). A respelling in voices/lexicon.toml serves every
    voice; a Piper preset can also take the phonemes themselves.

    \b
    Example:
      drift voices phonemes default "Niamh"      # nˈaɪəm; the name is said Neeve, so in the preset:
      [lexicon]
      Niamh = { phonemes = "nˈiːv" }
    """
    from .speech import engine_for, load_voice
    from .speech.text import normalise

    voice = load_voice(name, Source("voices phonemes"))
    engine = engine_for(voice)
    if not engine.phonemises:
        raise ConfigError("only Piper and Kokoro voices show their phonemes", Source("voices phonemes"))
    click.echo(engine.phonemes(normalise(text, dict(voice.lexicon), Source("voices phonemes"))))


def _format_of(path: Path) -> str:
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in (formats := _formats()):
        hint = did_you_mean(fmt, formats) or f" (use {', '.join(formats)})"
        raise click.BadParameter(f"unknown extension '.{fmt}'{hint}", param_hint="--out")
    return fmt


@main.group()
def cache() -> None:
    """The cache: every synthesised phrase, and every finished track, stored once and reused.

    A track whose inputs match a finished one is linked into the output folder
    instead of being rendered again (a fresh CI checkout, a second folder).
    """


@cache.command(name="info")
@cache_option
def cache_info(cache_dir) -> None:
    """Where the cache is, what it holds and how much space that takes."""
    from .library import cache_contents

    click.echo(cache_dir)
    for kind, entries in cache_contents(cache_dir).items():
        click.echo(
            f"{len(entries)} {kind}, {sum(e.bytes for e in entries) / 2**20:.1f} MiB"
            + (
                f", least recently used {(time.time() - min(e.used for e in entries)) / 86400:.1f} days ago"
                if entries
                else ""
            )
        )


@cache.command(name="prune")
@click.option(
    "--older-than",
    "older_than",
    default="30d",
    show_default=True,
    help="Drop clips and tracks unused for this long (like 30d, 12h).",
)
@click.option("--max-size", "max_size", default=None, help="Then keep at most this much (like 500MB, 2GB).")
@cache_option
def cache_prune(older_than, max_size, cache_dir) -> None:
    """Remove clips and finished tracks not used recently (and what a killed render left half-written).

    \b
    Example:
      drift cache prune --older-than 14d --max-size 1GB
    """
    from .files import prune_least_recently_used
    from .library import cache_contents

    age = _amount_option(older_than, {"d": 86400, "h": 3600, "m": 60}, "--older-than")
    size = _amount_option(max_size, {"kb": 2**10, "mb": 2**20, "gb": 2**30}, "--max-size") if max_size else None
    entries = [entry for kind in cache_contents(cache_dir).values() for entry in kind]
    removed, freed = prune_least_recently_used(entries, age, size)
    click.echo(f"removed {removed} entries, freed {freed / 2**20:.1f} MiB")


def _amount_option(text: str, units: dict[str, int], option: str) -> float:
    from .script import parse_amount

    amount = parse_amount(text, units, any_case=True)
    if amount is None:
        raise click.BadParameter(f"'{text}': use a number with one of {', '.join(units)}", param_hint=option)
    return amount


@main.group()
def ambience() -> None:
    """Ambient beds: list them, or render one alone to audition it."""


@ambience.command(name="list")
def ambience_list() -> None:
    """List the bed presets a script can name in its 'ambience:' line."""
    from . import presets
    from .beds import load_bed

    for name in presets.available("ambience"):
        try:
            preset = load_bed(name)
            click.echo(f"{name:<16} {len(preset.layers)} layer(s)  {preset.description}")
        except DriftError as error:
            click.echo(f"{name:<16} (broken: {error})")


@ambience.command(name="render")
@click.argument("name")
@click.option("--duration", default="1m", show_default=True, help="Length, like 90s or 5m.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same bed.")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Output file; the format follows its extension (.flac, .wav, .mp3).",
)
@one_line_errors
def ambience_render(name, duration, seed, out) -> None:
    """Render one bed alone, to listen to it.

    \b
    Example:
      drift ambience render hearth --duration 5m -o hearth.flac
    """
    from .audio import SAMPLE_RATE, frames
    from .beds import audition_bed, load_bed
    from .export import write_audio
    from .script import parse_duration

    seconds = parse_duration(duration)
    fmt = _format_of(out)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"'{duration}' is not a length like 90s or 5m", param_hint="--duration")
    write_audio(out, audition_bed(load_bed(name), frames(seconds), seed, AUDITION_LUFS), SAMPLE_RATE, fmt)
    click.echo(f"wrote {out}")
