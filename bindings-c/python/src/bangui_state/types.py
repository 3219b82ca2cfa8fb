"""Typed shapes of the JSON the machine takes and gives (see CONTRACT.md).

Events and effects are plain dicts at run time; these TypedDicts describe them
for type checkers.
"""
from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, Union

Settings = dict[str, Any]
"""The host's whole settings record; `session_cache_enabled` (bool) and
`session_cache_ttl_seconds` (number) are required, every other key is carried."""


class ServerStatus(TypedDict):
    online: bool
    version: NotRequired[str | None]
    active_jails: NotRequired[int]


class HealthProbeCompleted(TypedDict):
    type: Literal["health_probe_completed"]
    status: ServerStatus


class JailActivated(TypedDict):
    type: Literal["jail_activated"]
    jail_name: str
    at: NotRequired[str]


class PendingRecoveryCreated(TypedDict):
    type: Literal["pending_recovery_created"]
    jail_name: str
    activated_at: str
    detected_at: NotRequired[str]


class PendingRecoveryCleared(TypedDict):
    type: Literal["pending_recovery_cleared"]


class ActivationCleared(TypedDict):
    type: Literal["activation_cleared"]


class RuntimeSettingsSet(TypedDict):
    type: Literal["runtime_settings_set"]
    settings: Settings


class SettingsUpdated(TypedDict):
    type: Literal["settings_updated"]
    overrides: dict[str, Any]


class SetupCompletionCached(TypedDict):
    type: Literal["setup_completion_cached"]
    complete: bool


class BackendProbeRequested(TypedDict):
    type: Literal["backend_probe_requested"]


class BackendProbeCompleted(TypedDict):
    type: Literal["backend_probe_completed"]
    supported: bool


class BackendProbeFailed(TypedDict):
    type: Literal["backend_probe_failed"]
    reason: NotRequired[str]


class BackendCapabilityReset(TypedDict):
    type: Literal["backend_capability_reset"]


Event = Union[
    HealthProbeCompleted,
    JailActivated,
    PendingRecoveryCreated,
    PendingRecoveryCleared,
    ActivationCleared,
    RuntimeSettingsSet,
    SettingsUpdated,
    SetupCompletionCached,
    BackendProbeRequested,
    BackendProbeCompleted,
    BackendProbeFailed,
    BackendCapabilityReset,
]

LogLevel = Literal["debug", "info", "warning"]


class LogEffect(TypedDict):
    """Write a structured log record, as the seed's structlog call did."""

    type: Literal["log"]
    level: LogLevel
    event: str
    fields: dict[str, Any]


class SessionCacheReplaced(TypedDict):
    """Install a new, empty session cache of this kind."""

    type: Literal["session_cache_replaced"]
    kind: Literal["in_memory", "no_op"]


class ProbeBackendCapability(TypedDict):
    """Run the backend-capability probe, then report its result as an event."""

    type: Literal["probe_backend_capability"]


Effect = Union[LogEffect, SessionCacheReplaced, ProbeBackendCapability]

StateDict = dict[str, Any]
"""The state's JSON form: schema_version, revision, server_status, ..."""
