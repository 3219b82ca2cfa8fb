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
        _kill_group(process, sig)

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
    where: str  # database file, Unix socket, or tcp://host:port
    name: str
    log_retention: int = 10_000
    client_retries: int | None = None  # redis-py's own retries on connection errors (None: its default)
    wait_replicas: int = 0
    wait_timeout_ms: int = 1000

    def open(self) -> Store:
        if self.kind == "sqlite":
            return SqliteStore(self.where, name=self.name, log_retention=self.log_retention, timeout=30)
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {}
        if self.client_retries is not None:
            options["retry"] = Retry(NoBackoff(), self.client_retries)
        if self.kind == "redis-cluster":  # where: host:port,host:port,...
            from redis.cluster import ClusterNode, RedisCluster

            nodes = [ClusterNode(host, int(port)) for host, port in (n.rsplit(":", 1) for n in self.where.split(","))]
            cluster = RedisCluster(startup_nodes=nodes, socket_timeout=2, socket_connect_timeout=1, **options)
            return RedisStore(cluster, name=self.name, log_retention=self.log_retention,
                              wait_replicas=self.wait_replicas, wait_timeout_ms=self.wait_timeout_ms)
        if self.where.startswith("tcp://"):  # e.g. a LossyProxy
            host, port = self.where[len("tcp://"):].rsplit(":", 1)
            client = redis.Redis(host=host, port=int(port), socket_timeout=10, socket_connect_timeout=2, **options)
        else:
            client = redis.Redis(unix_socket_path=self.where, socket_timeout=10, **options)
        return RedisStore(client, name=self.name, log_retention=self.log_retention,
                          wait_replicas=self.wait_replicas, wait_timeout_ms=self.wait_timeout_ms)

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


# Loopback TCP servers: a standalone redis-server, a Redis Cluster, and a
# proxy that loses commit replies. Every server runs in its own process group,
# killed by its fixture's finalizer, pass or fail.

def free_port(*, with_bus: bool = False) -> int:
    """A loopback TCP port nobody listens on now (and, `with_bus`, port +
    10000 too: a cluster node's bus)."""
    import socket

    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if not with_bus:
            return port
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port (with a free bus port) found")


def _kill_group(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


class RedisTcpServer:
    """A private redis-server on a loopback TCP port picked free."""

    def __init__(self, directory: Path, *extra: str) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (make test installs Debian's redis-server)")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.extra = list(extra)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        if not self.port:
            self.port = free_port(with_bus="--cluster-enabled" in self.extra)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--logfile", "redis.log", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start (see {self.directory}/redis.log)") from None
                time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        _kill_group(process, sig)

    def client(self, **options: Any) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **options)


class RedisClusterNodes:
    """A private Redis Cluster on loopback ports: `masters` masters with
    `replicas` replicas each, made by `redis-cli --cluster create`, with a
    small cluster-node-timeout so that a failover takes about a second."""

    def __init__(self, directory: Path, *, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000) -> None:
        if shutil.which("redis-cli") is None:
            pytest.fail("redis-cli is not installed (it comes with Debian's redis-server)")
        self.directory = directory
        self.replicas = replicas
        self.nodes = [RedisTcpServer(directory / f"node{i}", "--cluster-enabled", "yes",
                                     "--cluster-config-file", "nodes.conf",
                                     "--cluster-node-timeout", str(node_timeout_ms),
                                     # a replica's first sync at once, not after 5 s
                                     "--repl-diskless-sync-delay", "0")
                      for i in range(masters * (1 + replicas))]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        self.wait_ok()

    def wait_ok(self, timeout: float = 30) -> None:
        """Until every running node says cluster_state:ok and knows every
        slot's master, and every master has its replicas."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._ok():
                    return
            except Exception:  # a node not answering yet: ask again
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not become ok within {timeout} s (logs in {self.directory})")
            time.sleep(0.05)

    def _ok(self) -> bool:
        live = [n for n in self.nodes if n.process is not None]
        for node in live:
            client = node.client(socket_timeout=1)
            if "cluster_state:ok" not in client.execute_command("CLUSTER", "INFO").decode():
                return False
            replication = client.info("replication")
            if replication["role"] == "master":
                if any(isinstance(v, dict) and v.get("state") != "online" for k, v in replication.items()
                       if k.startswith("slave")):
                    return False
            elif replication["role"] == "slave" and replication.get("master_link_status") != "up":
                return False
        return True

    def running(self) -> list[RedisTcpServer]:
        return [n for n in self.nodes if n.process is not None]

    def startup_nodes(self) -> list[Any]:
        from redis.cluster import ClusterNode

        return [ClusterNode("127.0.0.1", n.port) for n in self.running()]

    def client(self, **options: Any) -> Any:
        from redis.cluster import RedisCluster

        return RedisCluster(startup_nodes=self.startup_nodes(), **options)

    def async_client(self, **options: Any) -> Any:
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", n.port) for n in self.running()], **options)

    def where(self) -> str:
        """The running nodes as a StoreSpec's `where` (kind "redis-cluster")."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.running())

    def node_on(self, port: int) -> RedisTcpServer:
        return next(n for n in self.nodes if n.port == port)

    def master_of(self, key: str) -> RedisTcpServer:
        """The running master serving `key`'s slot, as the nodes see it."""
        for node in self.running():
            try:
                slot = node.client(socket_timeout=1).execute_command("CLUSTER", "KEYSLOT", key)
                for start, end, master, *_ in node.client(socket_timeout=1).execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        return self.node_on(int(master[1]))
            except Exception:  # a node not answering: ask another
                continue
        raise RuntimeError(f"no running node knows the master of {key!r}")

    def replicas_of(self, master: RedisTcpServer) -> list[RedisTcpServer]:
        replies = master.client(socket_timeout=1).execute_command("CLUSTER", "MYID")
        master_id = replies.decode() if isinstance(replies, bytes) else str(replies)
        found = []
        for node in self.running():
            if node is master:
                continue
            info = node.client(socket_timeout=1).execute_command("CLUSTER", "NODES").decode()
            for line in info.splitlines():
                fields = line.split()
                if "myself" in fields[2] and "slave" in fields[2] and fields[3] == master_id:
                    found.append(node)
        return found

    def stop(self) -> None:
        for node in self.nodes:
            node.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """3 masters with 1 replica each on private loopback ports, killed pass or
    fail. Shared by a module's tests: one that kills a node starts it again
    (it rejoins as a replica), and each test waits for the cluster to be ok."""
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


# A proxy that loses replies.

PROXY_MODES = ("after_reply", "in_flight", "before")
"""How the proxy loses a commit: forward it and drop the client connection
once the server replied (the commit surely landed), right after forwarding it
(the reply, and maybe the commit, still to come when the client resends), or
drop it unforwarded (it never lands)."""


class LossyProxy:
    """A TCP proxy on a loopback port in front of a redis-server's Unix
    socket, in its own process. It reads the clients' commands (RESP arrays)
    and, with probability `drop_rate`, loses an EVALSHA of the script `sha`
    in one of PROXY_MODES, chosen at random (seeded). `counts` holds how many
    of each it did. `fail_next(mode)` loses the next such EVALSHA in `mode` and
    then takes the proxy down (every connection refused) until `up()`."""

    def __init__(self, upstream: str, sha: str, *, drop_rate: float, seed: int = 1) -> None:
        import socket

        context = multiprocessing.get_context("fork")
        self.upstream = upstream
        self.sha = sha.encode()
        self.drop_rate = drop_rate
        self.seed = seed
        self._counts = context.Array("q", len(PROXY_MODES) + 1)  # + commits seen
        self._forced = context.Value("i", -1)
        self._down = context.Value("b", 0)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self.port = int(self._listener.getsockname()[1])
        self._process = context.Process(target=self._serve, daemon=True)

    @property
    def where(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._process.start()
        self._listener.close()

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)

    def counts(self) -> dict[str, int]:
        values = list(self._counts)
        return {**dict(zip(PROXY_MODES, values)), "commits": values[-1]}

    def dropped(self) -> int:
        return sum(list(self._counts)[:-1])

    def fail_next(self, mode: str) -> None:
        self._forced.value = PROXY_MODES.index(mode)

    def is_down(self) -> bool:
        return bool(self._down.value)

    def up(self) -> None:
        self._down.value = 0

    def down(self) -> None:
        self._down.value = 1

    # The proxy process.

    def _serve(self) -> None:
        import asyncio
        import random

        rng = random.Random(self.seed)
        connections: set[Any] = set()

        async def pump_replies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]) \
                -> None:
            while True:
                data = await reader.read(65536)
                if not data:
                    writer.close()
                    return
                if state["swallow"] is not None:
                    state["swallow"].set()  # the reply to the lost commit came: never passed on
                    return
                writer.write(data)

        async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
            if self._down.value:
                client_writer.close()
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
            except OSError:
                client_writer.close()
                return
            connections.add(client_writer)
            state: dict[str, Any] = {"swallow": None}
            replies = asyncio.ensure_future(pump_replies(up_reader, client_writer, state))
            buffer = bytearray()
            try:
                while True:
                    data = await client_reader.read(65536)
                    if not data or self._down.value:
                        return
                    buffer += data
                    while True:
                        parsed = _parse_command(buffer)
                        if parsed is None:
                            break
                        length, args = parsed
                        command = bytes(buffer[:length])
                        del buffer[:length]
                        mode = None
                        if len(args) > 1 and args[0].upper() == b"EVALSHA" and args[1] == self.sha:
                            with self._counts.get_lock():
                                self._counts[len(PROXY_MODES)] += 1
                            forced = self._forced.value
                            if forced >= 0:
                                self._forced.value = -1
                                mode = PROXY_MODES[forced]
                                self._down.value = 1
                            elif rng.random() < self.drop_rate:
                                mode = rng.choice(PROXY_MODES)
                        if mode is None:
                            up_writer.write(command)
                            continue
                        with self._counts.get_lock():
                            self._counts[PROXY_MODES.index(mode)] += 1
                        if mode == "before":
                            return
                        state["swallow"] = asyncio.Event()
                        up_writer.write(command)
                        await up_writer.drain()
                        if mode == "after_reply":
                            try:
                                await asyncio.wait_for(state["swallow"].wait(), 5)
                            except asyncio.TimeoutError:
                                pass
                            return
                        # in flight: the client goes now; the server still gets the command
                        client_writer.close()
                        try:
                            await asyncio.wait_for(state["swallow"].wait(), 5)
                        except asyncio.TimeoutError:
                            pass
                        return
            except (ConnectionError, OSError):
                return
            finally:
                connections.discard(client_writer)
                client_writer.close()
                replies.cancel()
                up_writer.close()

        async def watch_down() -> None:
            while True:
                if self._down.value:
                    for writer in list(connections):
                        writer.close()
                await asyncio.sleep(0.005)

        async def main() -> None:
            server = await asyncio.start_server(handle, sock=self._listener)
            watcher = asyncio.ensure_future(watch_down())
            async with server:
                await server.serve_forever()
            watcher.cancel()

        asyncio.run(main())


def _parse_command(buffer: bytearray) -> tuple[int, list[bytes]] | None:
    """One RESP array of bulk strings from the start of `buffer`: (its length
    in bytes, its elements), or None if it is not all there yet."""
    if not buffer:
        return None
    if buffer[0:1] != b"*":  # an inline command (redis-py never sends one): up to the line's end
        end = buffer.find(b"\r\n")
        return None if end < 0 else (end + 2, bytes(buffer[:end]).split())
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    count = int(buffer[1:end])
    position = end + 2
    args = []
    for _ in range(count):
        end = buffer.find(b"\r\n", position)
        if end < 0:
            return None
        size = int(buffer[position + 1:end])
        start = end + 2
        if len(buffer) < start + size + 2:
            return None
        args.append(bytes(buffer[start:start + size]))
        position = start + size + 2
    return position, args


def replay_cli() -> Path:
    """The replay CLI: $BANGUI_STATE_CLI, else target/release/bangui-state
    (built with cargo if missing)."""
    explicit = os.environ.get("BANGUI_STATE_CLI")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    binary = Path(explicit) if explicit else (target if target.is_absolute() else REPO_ROOT / target) / "release" \
        / "bangui-state"
    if not binary.exists():
        assert shutil.which("cargo"), f"{binary} is missing and cargo is not installed"
        subprocess.run(["cargo", "build", "--release", "-p", "bangui-state-cli"], cwd=REPO_ROOT, check=True)
    return binary


def replay_outputs(trace: str) -> list[dict[str, Any]]:
    """`bangui-state replay - --json` on one trace: one output per step."""
    import json

    done = subprocess.run([replay_cli(), "replay", "-", "--json"], input=trace + "\n", capture_output=True,
                          text=True, check=True)
    outputs: list[dict[str, Any]] = json.loads(done.stdout)
    return outputs
