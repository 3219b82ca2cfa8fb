"""BanGUI's `app.utils.runtime_state`, over a bangui-state machine.

The seed module's public API, with its names, signatures, return values and
structlog calls, for BanGUI to import instead of its own module; every rule
is the core's. A call becomes an event (`record_activation` is
`jail_activated`, ...), the machine is stepped, its effects are carried out
(the log records through this module's structlog `log`, the session cache
installed as `app.state.session_cache`) and the state is read back in the
kinds BanGUI uses (its pydantic models, aware datetimes, the settings object
it set).

One setup call, at startup in each worker::

    from bangui_state import Machine, runtime_state
    runtime_state.install(app, Machine(runtime_state.settings_record(settings)), settings,
                          session_cache_classes=(InMemorySessionCache, NoOpSessionCache),
                          server_status_model=ServerStatus, pending_recovery_model=PendingRecovery)

or, for many workers, a `SharedMachine` opened with
``on_session_cache=runtime_state.session_cache_hook(app)``.

Where it reads the store. Over a `Machine` (one process) the module owns the
machine and reads no store. Over a `SharedMachine`, every read of a runtime
attribute (and of `app.state.session_cache`) first asks the store whether
another worker committed (one round trip, `load_if_newer`), so a read made
after another worker's write returned sees it. Over an `AsyncSharedMachine`,
synchronous code cannot wait on the store: reads use the state this worker
last saw, refreshed by `aio.RefreshMiddleware` at the start of every request,
by every awaited `aio` call and by `await aio.refresh(app)`; the writes are
the `aio` coroutines, and a synchronous write raises `AsyncMachineError`
naming the one to await.

Assignments become events: `setup_complete_cached = b`
(`setup_completion_cached`), `pending_recovery = None` / a new unrecovered one
(`pending_recovery_cleared` / `pending_recovery_created`), `last_activation =
None` / a record (`activation_cleared` / `jail_activated`), `runtime_settings
= s` (`runtime_settings_set`, which also replaces the session cache), and
`backend_cmd_supported = b` / `None` (`backend_probe_completed` /
`backend_capability_reset`). `del` resets to the seed dataclass's default
where an event does that. Assignments no event stands for (`server_status =
X`, `runtime_settings = None`, a recovered pending recovery, a new
`jail_service_state`) raise `AssignmentRefusedError` naming the call to use.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from . import _calls, aio
from ._binding import AnyMachine, Clock, SessionCacheHook, binding_for, registered_hook, session_cache_hook
from ._calls import get_app_settings, get_runtime_state
from ._objects import (
    _RUNTIME_ATTRIBUTES,
    ActivationRecord,
    ApplicationState,
    BackendCommandLock,
    JailServiceState,
    RuntimeState,
)
from ._records import (
    InMemorySessionCache,
    NoOpSessionCache,
    PendingRecovery,
    ServerStatus,
    settings_record,
    status_record,
)
from .errors import AssignmentRefusedError, AsyncMachineError, InstallError, RecordError

log: structlog.stdlib.BoundLogger = structlog.get_logger()
"""The logger the effects' records go to (the seed's module-level `log`)."""

_ACTIVATION_CRASH_WINDOW: int = 60
"""Seconds after an activation within which a crash is blamed on it: the
core's window, for code that reads the seed's constant (the core decides)."""


def get_effective_settings(app: Any) -> Any:
    """Return the effective settings for the current application instance."""
    runtime_settings = getattr(app.state, "runtime_settings", None)
    if runtime_settings is not None:
        return runtime_settings
    return get_app_settings(app)


def set_runtime_settings(app: Any, settings: Any) -> None:
    """Store the resolved runtime settings separately from bootstrap config,
    and install a new session cache of their kind (`runtime_settings_set`):
    on every worker, when the machine is shared."""
    _calls.run(_calls.set_runtime_settings(app, settings))


def update_app_settings(app: Any, **overrides: Any) -> None:
    """The bootstrap settings with `overrides` become the runtime settings
    (`settings_updated`; two updates do not accumulate, as in the seed)."""
    _calls.run(_calls.update_app_settings(app, overrides))


def record_activation(app: Any, jail_name: str, at: datetime | None = None) -> datetime:
    """Record a jail activation (`jail_activated`); returns the instant recorded."""
    result: datetime = _calls.run(_calls.record_activation(app, jail_name, at))
    return result


def create_pending_recovery(
    app: Any,
    jail_name: str,
    activated_at: datetime,
    detected_at: datetime | None = None,
) -> None:
    """Create a pending recovery record (`pending_recovery_created`)."""
    _calls.run(_calls.create_pending_recovery(app, jail_name, activated_at, detected_at))


def clear_pending_recovery(app: Any) -> None:
    """Clear the current pending recovery record (`pending_recovery_cleared`)."""
    _calls.run(_calls.clear_pending_recovery(app))


def clear_activation_record(app: Any) -> None:
    """Clear the current activation tracking record (`activation_cleared`)."""
    _calls.run(_calls.clear_activation_record(app))


def process_health_probe_result(
    runtime_state: RuntimeState,
    status: Any,
    now: datetime | None = None,
) -> None:
    """Process a new health probe result (`health_probe_completed`): the
    core tracks fail2ban's transitions and creates or resolves the pending
    recovery; the seed's log records follow."""
    # The probe loop's call, every few seconds in every worker: made without
    # the plan the other calls build (_calls.process_health_probe_result).
    if type(runtime_state) is not RuntimeState:
        _calls.binding_of(runtime_state, RuntimeState, "process_health_probe_result")  # names what came instead
    binding = runtime_state._binding
    binding.apply({"type": "health_probe_completed", "status": status_record(status)},
                  now if now is not None else binding.clock(), binding.app, "process_health_probe_result",
                  "process_health_probe_result(runtime_state, status, now)")


def install(
    app: Any,
    machine: AnyMachine,
    settings: Any,
    *,
    session_cache_classes: Sequence[Callable[[], Any]] = (InMemorySessionCache, NoOpSessionCache),
    server_status_model: Any = ServerStatus,
    pending_recovery_model: Any = PendingRecovery,
    clock: Clock | None = None,
    lock_poll_interval: float = 0.05,
) -> RuntimeState:
    """Makes `machine` the app's runtime state: `app.state` becomes an
    `ApplicationState` over it (keeping the plain attributes already set),
    `app.state.settings` is `settings`, and `app.state.session_cache` a new
    cache of the state's kind. Returns the app's `RuntimeState`.

    - `machine`: a `Machine` (one process), or a `SharedMachine` /
      `AsyncSharedMachine` opened with ``on_session_cache=session_cache_hook(app)``.
      Its bootstrap settings must be `settings_record(settings)`.
    - `session_cache_classes`: (in-memory class, no-op class), each called
      with no arguments for a new, empty cache (BanGUI's InMemorySessionCache
      and NoOpSessionCache).
    - `server_status_model`, `pending_recovery_model`: the classes reads
      return (BanGUI's pydantic `ServerStatus` and `PendingRecovery`; built
      with `model_validate`).
    - `clock`: the current time, for calls whose instant defaults to now
      (default: `datetime.now(tz=UTC)`, the seed's).
    - `lock_poll_interval`: how often, in seconds, a task waiting for the
      backend probe's lock reads the store.
    """
    if len(session_cache_classes) != 2:
        raise InstallError("install: session_cache_classes: expected (in-memory class, no-op class), got "
                           f"{len(session_cache_classes)} classes")
    if not lock_poll_interval > 0:
        raise InstallError(f"install: lock_poll_interval: expected seconds > 0, got {lock_poll_interval!r}")
    binding = binding_for(
        machine,
        server_status_model=server_status_model,
        pending_recovery_model=pending_recovery_model,
        settings_model=None if isinstance(settings, Mapping) else type(settings),
        session_cache_classes=tuple(session_cache_classes),
        clock=clock,
        lock_poll_interval=lock_poll_interval,
    )
    record = settings_record(settings)
    stored = binding.bootstrap_settings()
    if stored != record:
        differing = sorted(key for key in set(stored) | set(record) if stored.get(key, ...) != record.get(key, ...))
        raise InstallError(f"install: the machine's bootstrap settings differ from `settings` in {differing}; "
                           "make the machine from runtime_state.settings_record(settings) (nothing was installed)")
    hook: SessionCacheHook | None = None
    if binding.kind != "local":
        hook = registered_hook(app)
        if hook is None or hook.calls == 0:
            raise InstallError(
                f"install: the {type(machine).__name__} was not opened with "
                "on_session_cache=runtime_state.session_cache_hook(app), so no worker would replace its session "
                "cache when another changes the settings (nothing was installed)")
    current = getattr(app, "state", None)
    if isinstance(current, ApplicationState):
        previous = current.runtime_state._binding
        if not previous.installed and previous.revision() > 0:
            raise InstallError("install: the app's RuntimeState was already changed before install(); install at "
                               "startup, before any runtime state is set (nothing was installed)")
    binding.app = app
    binding.installed = True
    runtime_state = RuntimeState._bound(binding)
    if isinstance(current, ApplicationState):
        object.__setattr__(current, "_runtime_state", runtime_state)
    else:
        plain = getattr(current, "_state", None)
        app.state = ApplicationState(runtime_state, plain if isinstance(plain, dict) else None)
    app.state.settings = settings
    if hook is not None:
        hook.binding = binding
    binding.install_session_cache(str(binding.current_view().state["session_cache"]), app)
    return runtime_state


__all__ = [
    "ActivationRecord",
    "ApplicationState",
    "AssignmentRefusedError",
    "AsyncMachineError",
    "BackendCommandLock",
    "InMemorySessionCache",
    "InstallError",
    "JailServiceState",
    "NoOpSessionCache",
    "PendingRecovery",
    "RecordError",
    "RuntimeState",
    "ServerStatus",
    "SessionCacheHook",
    "_ACTIVATION_CRASH_WINDOW",
    "_RUNTIME_ATTRIBUTES",
    "aio",
    "clear_activation_record",
    "clear_pending_recovery",
    "create_pending_recovery",
    "get_app_settings",
    "get_effective_settings",
    "get_runtime_state",
    "install",
    "log",
    "process_health_probe_result",
    "record_activation",
    "session_cache_hook",
    "set_runtime_settings",
    "settings_record",
    "update_app_settings",
]
