"""A small BanGUI-like host: a simulated health-probe loop over bangui_state.

Every tick it probes a (simulated) fail2ban and feeds the result to the
machine on the typed fast path. It carries out every effect: log records go
to the logger, a session-cache swap replaces its cache, a backend-capability
probe runs and its result goes back as an event; an effect it does not know
stops it. It saves the state after every step, with its clock, so a restart
resumes exactly where the last run stopped and time never runs backwards. A
jail activation that crashes fail2ban is detected, then resolved.

    python3 examples/python/probe_loop.py [--ticks N] [--state FILE]

The clock is simulated (5 s a tick) so the run is instant and deterministic;
with --state, each run continues the saved one's clock. Every instant it
prints or saves is written one way, as the state writes them:
YYYY-MM-DDTHH:MM:SS.ffffffZ.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bangui_state

TICK = timedelta(seconds=5)
START = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
SETTINGS = {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600,
            "database_path": "/var/lib/bangui/bangui.db"}


def format_instant(at: datetime) -> str:
    """The one time format of this host: the state's own (RFC 3339, UTC, microseconds, `Z`)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class SimulatedFail2ban:
    """Up, then down for a while after the jail at `crash_tick` is activated."""

    crash_tick: int = 3
    down_ticks: int = 4

    def probe(self, tick: int) -> tuple[bool, str | None, int]:
        down = self.crash_tick < tick <= self.crash_tick + self.down_ticks
        return (False, None, 0) if down else (True, "1.1.0", 2 if tick <= self.crash_tick else 3)


@dataclass
class SessionCache:
    """Stands in for BanGUI's session cache: `in_memory` or `no_op`."""

    kind: str
    sessions: dict[str, Any] = field(default_factory=dict)


class Host:
    """The machine, the host's side of every effect, and the saved file."""

    def __init__(self, state_file: Path | None, logger: Any) -> None:
        self.state_file = state_file
        self.logger = logger
        saved = json.loads(state_file.read_text()) if state_file is not None and state_file.exists() else None
        if saved is None:
            self.machine = bangui_state.Machine(SETTINGS)
            self.clock = START
        else:
            self.machine = bangui_state.Machine.restore(saved["state"])
            # Resume after the last instant the saved run used: time never runs backwards.
            self.clock = bangui_state.parse_instant(saved["clock"]) + TICK
        self.session_cache = SessionCache(self.machine.state["session_cache"])
        self.cache_swaps = 0
        self.backend_probes = 0

    def step(self, event: bangui_state.Event, now: datetime) -> None:
        self.carry_out(self.machine.step(event, now), now)
        self.save(now)

    def health_probe(self, online: bool, version: str | None, jails: int, now: datetime) -> bangui_state.ProbeReport:
        report = self.machine.health_probe(online, version, jails, now=now)
        self.carry_out(report.effects, now)
        self.save(now)
        return report

    def carry_out(self, effects: list[bangui_state.Effect], now: datetime) -> None:
        """Logs the log effects, then does every other one, in order; an unknown one stops the host."""
        for effect in bangui_state.log_effects(effects, self.logger):
            if effect["type"] == "session_cache_replaced":
                self.session_cache = SessionCache(effect["kind"])  # a new, empty cache of that kind
                self.cache_swaps += 1
            elif effect["type"] == "probe_backend_capability":
                self.backend_probes += 1
                supported = True  # the simulated fail2ban's backend answers the capability probe
                self.step({"type": "backend_probe_completed", "supported": supported}, now)
            else:
                raise RuntimeError(f"this host does not know the effect {effect!r}")

    def save(self, now: datetime) -> None:
        """The state and the clock, replaced atomically (a crash leaves the old file or the new one)."""
        if self.state_file is None:
            return
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps({"clock": format_instant(now), "state": json.loads(self.machine.state_json)}))
        os.replace(temporary, self.state_file)


def make_logger() -> Any:
    try:
        import structlog

        return structlog.get_logger("bangui.runtime_state")
    except ImportError:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(message)s", stream=sys.stdout)
        return logging.getLogger("bangui.runtime_state")


def run(ticks: int, state_file: Path | None, logger: Any) -> dict[str, Any]:
    host = Host(state_file, logger)
    fail2ban = SimulatedFail2ban()
    summary: dict[str, Any] = {"crashes": [], "recoveries": 0, "steady_probes": 0, "first_now": None}
    now = host.clock
    for tick in range(ticks):
        now = host.clock + tick * TICK
        summary["first_now"] = summary["first_now"] or format_instant(now)
        if tick == 0:  # BanGUI asks once whether the backend supports its command
            host.step({"type": "backend_probe_requested"}, now)
        if tick == fail2ban.crash_tick:
            host.step({"type": "jail_activated", "jail_name": "sshd"}, now)
        if tick == fail2ban.crash_tick + 1:  # an admin turns the session cache off, then on again
            host.step({"type": "settings_updated", "overrides": {"session_cache_enabled": False}}, now)
            host.step({"type": "settings_updated", "overrides": {"session_cache_enabled": True}}, now)
        report = host.health_probe(*fail2ban.probe(tick), now)
        if report.steady:
            summary["steady_probes"] += 1
        if report.crash_detected:
            summary["crashes"].append(report.seconds_since_activation)
        if report.recovery_resolved:
            summary["recoveries"] += 1
    deadline = host.machine.next_deadline(now)
    state = host.machine.state
    summary.update(
        last_now=format_instant(now),
        revision=host.machine.revision,
        cache_swaps=host.cache_swaps,
        session_cache=host.session_cache.kind,
        backend_probes=host.backend_probes,
        backend_supported=state["backend_capability"]["supported"],
        next_deadline=format_instant(deadline) if deadline else None,
        pending_recovery=state["pending_recovery"],
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ticks", type=int, default=12)
    parser.add_argument("--state", type=Path, default=None, help="save the state (and the clock) to this JSON file")
    args = parser.parse_args(argv)
    summary = run(args.ticks, args.state, make_logger())
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
