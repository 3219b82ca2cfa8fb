"""Real processes for the end-to-end tests: per store, a private fail2ban-server,
the store's server (Redis) and the app with 4 uvicorn workers probing every
PROBE_INTERVAL seconds. Every process is in its own process group and is
stopped at the end, pass or fail."""
from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from demo_live import ROOT, install_package, start_app, wait_until_serving  # noqa: E402
from private_servers import Fail2banServer, RedisServer, stop_group  # noqa: E402

PROBE_INTERVAL = 0.5
WORKERS = 4
STORES = ("sqlite", "redis")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 10.0, every: float = 0.05) -> T:
    """Polls `check` until it returns something truthy; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Stack:
    """fail2ban-server, (redis-server,) the app: one store's whole world."""

    def __init__(self, store: str, work: Path, package_dir: Path) -> None:
        self.store = store
        self.work = work
        self.fail2ban = Fail2banServer(work / "fail2ban")
        self.redis = RedisServer(work / "redis") if store == "redis" else None
        self.log_file = work / "app.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.package_dir = package_dir
        self.app: Any = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self) -> None:
        self.fail2ban.start()
        if self.redis:
            self.redis.start()
        self.app = start_app(self.fail2ban.socket, self.work, port=self.port, workers=WORKERS,
                             probe_interval=PROBE_INTERVAL, package_dir=self.package_dir,
                             redis_url=self.redis.url if self.redis else None, log_file=self.log_file)
        wait_until_serving(self.url, self.app)
        wait_for("every worker to start", lambda: len(self.worker_pids()) == WORKERS, timeout=30)
        wait_for("fail2ban online in the shared state", lambda: self.state()["server_status"]["online"])

    def stop(self) -> None:
        self.http.close()
        stop_group(self.app)
        self.fail2ban.stop()
        if self.redis:
            self.redis.stop()

    def state(self) -> dict[str, Any]:
        response = self.http.get("/api/state")
        response.raise_for_status()
        return response.json()["state"]  # type: ignore[no-any-return]

    def logs(self) -> list[dict[str, Any]]:
        """Every worker's structlog lines (JSON, one a line, each with its pid)."""
        lines = self.log_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def count(self, event: str) -> int:
        return Counter(line["event"] for line in self.logs())[event]

    def worker_pids(self) -> set[int]:
        return {line["pid"] for line in self.logs() if line["event"] == "worker_started"}


@pytest.fixture(scope="session")
def package_dir() -> Path:
    """The npm package installed from its tarball, for the dashboard."""
    return install_package(ROOT / "target" / "host" / "test-site")


@pytest.fixture(scope="module")
def stacks(package_dir: Path) -> Iterator[dict[str, Stack]]:
    """Both stores' stacks, started together so their waits overlap."""
    with tempfile.TemporaryDirectory(prefix="bangui-host-e2e-") as tmp:
        started: dict[str, Stack] = {}
        try:
            for store in STORES:
                started[store] = Stack(store, Path(tmp) / store, package_dir)
                started[store].start()
            yield started
        finally:
            for stack in started.values():
                stack.stop()
            for stack in started.values():
                kept = ROOT / "target" / "host" / f"app-{stack.store}.log"
                kept.parent.mkdir(parents=True, exist_ok=True)
                if stack.log_file.exists():
                    kept.write_bytes(stack.log_file.read_bytes())
