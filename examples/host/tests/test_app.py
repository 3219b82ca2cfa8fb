"""The app in this process (uvicorn in a thread, one worker, SQLite), with no
fail2ban at its socket: the API's answers to bad input (a corpus of hostile
requests: never a 5xx, never a change), the login and origin checks, and the
event stream. The whole story with real processes is in test_e2e.py, the
sessions across 4 workers in test_auth_e2e.py."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from app import Config, create_app
from auth import hash_password
from conftest import PASSWORD, USER, free_port, wait_for

PASSWORD_HASH = hash_password(PASSWORD)


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """The app serving on a loopback port, until the test ends."""
    config = Config(fail2ban_socket=str(tmp_path / "no-fail2ban.sock"), sqlite_path=str(tmp_path / "state.db"),
                    probe_interval=60, log_retention=3, users={USER: PASSWORD_HASH}, login_window=60)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=free_port(),
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        wait_for("uvicorn to start", lambda: server.started)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    """A client sending the app's own Origin, not logged in."""
    with httpx.Client(base_url=base_url, timeout=10, headers={"origin": base_url}) as client:
        yield client


@pytest.fixture
def client(anonymous: httpx.Client) -> httpx.Client:
    """`anonymous`, logged in."""
    response = anonymous.post("/api/login", json={"user": USER, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return anonymous


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


def test_a_page_ahead_of_the_store_is_told_to_start_again(client: httpx.Client) -> None:
    """A revision the store never reached (another store's history): resync, not a wait."""
    ahead = int(state(client)["revision"]) + 5  # type: ignore[call-overload]
    assert events(client, ahead, 1) == [("resync", {})]


def test_a_page_further_behind_than_the_log_is_told_to_start_again(client: httpx.Client) -> None:
    for enabled in (False, True, False, True, False):  # the log keeps 3
        client.put("/api/settings", json={"session_cache_enabled": enabled}).raise_for_status()
    assert events(client, 0, 1) == [("resync", {})]


def test_every_api_path_but_the_login_needs_a_session(anonymous: httpx.Client) -> None:
    for method, path in (("GET", "/api/state"), ("GET", "/api/session"), ("GET", "/api/jails"),
                         ("GET", "/api/events"), ("PUT", "/api/settings"), ("DELETE", "/api/recovery"),
                         ("POST", "/api/jails/sshd/activate"), ("POST", "/api/logout"), ("POST", "/api/logout-all"),
                         ("GET", "/api/no-such-path")):
        response = anonymous.request(method, path, json={} if method in ("PUT", "POST") else None)
        assert response.status_code == 401, (method, path, response.text)
    anonymous.cookies.set("bangui_session", "forged-token")
    assert anonymous.get("/api/state").status_code == 401
    assert anonymous.get("/").status_code == 200  # the page itself (with its login form) is public


def test_the_session_cookie_is_httponly_strict_and_random(anonymous: httpx.Client) -> None:
    tokens = set()
    for _ in range(2):
        response = anonymous.post("/api/login", json={"user": USER, "password": PASSWORD})
        assert response.status_code == 200
        header = response.headers["set-cookie"]
        assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
        assert "Secure" not in header  # not asked for here: the test serves plain HTTP
        tokens.add(response.cookies["bangui_session"])
    assert len(tokens) == 2 and all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64


def test_a_wrong_password_is_a_401_and_logout_ends_the_session(anonymous: httpx.Client) -> None:
    response = anonymous.post("/api/login", json={"user": USER, "password": "wrong"})
    assert response.status_code == 401 and response.json() == {"error": "wrong user name or password"}
    response = anonymous.post("/api/login", json={"user": "nobody", "password": PASSWORD})
    assert response.status_code == 401 and response.json() == {"error": "wrong user name or password"}
    anonymous.post("/api/login", json={"user": USER, "password": PASSWORD}).raise_for_status()
    token = anonymous.cookies["bangui_session"]
    assert anonymous.get("/api/session").json()["user"] == USER
    anonymous.post("/api/logout").raise_for_status()
    anonymous.cookies.set("bangui_session", token)  # a client that kept the cookie
    assert anonymous.get("/api/state").status_code == 401


def test_the_login_limit_answers_429_with_retry_after(anonymous: httpx.Client) -> None:
    statuses = [anonymous.post("/api/login", json={"user": USER, "password": f"guess {n}"}).status_code
                for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    response = anonymous.post("/api/login", json={"user": USER, "password": PASSWORD})
    assert response.status_code == 429  # the right password too, until the window ends
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_unsafe_requests_from_another_origin_are_refused(client: httpx.Client, base_url: str) -> None:
    before = state(client)
    bare = httpx.Client(base_url=base_url, cookies=client.cookies)  # no Origin unless given
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"referer": "http://evil.example/x"},
                    {"origin": base_url.replace("127.0.0.1", "localhost")}, {}):
        response = bare.put("/api/settings", json={"session_cache_enabled": False}, headers=headers)
        assert response.status_code == 403, (headers, response.text)
        assert response.json()["error"].startswith("cross-site request refused")
    assert bare.post("/api/login", json={"user": USER, "password": PASSWORD}).status_code == 403
    # A Referer of this host stands in for a missing Origin (old browsers).
    response = bare.put("/api/settings", json={"session_cache_enabled": False},
                        headers={"referer": f"{base_url}/index.html"})
    assert response.status_code == 200, response.text
    client.put("/api/settings", json={"session_cache_enabled": True}).raise_for_status()
    assert state(client)["revision"] == int(before["revision"]) + 2  # type: ignore[call-overload]


def nested(depth: int) -> bytes:
    return b'{"x": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_REQUESTS: list[tuple[str, str, dict[bytes, bytes], bytes]] = [
    ("PUT", "/api/settings", {}, b'{"session_cache_ttl_seconds": 1e999}'),
    ("PUT", "/api/settings", {}, b'{"x": -1e400}'),
    ("PUT", "/api/settings", {}, b'{"x": NaN}'),
    ("PUT", "/api/settings", {}, b'Infinity'),
    ("PUT", "/api/settings", {}, b"[" * 100_000),
    ("PUT", "/api/settings", {}, b"[" * 60_000 + b"]" * 60_000),
    ("PUT", "/api/settings", {}, nested(150)),
    ("PUT", "/api/settings", {}, nested(5_000)),
    ("PUT", "/api/settings", {}, b'{"x": "' + b"a" * 1_000_000 + b'"}'),
    ("PUT", "/api/settings", {}, b'{"x": "' + b"a" * 5_000 + b'"}'),
    ("PUT", "/api/settings", {}, b"{" + b",".join(b'"k%d": "%s"' % (n, b"v" * 3000) for n in range(15)) + b"}"),
    ("PUT", "/api/settings", {}, b'{"x": ' + b"9" * 5_000 + b"}"),
    ("PUT", "/api/settings", {}, rb'{"x": "\ud800"}'),
    ("PUT", "/api/settings", {}, b'\xff\xfe{}'),
    ("PUT", "/api/settings", {}, b'{"session_cache_enabled": true'),
    ("PUT", "/api/settings", {}, b'"just a string"'),
    ("PUT", "/api/settings", {b"content-type": b"text/plain"}, b"session_cache_enabled=false"),
    ("POST", "/api/jails/a%00b/activate", {}, b""),
    ("POST", "/api/jails/" + "x" * 5_000 + "/activate", {}, b""),
    ("POST", "/api/jails/sshd%20%3B%20rm/activate", {}, b""),
    ("POST", "/api/jails/..%2F..%2Fetc/activate", {}, b""),
    ("POST", "/api/jails/j%C3%A4il/activate", {}, b""),
    ("POST", "/api/jails/%0Asshd/activate", {}, b""),
    ("GET", "/api/events?after=-1", {}, b""),
    ("GET", "/api/events?after=" + "9" * 30, {}, b""),
    ("GET", "/api/events?after=abc", {}, b""),
    ("GET", "/api/events", {b"last-event-id": b"99999999999999999999"}, b""),
    ("GET", "/api/events", {b"last-event-id": "\u00b2".encode()}, b""),
    ("POST", "/api/login", {}, b"{}"),
    ("POST", "/api/login", {}, b'{"user": 1, "password": "x"}'),
    ("POST", "/api/login", {}, b'{"user": "admin", "password": "' + b"x" * 2_000 + b'"}'),
    ("POST", "/api/login", {}, b'{"user": "admin", "password": "x", "role": "root"}'),
    ("POST", "/api/login", {}, b"[]"),
    ("POST", "/api/login", {}, b"\x00\x01"),
    ("DELETE", "/api/recovery", {}, b"x" * 100_000),
]


def test_hostile_requests_never_get_a_5xx_and_change_nothing(client: httpx.Client) -> None:
    before = state(client)
    for method, path, headers, body in HOSTILE_REQUESTS:
        response = client.request(method, path, headers=headers, content=body)
        shown = f"{method} {path[:60]} {body[:60]!r}"
        assert 400 <= response.status_code < 500, (shown, response.status_code, response.text[:300])
        assert response.json()["error"], shown
    assert state(client) == before


@pytest.mark.parametrize(("body", "status", "error"), [
    (b'{"session_cache_ttl_seconds": 1e999}', 400, "body: the number 1e999 is out of range (beyond a double's)"),
    (b"[" * 50_000, 400, "body: nested too deeply (the core accepts at most 100 levels)"),
    (b'{"x": "' + b"a" * 1_000_000 + b'"}', 413, "body: larger than the 65536 bytes allowed"),
    (b'{"x": "' + b"a" * 5_000 + b'"}', 400, "body.x: the value weighs 5002 bytes as JSON, more than the 4096 a "
                                             "setting may"),
    (nested(101), 400, "event.overrides.x"),
])
def test_bad_bodies_are_named(client: httpx.Client, body: bytes, status: int, error: str) -> None:
    response = client.put("/api/settings", content=body)
    assert response.status_code == status
    assert response.json()["error"].startswith(error), response.json()


def test_jail_names_are_checked_before_fail2ban_sees_them(client: httpx.Client) -> None:
    response = client.post("/api/jails/sshd%20%3B%20rm/activate")
    assert response.status_code == 400
    assert response.json() == {"error": "jail name 'sshd ; rm': expected 1 to 64 letters, digits or _ . @ -"}
    # A valid name goes on to fail2ban (down here: a 502 naming the command).
    response = client.post("/api/jails/web-1.example_org@x/activate")
    assert response.status_code == 502 and "add web-1.example_org@x polling" in response.json()["error"]
