"""log_effects logs what the seed logged, with structlog or logging."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import structlog

import bangui_state

T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)


def crash_story(bootstrap: dict[str, Any]) -> list[Any]:
    m = bangui_state.Machine(bootstrap)
    effects = list(m.health_probe(True, "1.1.0", 2, now=T0).effects)
    effects += m.step({"type": "jail_activated", "jail_name": "sshd"}, T0 + timedelta(seconds=1))
    effects += m.health_probe(False, now=T0 + timedelta(seconds=13)).effects
    effects += m.step({"type": "settings_updated", "overrides": {"session_cache_enabled": False}}, T0)
    return effects


def test_structlog_gets_the_seeds_calls(bootstrap: dict[str, Any]) -> None:
    with structlog.testing.capture_logs() as logs:
        rest = bangui_state.log_effects(crash_story(bootstrap), structlog.get_logger())
    assert logs == [
        {"event": "fail2ban_came_online", "version": "1.1.0", "log_level": "info"},
        {"event": "health_check_complete", "online": True, "version": "1.1.0", "active_jails": 2,
         "log_level": "debug"},
        {"event": "fail2ban_went_offline", "log_level": "warning"},
        {"event": "activation_crash_detected", "jail": "sshd", "seconds_since_activation": 12.0,
         "log_level": "warning"},
        {"event": "health_check_complete", "online": False, "version": None, "active_jails": 0,
         "log_level": "debug"},
        {"event": "session_cache_updated", "cache_type": "NoOpSessionCache", "log_level": "debug"},
    ]
    assert rest == [{"type": "session_cache_replaced", "kind": "no_op"}]


def test_stdlib_logging_gets_level_event_and_fields(bootstrap: dict[str, Any],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("bangui.runtime_state")
    with caplog.at_level(logging.DEBUG, logger="bangui.runtime_state"):
        bangui_state.log_effects(crash_story(bootstrap), logger)
    got = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert got[0] == ("INFO", "fail2ban_came_online version='1.1.0'")
    assert got[3] == ("WARNING", "activation_crash_detected jail='sshd' seconds_since_activation=12.0")
    assert caplog.records[3].bangui_fields == {"jail": "sshd", "seconds_since_activation": 12.0}  # type: ignore[attr-defined]
    assert len(got) == 6
