"""Typed usage of bangui_state that mypy --strict must accept (checked by test_typing.py)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import bangui_state
from bangui_state import Effect, Event, JailActivated, Machine, ProbeReport, State

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
