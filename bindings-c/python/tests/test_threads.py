"""Many Python threads on one machine: every event is counted exactly once
(the handle is thread-safe and cffi releases the GIL during calls)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from collections.abc import Callable
from typing import Any

import bangui_state

T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
THREADS = 8
EVENTS = 2000


def run_threads(work: Callable[[int], None], count: int) -> None:
    """`work(0)` ... `work(count - 1)`, each on its own thread; returns when all are done."""
    threads = [threading.Thread(target=work, args=(w,)) for w in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_eight_threads_on_one_machine_give_the_exact_revision(bootstrap: dict[str, Any]) -> None:
    machine = bangui_state.Machine(bootstrap)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(worker: int) -> None:
        try:
            start.wait()
            last = 0
            for i in range(EVENTS):
                now = T0 + timedelta(milliseconds=i)
                if i % 2:
                    report = machine.health_probe(i % 3 != 0, "1.1.0", worker, now=now)
                    assert report.revision > last
                    last = report.revision
                else:
                    machine.step({"type": "jail_activated", "jail_name": f"jail-{worker}"}, now)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    run_threads(work, THREADS)
    assert errors == []
    assert machine.revision == THREADS * EVENTS


def test_errors_are_per_thread(bootstrap: dict[str, Any]) -> None:
    """One thread's failure message never shows up as another's."""
    machine = bangui_state.Machine(bootstrap)
    messages: dict[int, set[str]] = {}

    def work(worker: int) -> None:
        seen: set[str] = set()
        for _ in range(300):
            try:
                machine.step({"type": f"bad_{worker}"}, T0)
            except bangui_state.InvalidEventError as e:
                seen.add(e.message.split(";")[0])
            machine.step({"type": "activation_cleared"}, T0)
        messages[worker] = seen

    run_threads(work, 4)
    for worker, seen in messages.items():
        assert seen == {f'event.type: unknown event type "bad_{worker}"'}
    assert machine.revision == 4 * 300


def test_threads_stepping_probe_dicts_count_every_event(bootstrap: dict[str, Any]) -> None:
    """step's probe path (C when built) under threads, with more distinct probes
    than its cache holds, so entries are dropped while other threads use them."""
    machine = bangui_state.Machine(bootstrap)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(EVENTS):
                event = {"type": "health_probe_completed",
                         "status": {"online": i % 5 != 0, "version": f"{worker}.{i % 50}", "active_jails": i % 3}}
                effects = machine.step(event, T0 + timedelta(milliseconds=i))
                assert effects[-1]["event"] == "health_check_complete"
                assert effects[-1]["fields"] == event["status"]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    run_threads(work, THREADS)
    assert errors == []
    assert machine.revision == THREADS * EVENTS
