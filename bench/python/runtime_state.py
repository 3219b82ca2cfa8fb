#!/usr/bin/env python3
"""Benchmarks of bangui_state.runtime_state (as installed): each of the seed's
calls made through the module, as BanGUI makes them.

- local: <call>    over a one-process `Machine`, against `seed: <call>`, a
                   plain-Python baseline of the seed's function (below: its
                   statements on a dataclass RuntimeState behind a Starlette
                   ApplicationState, with the same pydantic models and the same
                   structlog calls). Goal: at least as fast as the seed.
- sqlite: <call>   over a `SharedMachine` on a SQLite file (one worker, no
                   contention), against `sqlite bare: <call>`, the one
                   `SharedMachine` call the module makes for it (the store
                   round trip: a commit, or a `refresh()` for a read), made on
                   the same machine, alternating call by call (medians of
                   3,000 each). Goal: at most 5 µs more than that round trip.

Both sides log through the same structlog configuration, which drops every
record below CRITICAL (a filtering logger): the rows time the calls, not a log
sink. In one process the rows take turns within each round (bench.py's
interleaved medians), so that a load change hits all of them alike.

usage: runtime_state.py [--quick] [--out PATH]   (--quick: tiny counts, no output file; for make test)
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import itertools
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, SecretStr
from starlette.applications import Starlette
from starlette.datastructures import State

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import interleaved_medians_ns  # noqa: E402

from bangui_state import Machine, _ffi  # noqa: E402
from bangui_state import runtime_state as rs  # noqa: E402
from bangui_state.shared import SharedMachine, SqliteStore  # noqa: E402

UTC = datetime.UTC
T0 = datetime.datetime(2026, 4, 27, 16, 42, tzinfo=UTC)
SHARED_LIMIT_NS = 5_000


# BanGUI's models, reduced to their shape.
class ServerStatus(BaseModel):
    online: bool
    version: str | None = None
    active_jails: int = 0


class PendingRecovery(BaseModel):
    jail_name: str
    activated_at: datetime.datetime
    detected_at: datetime.datetime
    recovered: bool = False


class Settings(BaseModel):
    database_path: str = "/var/lib/bangui/bangui.db"
    fail2ban_socket: str = "/var/run/fail2ban/fail2ban.sock"
    session_secret: SecretStr = SecretStr("bench secret")
    session_cache_enabled: bool = True
    session_cache_ttl_seconds: float = 3600.0


class InMemorySessionCache(dict[str, Any]):
    pass


class NoOpSessionCache:
    pass


# ---------------------------------------------------------------------------
# The baseline: the seed's module (BanGUI's app/utils/runtime_state.py) as
# plain Python, its functions' statements as written, on the models above.
# ---------------------------------------------------------------------------

seed_log: Any = structlog.get_logger()
_CRASH_WINDOW = 60
_SEED_RUNTIME = frozenset({"setup_complete_cached", "server_status", "pending_recovery", "last_activation",
                           "runtime_settings", "jail_service_state"})


@dataclass
class SeedJailServiceState:
    backend_cmd_supported: bool | None = None
    backend_cmd_lock: asyncio.Lock | None = None


@dataclass
class SeedRuntimeState:
    setup_complete_cached: bool = False
    server_status: ServerStatus = field(default_factory=lambda: ServerStatus(online=False))
    pending_recovery: PendingRecovery | None = None
    last_activation: dict[str, datetime.datetime] | None = None
    runtime_settings: Settings | None = None
    jail_service_state: SeedJailServiceState = field(default_factory=SeedJailServiceState)


class SeedApplicationState(State):
    def __init__(self, runtime_state: SeedRuntimeState) -> None:
        super().__init__(None)
        object.__setattr__(self, "_runtime_state", runtime_state)

    @property
    def runtime_state(self) -> SeedRuntimeState:
        return object.__getattribute__(self, "_runtime_state")  # type: ignore[no-any-return]

    def __getattr__(self, key: str) -> Any:
        if key in _SEED_RUNTIME:
            return getattr(self.runtime_state, key)
        return super().__getattr__(key)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _SEED_RUNTIME:
            setattr(self.runtime_state, key, value)
            return
        super().__setattr__(key, value)


def seed_get_runtime_state(app: Any) -> SeedRuntimeState:
    state = getattr(app, "state", None)
    if state is None or not hasattr(state, "runtime_state"):
        raise AttributeError("Runtime state has not been initialised on the application.")
    return state.runtime_state  # type: ignore[no-any-return]


def seed_get_app_settings(app: Any) -> Settings:
    settings = getattr(app.state, "settings", None)
    if settings is None:
        raise AttributeError("Application settings are not available on the app state.")
    return settings  # type: ignore[no-any-return]


def seed_get_effective_settings(app: Any) -> Settings:
    runtime_settings = getattr(app.state, "runtime_settings", None)
    return runtime_settings if runtime_settings is not None else seed_get_app_settings(app)


def seed_set_runtime_settings(app: Any, settings: Settings) -> None:
    seed_get_runtime_state(app).runtime_settings = settings
    enabled = settings.session_cache_enabled and settings.session_cache_ttl_seconds > 0.0
    cache = InMemorySessionCache() if enabled else NoOpSessionCache()
    app.state.session_cache = cache
    seed_log.debug("session_cache_updated", cache_type=type(cache).__name__)


def seed_update_app_settings(app: Any, **overrides: Any) -> None:
    seed_set_runtime_settings(app, seed_get_app_settings(app).model_copy(update=overrides))


def seed_record_activation(app: Any, jail_name: str, at: datetime.datetime | None = None) -> datetime.datetime:
    now = at if at is not None else datetime.datetime.now(tz=UTC)
    seed_get_runtime_state(app).last_activation = {"jail_name": jail_name, "at": now}
    return now


def seed_create_pending_recovery(app: Any, jail_name: str, activated_at: datetime.datetime,
                                 detected_at: datetime.datetime | None = None) -> None:
    seed_get_runtime_state(app).pending_recovery = PendingRecovery(
        jail_name=jail_name, activated_at=activated_at,
        detected_at=detected_at if detected_at is not None else datetime.datetime.now(tz=UTC))


def seed_clear_pending_recovery(app: Any) -> None:
    seed_get_runtime_state(app).pending_recovery = None


def seed_process_health_probe_result(runtime_state: SeedRuntimeState, status: ServerStatus,
                                     now: datetime.datetime | None = None) -> None:
    prev_status = getattr(runtime_state, "server_status", ServerStatus(online=False))
    runtime_state.server_status = status
    now = now if now is not None else datetime.datetime.now(tz=UTC)
    if status.online and not prev_status.online:
        seed_log.info("fail2ban_came_online", version=status.version)
        existing = runtime_state.pending_recovery
        if existing is not None and not existing.recovered:
            runtime_state.pending_recovery = PendingRecovery(jail_name=existing.jail_name,
                                                             activated_at=existing.activated_at,
                                                             detected_at=existing.detected_at, recovered=True)
            seed_log.info("pending_recovery_resolved", jail=existing.jail_name)
    elif not status.online and prev_status.online:
        seed_log.warning("fail2ban_went_offline")
        last_activation = runtime_state.last_activation
        if last_activation is not None:
            activated_at = last_activation["at"]
            seconds_since = (now - activated_at).total_seconds()
            if seconds_since <= _CRASH_WINDOW:
                current = runtime_state.pending_recovery
                if current is None or current.recovered:
                    runtime_state.pending_recovery = PendingRecovery(
                        jail_name=last_activation["jail_name"], activated_at=activated_at, detected_at=now)
                    seed_log.warning("activation_crash_detected", jail=last_activation["jail_name"],
                                     seconds_since_activation=seconds_since)
    seed_log.debug("health_check_complete", online=status.online, version=status.version,
                   active_jails=status.active_jails)


# ---------------------------------------------------------------------------


def module_app(machine: Any) -> Starlette:
    app = Starlette()
    rs.install(app, machine, Settings(), session_cache_classes=(InMemorySessionCache, NoOpSessionCache),
               server_status_model=ServerStatus, pending_recovery_model=PendingRecovery)
    return app


def seed_app() -> Starlette:
    app = Starlette()
    app.state = SeedApplicationState(SeedRuntimeState())
    app.state.settings = Settings()
    app.state.session_cache = InMemorySessionCache()
    return app


def prepare(app: Starlette, seed: bool) -> None:
    """fail2ban online, a recovery and an activation on record: every timed call sees the same state."""
    if seed:
        seed_process_health_probe_result(seed_get_runtime_state(app), ServerStatus(online=True, version="1.1.0",
                                                                                  active_jails=2), T0)
        seed_create_pending_recovery(app, "sshd", T0, T0)
        seed_record_activation(app, "sshd", T0)
    else:
        rs.process_health_probe_result(rs.get_runtime_state(app), ServerStatus(online=True, version="1.1.0",
                                                                              active_jails=2), T0)
        rs.create_pending_recovery(app, "sshd", T0, T0)
        rs.record_activation(app, "sshd", T0)


def instants(start: int = 1) -> Callable[[], datetime.datetime]:
    """A new instant per call: a write that changes the state each time (so a shared one commits)."""
    counter = itertools.count(start)
    return lambda: T0 + datetime.timedelta(microseconds=next(counter))


def seed_calls(app: Starlette) -> dict[str, Callable[[], Any]]:
    state: Any = app.state
    runtime_state = seed_get_runtime_state(app)
    status = ServerStatus(online=True, version="1.1.0", active_jails=2)
    settings = Settings(session_cache_ttl_seconds=60.0)
    t = instants()
    return {
        "process_health_probe_result (steady)": lambda: seed_process_health_probe_result(runtime_state, status, T0),
        "record_activation": lambda: seed_record_activation(app, "sshd", t()),
        "create_pending_recovery": lambda: seed_create_pending_recovery(app, "sshd", T0, t()),
        "clear_pending_recovery": lambda: seed_clear_pending_recovery(app),
        "set_runtime_settings": lambda: seed_set_runtime_settings(app, settings),
        "update_app_settings": lambda: seed_update_app_settings(app, session_cache_enabled=False),
        "app.state.setup_complete_cached = True": lambda: setattr(state, "setup_complete_cached", True),
        "read app.state.server_status": lambda: state.server_status,
        "read app.state.pending_recovery": lambda: state.pending_recovery,
        "get_effective_settings": lambda: seed_get_effective_settings(app),
    }


def module_calls(app: Starlette) -> dict[str, Callable[[], Any]]:
    state: Any = app.state
    runtime_state = rs.get_runtime_state(app)
    status = ServerStatus(online=True, version="1.1.0", active_jails=2)
    settings = Settings(session_cache_ttl_seconds=60.0)
    t = instants()
    return {
        "process_health_probe_result (steady)": lambda: rs.process_health_probe_result(runtime_state, status, T0),
        "record_activation": lambda: rs.record_activation(app, "sshd", t()),
        "create_pending_recovery": lambda: rs.create_pending_recovery(app, "sshd", T0, t()),
        "clear_pending_recovery": lambda: rs.clear_pending_recovery(app),
        "set_runtime_settings": lambda: rs.set_runtime_settings(app, settings),
        "update_app_settings": lambda: rs.update_app_settings(app, session_cache_enabled=False),
        "app.state.setup_complete_cached = True": lambda: setattr(state, "setup_complete_cached", True),
        "read app.state.server_status": lambda: state.server_status,
        "read app.state.pending_recovery": lambda: state.pending_recovery,
        "get_effective_settings": lambda: rs.get_effective_settings(app),
    }


def bare_calls(machine: SharedMachine) -> dict[str, Callable[[], Any]]:
    """The one SharedMachine call each module call makes: its store round trip.
    Made on the module's own machine, alternating with the module's calls:
    its instants and values differ from theirs, so each write changes the
    state (and commits) as the module's does."""
    t = instants(start=1_000_000_000)
    probe = {"type": "health_probe_completed", "status": {"online": True, "version": "1.1.0", "active_jails": 2}}
    settings = rs.settings_record(Settings(session_cache_ttl_seconds=60.0))
    created_at = T0.isoformat()
    return {
        "process_health_probe_result (steady)": lambda: machine.step(probe, T0),
        "record_activation": lambda: machine.step({"type": "jail_activated", "jail_name": "sshd"}, t()),
        "create_pending_recovery": lambda: machine.step({"type": "pending_recovery_created", "jail_name": "sshd",
                                                         "activated_at": created_at}, t()),
        "clear_pending_recovery": lambda: machine.step({"type": "pending_recovery_cleared"}, T0),
        "set_runtime_settings": lambda: machine.step({"type": "runtime_settings_set", "settings": settings}, T0),
        "update_app_settings": lambda: machine.step({"type": "settings_updated",
                                                     "overrides": {"session_cache_enabled": False}}, T0),
        # False: it undoes the module's True, so that both commit each time.
        "app.state.setup_complete_cached = True": lambda: machine.step({"type": "setup_completion_cached",
                                                                        "complete": False}, T0),
        "read app.state.server_status": machine.refresh,
        "read app.state.pending_recovery": machine.refresh,
        "get_effective_settings": machine.refresh,
    }


def alternating_medians_ns(first: Callable[[], Any], second: Callable[[], Any], count: int) -> tuple[float, float]:
    """Medians of `count` calls of each, alternating on the same machine, so
    that both see the same store (file size, WAL, checkpoints) and the same noise."""
    for _ in range(max(2, count // 10)):  # warm up
        first()
        second()
    times: tuple[list[int], list[int]] = ([], [])
    clock = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(count):
            start = clock()
            first()
            middle = clock()
            second()
            times[0].append(middle - start)
            times[1].append(clock() - middle)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts, no output file")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    local_number, shared_number, repeat = (20, 5, 1) if args.quick else (20_000, 3_000, 11)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
                        cache_logger_on_first_use=True)

    local, seed = module_app(Machine(rs.settings_record(Settings()))), seed_app()
    prepare(local, seed=False)
    prepare(seed, seed=True)
    local_rows, seed_rows = module_calls(local), seed_calls(seed)
    names = list(seed_rows)
    stmts = [local_rows[name] for name in names] + [seed_rows[name] for name in names]
    timed = interleaved_medians_ns(stmts, local_number, repeat)
    local_ns, seed_ns = dict(zip(names, timed)), dict(zip(names, timed[len(names):]))

    with tempfile.TemporaryDirectory() as directory:
        app = Starlette()
        shared = SharedMachine(SqliteStore(Path(directory) / "state.db"), rs.settings_record(Settings()),
                               on_session_cache=rs.session_cache_hook(app))
        rs.install(app, shared, Settings(), session_cache_classes=(InMemorySessionCache, NoOpSessionCache),
                   server_status_model=ServerStatus, pending_recovery_model=PendingRecovery)
        prepare(app, seed=False)
        shared_rows, bare_rows = module_calls(app), bare_calls(shared)
        shared_ns, bare_ns = {}, {}
        for name in names:
            shared_ns[name], bare_ns[name] = alternating_medians_ns(shared_rows[name], bare_rows[name], shared_number)
        shared.close()

    rows: list[dict[str, Any]] = []
    local_met = shared_met = 0
    for name in names:
        ratio = seed_ns[name] / local_ns[name]
        local_met += ratio >= 1
        over = shared_ns[name] - bare_ns[name]
        shared_met += over <= SHARED_LIMIT_NS
        print(f"{name:40s} local {local_ns[name]:9.0f} ns  seed {seed_ns[name]:9.0f} ns ({ratio:4.2f}x)   "
              f"sqlite {shared_ns[name]:9.0f} ns  bare {bare_ns[name]:9.0f} ns ({over / 1000:+.1f} µs)")
        rows += [
            {"name": f"local: {name}", "median_ns": round(local_ns[name], 1),
             "note": f"over a Machine; {ratio:.2f}× the seed's speed" + ("" if ratio >= 1 else " (slower)")},
            {"name": f"seed: {name}", "median_ns": round(seed_ns[name], 1), "note": "plain-Python baseline"},
            {"name": f"sqlite: {name}", "median_ns": round(shared_ns[name], 1),
             "note": f"over a SharedMachine (SQLite); {over / 1000:+.1f} µs over its round trip"},
            {"name": f"sqlite bare: {name}", "median_ns": round(bare_ns[name], 1),
             "note": "the SharedMachine call alone (the store round trip)"},
        ]
    targets = [
        {"target": "runtime_state, one process: each seed call at least as fast as the seed",
         "measured": f"{local_met} of {len(names)} calls", "met": local_met == len(names)},
        {"target": "runtime_state, SQLite: each seed call ≤ its store round trip + 5 µs",
         "measured": f"{shared_met} of {len(names)} calls", "met": shared_met == len(names)},
    ]
    for target in targets:
        print(f"{target['target']}: {target['measured']}")
    if args.quick or not args.out:
        return 0
    title = (f"Python {platform.python_version()}: bangui_state.runtime_state, the seed's calls (cffi "
             f"{_ffi.MODE.upper()} mode; one process: timeit, median of {repeat} interleaved runs of {local_number} "
             f"calls; SQLite: median of {shared_number} calls alternating with the bare call)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"title": title, "rows": rows, "targets": targets}, ensure_ascii=False,
                                   indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
