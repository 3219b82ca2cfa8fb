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
- streams committed revisions to browsers (`GET /api/events`, server-sent events).

Configuration comes from the environment (`BANGUI_HOST_CONFIG`, JSON), which
`serve.py` sets from its command line before starting uvicorn, so that every
worker process reads the same.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bangui_state
import structlog
from bangui_state.types import Effect
from bangui_state.shared import (AsyncRedisStore, AsyncSharedMachine, AsyncSqliteStore, LogTrimmedError,
                                 StoreError)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from fail2ban_client import Fail2banClient, Fail2banError

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

    @classmethod
    def from_environment(cls) -> Config:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


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


# The session caches BanGUI swaps (app/utils/session_cache.py), reduced to their shape.
class InMemorySessionCache(dict[str, Any]):
    kind = "in_memory"


class NoOpSessionCache:
    kind = "no_op"


class Worker:
    """What one worker process holds: the shared machine, its fail2ban client,
    its own session cache and the tasks it runs in the background."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.fail2ban = Fail2banClient(config.fail2ban_socket, timeout=config.probe_timeout)
        self.session_cache: InMemorySessionCache | NoOpSessionCache = NoOpSessionCache()
        self.machine: AsyncSharedMachine
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
        self.spawn(self.probe_loop())

    async def close(self) -> None:
        self.closing = True
        while self.tasks:  # a cancellation can be lost in a library: ask again until all are gone
            for task in list(self.tasks):
                task.cancel()
            await asyncio.wait(list(self.tasks), timeout=0.5)
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
        """The `on_session_cache` hook: a new, empty cache of the kind the shared state names."""
        self.session_cache = InMemorySessionCache() if kind == "in_memory" else NoOpSessionCache()
        log.info("session_cache_installed", kind=kind, cache_type=type(self.session_cache).__name__)

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


def error_response(error: Exception) -> JSONResponse:
    """The core's message (what was wrong and where) as a 4xx; the store's as a 503."""
    if isinstance(error, StoreError):
        return JSONResponse({"error": str(error)}, status_code=503)
    return JSONResponse({"error": str(error)}, status_code=400)


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config.from_environment()
    configure_logging(config.log_level)
    worker = Worker(config)

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

    async def committed(event: dict[str, Any]) -> JSONResponse:
        try:
            effects = await worker.step(event)
        except bangui_state.Error as error:  # the core's, or the store's (StoreError)
            return error_response(error)
        return JSONResponse({"revision": worker.machine.revision(), "effects": effects})

    @app.get("/api/state")
    async def get_state() -> JSONResponse:
        """The shared state, the effective settings and the next deadline, as this worker sees them now."""
        try:
            await worker.machine.refresh()
        except StoreError as error:
            return error_response(error)
        deadline = worker.machine.next_deadline(now_micros())
        return JSONResponse({
            "state": worker.machine.state(),
            "effective_settings": worker.machine.effective_settings(),
            "next_deadline": None if deadline is None else deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "worker": {"pid": os.getpid(), "session_cache": worker.session_cache.kind},
        })

    @app.post("/api/jails/{name}/activate")
    async def activate_jail(name: str) -> JSONResponse:
        """Starts the jail in fail2ban, then records the activation: a crash in
        the next 60 s is blamed on it."""
        try:
            await worker.fail2ban.activate_jail(name)
        except Fail2banError as error:
            return JSONResponse({"error": str(error)}, status_code=502)
        return await committed({"type": "jail_activated", "jail_name": name})

    @app.get("/api/jails")
    async def list_jails() -> JSONResponse:
        status = await worker.fail2ban.probe()
        await committed({"type": "backend_probe_requested"})
        return JSONResponse({"online": status.online, "jails": list(status.jails)})

    @app.put("/api/settings")
    async def update_settings(request: Request) -> JSONResponse:
        """Overrides of the settings (`{"session_cache_enabled": false}`), checked by the core."""
        try:
            overrides = await request.json()
        except ValueError as error:
            return JSONResponse({"error": f"body: not JSON ({error})"}, status_code=400)
        return await committed({"type": "settings_updated", "overrides": overrides})

    @app.delete("/api/recovery")
    async def dismiss_recovery() -> JSONResponse:
        """The operator acknowledged the crash banner."""
        return await committed({"type": "pending_recovery_cleared"})

    @app.get("/api/events")
    async def events(request: Request, after: int | None = None) -> StreamingResponse:
        """Server-sent events, one per committed revision after `after` (or the
        Last-Event-ID a reconnecting EventSource sends): `{"revision", "now", "event"}`."""
        last_id = request.headers.get("last-event-id")
        start = int(last_id) if last_id and last_id.isdigit() else after
        if start is None:
            start = worker.machine.revision()

        async def stream() -> AsyncIterator[str]:
            yield "retry: 500\n\n"
            try:
                async for commit in worker.machine.watch(start):
                    data = commit.as_json()
                    yield f"id: {commit.revision}\nevent: commit\ndata: {json.dumps(data)}\n\n"
            except LogTrimmedError:
                # The log no longer reaches back to `start`: the page must start
                # again from /api/state rather than reconnect here forever.
                yield "event: resync\ndata: {}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    if config.package_dir is not None:
        app.mount("/node_modules", StaticFiles(directory=Path(config.package_dir) / "node_modules"),
                  name="package")
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
    return app
