"""`Machine`: one runtime state behind the C API's thread-safe handle.

The fast path (`Machine.health_probe`) keeps its per-call work small: its
arguments and `now` (an int, or a UTC datetime) read in C (`_speedups.c`,
with the same `now` reader as `step`'s) when the extension is there, else no
`ffi.new` per call (output buffers come from a free list), encoded versions
cached, `now` as int Unix microseconds taken as is; and a tuple-based
`ProbeReport`. `step` takes a plain health-probe dict through the same
library call, read in C (`_speedups.c`) when the extension is there, with the
library's steady-state effects cached per argument triple and copied for each
caller; any other event is checked (`_convert`), then encoded and decoded with
the json module's C encoder and scanner directly.
"""
from __future__ import annotations

import importlib
import json
import json.decoder
import json.scanner
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from ._convert import EPOCH, MAX_NOW_US, MIN_NOW_US, c_text, dumps, micros, to_unix_micros
from ._ffi import MODE, ffi, lib
from .errors import (
    ArgumentTypeError,
    Error,
    InstantTypeError,
    InvalidEventError,
    InvalidInstantError,
    InvalidUtf8Error,
    NotJsonError,
    check,
    error_for,
)
from .types import Effect, Event, Settings, State

_U64_MAX = 2**64 - 1
_NULL = ffi.NULL
_UTC = EPOCH.tzinfo

LOG_FAIL2BAN_CAME_ONLINE: int = lib.BANGUI_LOG_FAIL2BAN_CAME_ONLINE
LOG_PENDING_RECOVERY_RESOLVED: int = lib.BANGUI_LOG_PENDING_RECOVERY_RESOLVED
LOG_FAIL2BAN_WENT_OFFLINE: int = lib.BANGUI_LOG_FAIL2BAN_WENT_OFFLINE
LOG_ACTIVATION_CRASH_DETECTED: int = lib.BANGUI_LOG_ACTIVATION_CRASH_DETECTED
LOG_HEALTH_CHECK_COMPLETE: int = lib.BANGUI_LOG_HEALTH_CHECK_COMPLETE

Now = datetime | int
"""`now`: an aware datetime, or an int of Unix microseconds (UTC), the C ABI's
own unit and the cheapest form (`time.time_ns() // 1000`). An int must lie in
[10**14, 10**17) (1973-03-03 to the year 5138): Unix seconds, milliseconds or
nanoseconds of today fall outside and are refused (`InvalidInstantError`,
naming the unit they look like). Every method that takes `now` also takes
None (the default), meaning the current time."""

__all__ = ["MAX_NOW_US", "MIN_NOW_US", "Machine", "Now", "ProbeReport", "from_unix_micros", "parse_instant",
           "to_unix_micros"]


def from_unix_micros(micros: int) -> datetime:
    """Unix microseconds as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=micros)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 text (any offset) as an aware UTC datetime, read by the core
    (finer than a microsecond is truncated); `InvalidInstantError` otherwise."""
    out = ffi.new("int64_t *")
    check(lib.bangui_instant_parse_rfc3339(c_text(text, "text", InvalidInstantError, InstantTypeError), out))
    return from_unix_micros(out[0])


# The json module's C scanner, built once (json.loads adds a regex pass).
_c_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None)
_c_scan: Any = _c_make_scanner(json.JSONDecoder()) if _c_make_scanner is not None else None


def _loads(text: str) -> Any:
    """The library's JSON output (compact, no surrounding whitespace)."""
    if _c_scan is not None:
        value, end = _c_scan(text, 0)
        if end == len(text):
            return value
    return json.loads(text)


_string_free = lib.bangui_string_free


def _take_string(ptr: Any) -> str:
    """A library-owned string, copied and freed."""
    try:
        text: bytes = ffi.string(ptr)  # (no typing.cast call: a step takes two of these)
        return text.decode("utf-8")
    finally:
        _string_free(ptr)


def _steady_effects(online: bool, version: str | None, active_jails: int) -> list[Effect]:
    """The library's effects of a steady-state probe with these arguments."""
    out = ffi.new("char **")
    version_arg = _NULL if version is None else _encode_version(version)
    check(lib.bangui_health_probe_steady_effects_json(online, version_arg, active_jails, out))
    return cast(list[Effect], _loads(_take_string(out[0])))


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars), far cheaper than copy.deepcopy."""
    kind = type(value)
    if kind is dict:
        return {k: (_copy_json(v) if type(v) is dict or type(v) is list else v) for k, v in value.items()}
    if kind is list:
        return [_copy_json(v) if type(v) is dict or type(v) is list else v for v in value]
    return value


# What `step` needs for a plain health probe, per (online, version,
# active_jails): a probe loop sends the same few. An entry holds the encoded
# version, and the library's steady-state effects with a plan to copy them
# (each caller gets its own copy): the one effect dict and the key of its one
# nested dict of scalars (as `health_check_complete`'s fields are), else None
# and a general deep copy. Arguments the fast path cannot take exactly (a NUL
# or a lone surrogate in the version, active_jails out of range) map to None.
_ProbeEntry = tuple["bytes | None", dict[str, Any], "str | None", list[Effect]]
_probes: dict[tuple[bool, str | None, int], _ProbeEntry | None] = {}
_UNSEEN: Any = object()


def _probe_entry(online: bool, version: str | None, active_jails: int) -> _ProbeEntry | None:
    entry: _ProbeEntry | None = None
    try:
        if _py_probe is not None and 0 <= active_jails <= _U64_MAX:  # (API mode only)
            version_arg = None if version is None else _encode_version(version)
            effects = _steady_effects(online, version, active_jails)
            first: Any = effects[0] if effects else None
            template: dict[str, Any] = first if len(effects) == 1 and type(first) is dict else {}
            nested = [key for key, value in template.items() if type(value) is dict or type(value) is list]
            flat = len(nested) == 1 and type(template[nested[0]]) is dict and not any(
                type(v) is dict or type(v) is list for v in template[nested[0]].values())
            entry = (version_arg, template, nested[0] if flat else None, effects)
    except Error:
        pass  # the JSON path carries the value exactly, or names what is wrong with it
    if len(_probes) >= 64:
        _probes.clear()
    _probes[(online, version, active_jails)] = entry
    return entry


def _steady_copy(entry: _ProbeEntry) -> list[Effect]:
    template, nested = entry[1], entry[2]
    if nested is None:
        return cast(list[Effect], _copy_json(entry[3]))
    copy = template.copy()
    copy[nested] = copy[nested].copy()
    return [cast(Effect, copy)]


class ProbeReport(tuple[int, "float | None", int, "list[Effect] | None", bool, "str | None", int]):
    """What a fast-path health probe did (an immutable tuple underneath).

    `steady` (only `health_check_complete` was logged), `came_online`,
    `recovery_resolved`, `went_offline` and `crash_detected` say which of the
    seed's log events happened (`logs` is the same as a bit set of the `LOG_*`
    flags). `effects` are exactly what `step` would have returned for the same
    probe, all from the library: for a transition it returned them with the
    probe; in the steady state they are asked from the library on first
    access, from the probe's arguments, so a probe loop that does not read
    them builds no JSON."""

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
        flags = ", ".join(f"{name}={getattr(self, name)}" for name in
                          ("steady", "came_online", "recovery_resolved", "went_offline", "crash_detected"))
        seconds = "" if self[1] is None else f", seconds_since_activation={self[1]!r}"
        return f"ProbeReport(revision={self.revision}, {flags}{seconds}, effects={self.effects!r})"


# Output buffers of the ABI-mode fast path and of step, lent to one call at a
# time (calls release the GIL, so concurrent calls need their own). list.pop
# and list.append are atomic under the GIL.
_probe_buffers: list[tuple[Any, Any]] = []
_string_buffers: list[Any] = []

# Encoded versions: a probe loop sends the same few. Only exact str without
# NUL or lone surrogates get here.
_versions: dict[str, bytes] = {}


def _encode_version(version: object) -> bytes:
    """`version` for the C call; a NUL (C would stop reading there) or a lone
    surrogate is refused, naming the argument."""
    if not isinstance(version, str):
        raise ArgumentTypeError(f"version: expected a str or None, got {type(version).__name__}")
    version = str.__str__(version)
    try:
        encoded = version.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidUtf8Error(f"version: lone surrogate U+{ord(version[e.start]):04X} at index {e.start} "
                               "is not Unicode text") from None
    if "\x00" in version:
        raise InvalidEventError(f"version: a NUL character at index {version.index(chr(0))}; a C string ends "
                                "there, so it is refused (step() carries it exactly, as JSON)")
    if len(_versions) >= 64:
        _versions.clear()
    _versions[version] = encoded
    return encoded


def _active_jails(active_jails: object) -> int:
    """`active_jails` as an exact int in range, or the error naming it."""
    if isinstance(active_jails, bool) or not isinstance(active_jails, int):
        raise ArgumentTypeError(f"active_jails: expected an int, got {type(active_jails).__name__}")
    value = int.__index__(active_jails)
    if type(active_jails) is not int:
        try:
            kind = type(active_jails)
            honest = kind.__index__(active_jails) == value and kind.__int__(active_jails) == value
        except Exception:  # noqa: BLE001 - a failing conversion is a lie too
            honest = False
        if not honest:
            raise ArgumentTypeError(f"active_jails: {type(active_jails).__name__} (an int subclass) holds {value} "
                                    "but converts to something else")
    if not 0 <= value <= _U64_MAX:
        raise InvalidEventError(f"active_jails: expected an integer from 0 to 2**64 - 1, got {value}")
    return value


_health_probe = lib.bangui_machine_health_probe
assert LOG_HEALTH_CHECK_COMPLETE == 16  # inlined below
_py_probe: Any = getattr(lib, "bangui_py_health_probe", None)  # API mode only
_machine_step = lib.bangui_machine_step
_state_json = lib.bangui_machine_state_json


def _load_speedups() -> Any:
    """The `_speedups` module (API mode only: it is linked against the shipped library), else None."""
    if MODE != "api":
        return None
    try:
        return importlib.import_module(f"{__package__}._speedups")
    except ImportError:
        return None


_speedups: Any = _load_speedups()
_c_step_probe: Any = None if _speedups is None else _speedups.step_probe
_c_health_probe: Any = None if _speedups is None else _speedups.health_probe
_PROBE_STATUS_KEYS = frozenset(("online", "version", "active_jails"))


def _probe_report(code: int, logs: int, seconds: float, revision: int, effects_json: str | None, online: bool,
                  version: str | None, active_jails: int) -> ProbeReport:
    """The report of a probe the library answered with a result code and the
    fields of its report (`effects_json` None in the steady state); the error
    when `code` is one (read at once: the library's message is thread-local)."""
    if code:
        raise error_for(code)
    effects = None if effects_json is None else cast(list[Effect], _loads(effects_json))
    return ProbeReport((logs, seconds if logs & LOG_ACTIVATION_CRASH_DETECTED else None, revision, effects, online,
                        version, active_jails))


def _probe_outcome(online: bool, version: str | None, active_jails: int) -> ProbeReport:
    """The report of a glue probe that was not a packable steady state (a
    transition or an error), read from this thread's slot at once."""
    report, effects_out = ffi.new("bangui_probe_report *"), ffi.new("char **")
    code = lib.bangui_py_health_probe_last(report, effects_out)
    ptr = effects_out[0]
    return _probe_report(code, report.logs, report.seconds_since_activation, report.revision,
                         None if ptr == _NULL else _take_string(ptr), online, version, active_jails)


class Machine:
    """BanGUI's runtime state.

    Thread-safe: any number of threads may call one machine at once (the C
    handle holds the state behind a mutex, and cffi releases the GIL during
    calls); each call sees the state the previous one left. `close()` must not
    race with other calls. The handle is freed by `close()`, on leaving a
    `with` block, or when the object is garbage-collected.

    Values cross as JSON: any `Mapping` is an object (its keys must be str),
    lists and tuples are arrays; a value with no JSON form raises
    `NotJsonError` naming its path (``event.status.version: ...``).
    """

    __slots__ = ("_handle", "_address", "__weakref__")

    def __init__(self, bootstrap_settings: Mapping[str, Any]) -> None:
        """A new machine from the host's bootstrap settings (revision 0)."""
        self._hold(self._make(lib.bangui_machine_new, dumps(bootstrap_settings, "bootstrap")))

    def _hold(self, handle: Any) -> None:
        self._handle = handle
        self._address = int(ffi.cast("uintptr_t", handle))  # for _speedups; 0 once closed

    @staticmethod
    def _make(constructor: Any, text: bytes) -> Any:
        out = ffi.new("bangui_machine **")
        check(constructor(text, out))
        return ffi.gc(out[0], lib.bangui_machine_free)

    @classmethod
    def restore(cls, state: State | Mapping[str, Any]) -> Machine:
        """A machine from a state's JSON form (as `Machine.state` gives it)."""
        return cls._restore(dumps(state, "state"))

    @classmethod
    def restore_json(cls, state_json: str | bytes) -> Machine:
        """A machine from a state's JSON text (a raw NUL is refused: `NotJsonError`)."""
        return cls._restore(c_text(state_json, "state_json", NotJsonError, NotJsonError))

    @classmethod
    def _restore(cls, state_json: bytes) -> Machine:
        machine = cls.__new__(cls)
        machine._hold(cls._make(lib.bangui_machine_restore, state_json))
        return machine

    def close(self) -> None:
        """Frees the handle now; later calls raise `NullArgumentError`."""
        handle, self._handle, self._address = self._handle, ffi.NULL, 0
        if handle != ffi.NULL:
            ffi.release(handle)

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def step(self, event: Event, now: Now | None = None) -> list[Effect]:
        """Applies one event at `now` (an aware datetime, int Unix
        microseconds, or None for the current time) and returns the effects,
        in the order the host must carry them out. On error nothing changed.

        Typed as `Event` (a union of TypedDicts, so a type checker catches a
        misspelt type or field); at run time any `Mapping` is read. A plain
        health probe (`status` with only `online`, `version`, `active_jails`)
        takes the library's typed fast path, with the same result."""
        if _c_step_probe is not None:  # the fast path in C (_speedups.c); None: not taken, nothing done
            taken = _c_step_probe(self._address, event, now, _probes, MIN_NOW_US, MAX_NOW_US)
            if taken is not None:
                return taken if type(taken) is list else cast(list[Effect], _loads(taken))
        if type(event) is dict and len(event) == 2:
            # The fast path, inline (a function call costs as much as the probe's
            # own work), with subscripts and identity tests, the cheapest checks.
            online: object = None  # stays None unless the event is a plain health probe
            try:
                if event["type"] == "health_probe_completed":
                    status = event["status"]
                    if type(status) is dict:
                        if len(status) == 3:
                            online, version, active_jails = status["online"], status["version"], status["active_jails"]
                        elif status.keys() <= _PROBE_STATUS_KEYS:
                            online, version = status["online"], status.get("version")
                            active_jails = status.get("active_jails", 0)
            except Exception:  # noqa: BLE001 - a missing key, an odd "type": the JSON path says what is wrong
                online = None
            if (online is True or online is False) and (version is None or type(version) is str) \
                    and type(active_jails) is int:
                try:
                    entry = _probes[(online, version, active_jails)]
                except KeyError:
                    entry = _probe_entry(online, version, active_jails)
                if entry is not None:
                    if type(now) is int and MIN_NOW_US <= now < MAX_NOW_US:
                        now_us = now
                    elif type(now) is datetime and now.tzinfo is _UTC:
                        since = now - EPOCH
                        now_us = (since.days * 86400 + since.seconds) * 1_000_000 + since.microseconds
                    else:
                        now_us = micros(now)
                    version_arg = entry[0]
                    packed = _py_probe(self._handle, online, _NULL if version_arg is None else version_arg,
                                       active_jails, now_us)
                    if packed >= 0:
                        nested = entry[2]
                        if nested is None:
                            return _steady_copy(entry)
                        copy = entry[1].copy()
                        copy[nested] = copy[nested].copy()
                        return [copy]  # type: ignore[list-item]  # (no typing.cast call here: it costs)
                    try:
                        return _probe_outcome(online, version, active_jails).effects
                    except Error:
                        pass  # it changed nothing: the JSON path reports it, with the event's paths
        return cast(list[Effect], _loads(self._step(dumps(event, "event"), now)))

    def step_json(self, event_json: str | bytes, now: Now | None = None) -> str:
        """As `step`, with the event as JSON text and the effects as JSON text
        (a raw NUL in the text is refused: `NotJsonError`)."""
        return self._step(c_text(event_json, "event_json", NotJsonError, NotJsonError), now)

    def _step(self, event_json: bytes, now: Now | None) -> str:
        now_us = micros(now)
        try:
            out = _string_buffers.pop()
        except IndexError:
            out = ffi.new("char **")
        code = _machine_step(self._handle, event_json, now_us, out)
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
        `now` is an aware datetime, int Unix microseconds (the cheapest), or
        None for the current time. A NUL in `version` is refused (a C string
        would end there; `step` carries it exactly)."""
        if _c_health_probe is not None:  # the probe in C (_speedups.c); None: not taken, nothing done
            done = _c_health_probe(self._address, online, version, active_jails, micros(None) if now is None else now,
                                   MIN_NOW_US, MAX_NOW_US)
            if type(done) is int:  # the steady state: its revision
                return ProbeReport((16, None, done, None, online, version, active_jails))
            if done is not None:  # a transition or an error
                code, logs, seconds, revision, effects_json = done
                return _probe_report(code, logs, seconds, revision, effects_json, online, version, active_jails)
        if online is not True and online is not False:
            raise ArgumentTypeError(f"online: expected a bool, got {type(online).__name__}")
        if version is None:
            version_arg = _NULL
        else:
            version_arg = _versions.get(version) if type(version) is str else None
            if version_arg is None:
                version_arg = _encode_version(version)
        if type(active_jails) is not int or not 0 <= active_jails <= _U64_MAX:
            active_jails = _active_jails(active_jails)
        now_us = now if type(now) is int and MIN_NOW_US <= now < MAX_NOW_US else micros(now)
        if _py_probe is not None:  # API mode: one scalar call (build_ffi.py's glue)
            packed = _py_probe(self._handle, online, version_arg, active_jails, now_us)
            if packed >= 0:
                return ProbeReport((16, None, packed >> 5, None, online, version, active_jails))
            return _probe_outcome(online, version, active_jails)
        try:
            buffers = _probe_buffers.pop()
        except IndexError:
            buffers = ffi.new("bangui_probe_report *"), ffi.new("char **")
        report, effects_out = buffers
        code = _health_probe(self._handle, online, version_arg, active_jails, now_us, report, effects_out)
        if code:
            _probe_buffers.append(buffers)
            raise error_for(code)
        logs = report.logs
        revision = report.revision
        if logs == 16:  # LOG_HEALTH_CHECK_COMPLETE alone: the steady state
            _probe_buffers.append(buffers)
            return ProbeReport((logs, None, revision, None, online, version, active_jails))
        seconds, ptr = report.seconds_since_activation, effects_out[0]
        _probe_buffers.append(buffers)
        return _probe_report(0, logs, seconds, revision, None if ptr == _NULL else _take_string(ptr), online, version,
                             active_jails)

    @property
    def state(self) -> State:
        """The state's JSON form, parsed."""
        return cast(State, json.loads(self.state_json))

    @property
    def state_json(self) -> str:
        """The state's JSON form, to persist or to `restore_json`."""
        try:
            out = _string_buffers.pop()
        except IndexError:
            out = ffi.new("char **")
        code = _state_json(self._handle, out)
        ptr = out[0]
        _string_buffers.append(out)
        if code:
            raise error_for(code)
        return _take_string(ptr)

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
        """The earliest instant, not before `now` (an aware datetime, int
        Unix microseconds, or None for the current time), at which time alone
        changes how an event is handled, or None."""
        now_us = micros(now)
        has = ffi.new("bool *")
        at = ffi.new("int64_t *")
        check(lib.bangui_machine_next_deadline(self._handle, now_us, has, at))
        return from_unix_micros(at[0]) if has[0] else None

    def __repr__(self) -> str:
        if self._handle == ffi.NULL:
            return "<bangui_state.Machine (closed)>"
        return f"<bangui_state.Machine revision={self.revision}>"
