"""Redis Cluster, run for real: 3 masters with 1 replica each on private
loopback ports (redis-cli --cluster create), `RedisStore` and
`AsyncRedisStore` over redis-py's cluster clients, the master holding the
machine's slot killed under load, and whether an acknowledged commit survives
the failover, with and without `wait_replicas`.

`make soak` (BANGUI_SOAK=1) runs the failover under load longer, killing the
master several times."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
from shared_support import (  # noqa: F401  (fixtures)
    BOOTSTRAP,
    RedisClusterNodes,
    StoreSpec,
    at,
    redis_cluster,
    replay_outputs,
    run_workers,
)
from test_shared_faults import Record, check_exactly_once, fault_event, key_of, resolve_all

from bangui_state.shared import (
    AsyncRedisStore,
    AsyncSharedMachine,
    OutcomeUnknownError,
    RedisStore,
    SharedMachine,
    StoreUnavailableError,
)

SOAK = os.environ.get("BANGUI_SOAK") == "1"


@pytest.fixture
def cluster(redis_cluster: RedisClusterNodes) -> Iterator[RedisClusterNodes]:  # noqa: F811
    """The module's cluster, ok, every node running and none stopped, before
    and after each test (pass or fail)."""
    def heal() -> None:
        for node in redis_cluster.nodes:
            if node.process is None:
                node.start()
            else:
                os.kill(node.process.pid, signal.SIGCONT)
        redis_cluster.wait_ok(60)

    heal()
    yield redis_cluster
    heal()


def test_a_machine_on_a_cluster_commits_conflicts_and_replays(cluster: RedisClusterNodes) -> None:
    spec = StoreSpec("redis-cluster", cluster.where(), "clustered")
    first, second = spec.machine(), spec.machine()
    first.health_probe(True, "1.1.0", 2, at(0))
    first.step({"type": "jail_activated", "jail_name": "sshd"}, at(10))
    effects = second.step({"type": "backend_probe_requested"}, at(11))  # stale: a conflict, then the commit
    assert effects == [{"type": "probe_backend_capability"}] and second.stats.conflicts == 1
    report = second.health_probe(False, None, 0, at(12))
    assert [e["event"] for e in report.effects if e["type"] == "log"] == [
        "fail2ban_went_offline", "activation_crash_detected", "health_check_complete"]
    outputs = replay_outputs(second.export_trace())
    assert len(outputs) == second.revision == 4 and outputs[-1]["state"] == second.state
    client = cluster.client()
    slots = {client.keyslot(key) for key in ("{clustered}:state", "{clustered}:log", "{clustered}:commits")}
    assert len(slots) == 1  # one slot: the scripts touch both keys, which a cluster allows only so
    owner = cluster.master_of("{clustered}:state").client()
    assert owner.type("{clustered}:state") == b"hash" and owner.type("{clustered}:log") == b"stream"


def test_the_asyncio_cluster_client_commits_and_watch_is_notified_by_pubsub(
        cluster: RedisClusterNodes) -> None:
    async def main() -> None:
        client = cluster.async_client()
        watcher_client = cluster.async_client()
        machine = await AsyncSharedMachine.open(AsyncRedisStore(client, name="async-clustered"), BOOTSTRAP)
        watching = await AsyncSharedMachine.open(AsyncRedisStore(watcher_client, name="async-clustered"),
                                                 BOOTSTRAP)
        seen: list[tuple[int, float]] = []

        async def watch() -> None:
            # A poll of 30 s: only the channel's notifications can make this quick.
            async for commit in watching.watch(0, poll=30):
                seen.append((commit.revision, time.monotonic()))
                if len(seen) == 5:
                    return

        task = asyncio.ensure_future(watch())
        await asyncio.sleep(0.2)  # subscribed
        sent = []
        for i in range(5):
            sent.append(time.monotonic())
            await machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(i))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, 10)
        assert [revision for revision, _ in seen] == [1, 2, 3, 4, 5]
        assert max(got - put for (_, got), put in zip(seen, sent)) < 2, "watch waited for its poll, not the channel"
        assert watching.revision == 5
        assert (await machine.health_probe(True, "1.1.0", 1, at(9))).came_online
        assert [c.revision for c in await machine.commits(3)] == [4, 5, 6]
        await client.aclose()
        await watcher_client.aclose()

    asyncio.run(main())


# The master holding the machine's slot killed under load.

def step_through_failover(barrier: Any, spec: StoreSpec, worker: int, signals: str, resolve_timeout: float) \
        -> dict[str, Any]:
    """Steps until 20 successes after the test says the failover is over:
    each failure a StoreUnavailableError (OutcomeUnknownError included, its
    commit resolved at the end)."""
    machine = spec.machine(resolve_timeout=resolve_timeout)
    barrier.wait()
    records: list[Record] = []
    pending = []
    failures: list[float] = []
    successes: list[float] = []
    after = 0
    i = 0
    deadline = time.monotonic() + (600 if SOAK else 90)
    while after < 20 and time.monotonic() < deadline:
        event, now = fault_event(worker, i)
        i += 1
        before = machine.stats.commits
        try:
            effects = machine.step(event, now)
        except OutcomeUnknownError as error:
            pending.append((key_of(now), error.pending))
            failures.append(time.time())
            continue
        except StoreUnavailableError as error:
            assert "redis store key" in str(error)
            records.append((key_of(now), False, []))  # known: not committed
            failures.append(time.time())
            time.sleep(0.01)
            continue
        records.append((key_of(now), machine.stats.commits > before, effects))
        successes.append(time.time())
        time.sleep(0.002)
        if len(successes) == 20:
            Path(f"{signals}.{worker}").touch()
        if Path(f"{signals}.over").exists():
            after += 1
    records += resolve_all(machine, pending)
    return {"records": records, "failures": failures, "successes": successes, "pending": len(pending),
            "stats": dict(machine.stats.__dict__)}


def run_failover(cluster: RedisClusterNodes, tmp_path: Path, *, wait_replicas: int, kills: int) -> dict[str, Any]:
    name = f"failover-{wait_replicas}"
    spec = StoreSpec("redis-cluster", cluster.where(), name, log_retention=1_000_000, client_retries=0,
                     wait_replicas=wait_replicas, wait_timeout_ms=500)
    workers = 4
    signals = str(tmp_path / "signal")
    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(run_workers(
        step_through_failover, [(spec, w, signals, 0.5) for w in range(workers)], timeout=900 if SOAK else 150)))
    runner.start()
    kill_times: list[float] = []
    promoted_times: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while not all(Path(f"{signals}.{w}").exists() for w in range(workers)):
            assert time.monotonic() < deadline and runner.is_alive(), "the workers made no progress"
            time.sleep(0.01)
        for _ in range(kills):
            master = cluster.master_of(f"{{{name}}}:state")
            time.sleep(0.3)  # under load
            kill_times.append(time.time())
            master.stop(signal.SIGKILL)
            cluster.wait_ok(60)
            promoted_times.append(time.time())
            assert cluster.master_of(f"{{{name}}}:state") is not master
            master.start()  # the old master comes back, as the new master's replica
            cluster.wait_ok(60)
            time.sleep(0.5)
    finally:
        Path(f"{signals}.over").touch()
        runner.join(900 if SOAK else 150)
    assert outcome, "the workers did not finish"
    results = outcome[0]
    direct = StoreSpec("redis-cluster", cluster.where(), name, log_retention=1_000_000).machine()
    records = [record for result in results for record in result["records"]]
    return {"results": results, "kill_times": kill_times, "promoted_times": promoted_times,
            "machine": direct, "records": records}


def acknowledged_but_missing(machine: SharedMachine, records: list[Record]) -> set[str]:
    logged = {commit.now for commit in machine.commits(0)}
    return {key for key, committed, _ in records if committed} - logged


@pytest.mark.parametrize("wait_replicas", [0, 1])
def test_killing_the_master_of_the_slot_under_load(cluster: RedisClusterNodes, tmp_path: Path,
                                                   wait_replicas: int) -> None:
    run = run_failover(cluster, tmp_path, wait_replicas=wait_replicas, kills=5 if SOAK else 1)
    results, machine, records = run["results"], run["machine"], run["records"]
    failures = sorted(t for r in results for t in r["failures"])
    successes = sorted(t for r in results for t in r["successes"])
    outages = []
    for killed in run["kill_times"]:
        back = min((t for t in successes if t > killed and any(killed < f < t for f in failures)), default=None)
        assert back is not None, "no step succeeded after the failover"
        outages.append(back - killed)
    failed_during = [f for f in failures if any(k <= f for k in run["kill_times"])]
    lost = acknowledged_but_missing(machine, records)
    stats = Counter[str]()
    for result in results:
        stats.update(result["stats"])
    print(f"\nfailover (wait_replicas={wait_replicas}): {len(records)} steps, {len(failed_during)} failed with "
          f"StoreUnavailableError during {len(outages)} failover(s) of "
          f"{', '.join(f'{o:.1f}' for o in outages)} s (kill to the first step that succeeded); "
          f"{stats['lost_replies']} lost replies, {stats['lost_replies_landed']} landed, "
          f"{sum(r['pending'] for r in results)} resolved afterwards; acknowledged commits lost: {len(lost)}")
    assert failed_during, "no step met the failover"
    if wait_replicas:
        assert lost == set(), f"acknowledged commits lost despite WAIT: {sorted(lost)}"
    # Exactly once among what survived: the lost ones (none with WAIT) are
    # the only acknowledged commits missing.
    survivors = [r for r in records if r[0] not in lost]
    check_exactly_once(machine, machine.export_trace(), survivors)


# An acknowledged commit across a failover: the replica cut off, the commit
# made on the master alone, then the master lost.

def sync_stepper(cluster: RedisClusterNodes, name: str, wait_replicas: int, cut_off: threading.Event,
                 ready: threading.Event, outcome: dict[str, Any]) -> None:
    """Steps once, says it is ready, waits for the cut-off, then steps a
    backend probe request (its effect tells whether it was returned)."""
    spec = StoreSpec("redis-cluster", cluster.where(), name, client_retries=0, wait_replicas=wait_replicas,
                     wait_timeout_ms=200)
    machine = spec.machine(resolve_timeout=60)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    ready.set()
    cut_off.wait(30)
    started = time.monotonic()
    try:
        outcome["effects"] = machine.step({"type": "backend_probe_requested"}, at(1))
    except Exception as error:  # reported to the test
        outcome["error"] = error
    outcome["seconds"] = time.monotonic() - started
    outcome["stats"] = machine.stats


def async_stepper(cluster: RedisClusterNodes, name: str, wait_replicas: int, cut_off: threading.Event,
                  ready: threading.Event, outcome: dict[str, Any]) -> None:
    """`sync_stepper` with AsyncSharedMachine over redis.asyncio's cluster client."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    async def main() -> None:
        client = cluster.async_client(socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        store = AsyncRedisStore(client, name=name, wait_replicas=wait_replicas, wait_timeout_ms=200)
        machine = await AsyncSharedMachine.open(store, BOOTSTRAP, resolve_timeout=60)
        await machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, cut_off.wait, 30)
        started = time.monotonic()
        try:
            outcome["effects"] = await machine.step({"type": "backend_probe_requested"}, at(1))
        except Exception as error:  # reported to the test
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - started
        outcome["stats"] = machine.stats
        await client.aclose()

    asyncio.run(main())


def cut_off_and_fail_over(cluster: RedisClusterNodes, name: str, wait_replicas: int, stepper: Any) \
        -> dict[str, Any]:
    """The replica of the machine's master stalls (stopped) and loses its
    link, so that what the master writes now it never gets; a step commits;
    then the master dies and the replica is promoted."""
    cut_off, ready = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=stepper, args=(cluster, name, wait_replicas, cut_off, ready, outcome))
    thread.start()
    try:
        assert ready.wait(30), "the first step did not commit"
        master = cluster.master_of(f"{{{name}}}:state")
        replica = cluster.replicas_of(master)[0]
        assert replica.process is not None
        os.kill(replica.process.pid, signal.SIGSTOP)
        master.client().execute_command("CLIENT", "KILL", "TYPE", "replica")
        cut_off.set()
        time.sleep(0.6)
        outcome["returned_before_the_crash"] = "effects" in outcome
        killed = time.monotonic()
        master.stop(signal.SIGKILL)
        os.kill(replica.process.pid, signal.SIGCONT)
        cluster.wait_ok(60)
        outcome["failover_seconds"] = time.monotonic() - killed
        assert cluster.master_of(f"{{{name}}}:state") is replica
        master.start()  # back, as the replica of the new master
        cluster.wait_ok(60)
    finally:
        cut_off.set()
        thread.join(90)
    assert not thread.is_alive()
    outcome["log"] = [c.event["type"] for c in StoreSpec("redis-cluster", cluster.where(), name).machine().commits(0)]
    return outcome


def test_an_acknowledged_commit_is_lost_in_failover_without_wait(cluster: RedisClusterNodes) -> None:
    outcome = cut_off_and_fail_over(cluster, "no-wait", 0, sync_stepper)
    print(f"\nwithout WAIT: the step returned {outcome.get('effects')} in {outcome['seconds']:.3f} s, before the "
          f"master died; after the failover ({outcome['failover_seconds']:.1f} s) the log holds {outcome['log']}")
    assert outcome["returned_before_the_crash"] and outcome["effects"] == [{"type": "probe_backend_capability"}]
    # Redis replicates asynchronously: the promoted replica never had it.
    assert outcome["log"] == ["jail_activated"]


@pytest.mark.parametrize("stepper", [sync_stepper, async_stepper], ids=["sync", "asyncio"])
def test_with_wait_replicas_an_acknowledged_commit_survives_the_failover(cluster: RedisClusterNodes,
                                                                         stepper: Any) -> None:
    outcome = cut_off_and_fail_over(cluster, f"waited-{stepper.__name__}", 1, stepper)
    print(f"\nwith WAIT 1 ({stepper.__name__}): the step returned {outcome.get('effects') or outcome.get('error')} after "
          f"{outcome['seconds']:.1f} s (failover {outcome['failover_seconds']:.1f} s, then the old master back as a "
          f"replica); the log holds {outcome['log']}; {outcome['stats']}")
    # Not acknowledged while no replica had it; committed again on the new
    # master under the same commit id, confirmed, returned once.
    assert not outcome["returned_before_the_crash"]
    assert outcome["effects"] == [{"type": "probe_backend_capability"}]
    assert outcome["log"] == ["jail_activated", "backend_probe_requested"]
    assert outcome["stats"].lost_replies >= 1  # the cut-off commit (an earlier one may have waited too)


def test_wait_replicas_is_checked_and_reported(cluster: RedisClusterNodes) -> None:
    client = cluster.client()
    with pytest.raises(ValueError, match="wait_timeout_ms: expected an int >= 1"):
        RedisStore(client, wait_replicas=1, wait_timeout_ms=0)
    with pytest.raises(ValueError, match="wait_replicas: expected an int >= 0"):
        RedisStore(client, wait_replicas=-1)
    # More replicas than the shard has: never confirmed, so never acknowledged.
    machine = SharedMachine(RedisStore(client, name="too-many", wait_replicas=2, wait_timeout_ms=50), BOOTSTRAP,
                            resolve_timeout=0.3)
    with pytest.raises(OutcomeUnknownError, match="only 1 of wait_replicas=2 replicas confirmed it") as raised:
        machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    assert raised.value.pending.revision == 1
    assert json.loads(machine.state_json)["revision"] == 0
