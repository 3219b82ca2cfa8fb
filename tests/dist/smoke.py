"""A short check of an installed bangui_state (make test-dist runs it with the
wheel built from the sdist, and with the abi3 wheel on every other CPython it
finds): it comes from this venv, uses both compiled extensions, and steps as
the core says, through the C fast path (a probe dict with a datetime `now` and
an int one), the JSON path and a shared SQLite store.

usage: python smoke.py   (prints one line: the interpreter and the library version)"""
from __future__ import annotations

import platform
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bangui_state
from bangui_state import _ffi, machine
from bangui_state.shared import SharedMachine, SqliteStore

assert Path(bangui_state.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), bangui_state.__file__
assert _ffi.MODE == "api", _ffi.MODE
assert machine._c_step_probe is not None, "bangui_state._speedups did not load"

SETTINGS = {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600}
T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
probe = {"type": "health_probe_completed", "status": {"online": True, "version": "1.1.0", "active_jails": 2}}

m = bangui_state.Machine(SETTINGS)
assert m.step(probe, T0)[0]["event"] == "fail2ban_came_online"
steady = m.step(probe, T0 + timedelta(seconds=5))  # the C fast path, datetime now
assert steady == [{"type": "log", "level": "debug", "event": "health_check_complete",
                   "fields": {"online": True, "version": "1.1.0", "active_jails": 2}}], steady
assert m.step(probe, bangui_state.to_unix_micros(T0) + 10_000_000) == steady  # int now
m.step({"type": "jail_activated", "jail_name": "sshd"}, T0 + timedelta(seconds=30))
report = m.health_probe(False, now=T0 + timedelta(seconds=42))
assert report.crash_detected and report.seconds_since_activation == 12.0, report
assert m.state["pending_recovery"]["jail_name"] == "sshd" and m.revision == 5, m.state

with tempfile.TemporaryDirectory() as tmp:
    shared = SharedMachine(SqliteStore(str(Path(tmp) / "state.db")), SETTINGS)
    shared.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    assert shared.state["last_activation"]["jail_name"] == "sshd"

print(f"{platform.python_implementation()} {platform.python_version()}: bangui_state {bangui_state.__version__} "
      f"(libbangui_state {bangui_state.LIBRARY_VERSION}) from {Path(bangui_state.__file__).parent}: ok")
