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
