"""Many OS processes on one shared machine, for each store: real SQLite files
and a private redis-server. No mocks."""
from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from shared_support import (  # noqa: F401  (fixtures)
    BOOTSTRAP,
    WORKERS,
    RedisServer,
    StoreSpec,
    at,
    private_redis,
    redis_server,
    run_workers,
    spec,
)

from bangui_state.shared import SharedMachine, SqliteStore, StoreUnavailableError

STEPS_PER_WORKER = 500


def activate_many(barrier: Any, spec: StoreSpec, worker: int, steps: int) -> dict[str, Any]:
    machine = spec.machine()
    barrier.wait()
    done = 0
    for i in range(steps):
        effects = machine.step({"type": "jail_activated", "jail_name": f"w{worker}-{i}"}, at(i))
        assert effects == []
        done += 1
    return {"done": done, "conflicts": machine.stats.conflicts}


def test_8_processes_x_500_steps_commit_each_event_exactly_once(spec: StoreSpec) -> None:
    machine = spec.machine()
    machine.health_probe(True, "1.1.0", 1, at(0))
    initial = machine.revision
    results = run_workers(activate_many, [(spec, w, STEPS_PER_WORKER) for w in range(WORKERS)])
    assert sum(r["done"] for r in results) == WORKERS * STEPS_PER_WORKER
    machine.refresh()
    assert machine.revision == initial + WORKERS * STEPS_PER_WORKER
    logged = [c.event["jail_name"] for c in machine.commits(initial)]
    assert Counter(logged) == Counter(f"w{w}-{i}" for w in range(WORKERS) for i in range(STEPS_PER_WORKER))
    assert [c.revision for c in machine.commits(initial)] == list(range(initial + 1, machine.revision + 1))


def report_offline(barrier: Any, spec: StoreSpec) -> list[dict[str, Any]]:
    machine = spec.machine()
    barrier.wait()
    return machine.health_probe(False, None, 0, at(70)).effects


def test_a_crash_seen_by_8_processes_at_once_is_detected_once(spec: StoreSpec) -> None:
    machine = spec.machine()
    machine.health_probe(True, "1.1.0", 1, at(0))
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(60))
    results = run_workers(report_offline, [(spec,)] * WORKERS)
    events = Counter(e["event"] for effects in results for e in effects if e["type"] == "log")
    assert events["activation_crash_detected"] == 1
    assert events["fail2ban_went_offline"] == 1
    assert events["health_check_complete"] == WORKERS  # every worker logs its own probe
    machine.refresh()
    assert machine.state["pending_recovery"]["jail_name"] == "sshd"
    assert machine.state["server_status"]["online"] is False


def request_probe(barrier: Any, spec: StoreSpec) -> list[dict[str, Any]]:
    machine = spec.machine()
    barrier.wait()
    return machine.step({"type": "backend_probe_requested"}, at(5))


def test_8_processes_asking_for_the_backend_probe_at_once_get_one(spec: StoreSpec) -> None:
    spec.machine()
    results = run_workers(request_probe, [(spec,)] * WORKERS)
    probes = [e for effects in results for e in effects if e["type"] == "probe_backend_capability"]
    assert len(probes) == 1


def activate_and_record(barrier: Any, spec: StoreSpec, worker: int, steps: int, record: str) -> int:
    machine = spec.machine()
    barrier.wait()
    with open(record, "a", encoding="utf-8") as out:
        for i in range(steps):
            name = f"w{worker}-{i}"
            machine.step({"type": "jail_activated", "jail_name": name}, at(i))
            out.write(name + "\n")
            out.flush()
    return steps


def test_a_worker_killed_mid_loop_loses_nothing_committed(spec: StoreSpec, tmp_path: Path) -> None:
    import multiprocessing

    machine = spec.machine()
    initial = machine.revision
    steps = 200
    victim_record = tmp_path / "victim.txt"
    context = multiprocessing.get_context("fork")
    # The victim steps until it is killed (the bound only keeps a lost test finite).
    victim_bound = 1_000_000
    victim = context.Process(target=_victim, args=(spec, victim_bound, str(victim_record)), daemon=True)
    victim.start()
    try:
        deadline = time.monotonic() + 60
        while not victim_record.exists() or len(victim_record.read_text().splitlines()) < 30:
            assert time.monotonic() < deadline, "the victim made no progress"
            time.sleep(0.005)
        records = [str(tmp_path / f"w{w}.txt") for w in range(WORKERS - 1)]
        import threading

        outcome: list[Any] = []
        others = threading.Thread(target=lambda: outcome.append(run_workers(
            activate_and_record, [(spec, w, steps, records[w]) for w in range(WORKERS - 1)])))
        others.start()
        time.sleep(0.2)
        assert victim.is_alive(), "the victim finished before it could be killed"
        os.kill(victim.pid, signal.SIGKILL)
        victim.join()
        others.join(120)
        assert outcome and sum(outcome[0]) == (WORKERS - 1) * steps, "the other workers did not finish"
    finally:
        if victim.is_alive():
            victim.kill()
            victim.join()
    machine.refresh()
    logged = [c.event["jail_name"] for c in machine.commits(initial)]
    assert len(logged) == len(set(logged)) == machine.revision - initial
    survivors = {line for w in range(WORKERS - 1) for line in (tmp_path / f"w{w}.txt").read_text().splitlines()}
    assert survivors <= set(logged)
    recorded = set(victim_record.read_text().splitlines())
    committed_by_victim = {name for name in logged if name.startswith("victim-")}
    assert recorded <= committed_by_victim
    # At most the step in flight when it died committed without being recorded.
    assert len(committed_by_victim - recorded) <= 1
    assert len(recorded) < victim_bound


def _victim(spec: StoreSpec, steps: int, record: str) -> None:
    machine = spec.machine()
    with open(record, "a", encoding="utf-8") as out:
        for i in range(steps):
            name = f"victim-{i}"
            machine.step({"type": "jail_activated", "jail_name": name}, at(i))
            out.write(name + "\n")
            out.flush()


def activate_through_outage(barrier: Any, spec: StoreSpec, worker: int, signals: str) -> dict[str, Any]:
    """Steps until 30 successes after the server's restart: every failure
    must be the clear StoreUnavailableError and leave the step out of the state.
    (A step whose commit was in flight would otherwise wait out the 0.5 s
    outage trying to learn its outcome, and succeed: test_shared_faults.py
    tests that; here the steps must meet the outage.)"""
    machine = spec.machine(resolve_timeout=0.05)
    barrier.wait()
    succeeded: list[str] = []
    failures: list[dict[str, Any]] = []
    after_restart = 0
    i = 0
    deadline = time.monotonic() + 90
    while after_restart < 30 and time.monotonic() < deadline:
        name = f"w{worker}-{i}"
        i += 1
        before = machine.revision
        try:
            machine.step({"type": "jail_activated", "jail_name": name}, at(i))
        except StoreUnavailableError as error:
            # The failed step is not in this worker's state (which may have caught up with others' commits).
            assert machine.revision >= before
            assert (machine.state["last_activation"] or {}).get("jail_name") != name
            failures.append({"name": name, "unknown": error.outcome_unknown, "message": str(error)})
            time.sleep(0.01)
            continue
        succeeded.append(name)
        # A pause between steps: this test is about the outage, not about
        # contention (a tight loop of 4 workers on 2 loaded cores can starve one).
        time.sleep(0.002)
        if len(succeeded) == 20:
            Path(f"{signals}.{worker}").touch()  # tells the test this worker is under way
        if Path(f"{signals}.restarted").exists():
            after_restart += 1
    return {"succeeded": succeeded, "failures": failures, "after_restart": after_restart}


def test_redis_restarted_on_its_append_only_file_during_a_load_run(private_redis: RedisServer,
                                                                   tmp_path: Path) -> None:
    # Without redis-py's own retries, so that the steps meet the outage.
    spec = StoreSpec("redis", private_redis.socket, "restart", client_retries=0)
    machine = spec.machine()
    initial = machine.revision
    workers = 4
    signals = str(tmp_path / "signal")
    import threading

    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(run_workers(
        activate_through_outage, [(spec, w, signals) for w in range(workers)], timeout=120)))
    runner.start()
    deadline = time.monotonic() + 60
    while not all(Path(f"{signals}.{w}").exists() for w in range(workers)):
        assert time.monotonic() < deadline and runner.is_alive(), "the workers made no progress"
        time.sleep(0.005)
    private_redis.stop(signal.SIGTERM)
    time.sleep(0.5)  # the workers run into the outage
    private_redis.start()
    Path(f"{signals}.restarted").touch()
    runner.join(120)
    assert outcome, "the workers did not finish"
    results = outcome[0]
    assert all(r["after_restart"] == 30 for r in results)  # every worker went on, none was restarted
    failures = [f for r in results for f in r["failures"]]
    assert failures, "no step ran into the outage"
    for failure in failures:
        assert "redis store key {restart}:state" in failure["message"] and "unreachable" in failure["message"]
    succeeded = [name for r in results for name in r["succeeded"]]
    machine.refresh()
    logged = [c.event["jail_name"] for c in machine.commits(initial)]
    assert len(logged) == len(set(logged)) == machine.revision - initial
    assert set(succeeded) <= set(logged)
    # A logged event that did not return success can only be a commit whose reply was lost.
    unknown = {f["name"] for f in failures if f["unknown"]}
    print(f"outage: {len(failures)} failed steps, {len(unknown)} with an unknown outcome, "
          f"{len(set(logged) - set(succeeded))} of those committed")
    assert set(logged) - set(succeeded) <= unknown


def open_new_sqlite_file(barrier: Any, path: str) -> int:
    barrier.wait()
    machine = SharedMachine(SqliteStore(path), BOOTSTRAP)
    return machine.revision


def test_workers_opening_a_new_sqlite_file_together_all_start(tmp_path: Path) -> None:
    # uvicorn starts its workers at once: each opens the store, and the first
    # ones switch the new file to WAL while the others try to.
    for round_ in range(5):
        path = str(tmp_path / f"new-{round_}.db")
        assert run_workers(open_new_sqlite_file, [(path,) for _ in range(WORKERS)]) == [0] * WORKERS
