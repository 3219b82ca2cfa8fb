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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from demo_live import DEMO_USER, ROOT, install_package, start_app, wait_until_serving, write_password_hash  # noqa: E402
from private_servers import Fail2banServer, RedisServer, stop_group  # noqa: E402

PROBE_INTERVAL = 0.5
WORKERS = 4
STORES = ("sqlite", "redis")
USER = DEMO_USER
PASSWORD = "correct horse battery staple"
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

    def __init__(self, store: str, work: Path, package_dir: Path, options: tuple[str, ...] = ()) -> None:
        self.store = store
        self.work = work
        self.options = options
        self.fail2ban = Fail2banServer(work / "fail2ban")
        self.redis = RedisServer(work / "redis") if store == "redis" else None
        self.log_file = work / "app.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.origin = f"http://127.0.0.1:{self.port}"
        self.package_dir = package_dir
        self.app: Any = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.fail2ban.start()
        if self.redis:
            self.redis.start()
        self.app = start_app(self.fail2ban.socket, self.work, port=self.port, workers=WORKERS,
                             probe_interval=PROBE_INTERVAL, package_dir=self.package_dir,
                             password_hash_file=write_password_hash(self.work, PASSWORD),
                             redis_url=self.redis.url if self.redis else None, log_file=self.log_file,
                             options=self.options)
        wait_until_serving(self.url, self.app)
        self.http.close()
        self.http = self.client()
        wait_for("every worker to start", lambda: len(self.worker_pids()) == WORKERS, timeout=30)
        wait_for("fail2ban online in the shared state", lambda: self.state()["server_status"]["online"])

    def stop(self) -> None:
        self.http.close()
        stop_group(self.app)
        self.fail2ban.stop()
        if self.redis:
            self.redis.stop()

    def client(self, *, login: bool = True, fresh_connections: bool = False) -> httpx.Client:
        """An HTTP client sending this host's Origin, logged in unless told not to.
        `fresh_connections`: a new connection per request, so that requests land
        on whichever worker accepts them rather than stay on one."""
        limits = httpx.Limits(max_keepalive_connections=0) if fresh_connections else httpx.Limits()
        client = httpx.Client(base_url=self.url, timeout=10, headers={"origin": self.origin}, limits=limits)
        if login:
            response = client.post("/api/login", json={"user": USER, "password": PASSWORD})
            assert response.status_code == 200, response.text
        return client

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


@contextmanager
def started_stacks(package_dir: Path, name: str, options: tuple[str, ...] = ()) -> Iterator[dict[str, Stack]]:
    """Both stores' stacks; every process stopped and the logs kept as
    target/host/<name>-<store>.log, pass or fail."""
    with tempfile.TemporaryDirectory(prefix=f"bangui-host-{name}-") as tmp:
        started: dict[str, Stack] = {}
        try:
            for store in STORES:
                started[store] = Stack(store, Path(tmp) / store, package_dir, options)
                started[store].start()
            yield started
        finally:
            for stack in started.values():
                stack.stop()
            for stack in started.values():
                kept = ROOT / "target" / "host" / f"{name}-{stack.store}.log"
                kept.parent.mkdir(parents=True, exist_ok=True)
                if stack.log_file.exists():
                    kept.write_bytes(stack.log_file.read_bytes())


@pytest.fixture(scope="module")
def stacks(package_dir: Path) -> Iterator[dict[str, Stack]]:
    """Both stores' stacks for the story of test_e2e.py."""
    with started_stacks(package_dir, "app") as started:
        yield started
