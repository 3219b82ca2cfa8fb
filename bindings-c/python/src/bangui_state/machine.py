"""`Machine`: one runtime state behind the C API's thread-safe handle.

The fast path (`Machine.health_probe`) keeps its per-call work small: no
`ffi.new` per call (output buffers come from a free list), encoded versions
cached, `now` as int Unix microseconds taken as is, and a tuple-based
`ProbeReport`. `step` encodes and decodes JSON with the json module's C
encoder and scanner directly.
"""
from __future__ import annotations

import json
import json.decoder
import json.encoder
import json.scanner
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from ._ffi import ffi, lib
from .errors import InvalidEventError, InvalidInstantError, NaiveDatetimeError, check, error_for
from .types import Effect, Event, Settings, StateDict

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_UTC = timezone.utc
_U64_MAX = 2**64 - 1
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_NULL = ffi.NULL
_time_ns = time.time_ns

LOG_FAIL2BAN_CAME_ONLINE: int = lib.BANGUI_LOG_FAIL2BAN_CAME_ONLINE
LOG_PENDING_RECOVERY_RESOLVED: int = lib.BANGUI_LOG_PENDING_RECOVERY_RESOLVED
LOG_FAIL2BAN_WENT_OFFLINE: int = lib.BANGUI_LOG_FAIL2BAN_WENT_OFFLINE
LOG_ACTIVATION_CRASH_DETECTED: int = lib.BANGUI_LOG_ACTIVATION_CRASH_DETECTED
LOG_HEALTH_CHECK_COMPLETE: int = lib.BANGUI_LOG_HEALTH_CHECK_COMPLETE

Now = datetime | int
"""`now`: an aware datetime, or an int of Unix microseconds (UTC), the C ABI's
own unit and the cheapest form (`time.time_ns() // 1000`)."""


def to_unix_micros(now: datetime) -> int:
    """An aware datetime as Unix microseconds. Naive datetimes are refused:
    which zone they mean is a guess."""
    if not isinstance(now, datetime):
        raise TypeError(f"now: expected a datetime or int Unix microseconds, got {type(now).__name__}")
    if now.tzinfo is not _UTC and (now.tzinfo is None or now.utcoffset() is None):
        raise NaiveDatetimeError(
            f"now: naive datetime {now.isoformat()} is ambiguous; give a timezone-aware one "
            "(e.g. datetime.now(timezone.utc))"
        )
    return (now - _EPOCH) // _MICROSECOND


def _micros(now: Now | None) -> int:
    """`now` (datetime, int Unix microseconds, or None for the current time) as Unix microseconds."""
    if type(now) is int:
        if _I64_MIN <= now <= _I64_MAX:
            return now
        raise InvalidInstantError(f"now: {now} Unix microseconds is out of range")
    if now is None:
        return _time_ns() // 1000
    return to_unix_micros(cast(datetime, now))


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


# The json module's C encoder and scanner, built once (json.dumps with
# non-default options builds an encoder per call; json.loads adds a regex pass).
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Any = (
    _c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False, False,
                    True)
    if _c_make_encoder is not None else None
)
_c_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None)
_c_scan: Any = _c_make_scanner(json.JSONDecoder()) if _c_make_scanner is not None else None


def _dumps(value: Any) -> bytes:
    """Compact JSON, non-ASCII kept as UTF-8 (NaN written as NaN, which the library refuses)."""
    if _c_encode is not None:
        try:
            return "".join(_c_encode(value, 0)).encode("utf-8", "surrogatepass")
        except RecursionError:
            pass  # a cycle (the C encoder runs without markers): let json.dumps report it
    return _text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _loads(text: str) -> Any:
    """The library's JSON output (compact, no surrounding whitespace)."""
    if _c_scan is not None:
        value, end = _c_scan(text, 0)
        if end == len(text):
            return value
    return json.loads(text)


def _take_string(ptr: Any) -> str:
    """A library-owned string, copied and freed."""
    try:
        return cast(bytes, ffi.string(ptr)).decode("utf-8")
    finally:
        lib.bangui_string_free(ptr)


def _steady_effects(online: bool, version: str | None, active_jails: int) -> list[Effect]:
    """The library's effects of a steady-state probe with these arguments."""
    out = ffi.new("char **")
    check(lib.bangui_health_probe_steady_effects_json(online, _NULL if version is None else _text(version),
                                                      active_jails, out))
    return cast(list[Effect], _loads(_take_string(out[0])))


class ProbeReport(tuple[int, "float | None", int, "list[Effect] | None", bool, "str | None", int]):
    """What a fast-path health probe did (an immutable tuple underneath).

    `logs` is a bit set of the `LOG_*` flags: which of the seed's log events
    happened. `effects` are exactly what `step` would have returned for the
    same probe, all from the library: for a transition it returned them with
    the probe; in the steady state (`steady`, only `health_check_complete`)
    they are asked from the library on first access, from the probe's
    arguments, so a probe loop that does not read them builds no JSON."""

    __slots__ = ()

    @property
    def logs(self) -> int:
        return self[0]

    @property
    def seconds_since_activation(self) -> float | None:
        """`activation_crash_detected`'s `seconds_since_activation`, else None."""
        return self[1]

    @property
    def revision(self) -> int:
        """The machine's revision right after this probe."""
        return self[2]

    @property
    def effects(self) -> list[Effect]:
        effects = self[3]
        if effects is None:
            return _steady_effects(self[4], self[5], self[6])
        return effects

    @property
    def came_online(self) -> bool:
        return bool(self[0] & LOG_FAIL2BAN_CAME_ONLINE)

    @property
    def recovery_resolved(self) -> bool:
        return bool(self[0] & LOG_PENDING_RECOVERY_RESOLVED)

    @property
    def went_offline(self) -> bool:
        return bool(self[0] & LOG_FAIL2BAN_WENT_OFFLINE)

    @property
    def crash_detected(self) -> bool:
        return bool(self[0] & LOG_ACTIVATION_CRASH_DETECTED)

    @property
    def steady(self) -> bool:
        """Only `health_check_complete` was logged: reachability did not change."""
        return self[0] == LOG_HEALTH_CHECK_COMPLETE

    def __repr__(self) -> str:
        return (f"ProbeReport(logs={self.logs}, seconds_since_activation={self.seconds_since_activation}, "
                f"revision={self.revision})")


# Output buffers of the fast path and of step, lent to one call at a time
# (calls release the GIL, so concurrent calls need their own). list.pop and
# list.append are atomic under the GIL.
_probe_buffers: list[tuple[Any, Any]] = []
_string_buffers: list[Any] = []

# Encoded versions: a probe loop sends the same few.
_versions: dict[str, bytes] = {}


def _encode_version(version: object) -> bytes:
    if not isinstance(version, str):
        raise TypeError(f"version: expected a str or None, got {type(version).__name__}")
    encoded = version.encode("utf-8", "surrogatepass")
    if type(version) is str:
        if len(_versions) >= 64:
            _versions.clear()
        _versions[version] = encoded
    return encoded


def _check_active_jails(active_jails: object) -> None:
    if isinstance(active_jails, bool) or not isinstance(active_jails, int):
        raise TypeError(f"active_jails: expected an int, got {type(active_jails).__name__}")
    if not 0 <= active_jails <= _U64_MAX:
        raise InvalidEventError(f"active_jails: expected an integer from 0 to 2**64 - 1, got {active_jails}")


_health_probe = lib.bangui_machine_health_probe
assert LOG_HEALTH_CHECK_COMPLETE == 16  # inlined in Machine.health_probe
_py_probe: Any = getattr(lib, "bangui_py_health_probe", None)  # API mode only


def _probe_outcome(online: bool, version: str | None, active_jails: int) -> ProbeReport:
    """The report of a glue probe that was not a packable steady state (a
    transition or an error), read from this thread's slot at once."""
    report, effects_out = ffi.new("bangui_probe_report *"), ffi.new("char **")
    code = lib.bangui_py_health_probe_last(report, effects_out)
    if code:
        raise error_for(code)
    logs = report.logs
    seconds = report.seconds_since_activation if logs & LOG_ACTIVATION_CRASH_DETECTED else None
    ptr = effects_out[0]
    effects = None if ptr == _NULL else cast(list[Effect], _loads(_take_string(ptr)))
    return ProbeReport((logs, seconds, report.revision, effects, online, version, active_jails))


_machine_step = lib.bangui_machine_step


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

    def step(self, event: Event | Mapping[str, Any], now: Now) -> list[Effect]:
        """Applies one event at `now` (an aware datetime, or int Unix
        microseconds) and returns the effects, in the order the host must
        carry them out. On error nothing changed."""
        return cast(list[Effect], _loads(self._step(_dumps(event), now)))

    def step_json(self, event_json: str | bytes, now: Now) -> str:
        """As `step`, with the event as JSON text and the effects as JSON text."""
        return self._step(_text(event_json), now)

    def _step(self, event_json: bytes, now: Now) -> str:
        micros = _micros(now)
        try:
            out = _string_buffers.pop()
        except IndexError:
            out = ffi.new("char **")
        code = _machine_step(self._handle, event_json, micros, out)
        if code:
            _string_buffers.append(out)
            raise error_for(code)
        ptr = out[0]
        _string_buffers.append(out)
        return _take_string(ptr)

    def health_probe(
        self,
        online: bool,
        version: str | None = None,
        active_jails: int = 0,
        now: Now | None = None,
    ) -> ProbeReport:
        """The typed fast path for a `health_probe_completed` event: same rule,
        effects and revision step as `step`, and no JSON in the steady state.
        `now` is an aware datetime or int Unix microseconds (the cheapest),
        and defaults to the current time."""
        if online is not True and online is not False:
            raise TypeError(f"online: expected a bool, got {type(online).__name__}")
        if version is None:
            version_arg = _NULL
        else:
            version_arg = _versions.get(version) if type(version) is str else None
            if version_arg is None:
                version_arg = _encode_version(version)
        if type(active_jails) is not int:
            _check_active_jails(active_jails)
        micros = now if type(now) is int else _micros(now)
        if _py_probe is not None:  # API mode: one scalar call (build_ffi.py's glue)
            try:
                packed = _py_probe(self._handle, online, version_arg, active_jails, micros)
            except OverflowError:  # cffi's range check of active_jails or now: say which, as we do
                _check_active_jails(active_jails)
                _micros(now)
                raise
            if packed >= 0:
                return ProbeReport((16, None, packed >> 5, None, online, version, active_jails))
            return _probe_outcome(online, version, active_jails)
        try:
            buffers = _probe_buffers.pop()
        except IndexError:
            buffers = ffi.new("bangui_probe_report *"), ffi.new("char **")
        report, effects_out = buffers
        if not 0 <= active_jails <= _U64_MAX or not _I64_MIN <= micros <= _I64_MAX:
            _probe_buffers.append(buffers)
            _check_active_jails(active_jails)
            _micros(now)
        code = _health_probe(self._handle, online, version_arg, active_jails, micros, report, effects_out)
        if code:
            _probe_buffers.append(buffers)
            raise error_for(code)
        logs = report.logs
        revision = report.revision
        if logs == 16:  # LOG_HEALTH_CHECK_COMPLETE alone: the steady state
            _probe_buffers.append(buffers)
            return ProbeReport((logs, None, revision, None, online, version, active_jails))
        seconds = report.seconds_since_activation if logs & LOG_ACTIVATION_CRASH_DETECTED else None
        ptr = effects_out[0]
        _probe_buffers.append(buffers)
        effects = cast(list[Effect], _loads(_take_string(ptr)))
        return ProbeReport((logs, seconds, revision, effects, online, version, active_jails))

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

    def next_deadline(self, now: Now | None = None) -> datetime | None:
        """The earliest instant, not before `now` (an aware datetime or int
        Unix microseconds; default: the current time), at which time alone
        changes how an event is handled, or None."""
        micros = _micros(now)
        has = ffi.new("bool *")
        at = ffi.new("int64_t *")
        check(lib.bangui_machine_next_deadline(self._handle, micros, has, at))
        return from_unix_micros(at[0]) if has[0] else None

    def __repr__(self) -> str:
        if self._handle == ffi.NULL:
            return "<bangui_state.Machine (closed)>"
        return f"<bangui_state.Machine revision={self.revision}>"
