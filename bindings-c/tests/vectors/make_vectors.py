"""Writes binding.jsonl: traces this binding's tests replay besides the
project's tests/vectors/, with the expected output taken from the core's
replay CLI (`bangui-state replay --json`). Run from the repository root:

    python3 bindings-c/tests/vectors/make_vectors.py
"""
import json
import subprocess
import sys
from pathlib import Path

BOOT = {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600,
        "database_path": "/var/lib/bangui/bangui.db", "nested": {"a": [1, 2.5, None]}}


def t(s):
    return f"2026-04-27T16:{s}Z"


TRACES = [
    {"name": "every event type once, in order", "bootstrap": BOOT, "steps": [
        {"now": t("40:00.000000"), "event": {"type": "health_probe_completed",
                                               "status": {"online": True, "version": "1.1.0", "active_jails": 2, "extra": "kept"}}},
        {"now": t("40:10.000000"), "event": {"type": "jail_activated", "jail_name": "sshd"}},
        {"now": t("40:20.250000"), "event": {"type": "health_probe_completed", "status": {"online": False}}},
        {"now": t("40:30.000000"), "event": {"type": "health_probe_completed",
                                               "status": {"online": True, "version": "1.1.0", "active_jails": 3}}},
        {"now": t("40:31.000000"), "event": {"type": "pending_recovery_cleared"}},
        {"now": t("40:32.000000"), "event": {"type": "activation_cleared"}},
        {"now": t("40:33.000000"), "event": {"type": "pending_recovery_created", "jail_name": "nginx",
                                               "activated_at": "2026-04-27T18:40:00+02:00"}},
        {"now": t("40:34.000000"), "event": {"type": "runtime_settings_set",
                                               "settings": {"session_cache_enabled": False, "session_cache_ttl_seconds": 0, "x": 1}}},
        {"now": t("40:35.000000"), "event": {"type": "settings_updated", "overrides": {"session_cache_ttl_seconds": 10}}},
        {"now": t("40:36.000000"), "event": {"type": "setup_completion_cached", "complete": True}},
        {"now": t("40:37.000000"), "event": {"type": "backend_probe_requested"}},
        {"now": t("40:38.000000"), "event": {"type": "backend_probe_requested"}},
        {"now": t("40:39.000000"), "event": {"type": "backend_probe_failed", "reason": "timeout"}},
        {"now": t("40:40.000000"), "event": {"type": "backend_probe_requested"}},
        {"now": t("40:41.000000"), "event": {"type": "backend_probe_completed", "supported": False}},
        {"now": t("40:42.000000"), "event": {"type": "backend_capability_reset"}},
    ]},
    {"name": "rejected steps leave the state unchanged", "bootstrap": BOOT, "steps": [
        {"now": t("41:00.000000"), "event": {"type": "health_probe_completed", "status": {"online": "yes"}}},
        {"now": t("41:01.000000"), "event": {"type": "no_such_event"}},
        {"now": "yesterday", "event": {"type": "activation_cleared"}},
        {"now": t("41:02.000000"), "event": {"type": "jail_activated", "jail_name": "sshd", "at": "bad"}},
        {"now": t("41:03.000000"), "event": {"type": "settings_updated", "overrides": {"session_cache_enabled": 1}}},
        {"now": t("41:04.000000"), "event": {"type": "health_probe_completed",
                                               "status": {"online": True, "active_jails": 18446744073709551615}}},
        {"now": t("41:05.000000"), "event": {"type": "jail_activated", "jail_name": "zé \u00e9 \u2603"}},
    ]},
    {"name": "crash window edge, 60 s inclusive, then just outside", "bootstrap": BOOT, "steps": [
        {"now": t("42:00.000000"), "event": {"type": "health_probe_completed", "status": {"online": True}}},
        {"now": t("42:00.000000"), "event": {"type": "jail_activated", "jail_name": "a", "at": t("41:00.000000")}},
        {"now": t("42:00.000000"), "event": {"type": "health_probe_completed", "status": {"online": False}}},
        {"now": t("42:10.000000"), "event": {"type": "health_probe_completed", "status": {"online": True, "version": None}}},
        {"now": t("42:10.000000"), "event": {"type": "jail_activated", "jail_name": "b"}},
        {"now": "2026-04-27T16:43:10.000001Z", "event": {"type": "health_probe_completed", "status": {"online": False}}},
    ]},
]


def main():
    out = Path(__file__).with_name("binding.jsonl")
    lines = []
    for trace in TRACES:
        text = json.dumps(trace, ensure_ascii=False)
        run = subprocess.run(["cargo", "run", "-q", "-p", "bangui-state-cli", "--bin", "bangui-state", "--",
                              "replay", "-", "--json"], input=text, capture_output=True, text=True, check=True)
        trace["expected"] = json.loads(run.stdout)
        lines.append(json.dumps(trace, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} traces to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
