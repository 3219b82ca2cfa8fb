"""Who may use the host: the operator's password, the session cookie, and the
checks every request passes before it reaches the app.

- Passwords: Argon2id through argon2-cffi (OWASP's first choice), the
  library's default parameters (RFC 9106's low-memory profile: 64 MiB, 3
  passes). Only the hash is configured; `serve.py hash-password` makes one.
- Sessions: a random token of 256 bits (`secrets.token_urlsafe(32)`) in an
  `HttpOnly`, `SameSite=Strict` cookie (`Secure`, and then named with the
  `__Host-` prefix, when asked for). The store keeps its SHA-256 only.
- `RequestGuard`, an ASGI middleware in front of everything: bounds request
  bodies (413), checks `Origin` on unsafe methods (CSRF, 403), and requires a
  live session on every `/api/` path but the login (401); an unreachable
  store is a 503, never a pass.
"""
from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from bangui_state.shared import CachedSession, StoreError
from starlette.requests import Request
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_USER_LENGTH = 128
MAX_PASSWORD_LENGTH = 1024
"""Argon2 takes any length; a bound keeps one request from costing more than another."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_API_PATHS = frozenset({"/api/login"})
SESSION_SCOPE_KEY = "bangui.session"
TOKEN_SCOPE_KEY = "bangui.session_token"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash of `password` in the PHC string format (`$argon2id$v=19$...`)."""
    return _hasher.hash(password)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class Operators:
    """The people who may log in: user name -> Argon2 hash. Every hash is checked
    at start, so a typo in the configuration stops the host instead of locking
    everyone out later."""

    def __init__(self, users: dict[str, str]) -> None:
        if not users:
            raise ValueError("users: at least one user with a password hash is needed (serve.py hash-password "
                             "makes a hash)")
        for user, hashed in users.items():
            if not user or len(user) > MAX_USER_LENGTH:
                raise ValueError(f"users: the user name {user!r} must have 1 to {MAX_USER_LENGTH} characters")
            if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
                raise ValueError(f"users.{user}: expected an Argon2 hash ($argon2id$...), got {str(hashed)[:12]!r}")
        self._users = dict(users)
        # Verified when the user is unknown, so both answers take as long and
        # the time of a failure does not tell which user names exist.
        self._absent = hash_password(secrets.token_urlsafe(16))

    def verify(self, user: str, password: str) -> bool:
        """Runs Argon2 (tens of milliseconds): call it off the event loop."""
        hashed = self._users.get(user, self._absent)
        try:
            _hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False
        return user in self._users


@dataclass(frozen=True)
class CookiePolicy:
    lifetime: float
    secure: bool

    @property
    def name(self) -> str:
        # The __Host- prefix makes the browser refuse the cookie unless it is
        # Secure, host-only and for path /: no subdomain can plant one.
        return "__Host-bangui_session" if self.secure else "bangui_session"

    def set(self, response: JSONResponse, token: str) -> None:
        response.set_cookie(self.name, token, max_age=int(self.lifetime), path="/", httponly=True,
                            samesite="strict", secure=self.secure)

    def clear(self, response: JSONResponse) -> None:
        response.delete_cookie(self.name, path="/", httponly=True, samesite="strict", secure=self.secure)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


SessionLookup = Callable[[str], Awaitable[CachedSession | None]]


class RequestGuard:
    """The checks before the app, as one ASGI middleware (not Starlette's
    BaseHTTPMiddleware, which would buffer the event stream)."""

    def __init__(self, app: ASGIApp, *, lookup: SessionLookup, cookie: CookiePolicy, max_body_bytes: int,
                 trusted_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.lookup = lookup
        self.cookie = cookie
        self.max_body_bytes = max_body_bytes
        self.trusted_origins = frozenset(origin.lower().rstrip("/") for origin in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.check_origin(request)
        if refusal is None and scope["method"] in UNSAFE_METHODS:
            body = await self.read_body(request, receive)
            if isinstance(body, JSONResponse):
                refusal = body
            else:
                receive = _replay(body, receive)
        if refusal is None and scope["path"].startswith("/api/") and scope["path"] not in PUBLIC_API_PATHS:
            refusal = await self.check_session(request, scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check_origin(self, request: Request) -> JSONResponse | None:
        """CSRF: an unsafe request must come from a page of this host. Browsers
        send `Origin` on every such fetch; `Referer` stands in for old ones. A
        request with neither is refused (OWASP's "verify the origin")."""
        if request.method not in UNSAFE_METHODS:
            return None
        claimed = request.headers.get("origin")
        source = "Origin"
        if claimed is None or claimed == "null":
            referer = request.headers.get("referer")
            claimed, source = (_origin(referer) if referer else None), "Referer"
        if claimed is None:
            return error(403, "cross-site request refused: no Origin or Referer header")
        # The scope's scheme, not request.url: building the URL cost more than the rest of the check.
        expected = f"{request.scope['scheme']}://{request.headers.get('host', '')}".lower()
        claimed = claimed.lower().rstrip("/")
        if claimed != expected and claimed not in self.trusted_origins:
            return error(403, f"cross-site request refused: {source} {claimed} is not this host ({expected})")
        return None

    async def read_body(self, request: Request, receive: Receive) -> bytes | JSONResponse:
        """The whole body, or a 413 as soon as it passes the bound (the rest is never read)."""
        def too_large() -> JSONResponse:  # made only when refused: a response costs more than the reading
            return error(413, f"body: larger than the {self.max_body_bytes} bytes allowed")

        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                return error(400, "Content-Length: not a number")
            if len(declared.lstrip("0")) > 12 or int(declared) > self.max_body_bytes:
                return too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def check_session(self, request: Request, scope: Scope) -> JSONResponse | None:
        token = request.cookies.get(self.cookie.name)
        if not token or len(token) > 128:
            return error(401, "not logged in")
        try:
            session = await self.lookup(token)
        except StoreError as failure:
            # Fail closed: a store that cannot answer never lets a request through.
            return error(503, f"sessions unavailable: {failure}")
        if session is None:
            return error(401, "not logged in (the session ended, or was logged out)")
        scope[SESSION_SCOPE_KEY] = session
        scope[TOKEN_SCOPE_KEY] = token
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the real channel (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def session_of(request: Request) -> tuple[CachedSession, str]:
    """The session `RequestGuard` found for this request, and its token."""
    return request.scope[SESSION_SCOPE_KEY], request.scope[TOKEN_SCOPE_KEY]
