"""BanGUI's story against a real fail2ban, with 4 workers on one shared state,
on SQLite and on Redis: a jail activation crashes fail2ban, the crash is
blamed once, fail2ban comes back, the recovery is marked once; a crash
outside the window blames nobody; a settings change reaches every worker's
session cache; and the dashboard in Chromium shows it all live.

The tests run in file order and share the two stacks (conftest.py), so the
60 s wait for the crash window to close is paid once, overlapping the rest.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import PASSWORD, PROBE_INTERVAL, STORES, USER, WORKERS, Stack, wait_for
from demo_live import ROOT

JAIL = "crashy"
# "Within two probe intervals", plus room for a loaded 2-core machine to schedule 8 workers.
DETECTION_TIMEOUT = 2 * PROBE_INTERVAL + 1.5
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def settle() -> None:
    """Long enough for every worker to probe a few more times: a duplicate would show by then."""
    time.sleep(4 * PROBE_INTERVAL)


@pytest.mark.parametrize("store", STORES)
def test_the_backend_capability_is_probed_by_one_worker(stacks: dict[str, Stack], store: str) -> None:
    """Asked for by all 4 workers as they start together and again when fail2ban came
    online; one worker runs the probe (fail2ban 1.0.2 has no `get JAIL backend`); once
    known, asking again (GET /api/jails) probes no more."""
    stack = stacks[store]
    wait_for("the backend capability", lambda: stack.state()["backend_capability"]["supported"] is not None)
    assert stack.state()["backend_capability"] == {"supported": False, "probe_started_at": None}
    for _ in range(WORKERS):
        assert stack.http.get("/api/jails").json() == {"online": True, "jails": ["demo-sshd"]}
    settle()
    assert stack.count("backend_capability_probed") == 1


@pytest.mark.parametrize("store", STORES)
def test_a_crash_right_after_an_activation_is_blamed_on_that_jail_once(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    response = stack.http.post(f"/api/jails/{JAIL}/activate")
    assert response.status_code == 200, response.text
    assert stack.state()["last_activation"]["jail_name"] == JAIL
    wait_for("the activated jail in fail2ban", lambda: stack.state()["server_status"]["active_jails"] == 2)

    killed = time.monotonic()
    stack.fail2ban.crash()
    recovery = wait_for("a pending recovery", lambda: stack.state()["pending_recovery"], timeout=DETECTION_TIMEOUT)
    print(f"\n# {store}: SIGKILL to pending recovery in /api/state: {time.monotonic() - killed:.2f} s "
          f"(probe interval {PROBE_INTERVAL} s)")
    assert recovery["jail_name"] == JAIL
    assert recovery["recovered"] is False
    assert stack.state()["server_status"]["online"] is False

    settle()
    assert stack.count("activation_crash_detected") == 1
    assert stack.count("fail2ban_went_offline") == 1
    crash = next(line for line in stack.logs() if line["event"] == "activation_crash_detected")
    assert crash["level"] == "warning" and crash["jail"] == JAIL
    assert 0 < crash["seconds_since_activation"] <= 60


@pytest.mark.parametrize("store", STORES)
def test_fail2ban_back_marks_the_recovery_once(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    stack.fail2ban.start()
    recovery = wait_for("the recovery marked", lambda: (r := stack.state()["pending_recovery"]) and r["recovered"] and r)
    assert recovery["jail_name"] == JAIL
    status = stack.state()["server_status"]
    assert status["online"] is True and status["version"] == "1.0.2"
    settle()
    assert stack.count("pending_recovery_resolved") == 1
    assert stack.count("fail2ban_came_online") == 2  # at start, and now


@pytest.mark.parametrize("store", STORES)
def test_the_session_cache_follows_in_every_worker(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    pids = stack.worker_pids()
    assert len(pids) == WORKERS

    def kinds() -> dict[int, str]:
        last: dict[int, str] = {}
        for line in stack.logs():
            if line["event"] == "session_cache_installed":
                last[line["pid"]] = line["kind"]
        return last

    for enabled, kind in ((False, "no_op"), (True, "in_memory")):
        response = stack.http.put("/api/settings", json={"session_cache_enabled": enabled})
        assert response.status_code == 200, response.text
        assert stack.state()["session_cache"] == kind
        wait_for(f"every worker's cache to be {kind}", lambda: kinds() == {pid: kind for pid in pids})
    assert stack.count("session_cache_updated") == 2  # logged once per change, by the committing worker


@pytest.mark.parametrize("store", STORES)
def test_bad_input_is_a_4xx_naming_the_field_and_changes_nothing(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    before = stack.state()
    response = stack.http.put("/api/settings", json={"session_cache_enabled": "yes"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "event.overrides.session_cache_enabled: expected a boolean, found a string"}
    response = stack.http.put("/api/settings", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"].startswith("body: not JSON")
    # A jail fail2ban refuses (it exists already) is not recorded as an activation.
    response = stack.http.post("/api/jails/demo-sshd/activate")
    assert response.status_code == 502 and "add demo-sshd polling" in response.json()["error"]
    assert stack.state() == before


def test_the_dashboard_shows_the_story_live(stacks: dict[str, Stack], tmp_path: Path) -> None:
    """Headless Chromium on the dashboard (the npm package's connect()) through a
    whole crash and recovery, driven through the page's own buttons where it has
    them; then every worker restarts and the page resumes by revision."""
    from playwright.sync_api import Request, expect, sync_playwright

    stack = stacks["sqlite"]
    screenshot = ROOT / "target" / "host" / "dashboard.png"
    problems: list[str] = []
    api_requests: list[tuple[str, dict[str, str]]] = []  # (url, headers) of the page's /api/state and /api/events

    def note_request(request: Request) -> None:
        if "/api/state" in request.url or "/api/events" in request.url:
            api_requests.append((request.url, request.headers))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 1100})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("request", note_request)
            page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text} ({msg.location['url']})")
                    if msg.type == "error" else None)
            page.goto(stack.url)
            page.wait_for_selector('body[data-view="login"]', timeout=30_000)
            page.fill("#login-user", USER)
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector('body[data-ready="true"]', timeout=30_000)
            # Before the login, the page's one question (GET /api/session) was answered 401, as it should.
            assert [p for p in problems if "401 (Unauthorized)" not in p or "/api/session" not in p] == []
            problems.clear()
            sync, banner, text = page.locator("#sync"), page.locator("#banner"), page.locator("#banner-text")
            in_sync = re.compile(r"^in sync at revision \d+$")
            expect(sync).to_have_text(in_sync)
            expect(page.locator("#server-status")).to_have_text("online (fail2ban 1.0.2, 1 jails)")

            # The earlier crash's banner, recovered: the operator dismisses it.
            expect(banner).to_have_class("recovered")
            page.click("#dismiss")
            expect(banner).to_be_hidden()

            page.fill("#jail-name", "browser-jail")
            page.click("#activate-jail")
            expect(page.locator("#countdown")).to_have_text(
                re.compile(r"^Crash window for jail browser-jail closes in [1-6]?\d\.\d s$"))
            expect(page.locator("#server-status")).to_have_text("online (fail2ban 1.0.2, 2 jails)")

            killed = time.monotonic()
            stack.fail2ban.crash()
            expect(text).to_have_text(re.compile(
                r"^jail browser-jail crashed fail2ban \d+\.\d s after activation, waiting for fail2ban to come back$"),
                timeout=DETECTION_TIMEOUT * 1000)
            print(f"\n# sqlite: SIGKILL to the crash banner in Chromium: {time.monotonic() - killed:.2f} s")
            expect(banner).to_have_class("crashed")
            expect(page.locator("#server-status")).to_have_text("offline")
            expect(page.locator("#effects")).to_contain_text('warning activation_crash_detected {"jail":"browser-jail"')
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot.with_name("dashboard-crashed.png")), full_page=True)

            stack.fail2ban.start()
            expect(text).to_have_text(re.compile(r"^jail browser-jail crashed .* after activation, recovered$"))
            expect(banner).to_have_class("recovered")
            expect(page.locator("#effects")).to_contain_text('info pending_recovery_resolved {"jail":"browser-jail"}')

            page.uncheck("#session-cache-enabled")
            expect(page.locator("#session-cache")).to_have_text("no_op")
            page.check("#session-cache-enabled")
            expect(page.locator("#session-cache")).to_have_text("in_memory")

            # In sync, and truly: the folded state is the server's.
            expect(sync).to_have_text(in_sync)
            revision = int(sync.inner_text().rsplit(" ", 1)[1])
            assert revision == stack.state()["revision"]
            assert json.loads(page.locator("#state").text_content() or "") == stack.state()
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"# screenshots: {screenshot.with_name('dashboard-crashed.png')} (crashed), {screenshot} (recovered)")

            # The stream drops (uvicorn replaces every worker on SIGHUP): the page
            # reconnects and resumes by revision (?after=N, Last-Event-ID: N), not
            # from a new snapshot, and folds what was committed meanwhile: every
            # revision since arrived as exactly one commit, none missed, none twice.
            body = page.locator("body")

            def attribute(name: str) -> int:
                return int(body.get_attribute(f"data-{name}") or 0)

            connections, revision_before, commits_before = attribute("connections"), attribute("revision"), attribute("commits")
            assert revision_before == revision and body.get_attribute("data-status") == "live"
            assert problems == []
            api_requests.clear()
            os.kill(stack.app.pid, signal.SIGHUP)
            stack.http.delete("/api/recovery").raise_for_status()
            wait_for("the page to reconnect", lambda: attribute("connections") > connections, timeout=30)
            expect(banner).to_be_hidden()
            server = stack.state()
            expect(sync).to_have_text(f"in sync at revision {server['revision']}")
            assert attribute("revision") == server["revision"] > revision_before
            assert json.loads(page.locator("#state").text_content() or "") == server
            assert attribute("commits") - commits_before == server["revision"] - revision_before, \
                "every revision since the restart arrived as exactly one commit"
            resumed = [(url, headers) for url, headers in api_requests if "/api/events" in url]
            assert resumed and not [url for url, _ in api_requests if "/api/state" in url], api_requests
            for url, headers in resumed:
                after = int(url.rsplit("after=", 1)[1])
                assert revision_before <= after <= server["revision"] and headers.get("last-event-id") == str(after)
            dropped = "console error: Failed to load resource: net::ERR_INCOMPLETE_CHUNKED_ENCODING"
            assert all(p.startswith(dropped) and "/api/events" in p for p in problems), problems
        finally:
            context.close()


@pytest.mark.parametrize("store", STORES)
def test_a_crash_outside_the_window_blames_nobody(stacks: dict[str, Stack], store: str) -> None:
    stack = stacks[store]
    state = stack.state()
    closes = datetime.fromisoformat(state["last_activation"]["at"]).timestamp() + 60
    time.sleep(max(0.0, closes - datetime.now(timezone.utc).timestamp() + 0.2))
    assert stack.http.get("/api/state").json()["next_deadline"] is None
    crashes, offline = stack.count("activation_crash_detected"), stack.count("fail2ban_went_offline")

    stack.fail2ban.crash()
    wait_for("fail2ban offline", lambda: not stack.state()["server_status"]["online"], timeout=DETECTION_TIMEOUT)
    settle()
    after = stack.state()
    assert after["pending_recovery"] == state["pending_recovery"]
    assert after["last_activation"] == state["last_activation"]
    assert stack.count("activation_crash_detected") == crashes
    assert stack.count("fail2ban_went_offline") == offline + 1
