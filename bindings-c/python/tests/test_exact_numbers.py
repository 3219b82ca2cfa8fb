"""Values carried through the state (unknown settings keys, overrides, extra
status keys) come back as the same JSON value: Python ints of any size stay
exact ints, floats the same float, and JSON text keeps every digit it was
written with. A value nested deeper than the core's limit is refused naming
its key, the machine unchanged."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

import bangui_state
from bangui_state import Machine

T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
BIG = 123456789012345678901234567890
MAX_PASS_THROUGH_DEPTH = 100


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 == 0 else {"k": value}
    return value


@pytest.mark.parametrize(
    "number",
    [BIG, -BIG, 2**64, 2**64 - 1, -(2**63) - 1, 2**53 + 1, 10**80 + 1, 0.1, 5e-324, 1.7976931348623157e308, -0.0],
)
def test_numbers_come_back_as_the_same_value(bootstrap: dict[str, Any], number: int | float) -> None:
    m = Machine({**bootstrap, "carried": number})
    m.step({"type": "health_probe_completed", "status": {"online": True, "carried": [number]}}, T0)
    m.step({"type": "settings_updated", "overrides": {"nested": {"carried": number}}}, T0)
    for state in (m.state, Machine.restore(m.state).state, Machine.restore_json(m.state_json).state):
        for value in (
            state["bootstrap_settings"]["carried"],
            state["server_status"]["carried"][0],
            state["runtime_settings"]["nested"]["carried"],
        ):
            assert type(value) is type(number)
            assert value == number
            assert repr(value) == repr(number)  # -0.0 stays -0.0
    assert m.effective_settings["carried"] == number


def test_json_text_keeps_every_digit(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    exact = "0.1000000000000000000000000000001"
    m.step_json(
        f'{{"type": "health_probe_completed", "status": {{"online": true, "big": {BIG}, "exact": {exact}}}}}', T0
    )
    text = m.state_json
    assert f'"big":{BIG}' in text
    assert f'"exact":{exact}' in text
    assert f'"exact":{exact}' in Machine.restore_json(text).state_json


def test_the_deepest_accepted_value_restores_and_one_deeper_is_refused(bootstrap: dict[str, Any]) -> None:
    m = Machine({**bootstrap, "deep": nested(MAX_PASS_THROUGH_DEPTH)})
    m.step({"type": "health_probe_completed", "status": {"online": True, "deep": nested(MAX_PASS_THROUGH_DEPTH)}}, T0)
    assert Machine.restore_json(m.state_json).state_json == m.state_json
    assert json.loads(m.state_json)["server_status"]["deep"] == nested(MAX_PASS_THROUGH_DEPTH)

    before = m.state_json
    with pytest.raises(bangui_state.Error) as error:
        m.step(
            {"type": "health_probe_completed", "status": {"online": True, "deep": nested(MAX_PASS_THROUGH_DEPTH + 1)}},
            T0,
        )
    assert str(error.value).startswith("event.status.deep: nested deeper than 100 levels")
    assert m.state_json == before

    with pytest.raises(bangui_state.Error) as error:
        Machine({**bootstrap, "deep": nested(MAX_PASS_THROUGH_DEPTH + 1)})
    assert str(error.value).startswith("bootstrap.deep: nested deeper than 100 levels")
