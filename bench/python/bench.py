#!/usr/bin/env python3
"""Benchmarks of the Python package (as installed), medians over repeats of timeit:

- health_probe           Machine.health_probe(True, "1.1.0", 2, now=<int Unix µs>): the fast path,
                         steady state (no transition), `now` in its cheapest documented form
- health_probe_datetime  the same with `now` an aware datetime
- step                   Machine.step(<the same probe as a dict>, <datetime>): a plain probe dict
                         takes the library's typed fast path; the effects come back as dicts
- step_micros            the same with `now` as int Unix microseconds
- step_new_dict          `step` with the event dict built in each call (as a host builds it from
                         fail2ban's answer, like the baseline's ServerStatus)
- step_jail_activated    Machine.step({"type": "jail_activated", ...}, <datetime>): the general
                         path (value checks, JSON to the library and back)
- baseline_plain_python  the seed's `process_health_probe_result` (below): its statements as
                         written, on dataclasses instead of BanGUI's pydantic models (cheaper),
                         each structlog call replaced by building the effect dict the library
                         returns (checked equal by self_check), the ServerStatus built per call as
                         a host builds it from fail2ban's answer

What it does not include: the seed's structlog calls themselves (a host of the
library makes them too, from the effects), pydantic validation.

All rows run in the same process on machines (and a baseline state) that are
already online, so every timed call is the steady state. The rows take turns,
one timeit run each per round, so that a load change on a shared machine hits
all of them alike; each row's figure is its median over the rounds.

usage: bench.py [--quick] [--out PATH]   (--quick: tiny counts, no output file; for make test)
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bangui_state
from bangui_state import _ffi

BOOTSTRAP = {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600}
T0 = datetime.datetime(2026, 4, 27, 16, 42, tzinfo=datetime.UTC)
T0_MICROS = 1_777_308_120_000_000
PROBE = {"type": "health_probe_completed", "status": {"online": True, "version": "1.1.0", "active_jails": 2}}

# ---------------------------------------------------------------------------
# The baseline: the seed's process_health_probe_result (BanGUI's
# app/utils/runtime_state.py), as plain Python: dataclass state, the status
# replaced, the same branches, and the effects the library returns (as dicts)
# instead of structlog calls. ServerStatus and PendingRecovery are pydantic
# models in BanGUI; plain dataclasses here, which are cheaper.
# ---------------------------------------------------------------------------
_ACTIVATION_CRASH_WINDOW = 60


@dataclass
class ServerStatus:
    online: bool
    version: str | None = None
    active_jails: int = 0


@dataclass(frozen=True)
class PendingRecovery:
    jail_name: str
    activated_at: datetime.datetime
    detected_at: datetime.datetime
    recovered: bool = False


@dataclass
class RuntimeState:
    setup_complete_cached: bool = False
    server_status: ServerStatus = field(default_factory=lambda: ServerStatus(online=False))
    pending_recovery: PendingRecovery | None = None
    last_activation: dict[str, Any] | None = None
    runtime_settings: dict[str, Any] | None = None


def _log(level: str, event: str, **fields: Any) -> dict[str, Any]:
    return {"type": "log", "level": level, "event": event, "fields": fields}


def process_health_probe_result(runtime_state: RuntimeState, status: ServerStatus,
                                now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    effects: list[dict[str, Any]] = []
    prev_status = getattr(runtime_state, "server_status", ServerStatus(online=False))
    runtime_state.server_status = status
    now = now if now is not None else datetime.datetime.now(tz=datetime.UTC)
    if status.online and not prev_status.online:
        effects.append(_log("info", "fail2ban_came_online", version=status.version))
        existing = runtime_state.pending_recovery
        if existing is not None and not existing.recovered:
            runtime_state.pending_recovery = PendingRecovery(
                jail_name=existing.jail_name,
                activated_at=existing.activated_at,
                detected_at=existing.detected_at,
                recovered=True,
            )
            effects.append(_log("info", "pending_recovery_resolved", jail=existing.jail_name))
    elif not status.online and prev_status.online:
        effects.append(_log("warning", "fail2ban_went_offline"))
        last_activation = runtime_state.last_activation
        if last_activation is not None:
            activated_at = last_activation["at"]
            seconds_since = (now - activated_at).total_seconds()
            if seconds_since <= _ACTIVATION_CRASH_WINDOW:
                jail_name = last_activation["jail_name"]
                current = runtime_state.pending_recovery
                if current is None or current.recovered:
                    runtime_state.pending_recovery = PendingRecovery(
                        jail_name=jail_name, activated_at=activated_at, detected_at=now)
                    effects.append(_log("warning", "activation_crash_detected", jail=jail_name,
                                        seconds_since_activation=seconds_since))
    effects.append(_log("debug", "health_check_complete", online=status.online, version=status.version,
                        active_jails=status.active_jails))
    return effects


def baseline_probe(state: RuntimeState, online: bool, version: str | None, active_jails: int,
                   now: datetime.datetime) -> list[dict[str, Any]]:
    """The same inputs as Machine.health_probe: the status is built from them, as a host builds
    it from fail2ban's answer on every probe."""
    return process_health_probe_result(state, ServerStatus(online=online, version=version,
                                                           active_jails=active_jails), now)


# ---------------------------------------------------------------------------


def interleaved_medians_ns(stmts: list[Any], number: int, repeat: int) -> list[float]:
    """Per statement, the median over `repeat` rounds of one timeit run of `number` calls; the
    statements take turns within each round."""
    timers = [timeit.Timer(stmt) for stmt in stmts]
    runs: list[list[float]] = [[] for _ in stmts]
    for _ in range(repeat):
        for timer, times in zip(timers, runs):
            times.append(timer.timeit(number))
    return [statistics.median(times) / number * 1e9 for times in runs]


def self_check() -> None:
    """The baseline does what the library does, for a whole probe story."""
    m = bangui_state.Machine(BOOTSTRAP)
    state = RuntimeState()
    story = [(True, "1.1.0", 2, 0), (True, "1.1.0", 2, 5), (False, None, 0, 22.5), (True, "1.1.1", 3, 40),
             (False, None, 0, 50), (False, None, 0, 51)]
    activation = T0 + datetime.timedelta(seconds=10)
    for online, version, jails, at in story:
        now = T0 + datetime.timedelta(seconds=at)
        if at == 22.5:
            m.step({"type": "jail_activated", "jail_name": "sshd"}, activation)
            state.last_activation = {"jail_name": "sshd", "at": activation}
        got = baseline_probe(state, online, version, jails, now)
        want = m.health_probe(online, version, jails, now=now).effects
        if got != want:
            raise SystemExit(f"bench: the baseline disagrees with the library at +{at}s:\n {got}\n {want}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts, no output file")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    number, repeat = (20, 1) if args.quick else (100_000, 11)

    self_check()
    machine = bangui_state.Machine(BOOTSTRAP)
    machine.health_probe(True, "1.1.0", 2, now=T0)  # online: every timed probe is steady
    step_machine = bangui_state.Machine(BOOTSTRAP)
    step_machine.step(PROBE, T0)
    state = RuntimeState()
    baseline_probe(state, True, "1.1.0", 2, T0)
    assert machine.health_probe(True, "1.1.0", 2, now=T0_MICROS).steady

    probe = machine.health_probe
    step = step_machine.step
    activation = {"type": "jail_activated", "jail_name": "sshd"}
    rows = [
        ("health_probe", lambda: probe(True, "1.1.0", 2, T0_MICROS),
         "Machine.health_probe(True, \"1.1.0\", 2, now=<int Unix µs>), steady state"),
        ("health_probe_datetime", lambda: probe(True, "1.1.0", 2, T0),
         "the same, now=<aware datetime>"),
        ("step", lambda: step(PROBE, T0),
         "Machine.step(<the probe as a dict>, <aware datetime>): the dict read into the typed fast path, "
         "effect dicts back"),
        ("step_micros", lambda: step(PROBE, T0_MICROS), "the same, now=<int Unix µs>"),
        ("step_new_dict",
         lambda: step({"type": "health_probe_completed", "status": {"online": True, "version": "1.1.0",
                                                                    "active_jails": 2}}, T0),
         "step, the event dict built in each call (as the baseline builds its ServerStatus)"),
        ("step_jail_activated", lambda: step(activation, T0),
         "Machine.step({\"type\": \"jail_activated\", ...}, <aware datetime>): the general path, JSON both ways"),
        ("baseline_plain_python", lambda: baseline_probe(state, True, "1.1.0", 2, T0),
         "the seed's process_health_probe_result as written (dataclasses; effect dicts for its structlog calls), "
         "ServerStatus built per call"),
    ]
    results = []
    for (name, _, note), ns in zip(rows, interleaved_medians_ns([stmt for _, stmt, _ in rows], number, repeat)):
        print(f"{name:22s} {ns:9.1f} ns")
        results.append({"name": name, "median_ns": round(ns, 2), "note": note})
    if args.quick or not args.out:
        return 0
    title = (f"Python {platform.python_version()} via the installed package (cffi {_ffi.MODE.upper()} mode; "
             f"timeit, median of {repeat} interleaved runs of {number} calls)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"title": title, "rows": results}, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
