"""Every conformance vector through the Python package gives the core's
output (compared as parsed JSON), through `step` and through the typed
`health_probe` fast path where a step allows it."""
from __future__ import annotations

from typing import Any

import pytest

import bangui_state
from conftest import load_vectors

VECTORS = load_vectors()


def test_there_are_vectors_to_replay() -> None:
    assert len(VECTORS) >= 3


def probe_arguments(event: Any) -> tuple[bool, str | None, int] | None:
    """The fast path's arguments when the event is a health probe it can take
    exactly (no extra status keys, well-typed), else None."""
    if not isinstance(event, dict) or event.get("type") != "health_probe_completed" or set(event) != {"type", "status"}:
        return None
    status = event["status"]
    if not isinstance(status, dict) or not set(status) <= {"online", "version", "active_jails"}:
        return None
    online, version, jails = status.get("online"), status.get("version"), status.get("active_jails", 0)
    if not isinstance(online, bool) or not (version is None or isinstance(version, str)):
        return None
    if isinstance(jails, bool) or not isinstance(jails, int) or not 0 <= jails < 2**64:
        return None
    return online, version, jails


def take(machine: bangui_state.Machine, step: Any, fast: bool) -> dict[str, Any]:
    """One step as the contract's replay output: effects or error, and the state."""
    before = machine.state_json
    try:
        if not isinstance(step, dict) or not isinstance(step.get("now"), str) or "event" not in step:
            raise LookupError("malformed at trace level")
        try:
            now = bangui_state.parse_instant(step["now"])
        except bangui_state.InvalidInstantError as e:
            raise bangui_state.InvalidInstantError(f"now: {e.message}", e.code) from e
        args = probe_arguments(step["event"]) if fast else None
        if args is not None:
            effects = machine.health_probe(*args, now=now).effects
        else:
            effects = machine.step(step["event"], now)
        return {"effects": effects, "state": machine.state}
    except bangui_state.Error as e:
        assert machine.state_json == before, "a rejected step changed the state JSON"
        return {"error": str(e), "state": machine.state}
    except LookupError:
        assert machine.state_json == before
        return {"error": None, "state": machine.state}


@pytest.mark.parametrize("fast", [False, True], ids=["step", "fast_path"])
@pytest.mark.parametrize("vector", VECTORS)
def test_vector_replays_to_the_expected_output(vector: Any, fast: bool) -> None:
    machine = bangui_state.Machine(vector["bootstrap"])
    for number, (step, expected) in enumerate(zip(vector["steps"], vector["expected"], strict=True)):
        got = take(machine, step, fast)
        if got.get("error", "") is None:  # trace-level: only "rejected" is checkable here
            assert "error" in expected, f"step {number}"
            got["error"] = expected["error"]
        assert got == expected, f"step {number}"
