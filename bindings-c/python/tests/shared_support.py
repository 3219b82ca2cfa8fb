"""Real servers and worker processes for the shared-store tests.

`RedisServer` runs a private redis-server: a Unix socket in a temp dir, no TCP
port (`--port 0`), the append-only file on, in its own process group that the
fixture kills, pass or fail. Workers are OS processes (multiprocessing, fork)
that open their own store from a picklable `StoreSpec`.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bangui_state.shared import RedisStore, SharedMachine, SqliteStore, Store

REPO_ROOT = Path(__file__).resolve().parents[3]
BOOTSTRAP: dict[str, Any] = {"session_cache_enabled": True, "session_cache_ttl_seconds": 3600,
                             "database_path": "/var/lib/bangui/bangui.db"}
T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
WORKERS = 8


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class RedisServer:
    """A private redis-server on a Unix socket in `directory`."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (make test installs Debian's redis-server)")
        self.directory = directory
        self.socket = str(directory / "redis.sock")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--dir", str(self.directory), "--save", "", "--appendonly", "yes", "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        import redis

        while True:
            try:
                redis.Redis(unix_socket_path=self.socket).ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start (see {self.directory}/redis.log)") from None
                time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def client(self, **options: Any) -> Any:
        return self.client_for(self.socket, **options)

    @staticmethod
    def client_for(socket: str, **options: Any) -> Any:
        import redis

        return redis.Redis(unix_socket_path=socket, **options)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, for tests that stop and restart it."""
    server = RedisServer(tmp_path / "redis")
    server.directory.mkdir()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class StoreSpec:
    """How a worker process opens the store (picklable)."""

    kind: str  # "sqlite" or "redis"
    where: str  # database file or Unix socket
    name: str
    log_retention: int = 10_000
    client_retries: int | None = None  # redis-py's own retries on connection errors (None: its default)

    def open(self) -> Store:
        if self.kind == "sqlite":
            return SqliteStore(self.where, name=self.name, log_retention=self.log_retention, timeout=30)
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {}
        if self.client_retries is not None:
            options["retry"] = Retry(NoBackoff(), self.client_retries)
        return RedisStore(redis.Redis(unix_socket_path=self.where, socket_timeout=10, **options), name=self.name,
                          log_retention=self.log_retention)

    def machine(self, **options: Any) -> SharedMachine:
        return SharedMachine(self.open(), BOOTSTRAP, **options)


_counter = [0]


@pytest.fixture(params=["sqlite", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A fresh machine name in each store kind."""
    _counter[0] += 1
    name = f"{request.node.name.split('[')[0][:40]}-{_counter[0]}"
    if request.param == "sqlite":
        return StoreSpec("sqlite", str(tmp_path / "state.db"), name)
    server: RedisServer = request.getfixturevalue("redis_server")
    return StoreSpec("redis", server.socket, name)


def run_workers(target: Callable[..., Any], args_per_worker: list[tuple[Any, ...]], *, timeout: float = 120) \
        -> list[Any]:
    """Runs `target(queue, barrier, *args)` in one OS process per args tuple;
    returns what each put on the queue, in worker order. Every process is
    joined (or killed) before returning."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    barrier = context.Barrier(len(args_per_worker))
    processes = [context.Process(target=_tagged, args=(target, index, queue, barrier, *args), daemon=True)
                 for index, args in enumerate(args_per_worker)]
    for process in processes:
        process.start()
    results: dict[int, Any] = {}
    try:
        deadline = time.monotonic() + timeout
        while len(results) < len(processes):
            index, value = queue.get(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(value, BaseException):
                raise AssertionError(f"worker {index} failed: {value!r}") from value
            results[index] = value
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
    return [results[i] for i in range(len(processes))]


def _tagged(target: Callable[..., Any], index: int, queue: Any, barrier: Any, *args: Any) -> None:
    try:
        queue.put((index, target(barrier, *args)))
    except BaseException as error:  # reported to the parent, which fails the test
        queue.put((index, RuntimeError(f"{type(error).__name__}: {error}")))
