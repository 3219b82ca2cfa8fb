#!/usr/bin/env python3
"""Benchmarks of the shared stores (bangui_state.shared, as installed), each
against a real server in the same run: a SQLite file in a temp dir and a
private redis-server on a Unix socket (started and stopped here).

Per store:
- round_trip        the store's own bare round trip: Redis `GET` of a small key
                    (through the store's client); SQLite an empty write
                    transaction (BEGIN IMMEDIATE; COMMIT: takes the write lock,
                    writes nothing)
- smallest write    for reference: Redis `SET` of a small key; SQLite a one-row
                    UPDATE in a write transaction (the least any commit writes)
- step              one uncontended `SharedMachine.step` (a jail activation: a
                    state change, so one commit); target <= 1.5x round_trip
- commit            the store's commit alone, with a ready proposal (the step
                    without the core's work): where the step's time goes
- steady_probe      a steady `health_probe` (not committed: one read)
- core              (once) the core's part of a step alone: `Machine.step` and
                    the new state's JSON, no store
- contended p50/p99 8 OS processes stepping on one machine as fast as they
                    can: per-step latency; the note gives commits/s and retries/step
- idle              4 workers probing every 5 s (simulated clock) with fail2ban
                    steady: commits (= store writes) per day, extrapolated
- bare read         the store's bare read, for the session cache: Redis `GET` of
                    a small key; SQLite a one-row SELECT by primary key (a plain
                    connection to the same file)
- session hit/miss  one `get` of the store's shared session cache (sessions.py),
                    an entry found / not found; target <= 1.5x the bare read.
                    Measured interleaved with the bare read (one of each per
                    round), so that both see the same noise

usage: bench.py [--quick] [--out PATH]   (--quick: tiny counts, no output file; for make test)
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings-c" / "python" / "tests"))

from shared_support import BOOTSTRAP, RedisServer, StoreSpec, at, run_workers  # noqa: E402

IDLE_WORKERS, IDLE_PERIOD_S = 4, 5


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def timed(fn: Any, count: int) -> list[int]:
    samples = []
    for i in range(count):
        start = time.perf_counter_ns()
        fn(i)
        samples.append(time.perf_counter_ns() - start)
    return samples


def bare_round_trip(spec: StoreSpec, count: int) -> tuple[list[int], list[int]]:
    """The store's bare round trip, through the same client or connection
    settings the store uses, and the smallest write, for reference: a step
    writes, and no write costs as little as a read or an empty transaction."""
    if spec.kind == "redis":
        client = spec.open().client  # type: ignore[attr-defined]
        client.set("bench:small", "x" * 16)
        reads = timed(lambda _: client.get("bench:small"), count)
        return reads, timed(lambda i: client.set("bench:small", f"{i:016d}"), count)
    db = sqlite3.connect(spec.where, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS bench_small (id INTEGER PRIMARY KEY, value INTEGER)")
    db.execute("INSERT OR REPLACE INTO bench_small VALUES (1, 0)")

    def empty_write(_: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("COMMIT")

    def smallest_write(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE bench_small SET value = ? WHERE id = 1", (i,))
        db.execute("COMMIT")

    samples = timed(empty_write, count), timed(smallest_write, count)
    db.close()
    return samples


def uncontended(spec: StoreSpec, count: int) -> tuple[list[int], list[int]]:
    machine = spec.machine()
    machine.health_probe(True, "1.1.0", 2, at(0))
    steps = timed(lambda i: machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(1 + i)), count)
    probes = timed(lambda i: machine.health_probe(True, "1.1.0", 2, at(10_000 + 5 * i)), count)
    assert machine.stats.unchanged == count, "a steady probe was committed"
    return steps, probes


def commit_alone(spec: StoreSpec, count: int) -> list[int]:
    """The store's commit with a ready proposal: the step minus the core's work."""
    from bangui_state.shared import Proposal

    store = StoreSpec(spec.kind, spec.where, spec.name + "-commit").machine().store
    state_json = spec.machine().state_json
    event_json = '{"type":"jail_activated","jail_name":"sshd"}'
    proposals = [Proposal(state_json, "2026-04-27T16:42:00.000000Z", event_json, False) for _ in range(count)]

    def commit(i: int) -> None:
        assert store.commit(i, proposals[i]) is None

    return timed(commit, count)


def core_alone(count: int) -> list[int]:
    """What the core does in a step, without any store: the step, and the new
    state's JSON that a commit sends."""
    from bangui_state import Machine

    machine = Machine(BOOTSTRAP)
    machine.health_probe(True, "1.1.0", 2, at(0))

    def step(i: int) -> None:
        machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(1 + i))
        machine.state_json

    return timed(step, count)


def contend(barrier: Any, spec: StoreSpec, worker: int, steps: int) -> dict[str, Any]:
    machine = spec.machine(max_retries=10_000)
    barrier.wait()
    start = time.perf_counter()
    samples = timed(lambda i: machine.step({"type": "jail_activated", "jail_name": f"w{worker}-{i}"}, at(i)),
                    steps)
    return {"samples": samples, "conflicts": machine.stats.conflicts, "start": start, "end": time.perf_counter()}


def idle(barrier: Any, spec: StoreSpec, probes: int) -> dict[str, int]:
    machine = spec.machine()
    barrier.wait()
    for i in range(probes):
        machine.health_probe(True, "1.1.0", 2, at(IDLE_PERIOD_S * i))
    return {"commits": machine.stats.commits, "unchanged": machine.stats.unchanged}


def session_lookups(spec: StoreSpec, count: int) -> tuple[list[int], list[int], list[int]]:
    """The store's bare read, a session-cache hit and a miss, one of each
    per round (samples in ns)."""
    from datetime import timedelta

    from bangui_state.shared import CachedSession, session_cache_for

    machine = StoreSpec(spec.kind, spec.where, spec.name + "-sessions").machine()
    cache = session_cache_for(machine)
    now = at(0)
    session = CachedSession("alice", now + timedelta(days=1), {})
    token, absent = "t-" + "a" * 43, "t-" + "b" * 43  # the length of secrets.token_urlsafe(32)
    assert cache.get_or_load(token, lambda: session, now) == session
    if spec.kind == "redis":
        client = machine.store.client  # type: ignore[attr-defined]
        client.set("bench:small", "x" * 16)

        def bare(_: int) -> None:
            client.get("bench:small")
    else:
        db = sqlite3.connect(spec.where, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS bench_read (id INTEGER PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO bench_read VALUES (1, 'x')")

        def bare(_: int) -> None:
            db.execute("SELECT value FROM bench_read WHERE id = ?", (1,)).fetchone()

    def hit(_: int) -> None:
        cache.get(token, now)

    def miss(_: int) -> None:
        cache.get(absent, now)

    reads: list[int] = []
    hits: list[int] = []
    misses: list[int] = []
    for _ in range(max(1, count // 100)):  # rounds of 100: warm caches, same noise for all three
        reads += timed(bare, 100)
        hits += timed(hit, 100)
        misses += timed(miss, 100)
    assert cache.get(token, now) == session and cache.get(absent, now) is None
    return reads, hits, misses


def bench_store(spec: StoreSpec, quick: bool) -> list[dict[str, Any]]:
    count = 30 if quick else 3000
    per_worker = 20 if quick else 500
    idle_probes = 10 if quick else 720  # one simulated hour at 5 s
    reads, writes_alone = bare_round_trip(spec, count)
    round_trip, smallest_write = statistics.median(reads), statistics.median(writes_alone)
    steps, probes = uncontended(spec, count)
    step = statistics.median(steps)
    commit = statistics.median(commit_alone(spec, count))

    contended_spec = StoreSpec(spec.kind, spec.where, spec.name + "-contended")
    contended_spec.machine()
    results = run_workers(contend, [(contended_spec, w, per_worker) for w in range(8)], timeout=600)
    samples = [s for r in results for s in r["samples"]]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    total = 8 * per_worker
    commits_per_s = total / wall
    retries = sum(r["conflicts"] for r in results) / total

    idle_spec = StoreSpec(spec.kind, spec.where, spec.name + "-idle")
    before = idle_spec.machine().revision
    idle_results = run_workers(idle, [(idle_spec, idle_probes)] * IDLE_WORKERS, timeout=600)
    writes = sum(r["commits"] for r in idle_results)
    after = idle_spec.machine().revision
    assert writes == after - before
    simulated_s = idle_probes * IDLE_PERIOD_S
    # The first probe of the run sees fail2ban come online: that one commit is a
    # transition, not idling; the steady state after it is what a day repeats.
    steady_writes = writes - 1
    per_day = steady_writes * 86_400 / simulated_s
    if_committed = IDLE_WORKERS * 86_400 // IDLE_PERIOD_S

    reads, hits, misses = session_lookups(spec, count)
    bare_read, hit, miss = statistics.median(reads), statistics.median(hits), statistics.median(misses)

    kind = spec.kind
    ratio = step / round_trip
    return [
        {"name": f"{kind}: bare round trip", "median_ns": round_trip,
         "note": "Redis GET of a small key" if kind == "redis" else "empty write transaction (WAL, synchronous=NORMAL)"},
        {"name": f"{kind}: smallest write (reference)", "median_ns": smallest_write,
         "note": (f"{smallest_write / round_trip:.2f}x the round trip: "
                  + ("SET of a small key" if kind == "redis" else "a one-row UPDATE in a write transaction"))},
        {"name": f"{kind}: uncontended step (one commit)", "median_ns": step,
         "note": f"{ratio:.2f}x the round trip (target <= 1.5x); {step / smallest_write:.2f}x the smallest write",
         "ratio_to_round_trip": ratio},
        {"name": f"{kind}: the commit alone (a ready proposal, no core work)", "median_ns": commit,
         "note": f"{commit / round_trip:.2f}x the round trip: what the store's atomic commit costs"},
        {"name": f"{kind}: steady probe (not committed: one read)", "median_ns": statistics.median(probes),
         "note": ""},
        {"name": f"{kind}: 8 processes contending, step p50", "median_ns": percentile(samples, 0.5),
         "note": f"{commits_per_s:,.0f} commits/s; {retries:.2f} retries per step; {total} steps"},
        {"name": f"{kind}: 8 processes contending, step p99", "median_ns": percentile(samples, 0.99), "note": ""},
        {"name": f"{kind}: 4 idle workers probing every 5 s", "writes_per_day": per_day,
         "note": f"{per_day:.0f} store writes/day ({writes} commits in {IDLE_WORKERS}x{idle_probes} probes over "
                 f"{simulated_s} simulated s, the first one fail2ban coming online; committing every probe would "
                 f"be {if_committed:,} writes/day); reads: {if_committed:,}/day"},
        {"name": f"{kind}: bare read (the session cache's reference)", "median_ns": bare_read,
         "note": "Redis GET of a small key" if kind == "redis" else "one-row SELECT by primary key"},
        {"name": f"{kind}: session cache lookup, hit", "median_ns": hit,
         "note": f"{hit / bare_read:.2f}x the bare read (target <= 1.5x)", "ratio_to_read": hit / bare_read},
        {"name": f"{kind}: session cache lookup, miss", "median_ns": miss,
         "note": f"{miss / bare_read:.2f}x the bare read (target <= 1.5x)", "ratio_to_read": miss / bare_read},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts, no output file")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    multiprocessing.set_start_method("fork", force=True)
    rows: list[dict[str, Any]] = [
        {"name": "core: a step and its state JSON (no store)", "median_ns": statistics.median(core_alone(
            30 if args.quick else 3000)), "note": "the local work every shared step does at least"},
    ]
    with tempfile.TemporaryDirectory(prefix="bangui-shared-bench-") as tmp:
        directory = Path(tmp)
        rows += bench_store(StoreSpec("sqlite", str(directory / "bench.db"), "bench"), args.quick)
        server = RedisServer(directory / "redis")
        server.directory.mkdir()
        try:
            server.start()
            rows += bench_store(StoreSpec("redis", server.socket, "bench"), args.quick)
        finally:
            server.stop()
    for row in rows:
        value = row.get("median_ns")
        shown = f"{value / 1000:9.1f} µs" if value is not None else f"{row['writes_per_day']:9.0f} w/day"
        print(f"{row['name']:55} {shown}  {row['note']}")
    if args.quick or not args.out:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    title = "Shared stores (Python, SharedMachine; SQLite file and private redis-server on a Unix socket)"
    args.out.write_text(json.dumps({"title": title, "rows": rows}, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
