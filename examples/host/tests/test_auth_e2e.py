"""Sessions across 4 workers, on SQLite and on Redis: a logout on one worker
is a logout on all of them at once, a session ends at its lifetime, a
settings change empties the shared cache for every worker, the login limit
counts all workers together, an unreachable store never lets a request
through, and the login page in Chromium.

The stacks here run with short limits (sessions last SESSION_LIFETIME s, the
login window is LOGIN_WINDOW s) so that expiry can be watched.
"""
from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import PASSWORD, STORES, USER, WORKERS, Stack, started_stacks, wait_for
from demo_live import ROOT
from test_e2e import CHROMIUM, CHROMIUM_ARGS

SESSION_LIFETIME = 6.0
LOGIN_WINDOW = 4.0
LOGIN_LIMIT = 5
FOLLOW_UPS = 50


@pytest.fixture(scope="module")
def stacks(package_dir: Path) -> Iterator[dict[str, Stack]]:
    options = ("--session-lifetime", str(SESSION_LIFETIME), "--login-window", str(LOGIN_WINDOW),
               "--login-limit", str(LOGIN_LIMIT))
    with started_stacks(package_dir, "auth", options) as started:
        yield started


def spread_requests(stack: Stack, cookie: str, count: int) -> list[httpx.Response]:
    """`count` GET /api/state with `cookie`, each on a new connection (so on
    whichever worker accepts it), 4 at a time."""
    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.url, timeout=10, cookies={"bangui_session": cookie}) as client:
            return client.get("/api/state")

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def workers_answering(responses: list[httpx.Response]) -> set[int]:
    return {response.json()["worker"]["pid"] for response in responses if response.status_code == 200}


@pytest.mark.parametrize("store", STORES)
def test_a_logout_on_one_worker_is_seen_by_every_worker_at_once(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    client = stack.client()
    token = client.cookies["bangui_session"]
    before = spread_requests(stack, token, 24)
    assert [r.status_code for r in before] == [200] * 24
    assert len(workers_answering(before)) >= 2, "the requests should have reached several workers"

    client.post("/api/logout").raise_for_status()
    after = spread_requests(stack, token, FOLLOW_UPS)
    assert Counter(r.status_code for r in after) == {401: FOLLOW_UPS}


@pytest.mark.parametrize("store", STORES)
def test_logging_out_everywhere_ends_every_session_of_the_user(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    first, second = stack.client(), stack.client()
    tokens = [first.cookies["bangui_session"], second.cookies["bangui_session"]]
    for token in tokens:
        assert {r.status_code for r in spread_requests(stack, token, 8)} == {200}
    response = second.post("/api/logout-all")
    assert response.status_code == 200 and response.json()["logged_out"] >= 2
    for token in tokens:
        assert Counter(r.status_code for r in spread_requests(stack, token, FOLLOW_UPS)) == {401: FOLLOW_UPS}


@pytest.mark.parametrize("store", STORES)
def test_a_session_ends_at_its_lifetime_whatever_the_cache_holds(stacks: dict[str, Stack], store: str) -> None:
    """The cache's TTL (an hour here) never keeps a session past its own end."""
    stack = stacks[store]
    client = stack.client()
    logged_in = time.monotonic()
    token = client.cookies["bangui_session"]
    assert {r.status_code for r in spread_requests(stack, token, 8)} == {200}  # cached by now
    time.sleep(max(0.0, logged_in + SESSION_LIFETIME + 0.5 - time.monotonic()))
    assert Counter(r.status_code for r in spread_requests(stack, token, 20)) == {401: 20}


def shared_cache(stack: Stack) -> Any:
    """The host's session cache, opened from this process as one more worker would."""
    from bangui_state.shared import RedisStore, SharedMachine, SqliteStore, session_cache_for

    if stack.redis is not None:
        import redis

        store: Any = RedisStore(redis.Redis(unix_socket_path=str(stack.redis.socket)))
    else:
        store = SqliteStore(stack.work / "bangui-state.sqlite3")
    machine = SharedMachine(store, {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600},
                            on_bootstrap_mismatch="use_stored")
    return machine, session_cache_for(machine)


@pytest.mark.parametrize("store", STORES)
def test_a_settings_change_empties_the_shared_cache_for_every_worker(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    client = stack.client()
    token = client.cookies["bangui_session"]
    machine, cache = shared_cache(stack)
    try:
        spread_requests(stack, token, 8)
        assert cache.get(token) is not None, "the session should be in the shared cache"
        ttl = machine.effective_settings["session_cache_ttl_seconds"]
        response = client.put("/api/settings", json={"session_cache_ttl_seconds": ttl + 1})
        assert response.status_code == 200, response.text
        machine.refresh()
        assert cache.get(token) is None, "a replaced cache must hold nothing, for every worker"
        # The session itself lives on (the host's table): the next request fills the new cache.
        assert {r.status_code for r in spread_requests(stack, token, 8)} == {200}
        assert cache.get(token) is not None
        pids = stack.worker_pids()
        wait_for("every worker to note the new cache", lambda: {
            line["pid"] for line in stack.logs()
            if line["event"] == "session_cache_installed"} >= pids and len(pids) == WORKERS)
    finally:
        machine.close()


@pytest.mark.parametrize("store", STORES)
def test_the_login_limit_counts_every_worker_together(stacks: dict[str, Stack], store: str) -> None:
    """20 wrong passwords at once, spread over the 4 workers: the limit, not 4 times it."""
    stack = stacks[store]
    failed_before = stack.count("login_failed")

    def guess(n: int) -> httpx.Response:
        with stack.client(login=False) as client:
            return client.post("/api/login", json={"user": USER, "password": f"guess {n}"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(guess, range(20)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {401: LOGIN_LIMIT, 429: 20 - LOGIN_LIMIT}, statuses
    for response in responses:
        if response.status_code == 429:
            assert 1 <= int(response.headers["retry-after"]) <= LOGIN_WINDOW
    wait_for("the failures in the log", lambda: stack.count("login_failed") == failed_before + LOGIN_LIMIT)
    # Logged by the workers that answered: more than one of them took part.
    answering = {line["pid"] for line in stack.logs() if line["event"] in ("login_failed", "login_throttled")}
    assert len(answering) >= 2
    # Once the window has passed, the right password works again.
    time.sleep(LOGIN_WINDOW + 0.2)
    stack.client().close()


@pytest.mark.parametrize("store", STORES)
def test_an_event_stream_ends_when_its_session_is_logged_out(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    client = stack.client()
    token = client.cookies["bangui_session"]
    events: list[str] = []
    with httpx.Client(base_url=stack.url, timeout=10, cookies={"bangui_session": token}) as watcher:
        with watcher.stream("GET", "/api/events") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines) == "retry: 500"
            client.post("/api/logout").raise_for_status()
            started = time.monotonic()
            try:
                for line in lines:  # ends when the server closes the stream
                    if line.startswith("event: "):
                        events.append(line[len("event: "):])
            except httpx.ReadTimeout:
                pytest.fail(f"the stream stayed open {time.monotonic() - started:.1f} s after the logout; "
                            f"events {events}")
            closed_after = time.monotonic() - started
    assert events[-1:] == ["logged-out"]
    assert closed_after < 3.0


def test_an_unreachable_store_answers_503_never_200(stacks: dict[str, Stack]) -> None:
    stack = stacks["redis"]
    assert stack.redis is not None
    client = stack.client()
    token = client.cookies["bangui_session"]
    stack.redis.stop()
    try:
        statuses = Counter(r.status_code for r in spread_requests(stack, token, 20))
        assert statuses == {503: 20}, statuses
        with stack.client(login=False) as anonymous:
            response = anonymous.post("/api/login", json={"user": USER, "password": PASSWORD})
            assert response.status_code == 503
    finally:
        stack.redis.start()
    wait_for("the store back", lambda: {r.status_code for r in spread_requests(stack, token, 8)} == {200},
             timeout=15)


def test_the_login_page_in_chromium(stacks: dict[str, Stack], tmp_path: Path) -> None:
    """Login form, a wrong password's message, the dashboard, and logout back to the form."""
    from playwright.sync_api import expect, sync_playwright

    stack = stacks["sqlite"]
    shots = ROOT / "target" / "host"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(stack.url)
            expect(page.locator("#login-panel")).to_be_visible()
            expect(page.locator("#dashboard")).to_be_hidden()
            page.screenshot(path=str(shots / "login.png"))

            page.fill("#login-user", USER)
            page.fill("#login-password", "not the password")
            page.click("#login-submit")
            expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
            expect(page.locator("#login-password")).to_have_value("")
            page.screenshot(path=str(shots / "login-wrong-password.png"))

            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector('body[data-ready="true"]', timeout=30_000)
            expect(page.locator("#who")).to_have_text(f"logged in as {USER}")
            expect(page.locator("#sync")).to_have_text(re.compile(r"^in sync at revision \d+$"))
            cookie = next(c for c in context.cookies() if c["name"] == "bangui_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            page.screenshot(path=str(shots / "logged-in.png"))

            page.click("#logout")
            expect(page.locator("#login-panel")).to_be_visible()
            expect(page.locator("#dashboard")).to_be_hidden()
            assert page.evaluate("fetch('/api/state').then(r => r.status)") == 401
            page.screenshot(path=str(shots / "logged-out.png"))
            print(f"\n# screenshots: {', '.join(str(shots / n) for n in ('login.png', 'login-wrong-password.png', 'logged-in.png', 'logged-out.png'))}")
        finally:
            context.close()


def test_the_workers_logged_no_error(stacks: dict[str, Stack]) -> None:
    for stack in stacks.values():
        errors = [line for line in stack.logs() if line.get("level") in ("error", "critical")
                  and line["event"] not in ("store_unavailable", "health_probe_not_recorded")]
        assert errors == [], errors[:3]
        assert os.path.exists(stack.log_file)
