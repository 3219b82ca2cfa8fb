"""The Machine API: construction, restore, state, revision, deadlines,
settings, the fast path, and the datetime rules."""
from __future__ import annotations

import math
import random
import struct
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import bangui_state
from bangui_state import Machine

T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)


def test_a_new_machine_starts_at_revision_zero_with_the_bootstrap_settings(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    assert m.revision == 0
    assert m.state["bootstrap_settings"] == bootstrap
    assert m.state["session_cache"] == "in_memory"
    assert m.effective_settings == bootstrap


def test_step_returns_effects_and_counts_the_event(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    effects = m.step({"type": "settings_updated", "overrides": {"session_cache_enabled": False}}, T0)
    assert effects == [
        {"type": "session_cache_replaced", "kind": "no_op"},
        {"type": "log", "level": "debug", "event": "session_cache_updated",
         "fields": {"cache_type": "NoOpSessionCache"}},
    ]
    assert m.revision == 1
    assert m.effective_settings["session_cache_enabled"] is False


def test_restore_round_trips_the_state(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    m.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    copy = Machine.restore(m.state)
    assert copy.state_json == m.state_json
    assert Machine.restore_json(m.state_json).revision == 1


def test_next_deadline_is_the_crash_window_end_then_none(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    assert m.next_deadline(T0) is None
    m.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    assert m.next_deadline(T0 + timedelta(seconds=18)) == T0 + timedelta(seconds=60)
    assert m.next_deadline(T0 + timedelta(seconds=60, microseconds=1)) is None


def test_now_with_any_offset_is_the_same_instant(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    paris = timezone(timedelta(hours=2))
    m.step({"type": "jail_activated", "jail_name": "sshd"}, datetime(2026, 4, 27, 18, 42, 0, 123456, tzinfo=paris))
    assert m.state["last_activation"]["at"] == "2026-04-27T16:42:00.123456Z"


def test_naive_datetimes_are_rejected_as_ambiguous(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    with pytest.raises(bangui_state.NaiveDatetimeError, match="naive datetime .* is ambiguous"):
        m.step({"type": "activation_cleared"}, datetime(2026, 4, 27, 16, 42))
    with pytest.raises(bangui_state.InvalidInstantError):
        m.health_probe(True, now=datetime(2026, 4, 27, 16, 42))
    with pytest.raises(bangui_state.NaiveDatetimeError):
        m.next_deadline(datetime(2026, 4, 27))
    assert m.revision == 0


def test_fast_path_reports_the_seed_log_events_and_matches_step(bootstrap: dict[str, Any]) -> None:
    fast, slow = Machine(bootstrap), Machine(bootstrap)

    def both(online: bool, version: str | None, jails: int, at: datetime) -> bangui_state.ProbeReport:
        report = fast.health_probe(online, version, jails, now=at)
        event = {"type": "health_probe_completed", "status": {"online": online, "version": version,
                                                              "active_jails": jails}}
        assert report.effects == slow.step(event, at)
        assert fast.state_json == slow.state_json
        assert report.revision == slow.revision
        return report

    r = both(True, "1.1.0", 2, T0)
    assert r.came_online and not r.steady
    assert both(True, "1.1.0", 2, T0 + timedelta(seconds=5)).steady
    for m in (fast, slow):
        m.step({"type": "jail_activated", "jail_name": "sshd"}, T0 + timedelta(seconds=10))
    r = both(False, None, 0, T0 + timedelta(seconds=22, microseconds=500000))
    assert r.went_offline and r.crash_detected and r.seconds_since_activation == 12.5
    assert r.effects[1]["fields"] == {"jail": "sshd", "seconds_since_activation": 12.5}
    r = both(True, "1.1.1", 3, T0 + timedelta(seconds=40))
    assert r.came_online and r.recovery_resolved
    assert r.logs == (bangui_state.LOG_FAIL2BAN_CAME_ONLINE | bangui_state.LOG_PENDING_RECOVERY_RESOLVED
                      | bangui_state.LOG_HEALTH_CHECK_COMPLETE)


def test_a_closed_machine_raises_instead_of_crashing(bootstrap: dict[str, Any]) -> None:
    with Machine(bootstrap) as m:
        m.step({"type": "activation_cleared"}, T0)
    with pytest.raises(bangui_state.NullArgumentError, match="machine: must not be NULL"):
        _ = m.revision
    m.close()  # closing twice is fine


def test_library_version_is_the_package_version() -> None:
    assert bangui_state.LIBRARY_VERSION == bangui_state.__version__


def test_parse_instant_truncates_to_the_microsecond() -> None:
    assert bangui_state.parse_instant("2026-04-27T18:42:00.0000019+02:00") == T0 + timedelta(microseconds=1)
    with pytest.raises(bangui_state.InvalidInstantError, match="expected an RFC 3339 instant"):
        bangui_state.parse_instant("yesterday")


def test_now_as_int_unix_microseconds_is_the_same_instant(bootstrap: dict[str, Any]) -> None:
    by_datetime, by_int = Machine(bootstrap), Machine(bootstrap)
    micros = bangui_state.to_unix_micros(T0)
    assert micros == 1_777_308_120_000_000
    by_datetime.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    by_int.step({"type": "jail_activated", "jail_name": "sshd"}, micros)
    assert by_datetime.health_probe(True, now=T0 + timedelta(microseconds=7)) == \
        by_int.health_probe(True, now=micros + 7)
    assert by_datetime.state_json == by_int.state_json
    assert by_int.next_deadline(micros) == T0 + timedelta(seconds=60)
    with pytest.raises(bangui_state.InvalidInstantError, match="not Unix microseconds of this era"):
        by_int.health_probe(True, now=2**63)
    with pytest.raises(TypeError):
        by_int.step({"type": "activation_cleared"}, True)  # a bool is not an instant
    assert by_int.revision == 2


def test_steady_state_effects_come_from_the_library(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    m.health_probe(True, "1.1.0", 2, now=T0)
    report = m.health_probe(True, "1.1.0", 2, now=T0 + timedelta(seconds=5))
    assert report.steady and report[3] is None  # no effects JSON was built by the probe
    assert report.effects == [{"type": "log", "level": "debug", "event": "health_check_complete",
                               "fields": {"online": True, "version": "1.1.0", "active_jails": 2}}]


def test_a_steady_probe_at_a_huge_revision_reports_it_exactly(bootstrap: dict[str, Any]) -> None:
    """Revisions too large for the API-mode glue's packed result take the full report."""
    m = Machine(bootstrap)
    m.health_probe(True, "1.1.0", 2, now=T0)
    state = m.state
    state["revision"] = 2**64 - 3
    big = Machine.restore(state)
    report = big.health_probe(True, "1.1.0", 2, now=T0)
    assert report.steady and report.revision == 2**64 - 2
    assert report.effects[0]["event"] == "health_check_complete"
    assert big.health_probe(True, "1.1.0", 2, now=T0).revision == 2**64 - 1


def test_floats_in_settings_come_back_exactly() -> None:
    # Doubles that serde_json's default (fast, inexact) parser read one ulp off;
    # the library is built with exact parsing, so Python gets its own floats back.
    rng = random.Random(1234)
    values = [1.079907802215119e-66, 1.862392953319225e-60, 0.30000000000000004, 5e-324]
    values += [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(2000)]
    values = [v for v in values if math.isfinite(v)]
    m = Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 3600, "floats": values})
    assert m.state["bootstrap_settings"]["floats"] == values


def test_probe_report_repr_says_what_happened_not_a_bitmask(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    m.health_probe(True, "1.1.0", 2, now=T0)
    m.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    text = repr(m.health_probe(False, now=T0 + timedelta(seconds=12, microseconds=500000)))
    assert text.startswith("ProbeReport(revision=3, steady=False, came_online=False, recovery_resolved=False, "
                           "went_offline=True, crash_detected=True, seconds_since_activation=12.5, effects=[")
    assert "'event': 'activation_crash_detected'" in text and "logs=" not in text
    steady = repr(m.health_probe(False, now=T0 + timedelta(seconds=13)))
    assert steady.startswith("ProbeReport(revision=4, steady=True,") and "'event': 'health_check_complete'" in steady
