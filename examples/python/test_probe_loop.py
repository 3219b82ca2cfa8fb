"""The example host runs: it detects the crash after the activation, resolves
it when fail2ban returns, carries out every effect, saves after every step,
resumes its clock across restarts, and writes every instant one way."""
from __future__ import annotations

import importlib.util
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest

spec = importlib.util.spec_from_file_location("probe_loop", Path(__file__).with_name("probe_loop.py"))
assert spec is not None and spec.loader is not None
probe_loop = importlib.util.module_from_spec(spec)
sys.modules["probe_loop"] = probe_loop  # dataclasses look their module up
spec.loader.exec_module(probe_loop)

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LOGGER = logging.getLogger("test")


def saved(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def instants(value: Any) -> list[str]:
    """Every string in `value` that looks like a date and time, in any format."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in instants(v)]
    if isinstance(value, list):
        return [s for v in value for s in instants(v)]
    return [value] if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\d[T ]", value) else []


def test_probe_loop_detects_the_crash_and_its_recovery(tmp_path: Path) -> None:
    summary = probe_loop.run(12, tmp_path / "state.json", LOGGER)
    assert summary["crashes"] == [5.0]  # fail2ban gone at the probe 5 s after the activation
    assert summary["recoveries"] == 1
    assert summary["steady_probes"] == 12 - 3  # came online, went offline, came back
    assert summary["pending_recovery"]["recovered"] is True
    # 12 probes, 1 activation, 2 settings updates, the backend probe request and its result.
    assert summary["revision"] == 17


def test_the_state_is_saved_after_every_step(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    for ticks in (1, 4, 12):  # the last step of each run is a steady probe
        state.unlink(missing_ok=True)
        summary = probe_loop.run(ticks, state, LOGGER)
        assert saved(state)["state"]["revision"] == summary["revision"]
        assert saved(state)["clock"] == summary["last_now"]


def test_a_restart_resumes_the_clock_and_the_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = probe_loop.run(6, state, LOGGER)
    activated_first = saved(state)["state"]["last_activation"]["at"]
    second = probe_loop.run(6, state, LOGGER)
    assert first["last_now"] < second["first_now"]  # time never runs backwards across restarts
    assert saved(state)["state"]["last_activation"]["at"] > activated_first
    assert second["revision"] > first["revision"]


def test_every_effect_is_carried_out(tmp_path: Path) -> None:
    summary = probe_loop.run(12, None, LOGGER)
    assert summary["backend_probes"] == 1 and summary["backend_supported"] is True
    assert summary["cache_swaps"] == 2 and summary["session_cache"] == "in_memory"


def test_an_unknown_effect_stops_the_host_instead_of_vanishing(tmp_path: Path) -> None:
    host = probe_loop.Host(None, LOGGER)
    with pytest.raises(RuntimeError, match="does not know the effect"):
        host.carry_out([{"type": "something_new"}], probe_loop.START)


def test_every_instant_is_written_one_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.json"
    assert probe_loop.main(["--ticks", "5", "--state", str(state)]) == 0  # ends inside a crash window
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{\n"):])
    assert summary["revision"] == 10 and summary["next_deadline"] is not None
    written = instants(summary) + instants(saved(state))
    assert len(written) >= 8
    assert all(INSTANT.match(text) for text in written), written
