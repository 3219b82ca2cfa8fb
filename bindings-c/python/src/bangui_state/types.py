"""Typed shapes of the JSON the machine takes and gives, as the project's
`CONTRACT.md` (at the root of the bangui-state repository) describes them.

Events, effects and states are plain dicts at run time; these TypedDicts
describe them for type checkers, so `mypy --strict` refuses an event with a
misspelt `type` or field. All are exported from `bangui_state` itself.
"""
from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, Union

Settings = dict[str, Any]
"""The host's whole settings record; `session_cache_enabled` (bool) and
`session_cache_ttl_seconds` (number) are required, every other key is carried."""

Instant = str
"""An instant in JSON: RFC 3339, written by the machine as `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""


class ServerStatus(TypedDict):
    """fail2ban's status as a probe saw it. In a state all three keys are
    present (`version` null and `active_jails` 0 by default); any other key a
    host sent is carried through (at run time; this type does not list them)."""

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

class PendingRecovery(TypedDict):
    """A crash blamed on a jail activation, until fail2ban is back (`recovered`)."""

    jail_name: str
    activated_at: Instant
    detected_at: Instant
    recovered: bool


class LastActivation(TypedDict):
    jail_name: str
    at: Instant


class BackendCapability(TypedDict):
    """The cached backend-capability probe: `supported` is null until known;
    `probe_started_at` is set while a probe runs."""

    supported: bool | None
    probe_started_at: Instant | None


class State(TypedDict):
    """The state's JSON form, as `Machine.state` gives it and `Machine.restore` takes it."""

    schema_version: int
    revision: int
    setup_complete_cached: bool
    server_status: ServerStatus
    pending_recovery: PendingRecovery | None
    last_activation: LastActivation | None
    bootstrap_settings: Settings
    runtime_settings: Settings | None
    session_cache: Literal["in_memory", "no_op"]
    backend_capability: BackendCapability


StateDict = State
"""The former name of `State`."""
