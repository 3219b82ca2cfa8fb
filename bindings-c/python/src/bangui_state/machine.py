"""`Machine`: one runtime state behind the C API's thread-safe handle."""
from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from ._ffi import ffi, lib
from .errors import InvalidEventError, NaiveDatetimeError, check
from .types import Effect, Event, Settings, StateDict

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_U64_MAX = 2**64 - 1

LOG_FAIL2BAN_CAME_ONLINE: int = lib.BANGUI_LOG_FAIL2BAN_CAME_ONLINE
LOG_PENDING_RECOVERY_RESOLVED: int = lib.BANGUI_LOG_PENDING_RECOVERY_RESOLVED
LOG_FAIL2BAN_WENT_OFFLINE: int = lib.BANGUI_LOG_FAIL2BAN_WENT_OFFLINE
LOG_ACTIVATION_CRASH_DETECTED: int = lib.BANGUI_LOG_ACTIVATION_CRASH_DETECTED
LOG_HEALTH_CHECK_COMPLETE: int = lib.BANGUI_LOG_HEALTH_CHECK_COMPLETE


def to_unix_micros(now: datetime) -> int:
    """An aware datetime as Unix microseconds. Naive datetimes are refused:
    which zone they mean is a guess."""
    if not isinstance(now, datetime):
        raise TypeError(f"now: expected a datetime, got {type(now).__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise NaiveDatetimeError(
            f"now: naive datetime {now.isoformat()} is ambiguous; give a timezone-aware one "
            "(e.g. datetime.now(timezone.utc))"
        )
    delta = now - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_unix_micros(micros: int) -> datetime:
    """Unix microseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 text (any offset) as an aware UTC datetime, read by the core
    (finer than a microsecond is truncated); `InvalidInstantError` otherwise."""
    out = ffi.new("int64_t *")
    check(lib.bangui_instant_parse_rfc3339(text.encode("utf-8", "surrogatepass"), out))
    return from_unix_micros(out[0])


def _text(value: str | bytes) -> bytes:
    # Lone surrogates pass through as invalid UTF-8, which the library reports.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _dumps(value: Any) -> bytes:
    return _text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _take_string(ptr: Any) -> str:
    """A library-owned string, copied and freed."""
    try:
        return cast(bytes, ffi.string(ptr)).decode("utf-8")
    finally:
        lib.bangui_string_free(ptr)


class ProbeReport:
    """What a fast-path health probe did.

    `logs` is a bit set of the `LOG_*` flags: which of the seed's log events
    happened. `effects` are exactly what `step` would have returned for the
    same probe; in the steady state they are built only when asked for."""

    __slots__ = ("logs", "seconds_since_activation", "revision", "_effects", "_status")

    def __init__(self, logs: int, seconds_since_activation: float | None, revision: int,
                 effects: list[Effect] | None, status: tuple[bool, str | None, int]) -> None:
        self.logs = logs
        self.seconds_since_activation = seconds_since_activation
        self.revision = revision
        self._effects = effects
        self._status = status

    @property
    def effects(self) -> list[Effect]:
        if self._effects is None:
            # The steady state: only health_check_complete, whose fields are the probe's arguments.
            online, version, active_jails = self._status
            self._effects = [{"type": "log", "level": "debug", "event": "health_check_complete",
                              "fields": {"online": online, "version": version, "active_jails": active_jails}}]
        return self._effects

    @property
    def came_online(self) -> bool:
        return bool(self.logs & LOG_FAIL2BAN_CAME_ONLINE)

    @property
    def recovery_resolved(self) -> bool:
        return bool(self.logs & LOG_PENDING_RECOVERY_RESOLVED)

    @property
    def went_offline(self) -> bool:
        return bool(self.logs & LOG_FAIL2BAN_WENT_OFFLINE)

    @property
    def crash_detected(self) -> bool:
        return bool(self.logs & LOG_ACTIVATION_CRASH_DETECTED)

    @property
    def steady(self) -> bool:
        """Only `health_check_complete` was logged: reachability did not change."""
        return self.logs == LOG_HEALTH_CHECK_COMPLETE

    def __repr__(self) -> str:
        return (f"ProbeReport(logs={self.logs}, seconds_since_activation={self.seconds_since_activation}, "
                f"revision={self.revision})")


class _Buffers(threading.local):
    """Per-thread output buffers for the fast path (calls release the GIL, so
    threads must not share them)."""

    def __init__(self) -> None:
        self.report = ffi.new("bangui_probe_report *")
        self.effects = ffi.new("char **")


_buffers = _Buffers()


class Machine:
    """BanGUI's runtime state.

    Thread-safe: any number of threads may call one machine at once (the C
    handle holds the state behind a mutex, and cffi releases the GIL during
    calls); each call sees the state the previous one left. `close()` must not
    race with other calls. The handle is freed by `close()`, on leaving a
    `with` block, or when the object is garbage-collected.
    """

    __slots__ = ("_handle", "__weakref__")

    def __init__(self, bootstrap_settings: Settings) -> None:
        """A new machine from the host's bootstrap settings (revision 0)."""
        self._handle = self._make(lib.bangui_machine_new, _dumps(bootstrap_settings))

    @staticmethod
    def _make(constructor: Any, text: bytes) -> Any:
        out = ffi.new("bangui_machine **")
        check(constructor(text, out))
        return ffi.gc(out[0], lib.bangui_machine_free)

    @classmethod
    def restore(cls, state: StateDict) -> Machine:
        """A machine from a state's JSON form (as `Machine.state` gives it)."""
        return cls.restore_json(_dumps(state))

    @classmethod
    def restore_json(cls, state_json: str | bytes) -> Machine:
        """A machine from a state's JSON text."""
        machine = cls.__new__(cls)
        machine._handle = cls._make(lib.bangui_machine_restore, _text(state_json))
        return machine

    def close(self) -> None:
        """Frees the handle now; later calls raise `NullArgumentError`."""
        handle, self._handle = self._handle, ffi.NULL
        if handle != ffi.NULL:
            ffi.release(handle)

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step(self, event: Event | Mapping[str, Any], now: datetime) -> list[Effect]:
        """Applies one event at `now` (aware datetime) and returns the effects,
        in the order the host must carry them out. On error nothing changed."""
        return cast(list[Effect], json.loads(self.step_json(_dumps(event), now)))

    def step_json(self, event_json: str | bytes, now: datetime) -> str:
        """As `step`, with the event as JSON text and the effects as JSON text."""
        micros = to_unix_micros(now)
        out = ffi.new("char **")
        check(lib.bangui_machine_step(self._handle, _text(event_json), micros, out))
        return _take_string(out[0])

    def health_probe(
        self,
        online: bool,
        version: str | None = None,
        active_jails: int = 0,
        now: datetime | None = None,
    ) -> ProbeReport:
        """The typed fast path for a `health_probe_completed` event: same rule,
        effects and revision step as `step`, and no JSON in the steady state.
        `now` defaults to the current UTC time."""
        if not isinstance(online, bool):
            raise TypeError(f"online: expected a bool, got {type(online).__name__}")
        if version is not None and not isinstance(version, str):
            raise TypeError(f"version: expected a str or None, got {type(version).__name__}")
        if isinstance(active_jails, bool) or not isinstance(active_jails, int):
            raise TypeError(f"active_jails: expected an int, got {type(active_jails).__name__}")
        if not 0 <= active_jails <= _U64_MAX:
            raise InvalidEventError(f"active_jails: expected an integer from 0 to 2**64 - 1, got {active_jails}")
        micros = to_unix_micros(now if now is not None else datetime.now(timezone.utc))
        buffers = _buffers
        report, effects_out = buffers.report, buffers.effects
        version_arg = _text(version) if version is not None else ffi.NULL
        check(lib.bangui_machine_health_probe(self._handle, online, version_arg, active_jails, micros, report,
                                              effects_out))
        logs = report.logs
        effects: list[Effect] | None = None
        if effects_out[0] != ffi.NULL:
            effects = json.loads(_take_string(effects_out[0]))
        seconds = report.seconds_since_activation if logs & LOG_ACTIVATION_CRASH_DETECTED else None
        return ProbeReport(logs, seconds, report.revision, effects, (online, version, active_jails))

    @property
    def state(self) -> StateDict:
        """The state's JSON form, parsed."""
        return cast(StateDict, json.loads(self.state_json))

    @property
    def state_json(self) -> str:
        """The state's JSON form, to persist or to `restore_json`."""
        out = ffi.new("char **")
        check(lib.bangui_machine_state_json(self._handle, out))
        return _take_string(out[0])

    @property
    def revision(self) -> int:
        """How many events the machine has accepted since it was new."""
        out = ffi.new("uint64_t *")
        check(lib.bangui_machine_revision(self._handle, out))
        return int(out[0])

    @property
    def effective_settings(self) -> Settings:
        """The runtime settings if set, else the bootstrap settings."""
        out = ffi.new("char **")
        check(lib.bangui_machine_effective_settings_json(self._handle, out))
        return cast(Settings, json.loads(_take_string(out[0])))

    def next_deadline(self, now: datetime | None = None) -> datetime | None:
        """The earliest instant, not before `now` (default: the current UTC
        time), at which time alone changes how an event is handled, or None."""
        micros = to_unix_micros(now if now is not None else datetime.now(timezone.utc))
        has = ffi.new("bool *")
        at = ffi.new("int64_t *")
        check(lib.bangui_machine_next_deadline(self._handle, micros, has, at))
        return from_unix_micros(at[0]) if has[0] else None

    def __repr__(self) -> str:
        if self._handle == ffi.NULL:
            return "<bangui_state.Machine (closed)>"
        return f"<bangui_state.Machine revision={self.revision}>"
