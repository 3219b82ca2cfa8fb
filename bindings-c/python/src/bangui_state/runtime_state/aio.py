"""The seed's writes as coroutines, for an app installed over an
`AsyncSharedMachine` (they work over the other machines too).

The seed's functions are synchronous, and an `AsyncSharedMachine` commits
only from a coroutine, so on such an app BanGUI awaits these instead (same
names, same arguments, same results): `await aio.record_activation(app, jail)`.
The assignments the seed makes have coroutines here as well
(`cache_setup_completion`, `set_backend_cmd_supported`); reads stay
attributes, refreshed at each request's start by `RefreshMiddleware`.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

from . import _calls
from ._objects import ApplicationState, JailServiceState, RuntimeState

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def refresh(app: Any) -> bool:
    """Reads the store now; True if another worker had committed since this
    worker last looked (a replaced session cache is installed then)."""
    return await _calls.get_runtime_state(app)._binding.arefresh()


async def set_runtime_settings(app: Any, settings: Any) -> None:
    await _calls.arun(_calls.set_runtime_settings(app, settings))


async def update_app_settings(app: Any, **overrides: Any) -> None:
    await _calls.arun(_calls.update_app_settings(app, overrides))


async def record_activation(app: Any, jail_name: str, at: datetime | None = None) -> datetime:
    result: datetime = await _calls.arun(_calls.record_activation(app, jail_name, at))
    return result


async def create_pending_recovery(app: Any, jail_name: str, activated_at: datetime,
                                  detected_at: datetime | None = None) -> None:
    await _calls.arun(_calls.create_pending_recovery(app, jail_name, activated_at, detected_at))


async def clear_pending_recovery(app: Any) -> None:
    await _calls.arun(_calls.clear_pending_recovery(app))


async def clear_activation_record(app: Any) -> None:
    await _calls.arun(_calls.clear_activation_record(app))


async def process_health_probe_result(runtime_state: RuntimeState, status: Any, now: datetime | None = None) -> None:
    await _calls.arun(_calls.process_health_probe_result(runtime_state, status, now))


async def cache_setup_completion(app: Any, complete: bool) -> None:
    """``app.state.setup_complete_cached = complete``."""
    await _calls.arun(_calls.cache_setup_completion(app, complete))


async def set_backend_cmd_supported(jail_service_state: JailServiceState, supported: bool | None) -> None:
    """``jail_service_state.backend_cmd_supported = supported`` (None forgets it)."""
    await _calls.arun(_calls.set_backend_cmd_supported(jail_service_state, supported))
    jail_service_state.get_backend_cmd_lock().notify()


class RefreshMiddleware:
    """ASGI middleware: refreshes the app's runtime state at the start of every
    request, so that on an `AsyncSharedMachine` a request that starts after
    another worker's write returned reads that write. Add it when the app is
    made (``app.add_middleware(RefreshMiddleware)``); it does nothing for an
    app over a `Machine` or `SharedMachine`, whose reads refresh themselves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            owner = scope.get("app")
            state = getattr(owner, "state", None)
            if isinstance(state, ApplicationState):
                binding = state.runtime_state._binding
                if binding.kind == "async":
                    await binding.arefresh()
        await self.app(scope, receive, send)


__all__ = [
    "RefreshMiddleware",
    "cache_setup_completion",
    "clear_activation_record",
    "clear_pending_recovery",
    "create_pending_recovery",
    "process_health_probe_result",
    "record_activation",
    "refresh",
    "set_backend_cmd_supported",
    "set_runtime_settings",
    "update_app_settings",
]
