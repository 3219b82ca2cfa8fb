"""Faults, for real: commit replies lost between redis-py and redis-server (a
proxy that drops the client's connection mid-commit), asyncio steps cancelled
with their commit in flight, and a SQLite file that is full, read-only or
locked. Every committed event's effects must come back exactly once: none
twice, none lost; every acknowledged commit in the log, and the log replaying
to the stored state.

The runs are short here (make test); `make soak` runs them long
(BANGUI_SOAK=1)."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import resource
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bangui_state import Machine
from shared_support import (  # noqa: F401  (fixtures)
    BOOTSTRAP,
    T0,
    LossyProxy,
    RedisServer,
    StoreSpec,
    at,
    redis_server,
    replay_outputs,
    run_workers,
)

from bangui_state.shared import (
    AsyncRedisStore,
    AsyncSharedMachine,
    AsyncSqliteStore,
    AsyncStore,
    LogTrimmedError,
    OutcomeUnknownError,
    PendingCommit,
    Proposal,
    SharedMachine,
    SqliteStore,
    StoreError,
    StoreUnavailableError,
    format_instant,
)
from bangui_state.shared.redis_store import COMMIT_SCRIPT

SOAK = os.environ.get("BANGUI_SOAK") == "1"
COMMIT_SHA = __import__("hashlib").sha1(COMMIT_SCRIPT.encode()).hexdigest()


# The workload: six kinds of event, each committed with effects that depend
# on the state it met (crashes detected, probes started, caches replaced), and
# each step's `now` unique, so that a log entry names its step.

def fault_event(worker: int, i: int) -> tuple[dict[str, Any], datetime]:
    tag = f"w{worker}-{i}"
    now = T0 + timedelta(seconds=7 * i, microseconds=worker + 1)
    kind = i % 6
    if kind == 0:
        event: dict[str, Any] = {"type": "jail_activated", "jail_name": tag}
    elif kind in (1, 2):
        event = {"type": "health_probe_completed",
                 "status": {"online": kind == 2, "version": tag, "active_jails": kind - 1}}
    elif kind == 3:
        event = {"type": "backend_probe_requested"}
    elif kind == 4:
        event = {"type": "backend_probe_failed", "reason": tag}
    else:
        event = {"type": "settings_updated", "overrides": {"tag": tag}}
    return event, now


def key_of(now: datetime) -> str:
    return format_instant(int(now.timestamp()) * 1_000_000 + now.microsecond)


Record = tuple[str, bool, list[dict[str, Any]]]  # (now, committed, the effects returned)


def resolve_all(machine: SharedMachine, pending: list[tuple[str, PendingCommit]]) -> list[Record]:
    records = []
    for key, commit in pending:
        for _ in range(100):  # the proxy still loses replies now and then
            try:
                resolution = machine.resolve(commit)
                break
            except OutcomeUnknownError:
                continue
        else:
            raise AssertionError(f"commit {commit.commit_id} never resolved")
        records.append((key, resolution.committed, resolution.effects))
    return records


def step_through_faults(barrier: Any, spec: StoreSpec, worker: int, steps: int, resolve_timeout: float) \
        -> dict[str, Any]:
    machine = spec.machine(resolve_timeout=resolve_timeout)
    barrier.wait()
    records: list[Record] = []
    pending: list[tuple[str, PendingCommit]] = []
    for i in range(steps):
        event, now = fault_event(worker, i)
        before = machine.stats.commits
        try:
            effects = machine.step(event, now)
        except OutcomeUnknownError as error:
            pending.append((key_of(now), error.pending))
            continue
        records.append((key_of(now), machine.stats.commits > before, effects))
    records += resolve_all(machine, pending)
    return {"records": records, "stats": dataclasses.asdict(machine.stats), "pending": len(pending)}


def check_exactly_once(machine: SharedMachine | AsyncSharedMachine, trace: str, records: list[Record]) \
        -> dict[str, int]:
    """Every step committed is in the log once, with the effects its step (or
    resolve) returned; nothing else is; the log replays to the stored state."""
    outputs = replay_outputs(trace)
    assert outputs and outputs[-1]["state"] == machine.state, "the log does not replay to the stored state"
    assert len(outputs) == machine.revision
    import json

    steps = json.loads(trace)["steps"]
    logged: dict[str, list[dict[str, Any]]] = {}
    for step, output in zip(steps, outputs):
        assert step["now"] not in logged, f"committed twice: {step}"
        assert "effects" in output, f"the replay refused a logged step: {output}"
        logged[step["now"]] = output["effects"]
    returned: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
    for key, committed, effects in records:
        assert key not in returned, f"step {key} returned twice"
        returned[key] = (committed, effects)
    acknowledged = {key for key, (committed, _) in returned.items() if committed}
    assert acknowledged - set(logged) == set(), "acknowledged commits missing from the log"
    assert set(logged) - acknowledged == set(), "commits in the log whose step did not return them"
    for key in acknowledged:
        assert returned[key][1] == logged[key], f"step {key}: returned {returned[key][1]}, committed {logged[key]}"
    for key, (committed, effects) in returned.items():
        if not committed:
            assert all(effect["type"] == "log" for effect in effects), f"uncommitted step {key} returned {effects}"
    kinds = Counter(effect["type"] for effects in logged.values() for effect in effects)
    return {"steps": len(returned), "committed": len(acknowledged), "probes": kinds["probe_backend_capability"]}


@pytest.fixture
def proxy(redis_server: RedisServer) -> Any:  # noqa: F811
    lossy = LossyProxy(redis_server.socket, COMMIT_SHA, drop_rate=0.05, seed=random.randrange(1 << 30))
    lossy.start()
    try:
        yield lossy
    finally:
        lossy.stop()


def test_lost_commit_replies_from_several_processes_return_each_commits_effects_once(
        proxy: LossyProxy, redis_server: RedisServer) -> None:  # noqa: F811
    workers, steps = (8, 12_500) if SOAK else (4, 120)
    name = f"lossy-{random.randrange(1 << 30)}"
    # Half the workers' clients resend nothing themselves (the machine
    # resolves every lost reply), half keep redis-py's retries (which resend
    # the same EVALSHA first).
    specs = [StoreSpec("redis", proxy.where, name, log_retention=1_000_000, client_retries=0 if w % 2 else None)
             for w in range(workers)]
    started = time.monotonic()
    results = run_workers(step_through_faults, [(specs[w], w, steps, 30.0) for w in range(workers)],
                          timeout=3600 if SOAK else 120)
    elapsed = time.monotonic() - started
    direct = StoreSpec("redis", redis_server.socket, name, log_retention=1_000_000).machine()
    records = [record for result in results for record in result["records"]]
    found = check_exactly_once(direct, direct.export_trace(), records)
    stats = Counter[str]()
    for result in results:
        stats.update(result["stats"])
    counts = proxy.counts()
    print(f"\nlossy proxy: {found['steps']} steps ({found['committed']} committed, {found['probes']} backend "
          f"probes) from {workers} processes in {elapsed:.1f} s; proxy lost {proxy.dropped()} of "
          f"{counts['commits']} commit sends ({counts}); machines saw {stats['lost_replies']} lost replies, "
          f"{stats['lost_replies_landed']} of them landed, {stats['conflicts']} conflicts, "
          f"{sum(r['pending'] for r in results)} left to resolve()")
    assert found["steps"] == workers * steps
    assert proxy.dropped() >= (100 if SOAK else 5), "the proxy lost too few replies to test anything"
    assert stats["lost_replies"] > 0, "no step met a lost reply"
    assert stats["lost_replies_landed"] > 0, "no lost reply was of a commit that landed"


def test_a_commit_that_landed_while_the_store_stays_down_is_resolved_later(
        proxy: LossyProxy, redis_server: RedisServer) -> None:  # noqa: F811
    spec = StoreSpec("redis", proxy.where, "landed-down", client_retries=0)
    machine = spec.machine(resolve_timeout=0.3)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    before = machine.state_json
    proxy.fail_next("after_reply")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownError, match=r"redis store key \{landed-down\}:state: the reply to commit") \
            as raised:
        machine.step({"type": "backend_probe_requested"}, at(1))
    assert time.monotonic() - started < 5, "the step did not give up within its bound"
    error = raised.value
    assert isinstance(error, StoreUnavailableError) and error.outcome_unknown
    assert error.pending.revision == 2 and error.commit_id == error.pending.commit_id
    assert error.pending.effects == [{"type": "probe_backend_capability"}]
    assert machine.state_json == before and machine.stats.unresolved == 1
    # The commit did land: another worker, on the server itself, sees it.
    other = StoreSpec("redis", redis_server.socket, "landed-down").machine()
    assert other.revision == 2
    proxy.up()
    resolution = machine.resolve(error)
    assert resolution.committed and resolution.revision == 2
    assert resolution.effects == [{"type": "probe_backend_capability"}]
    assert machine.revision == 2
    # The same answer from any worker, any number of times; never a second commit.
    assert other.resolve(error.pending).committed and len(other.commits(0)) == 2
    assert [c.event["type"] for c in other.commits(0)] == ["jail_activated", "backend_probe_requested"]


def test_a_commit_that_never_landed_is_not_committed_once_others_moved_on(
        proxy: LossyProxy, redis_server: RedisServer) -> None:  # noqa: F811
    spec = StoreSpec("redis", proxy.where, "never-landed", client_retries=0)
    machine = spec.machine(resolve_timeout=0.2)
    proxy.fail_next("before")
    with pytest.raises(OutcomeUnknownError) as raised:
        machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    other = StoreSpec("redis", redis_server.socket, "never-landed").machine()
    other.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    proxy.up()
    resolution = machine.resolve(raised.value.pending)
    assert not resolution.committed and resolution.effects == [] and resolution.revision is None
    assert machine.revision == 1  # it took the state it met
    assert [c.event["jail_name"] for c in other.commits(0)] == ["nginx"]
    # The host steps the event again if it still should happen.
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    assert [c.event["jail_name"] for c in other.commits(0)] == ["nginx", "sshd"]


def test_a_commit_that_never_landed_is_committed_by_resolve_while_nothing_moved(
        proxy: LossyProxy) -> None:
    # The store still stands at the revision the commit expected: a copy of
    # it still in the network could land there, so resolve sends it once
    # more under its id (it lands exactly once) rather than answer "not
    # committed" and leave that door open.
    machine = StoreSpec("redis", proxy.where, "resolved-now", client_retries=0).machine(resolve_timeout=0.2)
    proxy.fail_next("before")
    with pytest.raises(OutcomeUnknownError) as raised:
        machine.step({"type": "backend_probe_requested"}, at(0))
    assert machine.revision == 0
    proxy.up()
    resolution = machine.resolve(raised.value)
    assert resolution.committed and resolution.effects == [{"type": "probe_backend_capability"}]
    assert machine.revision == 1 and len(machine.commits(0)) == 1


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_resolve_of_a_commit_trimmed_from_the_log_says_it_cannot_know(kind: str, tmp_path: Path,
                                                                     request: pytest.FixtureRequest) -> None:
    where = str(tmp_path / "state.db") if kind == "sqlite" else request.getfixturevalue("redis_server").socket
    spec = StoreSpec(kind, where, "trimmed", log_retention=3)
    machine, other = spec.machine(), spec.machine()
    # A commit whose reply was lost: sent (it landed as revision 1), never answered.
    local = Machine.restore_json(machine.state_json)
    effects = local.step({"type": "backend_probe_requested"}, at(0))
    proposal = Proposal(local.state_json, format_instant(1_777_308_120_000_000), '{"type":"backend_probe_requested"}',
                        False)
    assert machine.store.commit(0, proposal) is None
    pending = PendingCommit(0, proposal, effects)
    # Found while the log still holds revision 1 ...
    assert machine.resolve(pending).committed
    # ... not once the log was trimmed past it: nobody can tell any more.
    for i in range(8):
        other.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(1 + i))
    assert other.store.read_log(0)[0].revision > 1
    with pytest.raises(LogTrimmedError, match=f"commit {proposal.commit_id} would be revision 1, which is no longer") \
            as raised:
        machine.resolve(pending)
    assert raised.value.commit_id == proposal.commit_id


# asyncio: the same through the proxy, and steps cancelled mid-commit.

def async_store(spec: StoreSpec) -> AsyncStore:
    if spec.kind in ("sqlite", "sqlite-thread"):
        # sqlite-thread: every call on the store's thread, where a step can be
        # cancelled with its commit in flight (on the loop's thread it cannot).
        return AsyncSqliteStore(spec.where, name=spec.name, log_retention=spec.log_retention, poll_interval=0.01,
                                inline=spec.kind == "sqlite")
    import redis.asyncio
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: dict[str, Any] = {}
    if spec.client_retries is not None:
        options["retry"] = Retry(NoBackoff(), spec.client_retries)
    if spec.where.startswith("tcp://"):
        host, port = spec.where[len("tcp://"):].rsplit(":", 1)
        client = redis.asyncio.Redis(host=host, port=int(port), socket_timeout=10, **options)
    else:
        client = redis.asyncio.Redis(unix_socket_path=spec.where, socket_timeout=10, **options)
    return AsyncRedisStore(client, name=spec.name, log_retention=spec.log_retention)


async def async_steps(spec: StoreSpec, worker: int, steps: int, *, cancel_rate: float) -> dict[str, Any]:
    """Steps one AsyncSharedMachine; with probability `cancel_rate` a step is
    cancelled after a random short wait (a request timeout), maybe with its
    commit in flight. (One step at a time, so that the commit counter tells
    whether each step committed; test_shared_async runs concurrent tasks.)"""
    machine = await AsyncSharedMachine.open(async_store(spec), BOOTSTRAP, resolve_timeout=30.0)
    rng = random.Random(worker)
    records: list[Record] = []
    cancelled: list[str] = []
    pending: list[tuple[str, PendingCommit]] = []

    async def one(i: int) -> None:
        event, now = fault_event(worker, i)
        key = key_of(now)
        before = machine.stats.commits
        step = asyncio.ensure_future(machine.step(event, now))
        if rng.random() < cancel_rate:
            await asyncio.sleep(rng.random() * 0.0005)
            step.cancel()
        try:
            effects = await step
        except asyncio.CancelledError:
            cancelled.append(key)
            return
        except OutcomeUnknownError as error:
            pending.append((key, error.pending))
            return
        records.append((key, machine.stats.commits > before, effects))

    for i in range(steps):
        await one(i)
    # A cancelled step whose commit was in flight is listed; the others never sent one.
    keys = {commit.now: commit for commit in machine.unresolved}
    listed = len(keys)
    for key in cancelled:
        commit = keys.pop(key, None)
        if commit is None:
            records.append((key, False, []))  # cancelled before its commit was sent
        else:
            pending.append((key, commit))
    assert not keys, "an unresolved commit of a step that was not cancelled"
    for key, commit in pending:
        resolution = await machine.resolve(commit)
        records.append((key, resolution.committed, resolution.effects))
    assert machine.unresolved == []
    stats = dataclasses.asdict(machine.stats)
    await close(machine)
    return {"records": records, "stats": stats, "cancelled": len(cancelled), "listed": listed}


async def close(machine: AsyncSharedMachine) -> None:
    await machine.aclose()
    client = getattr(machine.store, "client", None)
    if client is not None:
        await client.aclose()


def async_worker(barrier: Any, spec: StoreSpec, worker: int, steps: int, cancel_rate: float) -> dict[str, Any]:
    barrier.wait()
    return asyncio.run(async_steps(spec, worker, steps, cancel_rate=cancel_rate))


async def exported(spec: StoreSpec) -> tuple[AsyncSharedMachine, str]:
    machine = await AsyncSharedMachine.open(async_store(spec), BOOTSTRAP)
    return machine, await machine.export_trace()


@pytest.mark.parametrize("kind", ["sqlite", "sqlite-thread", "redis"])
def test_async_steps_cancelled_mid_commit_and_lost_replies_return_effects_once(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    workers, steps = (4, 5000) if SOAK else (3, 200)
    if kind.startswith("sqlite"):
        specs = [StoreSpec(kind, str(tmp_path / "state.db"), "cancelled", log_retention=1_000_000)] * workers
    else:
        lossy: LossyProxy = request.getfixturevalue("proxy")
        specs = [StoreSpec("redis", lossy.where, "cancelled", log_retention=1_000_000,
                           client_retries=0 if w % 2 else None) for w in range(workers)]
    results = run_workers(async_worker, [(specs[w], w, steps, 0.25) for w in range(workers)],
                          timeout=3600 if SOAK else 120)
    direct = specs[0] if kind.startswith("sqlite") else StoreSpec(
        "redis", request.getfixturevalue("redis_server").socket, "cancelled", log_retention=1_000_000)
    machine, trace = asyncio.run(exported(direct))
    records = [record for result in results for record in result["records"]]
    found = check_exactly_once(machine, trace, records)
    stats = Counter[str]()
    for result in results:
        stats.update(result["stats"])
    cancelled = sum(r["cancelled"] for r in results)
    listed = sum(r["listed"] for r in results)
    print(f"\nasync {kind}: {found['steps']} steps, {cancelled} cancelled, {listed} of those with their commit in "
          f"flight (resolved afterwards), {stats['lost_replies']} lost replies, {stats['lost_replies_landed']} "
          "landed")
    assert found["steps"] == workers * steps
    if kind != "sqlite":  # a commit made on the loop's thread is never in flight at a cancellation
        assert listed > 0, "no step was cancelled with its commit in flight"


# SQLite under faults: each a clear StoreError naming the store, the state as
# it was, and the store usable again once the fault clears. The faults need a
# process of their own (a file size limit, another user): `in_child` runs one.

def in_child(function: Any, *args: Any) -> Any:
    """Runs `function(*args)` in a forked child; returns its result, or raises
    what it raised (as an AssertionError with its text)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()

    def run() -> None:
        try:
            child.send(("ok", function(*args)))
        except BaseException as error:  # reported to the parent, which fails the test
            child.send(("error", f"{type(error).__name__}: {error}"))

    process = context.Process(target=run)
    process.start()
    try:
        if not parent.poll(60):
            raise AssertionError("the child did not answer within 60 s")
        kind, value = parent.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
    if kind == "error":
        raise AssertionError(value)
    return value


def big_event(i: int) -> dict[str, Any]:
    # A commit that needs room: ~200 KB of carried settings.
    return {"type": "settings_updated", "overrides": {"blob": f"{i}:" + "x" * 200_000}}


def full_disk_by_file_size_limit(path: str) -> dict[str, Any]:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
    machine = SharedMachine(SqliteStore(path), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    before, revision = machine.state_json, machine.revision
    biggest = max(os.path.getsize(path + suffix) for suffix in ("", "-wal", "-shm") if os.path.exists(path + suffix))
    resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + 4096, resource.RLIM_INFINITY))
    try:
        machine.step(big_event(1), at(1))
        return {"error": None}
    except StoreError as error:
        caught = error
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    unchanged = machine.state_json == before and machine.revision == revision
    stored = SqliteStore(path).load()
    machine.step(big_event(2), at(2))  # the limit is gone: the same store goes on
    return {"error": type(caught).__name__, "message": str(caught), "unknown": caught.outcome_unknown
            if isinstance(caught, StoreUnavailableError) else None, "unchanged": unchanged,
            "stored_revision": stored and stored.revision, "after": machine.revision,
            "log": [c.event["type"] for c in machine.commits(0)]}


def test_a_full_disk_by_file_size_limit_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    found = in_child(full_disk_by_file_size_limit, path)
    assert found["error"] == "StoreUnavailableError", found
    assert found["message"].startswith(f"sqlite store {path} (table bangui_state, name 'bangui'): ")
    assert "nothing was committed" in found["message"] and not found["unknown"]
    assert "disk is full" in found["message"] or "cannot write" in found["message"], found["message"]
    assert found["unchanged"] and found["stored_revision"] == 1
    assert found["after"] == 2 and found["log"] == ["jail_activated", "settings_updated"]


def can_mount_tmpfs(directory: Path) -> bool:
    if os.geteuid() != 0:
        return False
    directory.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)], capture_output=True)
    return done.returncode == 0


def test_a_full_tmpfs_is_a_clear_error_and_the_store_goes_on_once_there_is_room(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    if not can_mount_tmpfs(mount):
        pytest.skip("mounting a tmpfs needs root (the file size limit test covers a full disk without)")
    try:
        path = mount / "state.db"
        machine = SharedMachine(SqliteStore(path), BOOTSTRAP)
        machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
        before = machine.state_json
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill the disk to the last byte
        try:
            for size in (65536, 4096, 512, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError:
                        break
        finally:
            os.close(fd)
        with pytest.raises(StoreUnavailableError, match=rf"sqlite store {path} .*(disk is full|cannot write)") \
                as raised:
            for i in range(20):  # the WAL may have room for a commit or two
                machine.step(big_event(i), at(1 + i))
        assert "nothing was committed" in str(raised.value) and not raised.value.outcome_unknown
        committed = machine.revision
        assert SqliteStore(path).load().revision == committed  # type: ignore[union-attr]
        assert len(machine.commits(0)) == committed
        filler.unlink()
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(30))
        assert machine.revision == committed + 1
        assert machine.state["last_activation"]["jail_name"] == "nginx"
        assert before != machine.state_json
        machine.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def read_only_database(path: str, as_other_user: bool) -> dict[str, Any]:
    if as_other_user:  # root writes any file: be nobody, whom the file's mode binds
        os.setgid(65534)
        os.setuid(65534)
    store = SqliteStore(path)
    machine = SharedMachine(store, BOOTSTRAP)
    before = machine.state_json
    try:
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
        return {"error": None}
    except StoreError as error:
        caught = error
    result: dict[str, Any] = {"error": type(caught).__name__, "message": str(caught),
                              "unchanged": machine.state_json == before, "revision": machine.revision}
    # The test makes the file writable once it has seen the error ...
    ready = Path(path + ".writable")
    deadline = time.monotonic() + 30
    Path(path + ".failed").touch()
    while not ready.exists():
        assert time.monotonic() < deadline, "the file was never made writable"
        time.sleep(0.01)
    machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))  # ... and the same store goes on
    result["after"] = machine.revision
    return result


def test_a_read_only_database_is_a_clear_error_and_the_store_goes_on_once_writable() -> None:
    import shutil
    import tempfile

    # Under /tmp, not pytest's tmp_path: another user must reach it.
    directory = Path(tempfile.mkdtemp(prefix="bangui-read-only-"))
    try:
        check_read_only(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def check_read_only(directory: Path) -> None:
    import threading

    path = directory / "state.db"
    machine = SharedMachine(SqliteStore(path), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    machine.close()
    as_other_user = os.geteuid() == 0
    for entry in [directory, *directory.iterdir()]:
        if as_other_user:
            os.chown(entry, 65534, 65534)
    path.chmod(0o444)

    def make_writable() -> None:
        deadline = time.monotonic() + 30
        while not Path(str(path) + ".failed").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        # What an operator does: chmod 644 state.db* (SQLite made the -wal and
        # -shm files with the database file's mode).
        for suffix in ("", "-wal", "-shm"):
            if Path(str(path) + suffix).exists():
                Path(str(path) + suffix).chmod(0o644)
        Path(str(path) + ".writable").touch()

    helper = threading.Thread(target=make_writable)
    helper.start()
    try:
        found = in_child(read_only_database, str(path), as_other_user)
    finally:
        helper.join()
    assert found["error"] == "StoreUnavailableError", found
    assert found["message"].startswith(f"sqlite store {path} (table bangui_state, name 'bangui'): the database is "
                                       "read-only"), found["message"]
    assert "-wal and -shm files" in found["message"]
    assert "nothing was committed" in found["message"]
    assert found["unchanged"] and found["revision"] == 1
    assert found["after"] == 2


def test_a_lock_held_past_the_timeout_is_a_clear_error_and_the_store_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    machine = SharedMachine(SqliteStore(path, timeout=0.2), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    before = machine.state_json
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=rf"sqlite store {path} .*: database is locked: .*another "
                                                    r"connection held the lock for longer than timeout=0.2 s") \
            as raised:
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert time.monotonic() - started < 5
    assert not raised.value.outcome_unknown and "nothing was committed" in str(raised.value)
    assert machine.state_json == before
    # A reader is not blocked by the writer's lock (WAL).
    assert machine.refresh() is False and machine.commits(0)[0].event["jail_name"] == "sshd"
    holder.execute("ROLLBACK")
    holder.close()
    machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert machine.revision == 2
