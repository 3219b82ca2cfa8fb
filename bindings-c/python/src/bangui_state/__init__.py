"""bangui_state: BanGUI's runtime-state machine for Python hosts.

A thin cffi binding over libbangui_state's C ABI; every rule lives in the Rust
core. Quick start (fixed instants here; a host passes
``datetime.now(timezone.utc)`` or ``time.time_ns() // 1000``)::

    >>> from datetime import datetime, timedelta, timezone
    >>> import structlog
    >>> import bangui_state
    >>> m = bangui_state.Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 3600})
    >>> t0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
    >>> m.health_probe(True, "1.1.0", 2, now=t0).came_online
    True
    >>> m.step({"type": "jail_activated", "jail_name": "sshd"}, t0 + timedelta(seconds=30))
    []
    >>> report = m.health_probe(False, now=t0 + timedelta(seconds=42))
    >>> report.crash_detected, report.seconds_since_activation
    (True, 12.0)
    >>> log = structlog.wrap_logger(structlog.PrintLogger(),  # or structlog.get_logger()
    ...     processors=[structlog.processors.KeyValueRenderer(key_order=["event"])])
    >>> rest = bangui_state.log_effects(report.effects, log)  # the seed's log calls
    event='fail2ban_went_offline'
    event='activation_crash_detected' jail='sshd' seconds_since_activation=12.0
    event='health_check_complete' online=False version=None active_jails=0
    >>> rest  # effects other than logs, for the host to carry out
    []
    >>> m.state["pending_recovery"]["jail_name"], m.revision
    ('sshd', 3)

`now` is an aware datetime, an int of Unix microseconds in [10**14, 10**17)
(Unix seconds or nanoseconds are refused, naming the unit they look like), or
None for the current time. Events, effects and states are plain dicts, typed
for checkers as `Event`, `Effect` and `State` (unions of TypedDicts).
"""
from __future__ import annotations

from ._ffi import ffi as _cffi
from ._ffi import lib as _clib
from .errors import (
    ArgumentTypeError,
    Error,
    InstantTypeError,
    InsufficientBufferError,
    InvalidEventError,
    InvalidInstantError,
    InvalidJsonError,
    InvalidSettingsError,
    InvalidStateError,
    InvalidUtf8Error,
    NaiveDatetimeError,
    NotJsonError,
    NullArgumentError,
    OtherError,
    PanicError,
    PoisonedError,
    RevisionExhaustedError,
    UnknownSchemaVersionError,
)
from .log import log_effects
from .machine import (
    LOG_ACTIVATION_CRASH_DETECTED,
    LOG_FAIL2BAN_CAME_ONLINE,
    LOG_FAIL2BAN_WENT_OFFLINE,
    LOG_HEALTH_CHECK_COMPLETE,
    LOG_PENDING_RECOVERY_RESOLVED,
    MAX_NOW_US,
    MIN_NOW_US,
    Machine,
    Now,
    ProbeReport,
    from_unix_micros,
    parse_instant,
    to_unix_micros,
)
from .types import (
    ActivationCleared,
    BackendCapability,
    BackendCapabilityReset,
    BackendProbeCompleted,
    BackendProbeFailed,
    BackendProbeRequested,
    Effect,
    Event,
    HealthProbeCompleted,
    JailActivated,
    LastActivation,
    LogEffect,
    LogLevel,
    PendingRecovery,
    PendingRecoveryCleared,
    PendingRecoveryCreated,
    ProbeBackendCapability,
    RuntimeSettingsSet,
    ServerStatus,
    SessionCacheReplaced,
    Settings,
    SettingsUpdated,
    SetupCompletionCached,
    State,
)

__version__ = "0.1.0"
LIBRARY_VERSION: str = _cffi.string(_clib.bangui_version()).decode("ascii")
"""The version of the loaded libbangui_state."""

__all__ = [
    "ActivationCleared",
    "ArgumentTypeError",
    "BackendCapability",
    "BackendCapabilityReset",
    "BackendProbeCompleted",
    "BackendProbeFailed",
    "BackendProbeRequested",
    "Effect",
    "Error",
    "Event",
    "HealthProbeCompleted",
    "InstantTypeError",
    "InsufficientBufferError",
    "InvalidEventError",
    "InvalidInstantError",
    "InvalidJsonError",
    "InvalidSettingsError",
    "InvalidStateError",
    "InvalidUtf8Error",
    "JailActivated",
    "LIBRARY_VERSION",
    "LOG_ACTIVATION_CRASH_DETECTED",
    "LOG_FAIL2BAN_CAME_ONLINE",
    "LOG_FAIL2BAN_WENT_OFFLINE",
    "LOG_HEALTH_CHECK_COMPLETE",
    "LOG_PENDING_RECOVERY_RESOLVED",
    "LastActivation",
    "LogEffect",
    "LogLevel",
    "MAX_NOW_US",
    "MIN_NOW_US",
    "Machine",
    "NaiveDatetimeError",
    "NotJsonError",
    "Now",
    "NullArgumentError",
    "OtherError",
    "PanicError",
    "PendingRecovery",
    "PendingRecoveryCleared",
    "PendingRecoveryCreated",
    "PoisonedError",
    "ProbeBackendCapability",
    "ProbeReport",
    "RevisionExhaustedError",
    "RuntimeSettingsSet",
    "ServerStatus",
    "SessionCacheReplaced",
    "Settings",
    "SettingsUpdated",
    "SetupCompletionCached",
    "State",
    "UnknownSchemaVersionError",
    "from_unix_micros",
    "log_effects",
    "parse_instant",
    "to_unix_micros",
]
