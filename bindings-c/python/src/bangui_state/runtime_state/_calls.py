"""Each seed call as a plan (the event it stands for, its `now`, what it
returns), written once and run by the synchronous functions (`run`) and by
their `aio` twins (`arun`)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import InstantTypeError, NaiveDatetimeError
from ._binding import Binding
from ._objects import JailServiceState, RuntimeState, _capability_event
from ._records import instant_text, overrides_record, settings_record, status_record
from .errors import InstallError


Plan = tuple[Binding, dict[str, Any], datetime, Any, str, str, "tuple[dict[str, Any], Any] | None", Any]
"""A seed call as (binding, event, now, app, call, aio_call, remember, result):
the event it stands for at `now`, the app whose session cache it may
replace, the names errors give, a settings record with the object it came
from (or None), and what the call returns. A plain tuple: every call builds one."""


def run(plan: Plan) -> Any:
    binding, event, now, app, call, aio_call, remember, result = plan
    binding.apply(event, now, app, call, aio_call)
    if remember is not None:
        binding.remember_settings(*remember)
    return result


async def arun(plan: Plan) -> Any:
    binding, event, now, app, call, _, remember, result = plan
    await binding.aapply(event, now, app, call)
    if remember is not None:
        binding.remember_settings(*remember)
    return result


def get_runtime_state(app: Any) -> RuntimeState:
    """Return the runtime state manager for the current FastAPI application."""
    state = getattr(app, "state", None)
    if state is None or not hasattr(state, "runtime_state"):
        raise AttributeError("Runtime state has not been initialised on the application.")
    runtime_state: RuntimeState = state.runtime_state
    return runtime_state


def get_app_settings(app: Any) -> Any:
    """Return the bootstrap settings loaded at startup."""
    settings = getattr(app.state, "settings", None)
    if settings is None:
        raise AttributeError("Application settings are not available on the app state.")
    return settings


def binding_of(value: object, kind: type[RuntimeState] | type[JailServiceState], call: str) -> Binding:
    """The binding of a RuntimeState or JailServiceState, or the TypeError naming what came instead."""
    if not isinstance(value, kind):
        raise TypeError(f"{call}: expected a bangui_state.runtime_state.{kind.__name__}, got {type(value).__name__}")
    return value._binding


def aware(value: object, where: str) -> datetime:
    """`value` if it is an aware datetime, else the error naming `where`."""
    if type(value) is datetime and value.tzinfo is not None and value.utcoffset() is not None:
        return value
    if not isinstance(value, datetime):
        raise InstantTypeError(f"{where}: expected an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{where}: naive datetime {value.isoformat()} is ambiguous; give a "
                                 "timezone-aware one (e.g. datetime.now(timezone.utc))")
    return value


def set_runtime_settings(app: Any, settings: Any) -> Plan:
    binding = get_runtime_state(app)._binding
    record = settings_record(settings)
    return (binding, {"type": "runtime_settings_set", "settings": record}, binding.clock(), app,
            "set_runtime_settings", "set_runtime_settings(app, settings)", (record, settings), None)


def update_app_settings(app: Any, overrides: Mapping[str, Any]) -> Plan:
    get_app_settings(app)  # the seed's check: no settings on the app is an AttributeError
    binding = get_runtime_state(app)._binding
    if not binding.installed:
        # The core applies the overrides to the bootstrap settings it was made
        # with; a RuntimeState made without install() has placeholder ones.
        raise InstallError("update_app_settings: the app's runtime state was not installed with the app's settings; "
                           "call bangui_state.runtime_state.install(app, machine, settings) at startup")
    # The core makes the new settings (the bootstrap ones with the overrides);
    # reads rebuild them from its record, once per record.
    return (binding, {"type": "settings_updated", "overrides": overrides_record(overrides)}, binding.clock(), app,
            "update_app_settings", "update_app_settings(app, **overrides)", None, None)


def record_activation(app: Any, jail_name: str, at: datetime | None) -> Plan:
    binding = get_runtime_state(app)._binding
    # The core's `at` defaults to the step's `now`: the activation is stepped at its own instant.
    now = aware(at, "record_activation: at") if at is not None else binding.clock()
    return (binding, {"type": "jail_activated", "jail_name": jail_name}, now, app, "record_activation",
            "record_activation(app, jail_name, at)", None, now)


def create_pending_recovery(app: Any, jail_name: str, activated_at: datetime, detected_at: datetime | None) -> Plan:
    binding = get_runtime_state(app)._binding
    event = {"type": "pending_recovery_created", "jail_name": jail_name,
             "activated_at": instant_text(activated_at, "create_pending_recovery: activated_at")}
    # `detected_at` defaults to the step's `now`, the seed's datetime.now().
    now = aware(detected_at, "create_pending_recovery: detected_at") if detected_at is not None else binding.clock()
    return (binding, event, now, app, "create_pending_recovery",
            "create_pending_recovery(app, jail_name, activated_at, detected_at)", None, None)


def clear_pending_recovery(app: Any) -> Plan:
    binding = get_runtime_state(app)._binding
    return (binding, {"type": "pending_recovery_cleared"}, binding.clock(), app, "clear_pending_recovery",
            "clear_pending_recovery(app)", None, None)


def clear_activation_record(app: Any) -> Plan:
    binding = get_runtime_state(app)._binding
    return (binding, {"type": "activation_cleared"}, binding.clock(), app, "clear_activation_record",
            "clear_activation_record(app)", None, None)


def process_health_probe_result(runtime_state: Any, status: Any, now: datetime | None) -> Plan:
    binding = binding_of(runtime_state, RuntimeState, "process_health_probe_result")
    return (binding, {"type": "health_probe_completed", "status": status_record(status)},
            now if now is not None else binding.clock(), binding.app, "process_health_probe_result",
            "process_health_probe_result(runtime_state, status, now)", None, None)


def cache_setup_completion(app: Any, complete: bool) -> Plan:
    binding = get_runtime_state(app)._binding
    return (binding, {"type": "setup_completion_cached", "complete": complete}, binding.clock(), app,
            "setup_complete_cached = ...", f"cache_setup_completion(app, {complete!r})", None, None)


def set_backend_cmd_supported(jail_service_state: Any, supported: bool | None) -> Plan:
    binding = binding_of(jail_service_state, JailServiceState, "set_backend_cmd_supported")
    return (binding, _capability_event(supported), binding.clock(), binding.app, "backend_cmd_supported = ...",
            f"set_backend_cmd_supported(jail_service_state, {supported!r})", None, None)
