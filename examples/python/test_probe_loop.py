"""The example host runs: it detects the crash after the activation, resolves
it when fail2ban returns, and persists a state it can restore from."""
from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("probe_loop", Path(__file__).with_name("probe_loop.py"))
assert spec is not None and spec.loader is not None
probe_loop = importlib.util.module_from_spec(spec)
sys.modules["probe_loop"] = probe_loop  # dataclasses look their module up
spec.loader.exec_module(probe_loop)


def test_probe_loop_detects_the_crash_and_its_recovery(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    summary = probe_loop.run(12, state, logging.getLogger("test"))
    assert summary["crashes"] == [5.0]  # fail2ban gone at the probe 5 s after the activation
    assert summary["recoveries"] == 1
    assert summary["revision"] == 13  # 12 probes and 1 activation
    assert summary["steady_probes"] == 12 - 3  # came online, went offline, came back
    assert summary["pending_recovery"]["recovered"] is True
    restored = json.loads(state.read_text())
    # Persisted when something happened: last at the recovery (tick 8: 9 probes, 1 activation).
    assert restored["revision"] == 10 and restored["server_status"]["online"] is True


def test_probe_loop_main_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_loop.main(["--ticks", "4"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{\n"):])["revision"] == 5
