"""AsyncSharedMachine over AsyncSqliteStore and AsyncRedisStore (redis.asyncio)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from shared_support import BOOTSTRAP, StoreSpec, at, redis_server, run_workers, spec  # noqa: F401

from bangui_state.shared import (
    AsyncRedisStore,
    AsyncSharedMachine,
    AsyncSqliteStore,
    AsyncStore,
    BootstrapMismatchError,
    Commit,
    StoreUnavailableError,
)


def async_store(spec: StoreSpec) -> AsyncStore:
    if spec.kind == "sqlite":
        return AsyncSqliteStore(spec.where, name=spec.name, poll_interval=0.01)
    import redis.asyncio

    return AsyncRedisStore(redis.asyncio.Redis(unix_socket_path=spec.where), name=spec.name)


async def close(machine: AsyncSharedMachine) -> None:
    await machine.aclose()
    client = getattr(machine.store, "client", None)
    if client is not None:
        await client.aclose()


def commit_some(barrier: Any, spec: StoreSpec, worker: int, steps: int) -> int:
    machine = spec.machine()
    barrier.wait()
    for i in range(steps):
        machine.step({"type": "jail_activated", "jail_name": f"w{worker}-{i}"}, at(i))
    return steps


def test_watch_yields_every_commit_of_other_processes_in_order(spec: StoreSpec) -> None:
    async def main() -> list[Commit]:
        machine = await AsyncSharedMachine.open(async_store(spec), BOOTSTRAP)
        seen: list[Commit] = []

        async def watch() -> None:
            async for commit in machine.watch(0, poll=0.5):
                seen.append(commit)
                if len(seen) == 200:
                    return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        done = await loop.run_in_executor(None, run_workers, commit_some, [(spec, w, 50) for w in range(4)])
        assert sum(done) == 200
        await asyncio.wait_for(watcher, 30)
        assert machine.revision == 200  # the watcher refreshed the machine
        await close(machine)
        return seen

    seen = asyncio.run(main())
    assert [c.revision for c in seen] == list(range(1, 201))
    assert sorted(c.event["jail_name"] for c in seen) == sorted(f"w{w}-{i}" for w in range(4) for i in range(50))


def test_concurrent_tasks_and_workers_commit_every_step(spec: StoreSpec) -> None:
    async def main() -> None:
        first = await AsyncSharedMachine.open(async_store(spec), BOOTSTRAP)
        second = await AsyncSharedMachine.open(async_store(spec), BOOTSTRAP)

        async def activate(machine: AsyncSharedMachine, task: int) -> None:
            for i in range(25):
                assert await machine.step({"type": "jail_activated", "jail_name": f"t{task}-{i}"}, at(i)) == []

        await asyncio.gather(*(activate(first if t % 2 else second, t) for t in range(8)))
        await first.refresh()
        assert first.revision == 200
        commits = await first.commits(0)
        assert len({c.event["jail_name"] for c in commits}) == 200
        report = await first.health_probe(True, "1.1.0", 2, at(100))
        assert report.came_online and report.revision == 201
        steady = await second.health_probe(True, "1.1.0", 2, at(105))
        assert steady.steady and steady.revision == 201 and second.revision == 201
        assert first.next_deadline(at(0)) is not None
        assert first.effective_settings == BOOTSTRAP
        trace = await first.export_trace()
        assert trace.startswith('{"bootstrap":')
        await close(first)
        await close(second)

    asyncio.run(main())


def test_async_open_refuses_mismatched_bootstrap_settings(spec: StoreSpec) -> None:
    async def main() -> None:
        machine = await AsyncSharedMachine.open(async_store(spec), BOOTSTRAP)
        kinds: list[str] = []
        with pytest.raises(BootstrapMismatchError, match="session_cache_enabled: stored True, this worker False"):
            await AsyncSharedMachine.open(async_store(spec), {**BOOTSTRAP, "session_cache_enabled": False},
                                          on_session_cache=kinds.append)
        assert kinds == []  # refused before installing anything
        await close(machine)

    asyncio.run(main())


def test_an_unreachable_async_redis_is_a_clear_error(tmp_path: Any) -> None:
    import redis.asyncio

    async def main() -> None:
        client = redis.asyncio.Redis(unix_socket_path=str(tmp_path / "none.sock"))
        with pytest.raises(StoreUnavailableError, match=r"redis store key \{bangui\}:state: unreachable"):
            await AsyncSharedMachine.open(AsyncRedisStore(client), BOOTSTRAP)
        await client.aclose()

    asyncio.run(main())


def test_the_async_script_is_loaded_again_after_script_flush(redis_server: Any) -> None:  # noqa: F811
    import redis.asyncio

    async def main() -> None:
        client = redis.asyncio.Redis(unix_socket_path=redis_server.socket)
        machine = await AsyncSharedMachine.open(AsyncRedisStore(client, name="async-flushed"), BOOTSTRAP)
        await machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
        await client.script_flush()
        await machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
        assert machine.revision == 2
        assert [c.event["jail_name"] for c in await machine.commits(0)] == ["sshd", "nginx"]
        await close(machine)

    asyncio.run(main())


def test_the_async_machine_reads_properties_and_its_old_calls_warn(tmp_path: Any) -> None:
    async def main() -> None:
        machine = await AsyncSharedMachine.open(AsyncSqliteStore(tmp_path / "state.db"), BOOTSTRAP)
        await machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
        assert machine.revision == 1 and machine.state["last_activation"]["jail_name"] == "sshd"
        assert machine.effective_settings == BOOTSTRAP and '"revision":1,' in machine.state_json
        with pytest.warns(DeprecationWarning, match=r"machine\.revision\(\) is deprecated"):
            assert machine.revision() == 1  # type: ignore[operator]
        with pytest.warns(DeprecationWarning, match=r"machine\.state\(\) is deprecated"):
            assert machine.state()["revision"] == 1  # type: ignore[misc]
        await machine.aclose()

    asyncio.run(main())


# AsyncSqliteStore runs a call on the event loop's thread when SQLite answers at
# once, and on its worker thread when the call would wait for a lock.

ACTIVATED = {"type": "jail_activated", "jail_name": "sshd"}


def test_sqlite_calls_run_on_the_loop_s_thread_when_nothing_holds_the_lock(tmp_path: Any) -> None:
    """With the store's thread kept busy, steps and session lookups still complete: they never went there."""
    from bangui_state.shared import session_cache_for

    async def main() -> None:
        store = AsyncSqliteStore(tmp_path / "state.db")
        assert store.inline
        machine = await AsyncSharedMachine.open(store, BOOTSTRAP)
        sessions = session_cache_for(machine)
        release = asyncio.Event()
        busy = asyncio.get_running_loop().run_in_executor(store._executor, lambda: asyncio.run_coroutine_threadsafe(
            release.wait(), loop).result())
        for i in range(5):
            await asyncio.wait_for(machine.step(ACTIVATED, at(i)), 2)
        assert await asyncio.wait_for(sessions.get("token", at(5)), 2) is None
        assert machine.revision == 5 and not busy.done()
        release.set()
        await busy
        await close(machine)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_a_sqlite_commit_that_must_wait_for_the_lock_waits_on_the_store_s_thread(tmp_path: Any) -> None:
    """Another connection holds the write lock: the step waits for it off the loop (the loop
    keeps running), then commits; the state is the same as if it had not waited."""
    import sqlite3
    import threading

    async def main() -> None:
        store = AsyncSqliteStore(tmp_path / "state.db", timeout=10)
        machine = await AsyncSharedMachine.open(store, BOOTSTRAP)
        other = sqlite3.connect(tmp_path / "state.db", isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        effects = await machine.step(ACTIVATED, at(0))
        ticker.cancel()
        assert ticks >= 10, f"the loop ran {ticks} times while the step waited 0.3 s"
        assert effects == [] and machine.revision == 1
        assert machine.state["last_activation"]["jail_name"] == "sshd"
        other.close()
        await close(machine)

    asyncio.run(main())


def test_sqlite_commits_made_on_the_loop_are_checkpointed_by_the_store_s_thread(tmp_path: Any) -> None:
    """The loop never checkpoints (a checkpoint may fsync); the thread does, after every
    `checkpoint_every` writes: the database file alone, without its write-ahead log, then
    holds them, and only them."""
    import shutil
    import sqlite3

    def revision_in_the_file_alone(copy: str) -> int | None:
        shutil.copy(tmp_path / "state.db", tmp_path / copy)
        alone = sqlite3.connect(tmp_path / copy)
        try:
            row = alone.execute("SELECT revision FROM bangui_state").fetchone()
        finally:
            alone.close()
        return None if row is None else int(row[0])

    async def main() -> list[int | None]:
        store = AsyncSqliteStore(tmp_path / "state.db", checkpoint_every=4)
        machine = await AsyncSharedMachine.open(store, BOOTSTRAP)  # write 1: the machine's row
        seen = []
        for i in range(3):  # writes 2 to 4: then a checkpoint
            await machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(i))
        await store._call(lambda: None)  # the checkpoint is done
        seen.append(revision_in_the_file_alone("after-4.db"))
        for i in range(3, 5):  # writes 5 and 6: no checkpoint
            await machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(i))
        await store._call(lambda: None)
        seen.append(revision_in_the_file_alone("after-6.db"))
        await close(machine)
        return seen

    assert asyncio.run(main()) == [3, 3]


def test_sqlite_inline_is_off_by_default_where_every_commit_fsyncs(tmp_path: Any) -> None:
    async def main() -> list[bool]:
        stores = [AsyncSqliteStore(tmp_path / "a.db"), AsyncSqliteStore(tmp_path / "b.db", synchronous="FULL"),
                  AsyncSqliteStore(tmp_path / "c.db", inline=False), AsyncSqliteStore(tmp_path / "d.db",
                                                                                     synchronous="FULL", inline=True)]
        inline = [store.inline for store in stores]
        for store in stores:
            await store.aclose()
        return inline

    assert asyncio.run(main()) == [True, False, False, True]
    with pytest.raises(ValueError, match=r"checkpoint_every: expected an int >= 1, got 0"):
        AsyncSqliteStore(tmp_path / "e.db", checkpoint_every=0)
