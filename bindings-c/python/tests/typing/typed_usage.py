"""Typed usage of bangui_state that mypy --strict must accept (checked by test_typing.py)."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import assert_type

import bangui_state
from bangui_state import Effect, Event, JailActivated, Machine, ProbeReport, Settings, State
from bangui_state.shared import AsyncSharedMachine, SharedMachine

machine = Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 3600})
now = datetime.now(timezone.utc)

probe: Event = {"type": "health_probe_completed", "status": {"online": True, "version": "1.1.0", "active_jails": 2}}
activation: JailActivated = {"type": "jail_activated", "jail_name": "sshd"}
effects: list[Effect] = machine.step(probe, now)
effects += machine.step(activation, time.time_ns() // 1000)
effects += machine.step({"type": "settings_updated", "overrides": {"session_cache_enabled": False}})
effects += machine.step({"type": "backend_probe_failed"}, now)

for effect in effects:
    if effect["type"] == "log":
        level: str = effect["level"]
        fields: dict[str, object] = effect["fields"]
    elif effect["type"] == "session_cache_replaced":
        kind: str = effect["kind"]

report: ProbeReport = machine.health_probe(False, None, 0, now=now)
flags: tuple[bool, bool, bool] = (report.steady, report.crash_detected, report.came_online)
seconds: float | None = report.seconds_since_activation

state: State = machine.state
revision: int = state["revision"]
online: bool = state["server_status"]["online"]
pending = state["pending_recovery"]
if pending is not None:
    jail: str = pending["jail_name"]
copy = Machine.restore(state)
deadline: datetime | None = copy.next_deadline(now)
rest: list[Effect] = bangui_state.log_effects(effects, None)

try:
    machine.step_json('{"type": "activation_cleared"}', now)
except bangui_state.NotJsonError as e:
    where: str = e.path


def reads(reader: Machine | SharedMachine | AsyncSharedMachine) -> int:
    """The shared machines' properties have exactly Machine's types (a union
    of differing types would fail each assert_type)."""
    assert_type(reader.state, State)
    assert_type(reader.revision, int)
    assert_type(reader.state_json, str)
    assert_type(reader.effective_settings, Settings)
    shared_state: State = reader.state
    return reader.revision + len(reader.state_json) + shared_state["revision"]
