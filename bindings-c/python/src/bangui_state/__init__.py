"""bangui_state: BanGUI's runtime-state machine for Python hosts.

A thin cffi binding over libbangui_state's C ABI; every rule lives in the Rust
core. Quick start::

    from datetime import datetime, timezone
    import bangui_state

    m = bangui_state.Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 3600})
    report = m.health_probe(True, "1.1.0", 2, now=datetime.now(timezone.utc))
    effects = m.step({"type": "jail_activated", "jail_name": "sshd"}, datetime.now(timezone.utc))
    bangui_state.log_effects(effects, structlog.get_logger())
"""
from __future__ import annotations

from ._ffi import ffi as _cffi
from ._ffi import lib as _clib
from .errors import (
    Error,
    InsufficientBufferError,
    InvalidEventError,
    InvalidInstantError,
    InvalidJsonError,
    InvalidSettingsError,
    InvalidStateError,
    InvalidUtf8Error,
    NaiveDatetimeError,
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
    Machine,
    ProbeReport,
    from_unix_micros,
    parse_instant,
    to_unix_micros,
)

__version__ = "0.1.0"
LIBRARY_VERSION: str = _cffi.string(_clib.bangui_version()).decode("ascii")
"""The version of the loaded libbangui_state."""

__all__ = [
    "Error",
    "InsufficientBufferError",
    "InvalidEventError",
    "InvalidInstantError",
    "InvalidJsonError",
    "InvalidSettingsError",
    "InvalidStateError",
    "InvalidUtf8Error",
    "LIBRARY_VERSION",
    "LOG_ACTIVATION_CRASH_DETECTED",
    "LOG_FAIL2BAN_CAME_ONLINE",
    "LOG_FAIL2BAN_WENT_OFFLINE",
    "LOG_HEALTH_CHECK_COMPLETE",
    "LOG_PENDING_RECOVERY_RESOLVED",
    "Machine",
    "NaiveDatetimeError",
    "NullArgumentError",
    "OtherError",
    "PanicError",
    "PoisonedError",
    "ProbeReport",
    "RevisionExhaustedError",
    "UnknownSchemaVersionError",
    "from_unix_micros",
    "log_effects",
    "parse_instant",
    "to_unix_micros",
]
