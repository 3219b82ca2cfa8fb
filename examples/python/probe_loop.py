"""A small BanGUI-like host: a simulated health-probe loop over bangui_state.

Every tick it probes a (simulated) fail2ban, feeds the result to the machine on
the typed fast path, logs what the seed would have logged, and persists the
state only when something happened (the steady state needs no JSON at all).
A jail activation that crashes fail2ban is detected, then resolved.

    python3 examples/python/probe_loop.py [--ticks N] [--state FILE]

The clock is simulated (5 s a tick) so the run is instant and deterministic.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bangui_state

TICK = timedelta(seconds=5)
START = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
SETTINGS = {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600,
            "database_path": "/var/lib/bangui/bangui.db"}


@dataclass
class SimulatedFail2ban:
    """Up, then down for a while after the jail at `crash_tick` is activated."""

    crash_tick: int = 3
    down_ticks: int = 4

    def probe(self, tick: int) -> tuple[bool, str | None, int]:
        down = self.crash_tick < tick <= self.crash_tick + self.down_ticks
        return (False, None, 0) if down else (True, "1.1.0", 2 if tick <= self.crash_tick else 3)


def make_logger() -> Any:
    try:
        import structlog

        return structlog.get_logger("bangui.runtime_state")
    except ImportError:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(message)s", stream=sys.stdout)
        return logging.getLogger("bangui.runtime_state")


def run(ticks: int, state_file: Path | None, logger: Any) -> dict[str, Any]:
    if state_file is not None and state_file.exists():
        machine = bangui_state.Machine.restore(json.loads(state_file.read_text()))
    else:
        machine = bangui_state.Machine(SETTINGS)
    fail2ban = SimulatedFail2ban()
    summary: dict[str, Any] = {"crashes": [], "recoveries": 0, "steady_probes": 0}
    for tick in range(ticks):
        now = START + tick * TICK
        if tick == fail2ban.crash_tick:
            effects = machine.step({"type": "jail_activated", "jail_name": "sshd"}, now)
            bangui_state.log_effects(effects, logger)
        online, version, jails = fail2ban.probe(tick)
        report = machine.health_probe(online, version, jails, now=now)
        bangui_state.log_effects(report.effects, logger)
        if report.steady:
            summary["steady_probes"] += 1
            continue
        if report.crash_detected:
            summary["crashes"].append(report.seconds_since_activation)
        if report.recovery_resolved:
            summary["recoveries"] += 1
        if state_file is not None:
            state_file.write_text(machine.state_json)
    deadline = machine.next_deadline(START + ticks * TICK)
    summary["revision"] = machine.revision
    summary["next_deadline"] = deadline.isoformat() if deadline else None
    summary["pending_recovery"] = machine.state["pending_recovery"]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=12)
    parser.add_argument("--state", type=Path, default=None, help="persist the state to this JSON file")
    args = parser.parse_args(argv)
    summary = run(args.ticks, args.state, make_logger())
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
