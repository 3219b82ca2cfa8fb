"""BanGUI in miniature: a FastAPI backend whose workers share one runtime state.

Every worker (uvicorn --workers N) opens the same shared machine (SQLite by
default, Redis with --redis) and:

- probes fail2ban every `probe_interval` seconds over its socket and feeds the
  result to `health_probe`;
- turns API calls into events (`jail_activated`, `settings_updated`, ...);
- carries out the effects of the steps it committed: the seed's log lines
  through structlog, the backend-capability probe, the session cache;
- reinstalls its own session cache whenever the shared state says so (the
  `on_session_cache` hook), whichever worker committed the change;
- streams committed revisions to browsers (`GET /api/events`, server-sent events);
- asks who you are: every `/api/` path but the login needs a session
  (auth.py), kept in the host's own table (auth_store.py) with the shared
  session cache of `bangui_state.shared` in front, so a logout on one worker
  is seen by every worker at once.

Configuration comes from the environment (`BANGUI_HOST_CONFIG`, JSON), which
`serve.py` sets from its command line before starting uvicorn, so that every
worker process reads the same.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bangui_state
import structlog
from bangui_state.types import Effect
from bangui_state.shared import (AsyncRedisStore, AsyncSessionCache, AsyncSharedMachine, AsyncSqliteStore,
                                 CachedSession, Commit, LogTrimmedError, StoreError, session_cache_for)
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import http_input
from auth import CookiePolicy, Operators, RequestGuard, error, new_session_token, session_of
from auth_store import AuthStore, RedisAuthStore, SqliteAuthStore, from_micros, throttle_keys
from fail2ban_client import Fail2banClient, Fail2banError
from http_input import BadInput

CONFIG_ENV = "BANGUI_HOST_CONFIG"
STATIC = Path(__file__).parent / "static"
log: structlog.stdlib.BoundLogger = structlog.get_logger()


@dataclass(frozen=True)
class Config:
    fail2ban_socket: str
    sqlite_path: str
    redis_url: str | None = None
    probe_interval: float = 5.0
    probe_timeout: float = 2.0
    """A probe that gets no answer in this time counts as offline (a killed fail2ban refuses at once)."""
    log_retention: int = 10_000
    """How many commits the store's log keeps (what /api/events can replay to a reconnecting page)."""
    log_level: str = "debug"
    """The lowest structlog level written; the seed logs every probe's `health_check_complete` at debug."""
    package_dir: str | None = None
    """A directory holding node_modules/bangui-state (the npm package), served to the dashboard."""
    bootstrap_settings: dict[str, Any] = field(default_factory=lambda: {
        "session_cache_enabled": True, "session_cache_ttl_seconds": 3600})
    users: dict[str, str] = field(default_factory=dict)
    """Who may log in: user name -> Argon2 hash (`serve.py hash-password`)."""
    session_lifetime: float = 8 * 3600.0
    """Seconds a session lasts from its login (the cookie's Max-Age, the row's expiry)."""
    secure_cookies: bool = False
    """Mark the session cookie Secure (and name it __Host-...): set it whenever the host is behind HTTPS."""
    trusted_origins: tuple[str, ...] = ()
    """Origins besides the host itself that may send unsafe requests (a front end on another port)."""
    login_limit: int = 5
    """Failed logins allowed per client address and per user name in one `login_window`, across all workers."""
    login_window: float = 60.0
    max_body_bytes: int = 65536

    @classmethod
    def from_environment(cls) -> Config:
        fields = json.loads(os.environ[CONFIG_ENV])
        fields["trusted_origins"] = tuple(fields.get("trusted_origins", ()))
        return cls(**fields)


def now_micros() -> int:
    """Now, as the machine takes it: Unix microseconds."""
    return time.time_ns() // 1000


def add_pid(logger: Any, method: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    event["pid"] = os.getpid()  # which worker wrote the line
    return event


def configure_logging(level: str) -> None:
    """One JSON object a line on stdout, with the worker's pid: the seed's events
    (`fail2ban_went_offline`, ...) with their level and fields, as BanGUI logs them."""
    structlog.configure(
        processors=[
            add_pid,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        context_class=dict,
        cache_logger_on_first_use=True,
    )


class Worker:
    """What one worker process holds: the shared machine, the shared session
    cache and the login records, its fail2ban client and the tasks it runs in
    the background."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.operators = Operators(config.users)
        self.fail2ban = Fail2banClient(config.fail2ban_socket, timeout=config.probe_timeout)
        self.session_cache_kind = "unknown"
        self.machine: AsyncSharedMachine
        self.sessions: AsyncSessionCache
        self.auth: AuthStore
        self.redis: Any = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    async def open(self) -> None:
        if self.config.redis_url is not None:
            import redis.asyncio

            self.redis = redis.asyncio.Redis.from_url(self.config.redis_url)
        retention = self.config.log_retention
        store: Any = (AsyncRedisStore(self.redis, log_retention=retention) if self.redis is not None
                      else AsyncSqliteStore(self.config.sqlite_path, log_retention=retention))
        self.machine = await AsyncSharedMachine.open(store, self.config.bootstrap_settings,
                                                     on_session_cache=self.install_session_cache)
        self.sessions = session_cache_for(self.machine)
        limit, window = self.config.login_limit, self.config.login_window
        self.auth = (RedisAuthStore(self.redis, limit=limit, window=window) if self.redis is not None
                     else SqliteAuthStore(self.config.sqlite_path, limit=limit, window=window))
        # Every worker asks for the backend capability as it starts; the shared
        # state lets one of them run the probe and the others join it.
        self.spawn(self.request_backend_capability())
        self.spawn(self.probe_loop())

    async def request_backend_capability(self) -> None:
        try:
            await self.step({"type": "backend_probe_requested"})
        except bangui_state.Error as error:
            log.error("backend_probe_not_requested", error=str(error))

    async def close(self) -> None:
        self.closing = True
        while self.tasks:  # a cancellation can be lost in a library: ask again until all are gone
            for task in list(self.tasks):
                task.cancel()
            await asyncio.wait(list(self.tasks), timeout=0.5)
        await self.fail2ban.aclose()
        # How the shared machine fared (conflicts: compare-and-sets lost to
        # another worker, each one retry), for whoever tunes the host.
        log.info("worker_stopped", **dataclasses.asdict(self.machine.stats))
        await self.auth.close()
        await self.machine.aclose()
        if self.redis is not None:
            await self.redis.aclose()  # the client is ours, not the store's

    def spawn(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await work
            except StoreError as error:
                log.error("store_unavailable", error=str(error))

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def install_session_cache(self, kind: str) -> None:
        """The `on_session_cache` hook. The cache itself is shared and follows
        the state by itself (a replacement empties it for every worker at
        once); this worker notes which kind it now sees."""
        self.session_cache_kind = kind
        log.info("session_cache_installed", kind=kind)

    async def session(self, token: str) -> CachedSession | None:
        """The live session of `token`: the shared cache, else the host's table (which then fills the cache)."""
        now = now_micros()
        return await self.sessions.get_or_load(token, lambda: self.auth.load_session(token, now), now)

    async def step(self, event: dict[str, Any]) -> list[Effect]:
        """Commits one event and carries out its effects (this worker committed it)."""
        effects = await self.machine.step(event, now_micros())
        self.carry_out(effects)
        return effects

    def carry_out(self, effects: list[Effect]) -> None:
        for effect in bangui_state.log_effects(effects, log):
            if effect["type"] == "probe_backend_capability":
                self.spawn(self.probe_backend_capability())
            # session_cache_replaced: every worker, this one included, installs
            # the new cache through the on_session_cache hook.

    async def probe_loop(self) -> None:
        while not self.closing:
            status = await self.fail2ban.probe()
            try:
                report = await self.machine.health_probe(status.online, status.version, status.active_jails,
                                                         now_micros())
                self.carry_out(report.effects)
                if report.came_online:
                    # BanGUI asks for the backend capability on first use (listing
                    # jails) and this host also when fail2ban comes (back) online:
                    # the shared state lets one worker run the probe.
                    await self.step({"type": "backend_probe_requested"})
            except bangui_state.Error as error:  # the store's errors included: probe again next time
                log.error("health_probe_not_recorded", error=str(error))
            await asyncio.sleep(self.config.probe_interval)

    async def probe_backend_capability(self) -> None:
        """The probe this worker alone was asked to run; its result goes back as an event."""
        event: dict[str, Any]
        try:
            status = await self.fail2ban.probe()
            if not status.jails:
                raise Fail2banError("fail2ban is offline or has no jail to ask")
            supported = await self.fail2ban.backend_supported(status.jails[0])
            log.info("backend_capability_probed", supported=supported)
            event = {"type": "backend_probe_completed", "supported": supported}
        except Fail2banError as error:
            event = {"type": "backend_probe_failed", "reason": str(error)}
        await self.step(event)


def error_response(failure: Exception) -> JSONResponse:
    """The core's message (what was wrong and where) as a 4xx; the store's as a 503."""
    if isinstance(failure, StoreError):
        return error(503, str(failure))
    return error(400, str(failure))


async def close_watch(commits: AsyncGenerator[Commit, None], pending: asyncio.Task[Any] | None) -> None:
    """Ends a stream's watch: cancels the read in flight, then closes the
    generator (its subscription). The stream ends at once even if the read is
    slow to honour the cancellation: the generator is then closed when it does."""
    if pending is not None and not pending.done():
        pending.cancel()
        done, _ = await asyncio.wait({pending}, timeout=1.0)
        if not done:
            log.warning("event_stream_close_slow", waited_s=1.0)
            pending.add_done_callback(lambda _: asyncio.ensure_future(commits.aclose()))
            return
    await commits.aclose()


SESSION_CHECK_INTERVAL = 1.0
"""Seconds between checks that an event stream's session is still live."""
KEEPALIVE_INTERVAL = 15.0
"""Seconds of silence after which an event stream sends a comment, so a client
can tell a quiet stream from a dead connection."""


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config.from_environment()
    configure_logging(config.log_level)
    worker = Worker(config)
    cookie = CookiePolicy(lifetime=config.session_lifetime, secure=config.secure_cookies)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await worker.open()
        log.info("worker_started", store="redis" if config.redis_url else "sqlite",
                 probe_interval=config.probe_interval)
        try:
            yield
        finally:
            await worker.close()

    app = FastAPI(title="BanGUI in miniature", lifespan=lifespan)
    app.add_middleware(RequestGuard, lookup=worker.session, cookie=cookie, max_body_bytes=config.max_body_bytes,
                       trusted_origins=config.trusted_origins)

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, failure: BadInput) -> JSONResponse:
        return error(400, str(failure))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, failure: RequestValidationError) -> JSONResponse:
        first = failure.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error(400, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, failure: StarletteHTTPException) -> JSONResponse:
        # Starlette's own refusals (404, 405) in the API's shape: {"error": ...}.
        return error(failure.status_code, str(failure.detail), headers=failure.headers)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, failure: StoreError) -> JSONResponse:
        return error(503, str(failure))

    async def committed(event: dict[str, Any]) -> JSONResponse:
        try:
            effects = await worker.step(event)
        except bangui_state.Error as failure:  # the core's, or the store's (StoreError)
            return error_response(failure)
        return JSONResponse({"revision": worker.machine.revision, "effects": effects})

    @app.post("/api/login")
    async def login(request: Request) -> JSONResponse:
        """`{"user", "password"}`: a session cookie, or 401; 429 once the
        client address or the user name has used its attempts in the window."""
        user, password = http_input.login_body(await request.body())
        address = request.client.host if request.client else "unknown"
        keys = throttle_keys(address, user)
        retry_after = await worker.auth.reserve_login_attempt(keys, now_micros())
        if retry_after is not None:
            log.warning("login_throttled", address=address, retry_after=round(retry_after, 3))
            return error(429, "too many failed logins: try again later",
                         headers={"retry-after": str(max(1, math.ceil(retry_after)))})
        if not await asyncio.to_thread(worker.operators.verify, user, password):
            log.warning("login_failed", address=address)
            return error(401, "wrong user name or password")
        await worker.auth.release_login_attempt(keys)  # only failures count
        token, now = new_session_token(), now_micros()
        expires = now + int(config.session_lifetime * 1_000_000)
        await worker.auth.create_session(token, user, now, expires)
        log.info("logged_in", user=user, address=address)
        response = JSONResponse({"user": user, "expires_at": from_micros(expires).isoformat()})
        cookie.set(response, token)
        return response

    @app.get("/api/session")
    async def current_session(request: Request) -> JSONResponse:
        session, _ = session_of(request)
        return JSONResponse({"user": session.user, "expires_at": session.expires_at.isoformat()})

    @app.post("/api/logout")
    async def logout(request: Request) -> JSONResponse:
        """Ends this session on every worker: the row goes first, then the cache entry."""
        session, token = session_of(request)
        await worker.auth.delete_session(token)
        await worker.sessions.invalidate(token)
        log.info("logged_out", user=session.user)
        response = JSONResponse({"logged_out": 1})
        cookie.clear(response)
        return response

    @app.post("/api/logout-all")
    async def logout_everywhere(request: Request) -> JSONResponse:
        """Ends every session of this user, on every worker."""
        session, _ = session_of(request)
        ended = await worker.auth.delete_user_sessions(session.user)
        await worker.sessions.invalidate_user(session.user)
        log.info("logged_out_everywhere", user=session.user, sessions=ended)
        response = JSONResponse({"logged_out": ended})
        cookie.clear(response)
        return response

    @app.get("/api/state")
    async def get_state() -> JSONResponse:
        """The shared state, the effective settings and the next deadline, as this worker sees them now."""
        await worker.machine.refresh()
        deadline = worker.machine.next_deadline(now_micros())
        return JSONResponse({
            "state": worker.machine.state,
            "effective_settings": worker.machine.effective_settings,
            "next_deadline": None if deadline is None else deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "worker": {"pid": os.getpid(), "session_cache": worker.session_cache_kind},
        })

    @app.post("/api/jails/{name}/activate")
    async def activate_jail(name: str) -> JSONResponse:
        """Starts the jail in fail2ban, then records the activation: a crash in
        the next 60 s is blamed on it."""
        http_input.jail_name(name)
        try:
            await worker.fail2ban.activate_jail(name)
        except Fail2banError as failure:
            return error(502, str(failure))
        return await committed({"type": "jail_activated", "jail_name": name})

    @app.get("/api/jails")
    async def list_jails() -> JSONResponse:
        status = await worker.fail2ban.probe()
        await committed({"type": "backend_probe_requested"})
        return JSONResponse({"online": status.online, "jails": list(status.jails)})

    @app.put("/api/settings")
    async def update_settings(request: Request) -> JSONResponse:
        """Overrides of the settings (`{"session_cache_enabled": false}`), checked
        here for weight and by the core for everything else."""
        overrides = http_input.settings_overrides(await request.body(),
                                                  worker.machine.state["bootstrap_settings"])
        return await committed({"type": "settings_updated", "overrides": overrides})

    @app.delete("/api/recovery")
    async def dismiss_recovery() -> JSONResponse:
        """The operator acknowledged the crash banner."""
        return await committed({"type": "pending_recovery_cleared"})

    @app.get("/api/events")
    async def events(request: Request, after: str | None = None) -> StreamingResponse:
        """Server-sent events, one per committed revision after `after` (or the
        Last-Event-ID a reconnecting EventSource sends): `{"revision", "now", "event"}`.
        The stream ends when its session does (logout, expiry)."""
        _, token = session_of(request)
        start = http_input.revision(request.headers.get("last-event-id"), "Last-Event-ID")
        if start is None:
            start = http_input.revision(after, "after")
        if start is None:
            start = worker.machine.revision

        await worker.machine.refresh()
        # A revision this store never reached: the page followed another store's
        # history (since deleted, or restarted without persistence).
        unknown_revision = start > worker.machine.revision

        async def stream() -> AsyncIterator[str]:
            yield "retry: 500\n\n"
            if unknown_revision:
                yield "event: resync\ndata: {}\n\n"
                return
            loop = asyncio.get_running_loop()
            commits = worker.machine.watch(start)  # closed below: its subscription ends with the stream
            pending: asyncio.Task[Any] | None = None
            next_check = loop.time() + SESSION_CHECK_INTERVAL
            last_sent = loop.time()
            try:
                while True:
                    if pending is None:
                        pending = asyncio.ensure_future(anext(commits))
                    done, _ = await asyncio.wait({pending}, timeout=max(0.0, next_check - loop.time()))
                    if done:
                        commit, pending = pending.result(), None
                        yield f"id: {commit.revision}\nevent: commit\ndata: {json.dumps(commit.as_json())}\n\n"
                        last_sent = loop.time()
                    elif loop.time() - last_sent >= KEEPALIVE_INTERVAL:
                        yield ": keepalive\n\n"
                        last_sent = loop.time()
                    if loop.time() >= next_check:
                        if await worker.session(token) is None:
                            yield "event: logged-out\ndata: {}\n\n"
                            return
                        next_check = loop.time() + SESSION_CHECK_INTERVAL
            except LogTrimmedError:
                # The log no longer reaches back to `start`: the page must start
                # again from /api/state rather than reconnect here forever.
                yield "event: resync\ndata: {}\n\n"
            except StoreError:
                return  # the page reconnects, and learns from /api/state what is wrong
            finally:
                await close_watch(commits, pending)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    if config.package_dir is not None:
        app.mount("/node_modules", StaticFiles(directory=Path(config.package_dir) / "node_modules"),
                  name="package")
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
    return app
