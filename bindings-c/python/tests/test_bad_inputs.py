"""Bad inputs raise the error class of their result code, with the library's
message, and leave the state exactly as it was."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

import bangui_state
from bangui_state import Machine

T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)


@pytest.fixture
def machine(bootstrap: dict[str, Any]) -> Machine:
    m = Machine(bootstrap)
    m.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    return m


@pytest.mark.parametrize(
    ("event_json", "error", "message"),
    [
        ('{"type": "jail_activated", "jail_na', bangui_state.InvalidJsonError, None),
        ("", bangui_state.InvalidJsonError, None),
        (b'{"type": "jail_activated", "jail_name": "\xff"}', bangui_state.InvalidUtf8Error,
         "event_json: invalid UTF-8 at byte 41"),
        ('{"type": "jail_activated", "jail_name": "\udc80"}', bangui_state.InvalidUtf8Error,
         "event_json: invalid UTF-8 at byte 41"),
        ('{"type": "health_probe_completed", "status": {"online": "yes"}}', bangui_state.InvalidEventError,
         "event.status.online: expected a boolean, found a string"),
        ('{"type": "nope"}', bangui_state.InvalidEventError, 'event.type: unknown event type "nope"; expected one of'),
        ('{"type": "jail_activated", "jail_name": 5}', bangui_state.InvalidEventError, "event.jail_name: "),
        ("[]", bangui_state.InvalidEventError, "event"),
    ],
    ids=["truncated", "empty", "bad_utf8", "lone_surrogate", "wrong_type", "unknown_type", "number_for_string",
         "array"],
)
def test_bad_event_raises_its_class_and_leaves_the_state(machine: Machine, event_json: Any, error: type,
                                                         message: str | None) -> None:
    before = machine.state_json
    with pytest.raises(error) as raised:
        machine.step_json(event_json, T0)
    assert isinstance(raised.value, bangui_state.Error)
    assert raised.value.code == error.code
    if message is not None:
        assert raised.value.message.startswith(message)
    assert raised.value.message
    assert machine.state_json == before


def test_nan_is_not_json(machine: Machine) -> None:
    before = machine.state_json
    with pytest.raises(bangui_state.InvalidJsonError):
        machine.step({"type": "settings_updated", "overrides": {"session_cache_ttl_seconds": float("nan")}}, T0)
    assert machine.state_json == before


def test_unknown_schema_version_is_refused(machine: Machine) -> None:
    state = machine.state
    state["schema_version"] = 2
    with pytest.raises(bangui_state.UnknownSchemaVersionError,
                       match="state.schema_version: unknown schema version 2; this build reads version 1"):
        Machine.restore(state)


def test_bad_bootstrap_and_bad_state_have_their_classes() -> None:
    with pytest.raises(bangui_state.InvalidSettingsError, match="bootstrap"):
        Machine({"session_cache_enabled": "yes", "session_cache_ttl_seconds": 1})
    with pytest.raises(bangui_state.InvalidStateError, match="state"):
        Machine.restore({"schema_version": 1})
    with pytest.raises(bangui_state.InvalidJsonError):
        Machine.restore_json('{"schema_version": 1,')


def test_revision_exhausted_leaves_the_state(machine: Machine) -> None:
    state = machine.state
    state["revision"] = 2**64 - 1
    full = Machine.restore(state)
    before = full.state_json
    with pytest.raises(bangui_state.RevisionExhaustedError, match="state.revision: at its maximum"):
        full.step({"type": "activation_cleared"}, T0)
    with pytest.raises(bangui_state.RevisionExhaustedError):
        full.health_probe(True, now=T0)
    assert full.state_json == before


def test_fast_path_argument_errors_leave_the_state(machine: Machine) -> None:
    before = machine.state_json
    with pytest.raises(bangui_state.InvalidUtf8Error, match=r"version: lone surrogate U\+DC80 at index 0"):
        machine.health_probe(True, "\udc80", 1, now=T0)
    with pytest.raises(bangui_state.InvalidEventError, match="active_jails"):
        machine.health_probe(True, None, -1, now=T0)
    with pytest.raises(TypeError):
        machine.health_probe(1, None, 0, now=T0)  # type: ignore[arg-type]
    assert machine.state_json == before
