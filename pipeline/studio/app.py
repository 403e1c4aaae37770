"""The studio's web application: a page, and the calls it makes, each a thin layer over a library call.

| call | does | through |
|---|---|---|
| ``GET /`` | the page, with this session's CSRF token | ``static/studio.html`` |
| ``GET /api/state`` | the folder's scripts, the voices and beds to choose from | ``presets`` |
| ``GET/PUT /api/script`` | a script's text and SHA-256; an atomic save, 409 if it changed elsewhere | ``workspace`` |
| ``POST /api/lint`` | diagnostics for the text being edited | ``lint.lint_text``: ``drift lint --style``'s code |
| ``POST /api/draft`` | a description becomes a script, or a stop with resources | ``draft.draft``, ``write_draft`` |
| ``POST /api/preview`` | one section rendered with the draft voice, and its player page | ``preview.render_preview`` |
| ``POST /api/render`` | the normal render, its progress as Server-Sent Events, then qc's verdict | ``worker`` (a process) |
| ``DELETE /api/render`` | stops a render | |
| ``GET /api/library`` | the output folder's tracks | ``library.json`` |
| ``GET /out/…`` | a file of the output folder (tracks, previews, feed.xml), with byte ranges | |

Nothing here logs a request, and the description is read, drafted from and dropped: it is written only when the
person ticks the box that keeps it (``write_draft(..., keep=intake)``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import presets
from ..draft import THEMES, Stopped, draft, make_intake
from ..draft.write import write_draft
from ..errors import DriftError, system_error
from ..job import RenderOptions
from ..master import PROFILES
from .guard import Guard, Rules, TooLarge
from .lint import Diagnostic, lint_text
from .warm import Warmer
from .workspace import DRAFTS, Conflict, Refused, Workspace

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "studio.html"
HEARTBEAT_S = 2.0
"""While a render is quiet, a comment line this often: a closed tab is noticed within it, and the render stopped."""
FIRST_MINUTE_S = 60.0
"""What "Preview this section" plays of a script with no sections (or with the cursor above them all)."""
STARTING_S = 15.0
"""A render asked for whose stream never began (the tab closed at once) no longer holds its track after this."""


@dataclass(kw_only=True)
class Studio:
    """What one running studio holds: its folders, the renders and previews under way."""

    workspace: Workspace
    cache_dir: Path | None
    renders: dict[str, asyncio.subprocess.Process | float] = field(default_factory=dict)
    """Track name → its render's process (when it was asked for, until it starts): one render per track at a time."""
    previews: set[str] = field(default_factory=set)
    drafting: threading.Lock = field(default_factory=threading.Lock)
    warmer: Warmer | None = None
    """Speaks the open script's phrases ahead of a preview (None: not in this studio)."""

    def opened(self, path: Path) -> None:
        if self.warmer is not None:
            self.warmer.want(path)


def create_app(workspace: Workspace, rules: Rules, cache_dir: Path | None = None, warm: bool = True):
    """The studio as an ASGI application, behind its guard. ``warm``: load the screen's model and the draft voice in
    the background as it starts, so the first description and the first preview do not wait for them."""
    studio = Studio(workspace=workspace, cache_dir=cache_dir, warmer=Warmer(cache_dir) if warm else None)

    @asynccontextmanager
    async def lifespan(app):
        if warm:
            threading.Thread(target=_warm_up, args=(studio,), daemon=True).start()
        yield
        for name in list(studio.renders):
            _stop(studio, name)
        if studio.warmer is not None:
            studio.warmer.stop()

    routes = [
        Route("/", partial(_page, rules=rules)),
        Route("/api/state", partial(_state, studio=studio)),
        Route("/api/script", partial(_script, studio=studio), methods=["GET", "PUT"]),
        Route("/api/lint", partial(_lint, studio=studio), methods=["POST"]),
        Route("/api/draft", partial(_draft, studio=studio), methods=["POST"]),
        Route("/api/preview", partial(_preview, studio=studio), methods=["POST"]),
        Route("/api/render", partial(_render, studio=studio), methods=["POST", "DELETE"]),
        Route("/api/library", partial(_library, studio=studio)),
        Route("/out/{path:path}", partial(_output, studio=studio)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {
        Refused: _refused,
        DriftError: _drift_error,
        TooLarge: _too_large,
        OSError: _os_error,
        HTTPException: _http_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.studio = studio
    return Guard(_OneLineErrors(app), rules)


# --- the page and the state -----------------------------------------------------------------------


async def _page(request: Request, rules: Rules):
    csrf = rules.csrf_for(request.scope["state"]["session"])
    html = PAGE.read_text(encoding="utf-8").replace("{{csrf}}", csrf)
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": _CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Referrer-Policy": "same-origin",
        },
    )


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "frame-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'"
)
"""The page loads nothing from anywhere else, and runs no inline script."""


async def _state(request: Request, studio: Studio):
    workspace = studio.workspace
    return JSONResponse(
        {
            "folder": str(workspace.folder),
            "out_dir": str(workspace.out_dir),
            "scripts": workspace.scripts(),
            "voices": sorted(presets.available("voices")),
            "ambiences": sorted(presets.available("ambience")),
            "profiles": sorted(PROFILES),
            "themes": THEMES,
            "drafts": DRAFTS,
        }
    )


# --- editing ---------------------------------------------------------------------------------------


async def _script(request: Request, studio: Studio):
    workspace = studio.workspace
    if request.method == "GET":
        relative = request.query_params.get("path", "")
        text, sha256 = workspace.read(relative)
        diagnostics = await run_in_threadpool(_diagnostics, text, workspace.script(relative))
        if not diagnostics["errors"]:
            studio.opened(workspace.script(relative))
        return JSONResponse({"path": relative, "text": text, "sha256": sha256, **diagnostics})
    body = await _json(request, {"path": str, "text": str, "base_sha256": (str, type(None))})
    try:
        sha256 = workspace.save(body["path"], body["text"], body["base_sha256"])
    except Conflict as conflict:
        return JSONResponse({"error": conflict.message, "current_sha256": conflict.current_sha256}, 409)
    studio.opened(workspace.script(body["path"]))
    return JSONResponse({"path": body["path"], "sha256": sha256})


async def _lint(request: Request, studio: Studio):
    body = await _json(request, {"path": str, "text": str})
    path = studio.workspace.script(body["path"])
    return JSONResponse(await run_in_threadpool(_diagnostics, body["text"], path))


def _diagnostics(text: str, path: Path) -> dict:
    found = [Diagnostic.of(problem, path) for problem in lint_text(text, path)]
    return {
        "diagnostics": [asdict(d) for d in found],
        "errors": sum(d.severity == "error" for d in found),
        "warnings": sum(d.severity == "warning" for d in found),
    }


# --- drafting --------------------------------------------------------------------------------------

_INTAKE = {
    "description": str,
    "name": str,
    "partner": str,
    "mode": str,
    "minutes": (int, float),
    "ending": str,
    "bed_until": str,
    "voice": str,
    "ambience": str,
    "keep": bool,
}


async def _draft(request: Request, studio: Studio):
    body = await _json(request, _INTAKE, optional=set(_INTAKE) - {"description"})
    keep = body.pop("keep", False)
    settings = {k: v.strip() if isinstance(v, str) and k != "description" else v for k, v in body.items()}
    settings = {k: v for k, v in settings.items() if v not in (None, "")}
    return JSONResponse(await run_in_threadpool(_draft_now, studio, settings, keep))


def _draft_now(studio: Studio, settings: dict, keep: bool) -> dict:
    intake = make_intake(settings)
    with studio.drafting:
        result = draft(intake, studio.cache_dir)
    if isinstance(result, Stopped):  # nothing is written, and nothing of the description is kept
        answer = result.answer
        return {"stopped": True, "message": answer.message, "resources": [asdict(r) for r in answer.resources]}
    workspace = studio.workspace
    path = write_draft(result, workspace.folder / DRAFTS, intake if keep else None)
    relative = workspace.relative(path)
    text, sha256 = workspace.read(relative)
    studio.opened(path)
    understanding = result.understanding
    return {
        "stopped": False,
        "path": relative,
        "text": text,
        "sha256": sha256,
        "kept": keep,
        "minutes": result.target_s / 60,
        "estimated_minutes": round(result.estimated_s / 60, 1),
        "modules": list(result.modules),
        "notes": list(result.notes),
        "understanding": {
            "themes": [{"id": t, "label": THEMES[t], "confidence": round(c, 2)} for t, c in understanding.themes],
            "chosen": [{"id": t, "label": THEMES[t]} for t in understanding.chosen],
            "situation": understanding.situation,
            "other": understanding.other,
            "moment": understanding.moment,
        },
        **_diagnostics(text, path),
    }


# --- listening -------------------------------------------------------------------------------------


async def _preview(request: Request, studio: Studio):
    body = await _json(request, {"path": str, "section": (str, type(None))}, optional={"section"})
    path = studio.workspace.script(body["path"])
    if path.stem in studio.previews:
        raise Refused(f"a preview of {path.stem} is being made: wait for it", 409)
    studio.previews.add(path.stem)
    try:
        return JSONResponse(await run_in_threadpool(_preview_now, studio, path, body.get("section")))
    finally:
        studio.previews.discard(path.stem)


def _preview_now(studio: Studio, path: Path, section: str | None) -> dict:
    from ..preview import render_preview

    folder = studio.workspace.out_dir / "preview" / path.stem
    options = RenderOptions(cache_dir=studio.cache_dir, draft=True)
    span = None if section else (0.0, FIRST_MINUTE_S)
    if studio.warmer is not None:
        studio.warmer.settle(path)  # its phrases being spoken ahead: wait for them rather than speak them twice
    result = render_preview(path, folder, options, section, span)
    page = result.page.relative_to(studio.workspace.out_dir).as_posix()
    return {
        "url": f"/out/{page}",
        "start_s": result.start_s,
        "end_s": result.end_s,
        "reused": result.reused,
        "section": section,
        "figures": result.figures,
    }


async def _render(request: Request, studio: Studio):
    if request.method == "DELETE":
        name = studio.workspace.script(request.query_params.get("path", "")).stem
        return JSONResponse({"stopped": _stop(studio, name)})
    body = await _json(request, {"path": str, "release": bool}, optional={"release"})
    path = studio.workspace.script(body["path"])
    if not path.is_file():
        raise Refused(f"no script '{body['path']}': save it first", 404)
    name = path.stem
    asked = studio.renders.get(name)
    if asked is not None and not (isinstance(asked, float) and time.monotonic() - asked > STARTING_S):
        raise Refused(f"{name} is already being rendered: wait for it, or stop it", 409)
    studio.renders[name] = time.monotonic()
    command = [sys.executable, "-m", "pipeline.studio.worker", str(path), "--out", str(studio.workspace.out_dir)]
    command += ["--cache", str(studio.cache_dir)] if studio.cache_dir else []
    command += [] if body.get("release") else ["--draft"]
    return StreamingResponse(
        _render_events(studio, name, command, not body.get("release")),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _render_events(studio: Studio, name: str, command: list[str], draft_voice: bool):
    """The render's progress as Server-Sent Events. However this ends (the render done, the tab closed, a cancel),
    the render's process group is ended with it."""
    process = None
    errors: deque[str] = deque(maxlen=5)
    try:
        yield _event("start", {"track": name, "draft": draft_voice})
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True
        )
        studio.renders[name] = process
        drain = asyncio.ensure_future(_keep_last_lines(process.stderr, errors))
        ended = False
        while True:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), HEARTBEAT_S)
            except TimeoutError:
                yield ": still rendering\n\n"
                continue
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            ended = ended or event["kind"] in ("result", "error")
            yield _event(event.pop("kind"), event)
        code = await process.wait()
        await drain
        if not ended:
            reason = "stopped" if code < 0 else (errors[-1] if errors else f"ended with status {code}")
            yield _event("error", {"message": f"the render did not finish: {reason}"})
    finally:
        if process is not None and process.returncode is None:
            _kill(process)
        if studio.renders.get(name) is process:
            studio.renders.pop(name, None)


async def _keep_last_lines(stream, lines: deque) -> None:
    async for line in stream:
        if text := line.decode(errors="replace").strip():
            lines.append(text)


def _stop(studio: Studio, name: str) -> bool:
    process = studio.renders.get(name)
    if not isinstance(process, asyncio.subprocess.Process) or process.returncode is not None:
        return False
    _kill(process)
    return True


def _kill(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the worker and anything it started (an encoder)
    except ProcessLookupError:
        pass


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


# --- the library and the output folder -------------------------------------------------------------


async def _library(request: Request, studio: Studio):
    return JSONResponse(await run_in_threadpool(studio.workspace.library))


async def _output(request: Request, studio: Studio):
    path = studio.workspace.output(request.path_params["path"])
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


# --- requests and errors ---------------------------------------------------------------------------


async def _json(request: Request, fields: dict, optional: set[str] = frozenset()) -> dict:
    """The request's JSON object, with the fields asked for and of their kinds; anything else is a 400."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise Refused("the request is not JSON") from None
    if not isinstance(body, dict):
        raise Refused("the request is not a JSON object")
    for key, kind in fields.items():
        if key not in body:
            if key in optional:
                continue
            raise Refused(f"the request has no '{key}'")
        if not isinstance(body[key], kind) or (isinstance(body[key], bool) and kind is not bool):
            raise Refused(f"'{key}' has the wrong kind of value")
    return {key: body[key] for key in fields if key in body}


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status)  # one line, always


async def _refused(request, error: Refused):
    return _error(error.message, error.status)


async def _drift_error(request, error: DriftError):
    first = getattr(error, "errors", None)
    return _error(str(first[0]) if first else str(error), 400)


async def _too_large(request, error):
    return _error("the request is too large", 413)


async def _os_error(request, error: OSError):
    return _error(str(system_error(error)), 500)


async def _http_error(request, error: HTTPException):
    return _error(error.detail or "no such page", error.status_code)


class _OneLineErrors:
    """Anything unforeseen is one line on the page and one on the terminal, never a stack trace."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:  # noqa: BLE001 - the one place every other error ends
            if scope["type"] != "http":
                raise
            line = f"{type(error).__name__}: {' '.join(str(error).split())}"
            print(f"drift studio: {line}", file=sys.stderr)
            if not started:
                response = _error(f"something went wrong in the studio ({line})", 500)
                await response(scope, receive, send)


def _warm_up(studio: Studio) -> None:
    """Load what the first calls would otherwise wait for: the screen's model and its examples, the renderer's
    hashes that lint uses, the draft voice."""
    from ..draft import screen_description
    from ..speech import engine_for
    from ..speech.voices import DRAFT_STAND_IN, load_voice

    try:
        screen_description("we keep missing each other in the evenings", studio.cache_dir)
        scripts = studio.workspace.scripts()
        if scripts:
            path = studio.workspace.script(scripts[0])
            lint_text(path.read_text(encoding="utf-8"), path)
        engine_for(load_voice(DRAFT_STAND_IN))
    except Exception:  # warming is a courtesy: the first real call reports whatever is wrong
        pass
