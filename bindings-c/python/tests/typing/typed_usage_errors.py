"""Typed usage mypy --strict must REFUSE: each line ending in an "E" comment (error code, then text)
must give an error of that code whose message holds that text, and no other
line any error (checked by test_typing.py)."""
from __future__ import annotations

from datetime import datetime, timezone

from bangui_state import Effect, Machine
from bangui_state.shared import AsyncSharedMachine, SharedMachine

machine = Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 3600})
now = datetime.now(timezone.utc)

machine.step({"type": "jail_activatd", "jail_name": "sshd"}, now)  # E: typeddict-item: "Literal['jail_activatd']"
machine.step({"type": "jail_activated", "jail_nam": "sshd"}, now)  # E: arg-type: expected "HealthProbeCompleted | JailActivated
machine.step({"type": "health_probe_completed", "status": {"online": "yes"}}, now)  # E: typeddict-item: item "online" has type "bool"
machine.step({"type": "activation_cleared"}, "2026-04-27T16:42:00Z")  # E: arg-type: expected "datetime | int | None"
effects: list[Effect] = machine.step({"type": "activation_cleared"}, now)
fields = effects[0]["fields"]  # E: typeddict-item: has no key "fields"
revision = machine.state["revison"]  # E: typeddict-item: "State" has no key "revison"
machine.health_probe("yes", now=now)  # E: arg-type: Argument 1 to "health_probe" of "Machine" has incompatible type "str"


def shared_calls(shared: SharedMachine, other: AsyncSharedMachine) -> None:
    """The call spelling of the properties, deprecated at run time, is refused here, as on Machine."""
    shared.state()  # E: misc: "State" not callable
    other.revision()  # E: operator: "int" not callable
