"""The app in this process (uvicorn in a thread, one worker, SQLite), with no
fail2ban at its socket: the API's answers to bad input, and the event stream.
The whole story with real processes is in test_e2e.py."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from app import Config, create_app
from conftest import free_port, wait_for



@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    config = Config(fail2ban_socket=str(tmp_path / "no-fail2ban.sock"), sqlite_path=str(tmp_path / "state.db"),
                    probe_interval=60, log_retention=3)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=free_port(),
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_for("uvicorn to start", lambda: server.started)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join()


def state(client: httpx.Client) -> dict[str, object]:
    return client.get("/api/state").json()["state"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("body", "error"), [
    ({"session_cache_enabled": "yes"}, "event.overrides.session_cache_enabled: expected a boolean, found a string"),
    ({"session_cache_ttl_seconds": None}, "event.overrides.session_cache_ttl_seconds: expected a finite number, found null"),
    ([1, 2], "event.overrides: expected an object, found an array"),
])
def test_bad_settings_answer_400_with_the_core_s_message_and_change_nothing(
        client: httpx.Client, body: object, error: str) -> None:
    before = state(client)
    response = client.put("/api/settings", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert state(client) == before


def test_a_body_that_is_not_json_is_a_400(client: httpx.Client) -> None:
    response = client.put("/api/settings", content=b"{")
    assert response.status_code == 400 and response.json()["error"].startswith("body: not JSON")


def test_activating_a_jail_with_fail2ban_down_is_a_502_and_records_nothing(client: httpx.Client) -> None:
    response = client.post("/api/jails/sshd/activate")
    assert response.status_code == 502 and "add sshd polling" in response.json()["error"]
    assert state(client)["last_activation"] is None


def test_the_state_endpoint_has_the_effective_settings_and_the_deadline(client: httpx.Client) -> None:
    client.put("/api/settings", json={"session_cache_ttl_seconds": 0}).raise_for_status()
    body = client.get("/api/state").json()
    assert body["effective_settings"] == {"session_cache_enabled": True, "session_cache_ttl_seconds": 0}
    assert body["state"]["session_cache"] == "no_op"
    assert body["worker"]["session_cache"] == "no_op"  # the hook installed it in this worker
    assert body["next_deadline"] is None


def events(client: httpx.Client, after: int, count: int) -> list[tuple[str, dict[str, object]]]:
    """The first `count` events of /api/events?after=N, as (type, data)."""
    got: list[tuple[str, dict[str, object]]] = []
    with client.stream("GET", f"/api/events?after={after}") as stream:
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: "):
                got.append((kind, json.loads(line[len("data: "):])))
                if len(got) == count:
                    break
    return got


def test_the_event_stream_replays_committed_revisions(client: httpx.Client) -> None:
    start = int(state(client)["revision"])  # type: ignore[call-overload]
    client.put("/api/settings", json={"session_cache_enabled": False}).raise_for_status()
    client.put("/api/settings", json={"session_cache_enabled": True}).raise_for_status()
    (first, second) = events(client, start, 2)
    assert first[0] == "commit" and first[1]["revision"] == start + 1
    assert first[1]["event"] == {"type": "settings_updated", "overrides": {"session_cache_enabled": False}}
    assert str(first[1]["now"]).endswith("Z")
    assert second[1]["revision"] == start + 2
    assert second[1]["event"] == {"type": "settings_updated", "overrides": {"session_cache_enabled": True}}


def test_a_page_further_behind_than_the_log_is_told_to_start_again(client: httpx.Client) -> None:
    for enabled in (False, True, False, True, False):  # the log keeps 3
        client.put("/api/settings", json={"session_cache_enabled": enabled}).raise_for_status()
    assert events(client, 0, 1) == [("resync", {})]
