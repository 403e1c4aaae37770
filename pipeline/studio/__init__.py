"""The studio (``drift studio``): a local page where a person describes a challenge, reads and edits the drafted
session with lint beside it, hears a section of it, renders it, and finds it in the library.

It is a small Starlette application served by uvicorn (``app``), every call a thin layer over the library calls
the commands use: ``draft.draft`` and ``write_draft``, lint over the text being edited (``lint``), ``render_preview``,
and the normal build in a process of its own (``worker``), so a render can be stopped. ``guard`` holds who may ask
for what; ``workspace`` keeps every path inside the studio's folders.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, Source
from .guard import Rules, is_loopback, is_wildcard
from .workspace import Workspace


@dataclass(frozen=True)
class Bound:
    """A studio ready to serve: its socket, its address to open, and the application."""

    sock: socket.socket
    url: str
    """The page's address, with ``?token=`` when a token guards it."""
    app: object


def prepare_studio(
    folder: Path,
    out_dir: Path,
    cache_dir: Path | None,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    warm: bool = True,
) -> Bound:
    """Bind the studio's socket (port 0: a free one) and make its application; nothing is served yet.

    Off the loopback a token is required: ``token``, or one made here (the address printed carries it)."""
    from .app import create_app

    workspace = Workspace.at(folder, out_dir)
    if not is_loopback(host) and not token:
        import secrets

        token = secrets.token_urlsafe(24)
    if token is not None and len(token) < 16:
        raise ConfigError("a token must be at least 16 characters", Source("--token"))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}", Source("--port")) from None
    sock.listen(128)  # from now a browser's connection waits for the server instead of being refused
    port = sock.getsockname()[1]
    rules = Rules(host, port, token)
    shown = socket.gethostname() if is_wildcard(host) else host
    netloc = f"[{shown}]:{port}" if ":" in shown else f"{shown}:{port}"
    url = f"http://{netloc}/" + (f"?token={token}" if token else "")
    return Bound(sock, url, create_app(workspace, rules, cache_dir, warm))


def serve(bound: Bound) -> None:
    """Serve until interrupted; quietly: no access log (a request line can carry the token), warnings only."""
    import uvicorn

    config = uvicorn.Config(
        bound.app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[bound.sock])
    except KeyboardInterrupt:  # uvicorn has shut down cleanly and passes the Ctrl-C on: nothing more to say
        pass
    finally:
        bound.sock.close()
        print("studio closed", file=sys.stderr)


__all__ = ["Bound", "prepare_studio", "serve"]
