"""`RuntimeState`, `JailServiceState` and `ApplicationState`: the seed's
classes, as views over the machine. Reads convert the machine's state; every
assignment the seed and BanGUI make becomes the event that stands for it, and
an assignment no event stands for is refused, naming the call to use."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from starlette.datastructures import State

from ..machine import Machine
from ._binding import AnyMachine, Binding, binding_for
from ._records import activation_fields, core_instant_text, instant_text, pending_recovery_fields, settings_record
from .errors import AssignmentRefusedError, AsyncMachineError

ActivationRecord = dict[str, datetime]
"""The seed's `last_activation` record: `{"jail_name": ..., "at": ...}`."""

_RUNTIME_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "setup_complete_cached",
        "server_status",
        "pending_recovery",
        "last_activation",
        "runtime_settings",
        "jail_service_state",
    }
)

# The runtime attributes RuntimeState reads from the machine's state as is.
_VIEW_ATTRIBUTES = _RUNTIME_ATTRIBUTES - {"jail_service_state"}

STANDALONE_BOOTSTRAP: dict[str, Any] = {"session_cache_enabled": False, "session_cache_ttl_seconds": 0.0}
"""The bootstrap settings of a RuntimeState or JailServiceState made without a
machine (as BanGUI's tests make the seed's): no session cache."""


def _standalone(machine: AnyMachine | None, options: dict[str, Any]) -> Binding:
    return binding_for(machine if machine is not None else Machine(STANDALONE_BOOTSTRAP), **options)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None


class RuntimeState:
    """The app's runtime state, read from and changed through its machine.

    `RuntimeState()` (as BanGUI's tests make the seed's) runs on a private
    one-process `Machine`; `install()` makes the app's, over the machine it is
    given. Attributes read the machine's state in the seed's kinds; assigning
    one steps the machine with the event that stands for it."""

    __slots__ = ("_binding", "_jail_service_state")

    def __init__(self, machine: AnyMachine | None = None, **options: Any) -> None:
        """`options`: the seed dataclass's fields (`setup_complete_cached=True`,
        ...), each assigned as after construction, and `install()`'s model,
        cache and clock options."""
        fields = {name: options.pop(name) for name in list(options) if name in _RUNTIME_ATTRIBUTES}
        self._binding = _standalone(machine, options)
        self._jail_service_state = JailServiceState._bound(self._binding)
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def _bound(cls, binding: Binding) -> RuntimeState:
        state = cls.__new__(cls)
        state._binding = binding
        state._jail_service_state = JailServiceState._bound(binding)
        return state

    def _assign(self, event: dict[str, Any], call: str, aio_call: str) -> None:
        binding = self._binding
        binding.apply(event, binding.clock(), None, call, aio_call)

    def refresh(self) -> bool:
        """Reads the store now (shared machines); True if another worker had
        committed since. Reads refresh on their own; see the module doc."""
        return self._binding.refresh()

    @property
    def machine(self) -> AnyMachine:
        """The machine underneath (for what this module has no call for: its
        commit log, `next_deadline`, ...)."""
        return self._binding.machine

    # -- setup_complete_cached ---------------------------------------------

    @property
    def setup_complete_cached(self) -> bool:
        return self._binding.view().setup_complete_cached

    @setup_complete_cached.setter
    def setup_complete_cached(self, complete: bool) -> None:
        self._assign({"type": "setup_completion_cached", "complete": complete}, "setup_complete_cached = ...",
                     f"cache_setup_completion(app, {complete!r})")

    @setup_complete_cached.deleter
    def setup_complete_cached(self) -> None:
        # The seed's dataclass then reads its default, False.
        self._assign({"type": "setup_completion_cached", "complete": False}, "del setup_complete_cached",
                     "cache_setup_completion(app, False)")

    # -- server_status -------------------------------------------------------

    @property
    def server_status(self) -> Any:
        return self._binding.view().server_status

    @server_status.setter
    def server_status(self, status: Any) -> None:
        raise AssignmentRefusedError(
            "server_status = ...: the server status changes only with a health probe, which also decides the "
            "crash and recovery rules; call process_health_probe_result(runtime_state, status, now) (nothing "
            "was changed)")

    @server_status.deleter
    def server_status(self) -> None:
        raise AssignmentRefusedError(
            "del server_status: the machine always has a server status (offline until a probe says "
            "otherwise); call process_health_probe_result(runtime_state, status, now) to record one (nothing "
            "was changed)")

    # -- pending_recovery ------------------------------------------------------

    @property
    def pending_recovery(self) -> Any:
        return self._binding.view().pending_recovery

    @pending_recovery.setter
    def pending_recovery(self, recovery: Any) -> None:
        if recovery is None:
            self._assign({"type": "pending_recovery_cleared"}, "pending_recovery = None",
                         "clear_pending_recovery(app)")
            return
        jail_name, activated_at, detected_at, recovered = pending_recovery_fields(recovery, "pending_recovery")
        if recovered is not False:
            raise AssignmentRefusedError(
                "pending_recovery = <recovered>: a pending recovery becomes recovered only when a health probe "
                "finds fail2ban back online; call process_health_probe_result(runtime_state, status, now) "
                "(nothing was changed)")
        self._assign({"type": "pending_recovery_created", "jail_name": jail_name,
                      "activated_at": instant_text(activated_at, "pending_recovery.activated_at"),
                      "detected_at": instant_text(detected_at, "pending_recovery.detected_at")},
                     "pending_recovery = ...", "create_pending_recovery(app, jail_name, activated_at, detected_at)")

    @pending_recovery.deleter
    def pending_recovery(self) -> None:
        self._assign({"type": "pending_recovery_cleared"}, "del pending_recovery", "clear_pending_recovery(app)")

    # -- last_activation -------------------------------------------------------

    @property
    def last_activation(self) -> ActivationRecord | None:
        return self._binding.view().last_activation

    @last_activation.setter
    def last_activation(self, record: ActivationRecord | None) -> None:
        if record is None:
            self._assign({"type": "activation_cleared"}, "last_activation = None", "clear_activation_record(app)")
            return
        jail_name, at = activation_fields(record, "last_activation")
        self._assign({"type": "jail_activated", "jail_name": jail_name, "at": instant_text(at, "last_activation.at")},
                     "last_activation = ...", "record_activation(app, jail_name, at)")

    @last_activation.deleter
    def last_activation(self) -> None:
        self._assign({"type": "activation_cleared"}, "del last_activation", "clear_activation_record(app)")

    # -- runtime_settings ------------------------------------------------------

    @property
    def runtime_settings(self) -> Any:
        return self._binding.view().runtime_settings

    @runtime_settings.setter
    def runtime_settings(self, settings: Any) -> None:
        if settings is None:
            raise AssignmentRefusedError(
                "runtime_settings = None: runtime settings, once set, are only replaced; to go back to the "
                "bootstrap settings call set_runtime_settings(app, get_app_settings(app)) (nothing was changed)")
        record = settings_record(settings)
        self._assign({"type": "runtime_settings_set", "settings": record}, "runtime_settings = ...",
                     "set_runtime_settings(app, settings)")
        self._binding.remember_settings(record, settings)

    @runtime_settings.deleter
    def runtime_settings(self) -> None:
        raise AssignmentRefusedError(
            "del runtime_settings: runtime settings, once set, are only replaced; call "
            "set_runtime_settings(app, get_app_settings(app)) (nothing was changed)")

    # -- jail_service_state ------------------------------------------------------

    @property
    def jail_service_state(self) -> JailServiceState:
        return self._jail_service_state

    @jail_service_state.setter
    def jail_service_state(self, state: JailServiceState) -> None:
        if state is self._jail_service_state:
            return
        raise AssignmentRefusedError(
            "jail_service_state = ...: it is a view of the machine's backend capability, shared by every worker; "
            "assign its backend_cmd_supported, or await jail_service_state.reset_backend_capability_cache() "
            "(nothing was changed)")

    @jail_service_state.deleter
    def jail_service_state(self) -> None:
        raise AssignmentRefusedError(
            "del jail_service_state: it is a view of the machine's backend capability; await "
            "jail_service_state.reset_backend_capability_cache() to forget the probe's result (nothing was changed)")

    def __repr__(self) -> str:
        view = self._binding.current_view()
        return (f"RuntimeState(setup_complete_cached={view.setup_complete_cached!r}, "
                f"server_status={view.server_status!r}, pending_recovery={view.pending_recovery!r}, "
                f"last_activation={view.last_activation!r}, runtime_settings={view.runtime_settings!r}, "
                f"jail_service_state={self._jail_service_state!r})")


_UNSET: Any = object()


class BackendCommandLock:
    """`JailServiceState.get_backend_cmd_lock()`: the seed's asyncio.Lock
    around the backend-capability probe, across every worker sharing the
    machine. Use it as the seed's: ``async with state.get_backend_cmd_lock():``.

    Entering asks the machine for the probe (`backend_probe_requested`). The
    one request that starts it holds the lock; the others wait (polling the
    store every `lock_poll_interval` seconds, woken at once by this
    process's own releases) until the result is known, then enter and find
    `backend_cmd_supported` set. A probe whose result never comes (its worker
    died) is taken over by the next request 30 s after it started (the core's
    rule). Leaving without a result (the body raised, or set none) reports
    `backend_probe_failed`, so a waiter takes over at once. Once the result is
    known the lock has nothing left to guard: `async with` enters at once."""

    def __init__(self, owner: JailServiceState) -> None:
        self._owner = owner
        self._held: dict[asyncio.Task[Any] | None, str] = {}  # holder task -> its probe's start (instant text)
        self._deferred: dict[asyncio.Task[Any] | None, bool | None] = {}  # results kept for the lock's exit
        self._waiters: set[asyncio.Future[None]] = set()

    def locked(self) -> bool:
        """A probe is in flight in some worker (or its worker died and it is not stale yet)."""
        view = self._owner._binding.view()
        return view.backend_supported is None and view.probe_started_at is not None

    def held_by_current_task(self) -> bool:
        return _current_task() in self._held

    async def __aenter__(self) -> None:
        task = _current_task()
        if task in self._held:
            raise RuntimeError("get_backend_cmd_lock(): this task already holds the lock (an asyncio.Lock would "
                               "wait for itself forever)")
        binding = self._owner._binding
        while True:
            now = binding.clock()
            started = core_instant_text(now, "now")
            rest = await binding.aapply({"type": "backend_probe_requested"}, now, None,
                                        "get_backend_cmd_lock()")
            if any(effect["type"] == "probe_backend_capability" for effect in rest):
                self._held[task] = started
                return
            if binding.current_view().backend_supported is not None:
                return
            await self._wait(binding.lock_poll_interval)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        task = _current_task()
        started = self._held.pop(task, None)
        result = self._deferred.pop(task, _UNSET)
        binding = self._owner._binding
        try:
            if result is not _UNSET:  # set in the body on an AsyncSharedMachine: committed now
                await binding.aapply(_capability_event(result), binding.clock(), None, "backend_cmd_supported = ...")
            elif started is not None:
                view = await binding.afresh_view()
                if view.probe_started_at == started and view.backend_supported is None:
                    reason = (f"{kind.__name__}: {error}" if kind is not None
                              else "the lock was released without a result")
                    await binding.aapply({"type": "backend_probe_failed", "reason": reason}, binding.clock(), None,
                                         "get_backend_cmd_lock()")
        finally:
            self.notify()

    async def _wait(self, timeout: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait((waiter,), timeout=timeout)
        finally:
            self._waiters.discard(waiter)

    def notify(self) -> None:
        """Wakes this process's waiters: the capability changed here."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def defer(self, supported: bool | None) -> bool:
        """On an AsyncSharedMachine, a result set in the holder's body is
        committed when the lock is left; False if the current task does not hold it."""
        task = _current_task()
        if task not in self._held:
            return False
        self._deferred[task] = supported
        return True

    def deferred(self) -> Any:
        return self._deferred.get(_current_task(), _UNSET)

    def forget(self) -> None:
        """The current task reset the capability inside its lock: nothing to report at exit."""
        task = _current_task()
        self._held.pop(task, None)
        self._deferred.pop(task, None)


def _capability_event(supported: bool | None) -> dict[str, Any]:
    if supported is None:
        return {"type": "backend_capability_reset"}
    return {"type": "backend_probe_completed", "supported": supported}


class JailServiceState:
    """The jail service's runtime state (the seed's dataclass): the cached
    backend-capability probe, shared by every worker, and its lock."""

    __slots__ = ("_binding", "_lock")

    def __init__(self, machine: AnyMachine | None = None, *, backend_cmd_supported: bool | None = None,
                 backend_cmd_lock: None = None, **options: Any) -> None:
        """The seed dataclass's fields as keywords: `backend_cmd_supported` is
        assigned as after construction; `backend_cmd_lock` must be None (the
        lock is made by `get_backend_cmd_lock()`)."""
        if backend_cmd_lock is not None:
            raise AssignmentRefusedError("JailServiceState(backend_cmd_lock=...): the lock excludes across workers "
                                         "through the machine; get it with get_backend_cmd_lock()")
        self._binding = _standalone(machine, options)
        self._lock: BackendCommandLock | None = None
        if backend_cmd_supported is not None:
            self.backend_cmd_supported = backend_cmd_supported

    @classmethod
    def _bound(cls, binding: Binding) -> JailServiceState:
        state = cls.__new__(cls)
        state._binding = binding
        state._lock = None
        return state

    @property
    def backend_cmd_supported(self) -> bool | None:
        lock = self._lock
        if lock is not None and lock._deferred:
            deferred = lock.deferred()
            if deferred is not _UNSET:
                return deferred  # type: ignore[no-any-return]
        return self._binding.view().backend_supported

    @backend_cmd_supported.setter
    def backend_cmd_supported(self, supported: bool | None) -> None:
        binding = self._binding
        if binding.kind == "async":
            if self.get_backend_cmd_lock().defer(supported):
                return
            raise AsyncMachineError(
                "backend_cmd_supported = ...: this app's runtime state is an AsyncSharedMachine, which commits only "
                "from a coroutine; set it inside `async with get_backend_cmd_lock()` (committed when the lock is "
                "left) or await bangui_state.runtime_state.aio.set_backend_cmd_supported(jail_service_state, "
                f"{supported!r}) (nothing was changed)")
        binding.apply(_capability_event(supported), binding.clock(), None, "backend_cmd_supported = ...", "")
        if self._lock is not None:
            self._lock.notify()

    @backend_cmd_supported.deleter
    def backend_cmd_supported(self) -> None:
        # The seed's dataclass then reads its default, None.
        self.backend_cmd_supported = None

    @property
    def backend_cmd_lock(self) -> BackendCommandLock | None:
        """The lock once `get_backend_cmd_lock()` made it (the seed's field)."""
        return self._lock

    @backend_cmd_lock.setter
    def backend_cmd_lock(self, lock: None) -> None:
        # The seed's `= None` drops the lock for a new one to be made; so here,
        # unless a task holds it (its probe's state is the machine's either way).
        if lock is not None or (self._lock is not None and self._lock._held):
            raise AssignmentRefusedError(
                "backend_cmd_lock = ...: the lock excludes across workers through the machine; get it with "
                "get_backend_cmd_lock() (only None may be assigned, while no task holds it; nothing was changed)")
        self._lock = None

    def get_backend_cmd_lock(self) -> BackendCommandLock:
        """The backend-capability probe's lock, across workers (see `BackendCommandLock`)."""
        if self._lock is None:
            self._lock = BackendCommandLock(self)
        return self._lock

    async def reset_backend_capability_cache(self) -> None:
        """Forgets the probe's result in every worker, after a probe in flight
        has finished (the seed takes the lock first). Inside the lock's body
        it resets at once (the seed's asyncio.Lock would wait for itself)."""
        lock = self.get_backend_cmd_lock()
        binding = self._binding
        if lock.held_by_current_task():
            lock.forget()
            await binding.aapply(_capability_event(None), binding.clock(), None, "reset_backend_capability_cache()")
            lock.notify()
            return
        async with lock:
            lock.forget()
            await binding.aapply(_capability_event(None), binding.clock(), None, "reset_backend_capability_cache()")
        lock.notify()

    def __repr__(self) -> str:
        view = self._binding.current_view()
        return f"JailServiceState(backend_cmd_supported={view.backend_supported!r}, backend_cmd_lock={self._lock!r})"


class ApplicationState(State):
    """`app.state` with the seed's delegation: the runtime attributes are the
    machine's (through `runtime_state`), every other attribute is the plain
    Starlette state. Reading `session_cache` refreshes first on a shared
    machine, so a worker sees the cache another worker's settings change
    replaced."""

    def __init__(self, runtime_state: RuntimeState, state: dict[str, Any] | None = None):
        super().__init__(state)
        object.__setattr__(self, "_runtime_state", runtime_state)

    @property
    def runtime_state(self) -> RuntimeState:
        """Return the dedicated runtime state manager."""
        runtime_state: RuntimeState = object.__getattribute__(self, "_runtime_state")
        return runtime_state

    def __getattr__(self, key: str) -> Any:
        if key in _VIEW_ATTRIBUTES:  # RuntimeState's property, inlined: the read BanGUI makes most
            return getattr(object.__getattribute__(self, "_runtime_state")._binding.view(), key)
        if key == "jail_service_state":
            return self.runtime_state.jail_service_state
        if key == "session_cache":
            binding = self.runtime_state._binding
            if binding.kind == "shared":
                binding.refresh()  # the hook installs a replaced cache
        return super().__getattr__(key)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in _RUNTIME_ATTRIBUTES:
            setattr(self.runtime_state, key, value)
            return
        super().__setattr__(key, value)

    def __delattr__(self, key: str) -> None:
        if key in _RUNTIME_ATTRIBUTES:
            delattr(self.runtime_state, key)
            return
        super().__delattr__(key)


__all__ = ["ActivationRecord", "ApplicationState", "BackendCommandLock", "JailServiceState", "RuntimeState"]
