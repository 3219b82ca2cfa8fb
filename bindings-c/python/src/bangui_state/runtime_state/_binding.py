"""One app's machine, and what the module needs around it: stepping it,
carrying out the effects, and reading its state in the kinds BanGUI uses.

Three bindings, one per machine kind, chosen once at install:

- `LocalBinding` over a `Machine` (one process). The module owns the machine:
  the state is re-read only after a step through the module changed it.
- `SharedBinding` over a `SharedMachine` (a synchronous store). Every read of
  a runtime attribute first asks the store whether a newer revision exists
  (`refresh()`: one round trip), so a read made after another worker's commit
  returned sees it.
- `AsyncBinding` over an `AsyncSharedMachine`. Steps are awaited (the `aio`
  functions); reads come from the last state this worker saw, refreshed per
  request by `aio.RefreshMiddleware`, by every awaited step, and by
  `await aio.refresh(app)`.
"""
from __future__ import annotations

import json
import logging
import sys
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, cast

from ..log import log_effects
from ..machine import Machine
from ..shared.machine import AsyncSharedMachine, SharedMachine
from ..types import Effect, Event
from ._records import PendingRecovery, ServerStatus, build, event_text, parse_instant, settings_from_record
from .errors import AsyncMachineError

Clock = Callable[[], datetime]
AnyMachine = Machine | SharedMachine | AsyncSharedMachine

_UTC = timezone.utc
_PACKAGE = "bangui_state.runtime_state"
_STDLIB_LOGGERS = (logging.Logger, logging.LoggerAdapter)
# Events this module builds from scalars it checked: sent as JSON text it
# writes (the machine's own conversion checks any Python value, at a cost).
_TEXT_EVENTS = frozenset({"jail_activated", "pending_recovery_created", "pending_recovery_cleared",
                          "activation_cleared", "setup_completion_cached", "backend_probe_requested",
                          "backend_probe_completed", "backend_probe_failed", "backend_capability_reset"})


def utc_now() -> datetime:
    """The seed's clock: `datetime.datetime.now(tz=datetime.UTC)`."""
    return datetime.now(tz=_UTC)


def current_logger() -> Any:
    """The package's `log`, looked up at each use, so that a test patching
    `bangui_state.runtime_state.log` (as BanGUI's tests patch the seed's) is heard."""
    return sys.modules[_PACKAGE].log


class View:
    """One state of the machine, parsed once. Each runtime attribute is
    converted on its first read (`__getattr__`, called only while its slot is
    empty) and then read straight from its slot, until the state changes."""

    __slots__ = ("state", "_binding", "server_status", "pending_recovery", "last_activation", "runtime_settings")

    server_status: Any
    pending_recovery: Any
    last_activation: dict[str, Any] | None
    runtime_settings: Any

    def __init__(self, binding: Binding, state: dict[str, Any]) -> None:
        self.state = state
        self._binding = binding

    def __getattr__(self, name: str) -> Any:
        state = self.state
        value: Any
        if name == "server_status":
            value = build(self._binding.server_status_model, dict(state["server_status"]))
        elif name == "pending_recovery":
            record = state["pending_recovery"]
            value = None if record is None else build(self._binding.pending_recovery_model, {
                "jail_name": record["jail_name"],
                "activated_at": parse_instant(record["activated_at"]),
                "detected_at": parse_instant(record["detected_at"]),
                "recovered": record["recovered"],
            })
        elif name == "last_activation":
            record = state["last_activation"]
            value = None if record is None else {"jail_name": record["jail_name"], "at": parse_instant(record["at"])}
        elif name == "runtime_settings":
            record = state["runtime_settings"]
            value = None if record is None else self._binding.settings_object(record)
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        object.__setattr__(self, name, value)
        return value

    @property
    def setup_complete_cached(self) -> bool:
        return cast(bool, self.state["setup_complete_cached"])

    @property
    def backend_supported(self) -> bool | None:
        return cast("bool | None", self.state["backend_capability"]["supported"])

    @property
    def probe_started_at(self) -> str | None:
        """The in-flight probe's start as the core's instant text, or None."""
        return cast("str | None", self.state["backend_capability"]["probe_started_at"])


class SessionCacheHook:
    """`on_session_cache` for a shared machine: installs a new, empty session
    cache of the named kind as `app.state.session_cache`, in this process,
    whenever the machine sees a commit (any worker's) that replaced it. Until
    `install()` has given it the app's cache classes, it keeps the kind."""

    def __init__(self, app: Any) -> None:
        self._app = weakref.ref(app)
        self.calls = 0
        self.kind: str | None = None
        self.binding: Binding | None = None

    def __call__(self, kind: str) -> None:
        self.calls += 1
        self.kind = kind
        app = self._app()
        if self.binding is not None and app is not None:
            self.binding.install_session_cache(kind, app)


_hooks: weakref.WeakKeyDictionary[Any, SessionCacheHook] = weakref.WeakKeyDictionary()


def session_cache_hook(app: Any) -> SessionCacheHook:
    """The app's hook (one per app): pass it as `on_session_cache` when
    opening a `SharedMachine` or `AsyncSharedMachine` for `install()`."""
    hook = _hooks.get(app)
    if hook is None:
        hook = _hooks[app] = SessionCacheHook(app)
    return hook


def registered_hook(app: Any) -> SessionCacheHook | None:
    return _hooks.get(app)


class Binding(ABC):
    """What every binding has: the models to build, the cache classes, the clock."""

    kind = ""
    machine: AnyMachine

    def __init__(
        self,
        *,
        server_status_model: Any = ServerStatus,
        pending_recovery_model: Any = PendingRecovery,
        settings_model: Any = None,
        session_cache_classes: Sequence[Callable[[], Any]] | None = None,
        clock: Clock | None = None,
        lock_poll_interval: float = 0.05,
    ) -> None:
        self.server_status_model = server_status_model
        self.pending_recovery_model = pending_recovery_model
        self.settings_model = settings_model
        self.session_cache_classes = session_cache_classes
        self.clock: Clock = clock or utc_now
        self.lock_poll_interval = lock_poll_interval
        self.app: Any = None
        self.installed = False
        # The settings object last set in this process and its record: reads
        # return that very object while the state holds the same record (as
        # the seed returns what it was given); other records are rebuilt.
        self._settings_memo: tuple[dict[str, Any], Any] | None = None

    # -- settings objects --------------------------------------------------

    def remember_settings(self, record: dict[str, Any], settings: Any) -> None:
        self._settings_memo = (record, settings)

    def settings_object(self, record: dict[str, Any]) -> Any:
        memo = self._settings_memo
        if memo is not None and memo[0] == record:
            return memo[1]
        settings = settings_from_record(self.settings_model, record)
        self._settings_memo = (record, settings)
        return settings

    # -- effects -----------------------------------------------------------

    def install_session_cache(self, kind: str, app: Any) -> None:
        """A new, empty cache of `kind` as `app.state.session_cache` (the seed:
        `InMemorySessionCache()` or `NoOpSessionCache()`)."""
        classes = self.session_cache_classes
        if classes is None or app is None:
            return  # a standalone RuntimeState: no app to install a cache in
        app.state.session_cache = classes[0]() if kind == "in_memory" else classes[1]()

    def carry_out(self, effects: list[Effect], app: Any) -> list[Effect]:
        """Logs with structlog and installs session caches, in the effects'
        order; returns the rest (a backend probe to run) for the caller."""
        rest: list[Effect] = []
        logger: Any = None
        stdlib = False
        for effect in effects:
            if effect["type"] == "log":
                if logger is None:
                    logger = current_logger()
                    stdlib = isinstance(logger, _STDLIB_LOGGERS)
                if stdlib:
                    log_effects((effect,), logger)
                else:  # the call log_effects makes for a structlog logger: the seed's own
                    getattr(logger, effect["level"])(effect["event"], **effect["fields"])
            elif effect["type"] == "session_cache_replaced":
                # Shared machines install it on every worker through the hook.
                if self.kind == "local":
                    self.install_session_cache(effect["kind"], app if app is not None else self.app)
            else:
                rest.append(effect)
        return rest

    # -- what each binding provides ------------------------------------------

    @abstractmethod
    def view(self) -> View:
        """The state for a read: as current as this binding promises (see the module doc)."""

    @abstractmethod
    def current_view(self) -> View:
        """The state this worker last saw, without asking the store (right after a step)."""

    @abstractmethod
    def refresh(self) -> bool:
        """Reads the store now; True if another worker had committed since."""

    async def arefresh(self) -> bool:
        return self.refresh()

    async def afresh_view(self) -> View:
        return self.view()

    @abstractmethod
    def apply(self, event: dict[str, Any], now: datetime, app: Any, call: str, aio_call: str) -> list[Effect]:
        """Steps the machine and carries out the effects; returns the rest.
        `call` and `aio_call` name the caller for errors."""

    async def aapply(self, event: dict[str, Any], now: datetime, app: Any, call: str) -> list[Effect]:
        return self.apply(event, now, app, call, "")

    @abstractmethod
    def state_json(self) -> str:
        """The state this worker last saw, as JSON text (no store read)."""

    @abstractmethod
    def revision(self) -> int:
        """The machine's revision as this worker last saw it (no store read)."""

    def bootstrap_settings(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.state_json())["bootstrap_settings"])


class LocalBinding(Binding):
    kind = "local"

    def __init__(self, machine: Machine, **options: Any) -> None:
        super().__init__(**options)
        self.machine = self._machine = machine
        self._view: View | None = None
        # Moves whenever a step drops the parsed state: a view parsed from the
        # state before such a step (by another thread) is not kept.
        self._generation = 0

    def view(self) -> View:
        view = self._view
        if view is None:
            generation = self._generation
            view = View(self, cast(dict[str, Any], self._machine.state))
            if generation == self._generation:
                self._view = view
        return view

    def current_view(self) -> View:
        return self.view()

    def refresh(self) -> bool:
        """Drops the parsed state, for a machine also stepped outside the module."""
        self._generation += 1
        self._view = None
        return False

    def apply(self, event: dict[str, Any], now: datetime, app: Any, call: str, aio_call: str) -> list[Effect]:
        kind = event["type"]
        effects: list[Effect] | None = None
        if kind in _TEXT_EVENTS:
            try:
                text = event_text(event)
            except (TypeError, ValueError):
                pass  # not JSON: the machine's own conversion names what is wrong, and where
            else:
                out = self._machine.step_json(text, now)
                effects = [] if out == "[]" else cast("list[Effect]", json.loads(out))
        if effects is None:
            effects = self._machine.step(cast(Event, event), now)  # built by this module, checked by the core
        view = self._view
        # A steady probe (the same status, no transition; the contract says
        # it changes nothing but the revision) keeps the parsed state.
        if not (view is not None and kind == "health_probe_completed" and len(effects) == 1
                and effects[0]["type"] == "log" and effects[0]["event"] == "health_check_complete"
                and event["status"] == view.state["server_status"]):
            self._generation += 1
            self._view = None
        return self.carry_out(effects, app) if effects else effects

    def state_json(self) -> str:
        return self._machine.state_json

    def revision(self) -> int:
        return self._machine.revision


class _Replicated(Binding):
    """A binding over a shared machine's replica: the parsed state is kept
    with the very text it was parsed from (the replica's snapshot), in one
    attribute, so that threads replacing it never pair a text with another's view."""

    _machine: SharedMachine | AsyncSharedMachine

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._parsed: tuple[str, View] | None = None

    def current_view(self) -> View:
        text = self._machine.state_json  # one object per stored snapshot: `is` tells it has not moved
        parsed = self._parsed
        if parsed is not None and parsed[0] is text:
            return parsed[1]
        view = View(self, cast(dict[str, Any], json.loads(text)))
        self._parsed = (text, view)
        return view

    def state_json(self) -> str:
        return self._machine.state_json

    def revision(self) -> int:
        return self._machine.revision


class SharedBinding(_Replicated):
    kind = "shared"

    def __init__(self, machine: SharedMachine, **options: Any) -> None:
        super().__init__(**options)
        self.machine = self._machine = self._shared = machine

    def view(self) -> View:
        self._shared.refresh()
        return self.current_view()

    def refresh(self) -> bool:
        return self._shared.refresh()

    def apply(self, event: dict[str, Any], now: datetime, app: Any, call: str, aio_call: str) -> list[Effect]:
        return self.carry_out(self._shared.step(event, now), app)


class AsyncBinding(_Replicated):
    kind = "async"

    def __init__(self, machine: AsyncSharedMachine, **options: Any) -> None:
        super().__init__(**options)
        self.machine = self._machine = self._async = machine

    def view(self) -> View:
        # No I/O from synchronous code: refreshed per request and by every awaited step.
        return self.current_view()

    def refresh(self) -> bool:
        raise AsyncMachineError(
            "refresh: this app's runtime state is an AsyncSharedMachine, which reads its store only from a "
            "coroutine; await bangui_state.runtime_state.aio.refresh(app)")

    async def arefresh(self) -> bool:
        return await self._async.refresh()

    async def afresh_view(self) -> View:
        await self._async.refresh()
        return self.current_view()

    def apply(self, event: dict[str, Any], now: datetime, app: Any, call: str, aio_call: str) -> list[Effect]:
        raise AsyncMachineError(
            f"{call}: this app's runtime state is an AsyncSharedMachine, which commits only from a coroutine; "
            f"await bangui_state.runtime_state.aio.{aio_call} instead (nothing was changed)")

    async def aapply(self, event: dict[str, Any], now: datetime, app: Any, call: str) -> list[Effect]:
        return self.carry_out(await self._async.step(event, now), app)


def binding_for(machine: object, **options: Any) -> Binding:
    if isinstance(machine, Machine):
        return LocalBinding(machine, **options)
    if isinstance(machine, SharedMachine):
        return SharedBinding(machine, **options)
    if isinstance(machine, AsyncSharedMachine):
        return AsyncBinding(machine, **options)
    raise TypeError(f"machine: expected a bangui_state.Machine, a bangui_state.shared.SharedMachine or an "
                    f"AsyncSharedMachine, got {type(machine).__name__}")
