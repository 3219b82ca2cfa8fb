"""The shared session cache (bangui_state.shared.sessions) on both stores, sync
and asyncio: real SQLite files and a private redis-server, several machines on
one store standing for several workers, and OS processes. No mocks."""
from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from shared_support import (  # noqa: F401  (fixtures)
    BOOTSTRAP,
    RedisServer,
    T0,
    at,
    private_redis,
    redis_server,
    run_workers,
)

from bangui_state.shared import (
    AsyncSharedMachine,
    AsyncSqliteSessionCache,
    AsyncSqliteStore,
    CachedSession,
    SharedMachine,
    SqliteSessionCache,
    SqliteStore,
    StoreCorruptError,
    StoreUnavailableError,
    session_cache_for,
)

TTL = BOOTSTRAP["session_cache_ttl_seconds"]
LATER = T0 + timedelta(days=1)  # a session end beyond the TTL
T0_MICROS = int((T0 - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 1_000_000
NO_OP = {"type": "runtime_settings_set", "settings": {"session_cache_enabled": False,
                                                      "session_cache_ttl_seconds": TTL}}


def ttl_set(seconds: int) -> dict[str, Any]:
    return {"type": "settings_updated", "overrides": {"session_cache_ttl_seconds": seconds}}


def session(user: str = "alice", expires_at: datetime = LATER, **data: Any) -> CachedSession:
    return CachedSession(user, expires_at, data)


def hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Loader:
    """A `load` that counts its calls, and may act (as another worker) while it runs."""

    def __init__(self, answer: CachedSession | None, during: list[tuple[Worker, str, tuple[Any, ...]]] | None = None) \
            -> None:
        self.answer = answer
        self.during = during or []
        self.calls = 0


class Worker:
    """One worker: a machine on its own store connection, and its session cache."""

    def __init__(self, harness: Harness, **cache_options: Any) -> None:
        self.harness = harness
        self.store: Any = harness.open_store()
        if harness.mode == "sync":
            self.machine: Any = SharedMachine(self.store, BOOTSTRAP)
        else:
            self.machine = harness.run(AsyncSharedMachine.open(self.store, BOOTSTRAP))
        self.cache: Any = session_cache_for(self.machine, **cache_options)

    def _call(self, name: str, *args: Any) -> Any:
        result = getattr(self.cache, name)(*args)
        return self.harness.run(result) if self.harness.mode == "async" else result

    def get(self, token: Any, now: Any = T0) -> CachedSession | None:
        return self._call("get", token, now)

    def invalidate(self, token: Any) -> None:
        self._call("invalidate", token)

    def invalidate_user(self, user: Any) -> int:
        return self._call("invalidate_user", user)  # type: ignore[no-any-return]

    def get_or_load(self, token: Any, loader: Loader, now: Any = T0) -> CachedSession | None:
        if self.harness.mode == "sync":
            def load() -> CachedSession | None:
                loader.calls += 1
                for worker, name, args in loader.during:
                    getattr(worker.cache if name != "step" else worker.machine, name)(*args)
                return loader.answer

            return self.cache.get_or_load(token, load, now)

        async def async_load() -> CachedSession | None:
            loader.calls += 1
            for worker, name, args in loader.during:
                await getattr(worker.cache if name != "step" else worker.machine, name)(*args)
            return loader.answer

        return self.harness.run(self.cache.get_or_load(token, async_load, now))

    def fill(self, token: str, answer: CachedSession, now: Any = T0) -> None:
        loader = Loader(answer)
        assert self.get_or_load(token, loader, now) == answer
        assert loader.calls == 1

    def step(self, event: dict[str, Any], now: Any = T0) -> Any:
        result = self.machine.step(event, now)
        return self.harness.run(result) if self.harness.mode == "async" else result

    def close(self) -> None:
        if self.harness.mode == "sync":
            self.machine.close()
            return
        self.harness.run(self.machine.aclose())
        client = getattr(self.store, "client", None)
        if client is not None:
            self.harness.run(client.aclose())


class Harness:
    """A store (kind, place, machine name) and a way to run sync or async calls."""

    def __init__(self, kind: str, mode: str, where: str, name: str, *, timeout: float = 10.0,
                 client_retries: bool = True) -> None:
        self.kind, self.mode, self.where, self.name = kind, mode, where, name
        self.timeout = timeout
        self.client_retries = client_retries
        self.runner = asyncio.Runner() if mode == "async" else None
        self.workers: list[Worker] = []

    def run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(awaitable)

    def open_store(self) -> Any:
        if self.kind == "sqlite":
            store_class = SqliteStore if self.mode == "sync" else AsyncSqliteStore
            return store_class(self.where, name=self.name, timeout=self.timeout)
        import redis
        import redis.asyncio
        from redis.backoff import NoBackoff

        from bangui_state.shared import AsyncRedisStore, RedisStore

        options: dict[str, Any] = {"socket_timeout": 5}
        if self.mode == "sync":
            if not self.client_retries:
                options["retry"] = redis.retry.Retry(NoBackoff(), 0)
            return RedisStore(redis.Redis(unix_socket_path=self.where, **options), name=self.name)
        if not self.client_retries:
            options["retry"] = redis.asyncio.retry.Retry(NoBackoff(), 0)
        return AsyncRedisStore(redis.asyncio.Redis(unix_socket_path=self.where, **options), name=self.name)

    def worker(self, **cache_options: Any) -> Worker:
        worker = Worker(self, **cache_options)
        self.workers.append(worker)
        return worker

    def stored(self) -> dict[str, dict[str, Any]]:
        """Every stored entry of this machine, by token hash, read raw."""
        if self.kind == "sqlite":
            db = sqlite3.connect(self.where)
            try:
                rows = db.execute("SELECT token_hash, epoch, user, data, expires_at FROM bangui_session_cache "
                                  "WHERE name = ?", (self.name,)).fetchall()
            finally:
                db.close()
            return {row[0]: {"epoch": row[1], "user": row[2], "data": row[3], "expires": row[4]} for row in rows}
        client = RedisServer.client_for(self.where, decode_responses=True)
        prefix = f"{{{self.name}}}:session:"
        return {key[len(prefix):]: client.hgetall(key) for key in client.scan_iter(match=prefix.replace("{", "\\{")
                                                                                              .replace("}", "\\}") + "*")}

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.close()
            except Exception:
                pass
        if self.runner is not None:
            self.runner.close()


_names = iter(range(1_000_000))


@pytest.fixture(params=[("sqlite", "sync"), ("sqlite", "async"), ("redis", "sync"), ("redis", "async")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    kind, mode = request.param
    name = f"{request.node.name.split('[')[0][5:35]}-{next(_names)}"
    where = str(tmp_path / "state.db") if kind == "sqlite" else request.getfixturevalue("redis_server").socket
    made = Harness(kind, mode, where, name)
    try:
        yield made
    finally:
        made.close()


# --- hit and miss, following the shared state ------------------------------------------------------------


def test_a_miss_loads_once_and_the_next_lookups_hit(harness: Harness) -> None:
    a, b = harness.worker(), harness.worker()
    assert a.get("tok-1") is None
    alice = session("alice", role="admin", tags=["x", 1])
    loader = Loader(alice)
    assert a.get_or_load("tok-1", loader) == alice and loader.calls == 1
    again = Loader(session("mallory"))
    assert a.get_or_load("tok-1", again) == alice and again.calls == 0
    found = b.get("tok-1")
    assert found == alice and found.data == {"role": "admin", "tags": ["x", 1]}
    assert found.expires_at == LATER and found.expires_at.tzinfo is timezone.utc
    assert b.get("tok-2") is None
    # load() answering None stores nothing.
    assert a.get_or_load("tok-2", Loader(None)) is None and harness.stored().keys() == {hashed("tok-1")}


def test_any_user_name_and_json_data_come_back_as_stored(harness: Harness) -> None:
    a, b = harness.worker(), harness.worker()
    odd = session("zoë 🙂 1 2\n{x}", text="ünï \ud800 🙂", nested={"a": [1.5, None, True]}, big=10**30)
    a.fill("tok-1", odd)
    assert b.get("tok-1") == odd


def test_no_op_kind_misses_and_stores_nothing(harness: Harness) -> None:
    a, b, c = harness.worker(), harness.worker(), harness.worker()
    a.fill("tok-1", session())
    b.step(NO_OP)
    # c has not seen the change: its lookup follows it before load(), and the fill is left out.
    loader = Loader(session())
    assert c.get_or_load("tok-3", loader) == session() and loader.calls == 1
    assert c.machine.session_cache_settings().kind == "no_op" and hashed("tok-3") not in harness.stored()
    assert a.get("tok-1") is None  # the old entry is dead, and the lookup made a follow the state
    assert a.machine.session_cache_settings().kind == "no_op"
    before = harness.stored()
    for worker in (a, b):
        loader = Loader(session())
        assert worker.get_or_load("tok-2", loader) == session() and loader.calls == 1
        loader = Loader(session())
        assert worker.get_or_load("tok-2", loader) == session() and loader.calls == 1  # never cached
        assert worker.get("tok-2") is None
    assert harness.stored() == before and hashed("tok-2") not in before


def test_a_settings_change_committed_by_another_worker_empties_the_cache_for_all(harness: Harness) -> None:
    a, b, c = harness.worker(), harness.worker(), harness.worker()
    a.fill("tok-1", session("alice"))
    c.fill("tok-2", session("bob"))
    assert b.get("tok-1") == session("alice") and a.get("tok-2") == session("bob")
    revision = a.machine.revision
    b.step(ttl_set(600))  # a new TTL: session_cache_replaced, committed by b alone
    for worker in (a, b, c):
        assert worker.get("tok-1") is None and worker.get("tok-2") is None
    # The stale replicas followed (the refresh the miss made), with the new TTL.
    assert a.machine.revision == revision + 1
    assert a.machine.session_cache_settings().ttl_micros == 600_000_000
    a.fill("tok-1", session("alice"))
    assert c.get("tok-1") == session("alice")
    assert c.get("tok-1", at(599)) == session("alice") and c.get("tok-1", at(600)) is None


def test_a_fill_by_a_worker_that_has_not_seen_the_replacement_is_refused(harness: Harness) -> None:
    a, b = harness.worker(), harness.worker()
    b.step(ttl_set(5))
    # a still believes the TTL is 3600 s: its lookup sees the new epoch and follows before filling.
    a.fill("tok-1", session())
    assert harness.stored()[hashed("tok-1")]["expires"] in (str(T0_MICROS + 5_000_000), T0_MICROS + 5_000_000)
    assert b.get("tok-1", at(4)) == session() and b.get("tok-1", at(5)) is None


# --- revocation ------------------------------------------------------------------------------------------


def test_invalidate_is_seen_by_another_worker_at_once(harness: Harness) -> None:
    a, b = harness.worker(), harness.worker()
    a.fill("tok-1", session())
    a.fill("tok-2", session())
    assert b.get("tok-1") == session()
    a.invalidate("tok-1")
    assert b.get("tok-1") is None and a.get("tok-1") is None
    assert b.get("tok-2") == session()
    assert hashed("tok-1") not in harness.stored()
    b.invalidate("tok-never-cached")  # nothing to drop: fine


def test_invalidate_user_drops_every_session_of_one_user(harness: Harness) -> None:
    a, b, c = harness.worker(), harness.worker(), harness.worker()
    a.fill("tok-1", session("alice"))
    b.fill("tok-2", session("alice"))
    c.fill("tok-3", session("bob"))
    a.fill("tok-4", session("alice bob"))  # another user, whose name contains both
    assert c.invalidate_user("alice") == 2
    for worker in (a, b, c):
        assert worker.get("tok-1") is None and worker.get("tok-2") is None
        assert worker.get("tok-3") == session("bob") and worker.get("tok-4") == session("alice bob")
    assert b.invalidate_user("alice") == 0
    assert a.invalidate_user("nobody") == 0
    # A token filled again (once expired) for another user is no longer the first user's.
    a.fill("tok-5", session("bob", expires_at=at(10)))
    b.fill("tok-5", session("carol"), at(20))
    assert c.invalidate_user("bob") == 1  # tok-3
    assert c.get("tok-5", at(20)) == session("carol")


@pytest.mark.parametrize("revocation", ["invalidate", "invalidate_user", "invalidate_other_token", "replacement"])
def test_a_revocation_during_the_fill_keeps_the_loaded_session_out(harness: Harness, revocation: str) -> None:
    a, b = harness.worker(), harness.worker()
    action = {"invalidate": (b, "invalidate", ("tok-1",)),
              "invalidate_user": (b, "invalidate_user", ("alice",)),
              # The counter is one for the whole cache: any revocation refuses the fills in flight.
              "invalidate_other_token": (b, "invalidate", ("tok-9",)),
              "replacement": (b, "step", (ttl_set(60), T0))}[revocation]
    # a misses and reads the sessions table; b revokes there and invalidates; a's load then returns the stale row.
    stale = Loader(session("alice"), during=[action])
    assert a.get_or_load("tok-1", stale) == session("alice") and stale.calls == 1
    assert hashed("tok-1") not in harness.stored()
    assert a.get("tok-1") is None and b.get("tok-1") is None
    # Without a revocation in between, the same fill is stored.
    a.fill("tok-1", session("alice"))
    assert b.get("tok-1") == session("alice")


# --- expiry ----------------------------------------------------------------------------------------------


def test_entries_live_the_ttl_to_the_second(harness: Harness) -> None:
    a, b = harness.worker(), harness.worker()
    a.fill("tok-1", session(), at(10))
    assert b.get("tok-1", at(10 + TTL - 1)) == session()
    assert b.get("tok-1", at(10 + TTL) - timedelta(microseconds=1)) == session()
    assert b.get("tok-1", at(10 + TTL)) is None
    assert b.get("tok-1", at(10 + TTL + 1)) is None
    # An int `now` (Unix microseconds) means the same.
    assert b.get("tok-1", T0_MICROS + (10 + TTL - 1) * 1_000_000) == session()
    if harness.kind == "redis":
        ttl_ms = RedisServer.client_for(harness.where).pttl(f"{{{harness.name}}}:session:{hashed('tok-1')}")
        assert (TTL - 5) * 1000 < ttl_ms <= TTL * 1000


def test_entries_never_outlive_their_session(harness: Harness) -> None:
    a, b = harness.worker(), harness.worker()
    short = session(expires_at=at(100))
    a.fill("tok-1", short, at(0))
    assert b.get("tok-1", at(99)) == short and b.get("tok-1", at(100)) is None
    # A session already over is returned as load() said, and not stored.
    over = session(expires_at=at(-1))
    assert a.get_or_load("tok-2", Loader(over), at(0)) == over
    assert hashed("tok-2") not in harness.stored()


def test_expired_entries_are_purged_by_later_fills(harness: Harness) -> None:
    a = harness.worker()
    for i in range(5):
        a.fill(f"old-{i}", session(expires_at=at(10)), at(0))
    a.fill("new", session(), at(20))
    assert set(harness.stored()) == {hashed("new")}


# --- the size cap ----------------------------------------------------------------------------------------


def test_the_cap_evicts_the_entries_closest_to_their_end_first(harness: Harness) -> None:
    a = harness.worker(max_entries=3)
    b = harness.worker(max_entries=3)
    a.fill("a", session(expires_at=at(300)))
    a.fill("b", session(expires_at=at(100)))
    b.fill("c", session(expires_at=at(200)))
    b.fill("d", session(expires_at=at(400)))
    assert set(harness.stored()) == {hashed("a"), hashed("c"), hashed("d")}
    a.fill("e", session(expires_at=at(450)))
    assert set(harness.stored()) == {hashed("a"), hashed("d"), hashed("e")}
    # Once "a" has expired, filling it again takes its place: nothing live is evicted.
    b.fill("a", session(expires_at=at(500)), at(300))
    assert set(harness.stored()) == {hashed("a"), hashed("d"), hashed("e")}
    for i in range(20):
        b.fill(f"many-{i}", session(expires_at=at(1000 + i)))
        assert len(harness.stored()) <= 3
    assert set(harness.stored()) == {hashed(f"many-{i}") for i in (17, 18, 19)}


def test_the_cap_evicts_replaced_entries_before_live_ones(harness: Harness) -> None:
    a = harness.worker(max_entries=3)
    for token in ("x", "y", "z"):
        a.fill(token, session(expires_at=at(900)))
    a.step(ttl_set(1800))
    # The new entries end sooner than the dead ones: yet the dead ones go.
    for token in ("p", "q", "r"):
        a.fill(token, session(expires_at=at(50)))
    assert set(harness.stored()) == {hashed("p"), hashed("q"), hashed("r")}
    assert all(a.get(token) == session(expires_at=at(50)) for token in ("p", "q", "r"))


# --- what is stored --------------------------------------------------------------------------------------


def test_tokens_are_never_stored_in_clear(harness: Harness) -> None:
    token = "tok-SECRET-6f1d2c3b4a5968778695a4b3c2d1e0f1"
    a = harness.worker()
    a.fill(token, session("alice@example.org", note="kept"))
    a.invalidate("tok-other")
    a.invalidate_user("alice@example.org")
    a.fill(token, session("alice@example.org", note="kept"))
    if harness.kind == "sqlite":
        db = sqlite3.connect(harness.where)
        dump = "\n".join(db.iterdump())
        db.close()
    else:
        client = RedisServer.client_for(harness.where, decode_responses=True)
        parts = []
        for key in client.scan_iter(match=f"\\{{{harness.name}\\}}:*"):
            kind = client.type(key)
            value: Any = {"hash": client.hgetall, "set": client.smembers, "string": client.get,
                          "zset": lambda k: client.zrange(k, 0, -1, withscores=True)}.get(kind, lambda k: "")(key)
            parts.append(f"{key} {value}")
        dump = "\n".join(parts)
        # User names appear in entries, not in key names.
        assert "alice" not in "\n".join(client.scan_iter(match=f"\\{{{harness.name}\\}}:*"))
        assert f"sessions:user:{hashed('alice@example.org')}" in dump
    assert token not in dump and "SECRET" not in dump
    assert hashed(token) in dump and "alice@example.org" in dump


# --- failures --------------------------------------------------------------------------------------------


@contextmanager
def wal_index_held(path: str) -> Iterator[None]:
    """Another process holds the database's WAL index locked as if it were
    recovering it: every reader and writer gets "database is locked" once its
    busy timeout runs out, until the process lets go."""
    helper = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys\n"
        f"fd = os.open({path + '-shm'!r}, os.O_RDWR)\n"
        "fcntl.lockf(fd, fcntl.LOCK_EX, 3, 120, 0)  # the WAL index's write, checkpoint and recover locks\n"
        "os.pwrite(fd, bytes(96), 0)  # its header, so that readers must recover it\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert helper.stdout is not None and helper.stdout.readline() == "held\n"
        yield
    finally:
        assert helper.stdin is not None
        helper.stdin.close()
        helper.wait(10)


def unavailable_operations(worker: Worker) -> list[tuple[str, Callable[[], Any]]]:
    loader = Loader(session())
    return [("get", lambda: worker.get("tok-1")),
            ("get_or_load", lambda: worker.get_or_load("tok-2", loader)),
            ("invalidate", lambda: worker.invalidate("tok-1")),
            ("invalidate_user", lambda: worker.invalidate_user("alice"))]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_locked_sqlite_database_is_store_unavailable(tmp_path: Path, mode: str) -> None:
    harness = Harness("sqlite", mode, str(tmp_path / "state.db"), "locked", timeout=0.2)
    try:
        a = harness.worker()
        a.fill("tok-1", session())
        with wal_index_held(harness.where):
            for operation, call in unavailable_operations(a):
                with pytest.raises(StoreUnavailableError, match="database is locked") as raised:
                    call()
                assert "state.db" in str(raised.value), operation
        assert a.get("tok-1") == session()  # back once the lock is gone
    finally:
        harness.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stopped_redis_is_store_unavailable(private_redis: RedisServer, mode: str) -> None:
    harness = Harness("redis", mode, private_redis.socket, "stopped", client_retries=False)
    try:
        a = harness.worker()
        a.fill("tok-1", session())
        private_redis.stop()
        for operation, call in unavailable_operations(a):
            with pytest.raises(StoreUnavailableError, match="unreachable") as raised:
                call()
            assert "{stopped}" in str(raised.value), operation
        loader = Loader(session())
        with pytest.raises(StoreUnavailableError):
            a.get_or_load("tok-3", loader)
        assert loader.calls == 0  # never a session from a lookup that failed
        private_redis.start()  # the append-only file kept the entry
        assert a.get("tok-1") == session()
    finally:
        harness.close()


def test_a_corrupt_entry_is_an_error_naming_it(harness: Harness) -> None:
    a = harness.worker()
    a.fill("tok-1", session())
    if harness.kind == "sqlite":
        db = sqlite3.connect(harness.where)
        db.execute("UPDATE bangui_session_cache SET data = 'not json' WHERE name = ?", (harness.name,))
        db.commit()
        db.close()
        where = f"token_hash={hashed('tok-1')!r}"
    else:
        key = f"{{{harness.name}}}:session:{hashed('tok-1')}"
        RedisServer.client_for(harness.where).hset(key, "expires", "soon")
        where = key
    with pytest.raises(StoreCorruptError) as raised:
        a.get("tok-1")
    assert where in str(raised.value)
    if harness.kind == "redis":
        key = f"{{{harness.name}}}:session:{hashed('tok-2')}"
        RedisServer.client_for(harness.where).set(key, "a string")
        with pytest.raises(StoreCorruptError, match="WRONGTYPE"):
            a.get("tok-2")


def test_bad_arguments_are_refused_naming_them(harness: Harness) -> None:
    a = harness.worker()
    token: Any
    for token in ("", None, 42, b"tok", "\ud800"):
        with pytest.raises(ValueError, match="^token: "):
            a.get(token)
        with pytest.raises(ValueError, match="^token: "):
            a.invalidate(token)
        loader = Loader(session())
        with pytest.raises(ValueError, match="^token: "):
            a.get_or_load(token, loader)
        assert loader.calls == 0
    with pytest.raises(ValueError, match="^token: expected a non-empty str, got an empty str"):
        a.get("")
    with pytest.raises(ValueError, match="^token: expected a non-empty str, got a bytes") as raised:
        a.get(b"secret-bytes")
    assert "secret" not in str(raised.value)
    for user in ("", None, 7):
        with pytest.raises(ValueError, match="^user: "):
            a.invalidate_user(user)
    with pytest.raises(ValueError, match="^max_entries: "):
        harness.worker(max_entries=0)
    with pytest.raises(ValueError, match="^user: "):
        CachedSession("", LATER)
    with pytest.raises(ValueError, match="^expires_at: "):
        CachedSession("alice", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="^data: "):
        CachedSession("alice", LATER, ["not", "a", "mapping"])
    with pytest.raises(ValueError, match="^data: not JSON-able"):
        a.get_or_load("tok-1", Loader(CachedSession("alice", LATER, {"x": {1, 2}})))
    with pytest.raises(TypeError, match="load\\(\\) returned dict"):
        a.get_or_load("tok-1", Loader({"user": "alice"}))
    with pytest.raises(Exception, match="now"):
        a.get("tok-1", 1_700_000_000)  # Unix seconds: refused
    assert harness.stored() == {}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_redis_client_that_decodes_responses_works_too(redis_server: RedisServer, mode: str) -> None:
    import redis
    import redis.asyncio

    from bangui_state.shared import AsyncRedisStore, RedisStore

    odd = session("zoë 🙂", note="ü")

    async def run_async() -> CachedSession | None:
        client = redis.asyncio.Redis(unix_socket_path=redis_server.socket, decode_responses=True)
        machine = await AsyncSharedMachine.open(AsyncRedisStore(client, name=f"decoded-{mode}"), BOOTSTRAP)
        cache = session_cache_for(machine)

        async def load() -> CachedSession:
            return odd

        assert await cache.get_or_load("tok-1", load, T0) == odd
        found = await cache.get("tok-1", T0)
        await client.aclose()
        return found

    if mode == "async":
        assert asyncio.run(run_async()) == odd
        return
    client = redis.Redis(unix_socket_path=redis_server.socket, decode_responses=True)
    cache = session_cache_for(SharedMachine(RedisStore(client, name=f"decoded-{mode}"), BOOTSTRAP))
    assert cache.get_or_load("tok-1", lambda: odd, T0) == odd
    assert cache.get("tok-1", T0) == odd and cache.get("tok-2", T0) is None


def test_session_cache_for_picks_the_class_or_names_the_store(tmp_path: Path) -> None:
    machine = SharedMachine(SqliteStore(tmp_path / "a.db"), BOOTSTRAP)
    assert type(session_cache_for(machine)) is SqliteSessionCache

    class OtherStore:
        description = "a dict in memory"

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    other = SharedMachine(OtherStore(SqliteStore(tmp_path / "b.db")), BOOTSTRAP)
    with pytest.raises(TypeError, match="OtherStore .'a dict in memory'.") as raised:
        session_cache_for(other)
    assert "SqliteStore" in str(raised.value)
    with pytest.raises(TypeError, match="expected a SharedMachine or AsyncSharedMachine, got str"):
        session_cache_for("machine")
    with pytest.raises(TypeError, match="AsyncSqliteSessionCache: expected an AsyncSharedMachine over an AsyncSqliteStore, got SharedMachine"):
        AsyncSqliteSessionCache(machine)

    async def async_machine() -> None:
        store = AsyncSqliteStore(tmp_path / "c.db")
        opened = await AsyncSharedMachine.open(store, BOOTSTRAP)
        assert type(session_cache_for(opened)) is AsyncSqliteSessionCache
        await opened.aclose()

    asyncio.run(async_machine())


def test_redis_is_imported_only_for_a_redis_cache() -> None:
    code = ("import sys, bangui_state.shared as s\n"
            "assert 'redis' not in sys.modules and 'bangui_state.shared.redis_sessions' not in sys.modules\n"
            "s.RedisSessionCache\n"
            "assert 'redis' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- many processes --------------------------------------------------------------------------------------


def process_worker(barrier: Any, kind: str, mode: str, where: str, name: str, index: int) -> list[Any]:
    """Looks up, waits while worker 0 logs out, looks up again; the same for a user's sessions."""
    harness = Harness(kind, mode, where, name)
    try:
        me = harness.worker()
        seen = [me.get("tok-1"), me.get("tok-2")]
        barrier.wait()
        if index == 0:
            me.invalidate("tok-1")
        barrier.wait()
        seen += [me.get("tok-1"), me.get("tok-2")]
        barrier.wait()
        if index == 1:
            seen.append(me.invalidate_user("alice"))
        barrier.wait()
        seen.append(me.get("tok-2"))
        return [s.user if isinstance(s, CachedSession) else s for s in seen]
    finally:
        harness.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_4_processes_see_a_logout_right_after_it(kind: str, mode: str, tmp_path: Path, request: Any) -> None:
    where = str(tmp_path / "state.db") if kind == "sqlite" else request.getfixturevalue("redis_server").socket
    name = f"processes-{mode}"
    harness = Harness(kind, "sync", where, name)
    try:
        parent = harness.worker()
        parent.fill("tok-1", session("alice"))
        parent.fill("tok-2", session("alice"))
    finally:
        harness.close()
    results = run_workers(process_worker, [(kind, mode, where, name, i) for i in range(4)])
    assert results[0] == ["alice", "alice", None, "alice", None]
    assert results[1] == ["alice", "alice", None, "alice", 1, None]
    assert results[2] == results[3] == ["alice", "alice", None, "alice", None]
