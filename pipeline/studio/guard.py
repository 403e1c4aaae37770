"""Who may ask the studio for what: the rules every request passes before any page or call sees it.

- **Host.** The ``Host`` header must name the address the studio is bound to (or ``localhost`` when it is bound to
  the loopback): a web page that rebinds its own name to 127.0.0.1 is refused.
- **Token.** When a token is set (required off the loopback), every request carries it: the ``X-Drift-Token``
  header, ``?token=`` (which also sets a cookie, so the page's scripts, stems and players carry it after), or that
  cookie.
- **Changes.** A request that can change anything (any method but GET and HEAD) must come from the studio's own
  page: its ``Origin`` (or, lacking one, its ``Referer``) is the studio's address, and it carries the CSRF token the
  page was given, which belongs to the browser's session cookie.
- **Size.** A body over ``MAX_BODY`` is refused, by its ``Content-Length`` or as it arrives.

Each refusal is a one-line JSON error with its status.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 256 * 1024
"""Bytes: a script is tens of kilobytes; a description at most 4,000 characters."""
SAFE_METHODS = ("GET", "HEAD")
TOKEN_HEADER = "x-drift-token"
CSRF_HEADER = "x-csrf-token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Rules:
    host: str
    port: int
    token: str | None = None
    """None: no token asked (the loopback, where only this machine's programs can connect)."""
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Signs each session's CSRF token; new each time the studio starts."""

    @property
    def origin(self) -> str:
        return f"http://{self._netloc(self.host)}"

    def _netloc(self, host: str) -> str:
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def host_allowed(self, header: str) -> bool:
        header = header.lower()
        if is_wildcard(self.host):  # reachable by any of this machine's names: the token is what guards it
            return header.rsplit(":", 1)[-1] == str(self.port) if ":" in header else False
        names = {self.host} | ({"localhost", "127.0.0.1", "::1"} if is_loopback(self.host) else set())
        return header in {self._netloc(name) for name in names}

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """The page that sent a change is the studio's own: same scheme, host and port as the request was made to."""
        return bool(origin) and origin.lower() == f"http://{host_header.lower()}" and self.host_allowed(host_header)

    def csrf_for(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    @property
    def session_cookie(self) -> str:
        return f"drift_session_{self.port}"  # cookies ignore ports: two studios on one machine keep theirs apart

    @property
    def token_cookie(self) -> str:
        return f"drift_token_{self.port}"


class Guard:
    """Pure ASGI middleware: the rules above, before anything else runs. Puts the session id in
    ``scope["state"]["session"]`` for the page to get its CSRF token."""

    def __init__(self, app, rules: Rules, max_body: int = MAX_BODY):
        self.app, self.rules, self.max_body = app, rules, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":  # a WebSocket: the studio has none, and answers none
            return await send({"type": "websocket.close", "code": 1008}) if scope["type"] == "websocket" else None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rules, cookies = self.rules, _cookies(headers.get("cookie", ""))
        host = headers.get("host", "")
        if not rules.host_allowed(host):
            return await _refuse(
                send, 403, f"this studio answers at {rules.origin} only (Host: {host or 'none'})", headers
            )
        set_cookies = []
        if rules.token:
            query_token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
            given = headers.get(TOKEN_HEADER) or query_token or cookies.get(rules.token_cookie, "")
            if not given or not secrets.compare_digest(given.encode(), rules.token.encode()):
                return await _refuse(
                    send, 401, "this studio needs its token: open the address it printed, with ?token=", headers
                )
            if query_token and cookies.get(rules.token_cookie) != query_token:
                set_cookies.append(_cookie(rules.token_cookie, query_token))
        session = cookies.get(rules.session_cookie, "")
        if len(session) != 43:  # secrets.token_urlsafe(32)
            session = secrets.token_urlsafe(32)
            set_cookies.append(_cookie(rules.session_cookie, session))
        scope.setdefault("state", {})["session"] = session
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin") or _origin_of(headers.get("referer", ""))
            if not rules.origin_allowed(origin, host):
                return await _refuse(send, 403, "changes are accepted from the studio's own page only (Origin)")
            expected = rules.csrf_for(session)
            if not secrets.compare_digest(headers.get(CSRF_HEADER, "").encode(), expected.encode()):
                return await _refuse(send, 403, "this page's session has expired: reload the page")
        length = headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > self.max_body):
            return await _refuse(send, 413, f"the request is larger than {self.max_body // 1024} KB")
        return await self.app(scope, _limited(receive, self.max_body), _with_cookies(send, set_cookies))


class TooLarge(Exception):
    """A body that grew past the limit as it arrived (no Content-Length, or a wrong one)."""


def _limited(receive, limit: int):
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge()
        return message

    return wrapped


def _with_cookies(send, cookies: list[bytes]):
    if not cookies:
        return send

    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *((b"set-cookie", c) for c in cookies)]}
        await send(message)

    return wrapped


def _cookie(name: str, value: str) -> bytes:
    return f"{name}={value}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no cookie
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _origin_of(referer: str) -> str:
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


async def _refuse(send, status: int, message: str, headers: dict | None = None) -> None:
    """One line: JSON for the page's calls, plain text for a person's browser opening an address."""
    if "text/html" in (headers or {}).get("accept", ""):
        body, kind = f"drift studio: {message}\n".encode(), b"text/plain; charset=utf-8"
    else:
        body, kind = json.dumps({"error": message}).encode(), b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
