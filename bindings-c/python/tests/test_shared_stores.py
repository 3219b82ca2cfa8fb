"""One or two workers in this process, for each store: the commit rules, the
log, bad and missing stores, bootstrap mismatches, the session-cache hook."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from shared_support import BOOTSTRAP, REPO_ROOT, RedisServer, StoreSpec, at, redis_server, spec  # noqa: F401

from bangui_state import InvalidInstantError, Machine, NotJsonError, parse_instant
from bangui_state.shared import (
    BootstrapMismatchError,
    CommitConflictError,
    LogTrimmedError,
    RedisStore,
    SharedMachine,
    SqliteStore,
    StoreCorruptError,
    StoreStateMissingError,
    StoreUnavailableError,
)

ONLINE = (True, "1.1.0", 2)


def test_a_steady_probe_commits_nothing(spec: StoreSpec) -> None:
    machine = spec.machine()
    assert machine.health_probe(*ONLINE, at(0)).came_online
    revision, log = machine.revision, machine.commits(0)
    for i in range(1, 50):
        report = machine.health_probe(*ONLINE, at(5 * i))
        assert report.steady and report.revision == revision
        assert [e["event"] for e in report.effects] == ["health_check_complete"]
    assert machine.revision == revision and machine.commits(0) == log
    assert machine.stats.unchanged == 49
    other = spec.machine()
    assert other.revision == revision and other.state == machine.state


def test_the_replica_values_are_properties_as_on_machine_and_the_old_calls_warn(tmp_path: Path) -> None:
    """`state`, `state_json`, `revision`, `effective_settings`: Machine's
    properties, of the same plain types. Called as the methods they were in
    0.1.0's drafts, each warns (DeprecationWarning) and gives the same value."""
    import pickle
    import warnings

    machine = SharedMachine(SqliteStore(tmp_path / "state.db"), BOOTSTRAP)
    local = Machine(BOOTSTRAP)
    for m in (machine, local):
        m.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    assert machine.state == local.state and machine.state_json == local.state_json
    assert machine.revision == local.revision == 1 and machine.effective_settings == local.effective_settings
    assert isinstance(machine.state, dict) and isinstance(machine.revision, int)
    assert isinstance(machine.state_json, str) and isinstance(machine.effective_settings, dict)
    assert json.dumps(machine.revision) == "1" and json.loads(machine.state_json) == machine.state
    assert json.loads(json.dumps(machine.state)) == local.state and pickle.loads(pickle.dumps(machine.state)) == local.state
    assert machine.state is not machine.state  # a new dict each time, as Machine's
    assert machine.state_json is machine.state_json  # one text per stored state: `is` says it has not moved
    assert "revision=1" in repr(machine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the properties themselves never warn
        _ = (machine.state, machine.state_json, machine.revision, machine.effective_settings)
    for name in ("state", "state_json", "revision", "effective_settings"):
        with pytest.warns(DeprecationWarning, match=rf"machine\.{name}\(\) is deprecated: .*read machine\.{name} "
                                                    r"\(the call goes in 0\.2\)") as caught:
            called = getattr(machine, name)()
        assert called == getattr(local, name), name
        assert caught[0].filename == __file__, name  # attributed to the caller's line


def test_a_probe_from_a_stale_worker_is_judged_against_the_stored_state(spec: StoreSpec) -> None:
    first, second = spec.machine(), spec.machine()
    first.health_probe(*ONLINE, at(0))
    second.refresh()
    first.health_probe(False, None, 0, at(5))  # second has not seen fail2ban go offline
    report = second.health_probe(*ONLINE, at(10))
    assert report.came_online and not report.steady
    assert second.revision == 3 and second.state["server_status"]["online"] is True


def test_a_conflict_applies_the_event_again_on_the_current_state(spec: StoreSpec) -> None:
    first, second = spec.machine(), spec.machine()
    first.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    assert second.revision == 0
    second.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert second.stats.conflicts == 1
    assert [c.event["jail_name"] for c in second.commits(0)] == ["sshd", "nginx"]
    assert second.revision == 2


def test_a_rejected_event_changes_nothing(spec: StoreSpec) -> None:
    machine = spec.machine()
    before = machine.state_json
    with pytest.raises(Exception, match="jail_name"):
        machine.step({"type": "jail_activated"}, at(0))
    assert machine.state_json == before and machine.commits(0) == []
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    assert machine.revision == 1


@pytest.mark.parametrize(("value", "message"), [
    ({1, 2}, "event.overrides.x: a set has no JSON form"),
    (float("inf"), "event.overrides.x: inf is not a JSON number"),
    ("\ud800", "event.overrides.x: lone surrogate U+D800"),
])
def test_a_value_with_no_json_form_is_refused_naming_its_path(spec: StoreSpec, value: object, message: str) -> None:
    machine = spec.machine()
    before = machine.state_json
    with pytest.raises(NotJsonError) as refused:
        machine.step({"type": "settings_updated", "overrides": {"x": value}}, at(0))
    assert str(refused.value).startswith(message)
    assert machine.state_json == before and machine.commits(0) == []


def test_a_now_in_seconds_is_refused_as_machine_refuses_it(spec: StoreSpec) -> None:
    machine = spec.machine()
    before = machine.revision
    seconds = int(at(0).timestamp())
    with pytest.raises(InvalidInstantError, match="seconds"):
        machine.step({"type": "jail_activated", "jail_name": "sshd"}, seconds)
    with pytest.raises(InvalidInstantError, match="seconds"):
        machine.health_probe(True, "1.0.2", 1, now=seconds)
    assert machine.revision == before


def test_a_stale_backend_probe_is_taken_over_after_30_s(spec: StoreSpec) -> None:
    dying, other = spec.machine(), spec.machine()
    assert dying.step({"type": "backend_probe_requested"}, at(0)) == [{"type": "probe_backend_capability"}]
    # The worker dies without reporting; within 30 s the others join the probe in flight ...
    assert other.step({"type": "backend_probe_requested"}, at(29.999999)) == []
    # ... after that, one of them takes it over.
    assert other.step({"type": "backend_probe_requested"}, at(30)) == [{"type": "probe_backend_capability"}]


def test_a_request_retried_at_an_earlier_now_joins_the_probe_another_worker_started(spec: StoreSpec) -> None:
    # B saw the state before A's commit; its request, at its own slightly
    # earlier `now`, loses the compare-and-set and is applied again to the
    # state with A's probe in flight: it joins, it does not start a second.
    a, b = spec.machine(), spec.machine()
    assert a.step({"type": "backend_probe_requested"}, at(0.001)) == [{"type": "probe_backend_capability"}]
    assert b.step({"type": "backend_probe_requested"}, at(0)) == []
    assert b.revision == a.revision == 1
    assert b.state["backend_capability"]["probe_started_at"] == "2026-04-27T16:42:00.001000Z"


def test_the_session_cache_hook_runs_in_every_worker(spec: StoreSpec) -> None:
    kinds: dict[str, list[str]] = {"a": [], "b": []}
    a = spec.machine(on_session_cache=kinds["a"].append)
    b = spec.machine(on_session_cache=kinds["b"].append)
    assert kinds == {"a": ["in_memory"], "b": ["in_memory"]}
    effects = a.step({"type": "settings_updated", "overrides": {"session_cache_enabled": False}}, at(0))
    assert {"type": "session_cache_replaced", "kind": "no_op"} in effects
    assert kinds["a"] == ["in_memory", "no_op"]
    a.step({"type": "jail_activated", "jail_name": "sshd"}, at(1))  # no cache change
    assert b.refresh() and kinds["b"] == ["in_memory", "no_op"]
    # The same kind again still replaces the cache everywhere (the seed builds a new one each time).
    a.step({"type": "runtime_settings_set", "settings": {**BOOTSTRAP, "session_cache_enabled": False}}, at(2))
    assert b.refresh() and kinds == {"a": ["in_memory", "no_op", "no_op"], "b": ["in_memory", "no_op", "no_op"]}


def test_the_log_folds_from_its_first_retained_state_to_the_stored_state(spec: StoreSpec) -> None:
    spec = StoreSpec(spec.kind, spec.where, spec.name, log_retention=7)
    machine = spec.machine()
    machine.health_probe(*ONLINE, at(0))
    for i in range(40):
        machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(1 + i))
        if i % 9 == 0:
            machine.step({"type": "settings_updated", "overrides": {"session_cache_ttl_seconds": i}}, at(1 + i))
    commits = machine.store.read_log(0)
    assert 7 <= len(commits) < 14 and commits[-1].revision == machine.revision
    assert commits[0].state_json is not None
    folded = Machine.restore_json(commits[0].state_json)
    assert folded.revision == commits[0].revision
    for commit in commits[1:]:
        folded.step(commit.event, parse_instant(commit.now))
    assert folded.state_json == machine.state_json
    with pytest.raises(LogTrimmedError, match="no longer in the log"):
        machine.commits(0)
    # The trimmed log still replays, from the state its first entry carries.
    trace = machine.export_trace()
    assert json.loads(trace)["state"]["revision"] == commits[0].revision
    outputs = replay(trace)
    assert len(outputs) == len(commits) - 1
    assert outputs[-1]["state"] == machine.state


def cli() -> Path:
    """The replay CLI, built if missing."""
    explicit = os.environ.get("BANGUI_STATE_CLI")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    binary = Path(explicit) if explicit else (target if target.is_absolute() else REPO_ROOT / target) / "release" / "bangui-state"
    if not binary.exists():
        assert shutil.which("cargo"), f"{binary} is missing and cargo is not installed"
        subprocess.run(["cargo", "build", "--release", "-p", "bangui-state-cli"], cwd=REPO_ROOT, check=True)
    return binary


def replay(trace: str) -> list[dict[str, Any]]:
    """`bangui-state replay - --json` on one trace: its one output line."""
    done = subprocess.run([cli(), "replay", "-", "--json"], input=trace + "\n", capture_output=True, text=True,
                          check=True)
    outputs: list[dict[str, Any]] = json.loads(done.stdout)
    return outputs


def test_the_exported_log_replays_to_the_stored_state(spec: StoreSpec) -> None:
    machine, other = spec.machine(), spec.machine()
    machine.health_probe(*ONLINE, at(0))
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(10))
    other.health_probe(False, None, 0, at(12))  # the crash, seen by the other worker
    machine.health_probe(*ONLINE, at(20))  # stale: a conflict, then the recovery
    machine.step({"type": "settings_updated", "overrides": {"session_cache_enabled": False}}, at(21))
    machine.step({"type": "backend_probe_requested"}, at(22))
    machine.step({"type": "backend_probe_completed", "supported": True}, at(23))
    trace = machine.export_trace()
    assert json.loads(trace)["bootstrap"] == BOOTSTRAP
    outputs = replay(trace)
    assert len(outputs) == machine.revision == 7
    assert all("effects" in step for step in outputs)
    assert outputs[-1]["state"] == machine.state
    assert outputs[-1]["state"]["pending_recovery"]["recovered"] is True


def test_a_host_reads_the_commits_after_a_revision(spec: StoreSpec) -> None:
    machine = spec.machine()
    for i in range(5):
        machine.step({"type": "jail_activated", "jail_name": f"j{i}"}, at(i))
    commits = machine.commits(2)
    assert [c.revision for c in commits] == [3, 4, 5]
    assert commits[0].as_json() == {"revision": 3, "now": "2026-04-27T16:42:02.000000Z",
                                    "event": {"type": "jail_activated", "jail_name": "j2"}}


def test_mismatched_bootstrap_settings_are_refused_and_change_nothing(spec: StoreSpec) -> None:
    machine = spec.machine()
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    before = machine.state_json
    other = {**BOOTSTRAP, "session_cache_ttl_seconds": 60, "extra": 1}
    with pytest.raises(BootstrapMismatchError) as raised:
        SharedMachine(spec.open(), other)
    assert raised.value.differences == [("extra", "<missing>", 1), ("session_cache_ttl_seconds", 3600, 60)]
    assert "session_cache_ttl_seconds: stored 3600, this worker 60" in str(raised.value)
    assert spec.name in str(raised.value)
    machine.refresh()
    assert machine.state_json == before
    # Joining with the stored settings is an explicit choice.
    joined = SharedMachine(spec.open(), other, on_bootstrap_mismatch="use_stored")
    assert joined.effective_settings == BOOTSTRAP and joined.state_json == before


def test_too_many_conflicts_raise_a_clear_error(spec: StoreSpec) -> None:
    slow = spec.machine(max_retries=0)
    spec.machine().step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    with pytest.raises(CommitConflictError, match="lost the compare-and-set 1 times"):
        slow.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert [c.event["jail_name"] for c in slow.commits(0)] == ["sshd"]


# Bad and missing stores.

def test_garbage_in_the_redis_key_is_reported_and_left_alone(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.set("{garbage}:state", b"\x00not a hash")
    with pytest.raises(StoreCorruptError, match=r"redis store key \{garbage\}:state.*WRONGTYPE"):
        SharedMachine(RedisStore(client, name="garbage"), BOOTSTRAP)
    assert client.get("{garbage}:state") == b"\x00not a hash"
    fields = {"revision": "3", "state": '{"schema_version": 99}', "cache_epoch": "0"}
    client.hset("{future}:state", mapping=fields)
    with pytest.raises(StoreCorruptError, match=r"\{future\}:state: the stored state is not a valid state: .*schema"):
        SharedMachine(RedisStore(client, name="future"), BOOTSTRAP)
    assert client.hgetall("{future}:state") == {k.encode(): v.encode() for k, v in fields.items()}
    client.hset("{norev}:state", mapping={"revision": "three", "state": "{}", "cache_epoch": "0"})
    with pytest.raises(StoreCorruptError, match="revision and cache_epoch must be integers"):
        SharedMachine(RedisStore(client, name="norev"), BOOTSTRAP)


def test_garbage_written_under_a_running_redis_worker_is_never_overwritten(redis_server: RedisServer) -> None:
    client = redis_server.client()
    machine = SharedMachine(RedisStore(client, name="overwritten"), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    client.hset("{overwritten}:state", mapping={"revision": "5", "state": "garbage"})
    with pytest.raises(StoreCorruptError, match="not a valid state"):
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert client.hget("{overwritten}:state", "state") == b"garbage"
    client.delete("{overwritten}:state")
    with pytest.raises(StoreStateMissingError, match="gone"):
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert client.exists("{overwritten}:state") == 0


def test_a_garbage_epoch_at_the_expected_revision_is_never_overwritten(redis_server: RedisServer) -> None:
    # The commit script's common path (the stored revision is the expected
    # one) still refuses a hash whose other fields are not this store's.
    client = redis_server.client()
    machine = SharedMachine(RedisStore(client, name="epoch"), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    client.hset("{epoch}:state", "cache_epoch", "garbage")
    before = client.hgetall("{epoch}:state")
    with pytest.raises(StoreCorruptError, match="revision and cache_epoch must be integers"):
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert client.hgetall("{epoch}:state") == before
    assert client.xlen("{epoch}:log") == 1


def test_garbage_in_the_sqlite_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorruptError, match=f"{path}.*not a usable database"):
        SqliteStore(path)
    assert path.read_bytes() == b"this is not a database" * 100

    path = tmp_path / "row.db"
    SharedMachine(SqliteStore(path), BOOTSTRAP).step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE bangui_state SET state = '{\"schema_version\": 2}'")
    with pytest.raises(StoreCorruptError, match="name 'bangui'.*not a valid state.*schema"):
        SharedMachine(SqliteStore(path), BOOTSTRAP)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT revision, state FROM bangui_state").fetchall() == [(1, '{"schema_version": 2}')]

    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE bangui_state (id INTEGER)")
    with pytest.raises(StoreCorruptError, match="table bangui_state has columns"):
        SqliteStore(path)


def test_a_corrupt_row_met_mid_commit_releases_the_sqlite_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    machine = SharedMachine(SqliteStore(path), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE bangui_state SET revision = 'three'")
    with pytest.raises(StoreCorruptError, match="must be an integer"):
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if the failed commit kept its transaction
        other.execute("ROLLBACK")
        assert other.execute("SELECT revision FROM bangui_state").fetchall() == [("three",)]
    finally:
        other.close()


def test_an_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    import redis

    with pytest.raises(StoreUnavailableError, match=r"redis store key \{bangui\}:state: unreachable"):
        SharedMachine(RedisStore(redis.Redis(unix_socket_path=str(tmp_path / "none.sock"))), BOOTSTRAP)
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(StoreUnavailableError, match="cannot open the database") as raised:
        SqliteStore(missing / "state.db")
    assert f"the directory {missing} does not exist" in str(raised.value)  # not only SQLite's "unable to open"


def test_a_sqlite_path_under_a_missing_or_unusable_directory_names_it(tmp_path: Path) -> None:
    from bangui_state.shared import AsyncSqliteStore

    (tmp_path / "a-file").write_text("")
    cases = {tmp_path / "nowhere" / "state.db": f"the directory {tmp_path / 'nowhere'} does not exist: create it",
             tmp_path / "a-file" / "state.db": f"{tmp_path / 'a-file'} is not a directory"}
    for path, expected in cases.items():
        with pytest.raises(StoreUnavailableError, match="cannot open the database") as raised:
            SqliteStore(path)
        assert expected in str(raised.value), str(raised.value)
        with pytest.raises(StoreUnavailableError) as raised_async:
            AsyncSqliteStore(path)
        assert expected in str(raised_async.value)
    assert not (tmp_path / "nowhere").exists()  # nothing is created on the way


def test_a_stopped_redis_raises_and_leaves_the_worker_as_it_was(tmp_path: Path) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    server = RedisServer(tmp_path)
    try:
        server.start()
        machine = SharedMachine(RedisStore(server.client(retry=Retry(NoBackoff(), 0))), BOOTSTRAP)
        machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
        before = machine.state_json
        server.stop()
        with pytest.raises(StoreUnavailableError, match="unreachable") as raised:
            machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
        assert not raised.value.outcome_unknown
        assert machine.state_json == before
        server.start()
        machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
        assert machine.revision == 2
        assert isinstance(server.client(), redis.Redis)
    finally:
        server.stop()


def test_the_script_is_loaded_again_after_script_flush(redis_server: RedisServer) -> None:
    client = redis_server.client(decode_responses=True)  # the host's choice of decoding works too
    machine = SharedMachine(RedisStore(client, name="flushed"), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    client.script_flush()
    machine.step({"type": "jail_activated", "jail_name": "nginx"}, at(1))
    assert machine.revision == 2


def test_the_redis_keys_share_one_hash_tag(redis_server: RedisServer) -> None:
    client = redis_server.client()
    machine = SharedMachine(RedisStore(client, name="tagged"), BOOTSTRAP)
    machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    assert sorted(client.scan_iter("{tagged}*")) == [b"{tagged}:log", b"{tagged}:state"]
    assert client.type("{tagged}:log") == b"stream" and client.type("{tagged}:state") == b"hash"


def test_a_commit_retried_after_a_lost_reply_counts_once(redis_server: RedisServer) -> None:
    from bangui_state.shared import Proposal

    store = RedisStore(redis_server.client(), name="retried")
    machine = SharedMachine(store, BOOTSTRAP)
    local = Machine.restore_json(machine.state_json)
    local.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
    proposal = Proposal(local.state_json, "2026-04-27T16:42:00.000000Z",
                        '{"type":"jail_activated","jail_name":"sshd"}', False)
    assert store.commit(0, proposal) is None
    assert store.commit(0, proposal) is None  # the same commit again: done already
    other = Proposal(local.state_json, proposal.now, proposal.event_json, False)
    conflict = store.commit(0, other)
    assert conflict is not None and conflict.revision == 1
    assert len(store.read_log(0)) == 1




def test_a_sqlite_store_opened_before_fork_refuses_to_serve_the_child(tmp_path: Path) -> None:
    import multiprocessing

    machine = SharedMachine(SqliteStore(tmp_path / "state.db"), BOOTSTRAP)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def child() -> None:
        try:
            machine.step({"type": "jail_activated", "jail_name": "sshd"}, at(0))
            queue.put("stepped")
        except Exception as error:  # the answer the test checks
            queue.put(f"{type(error).__name__}: {error}")

    process = context.Process(target=child)
    process.start()
    answer = queue.get(timeout=30)
    process.join()
    assert answer.startswith("StoreError: sqlite store") and "open the store in each worker" in answer
    assert machine.revision == 0 and machine.commits(0) == []


def test_format_instant_writes_instants_as_the_core_does() -> None:
    """The step's `now` in the log: exactly the core's text for that instant, for
    any year, across day boundaries (format_instant keeps the last day's date)."""
    import random
    from datetime import datetime, timedelta, timezone

    from bangui_state.shared import format_instant

    rng = random.Random(3)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    first, last = -62_135_596_800_000_000, 253_402_300_800_000_000  # years 1 to 9999
    day = 86_400_000_000
    instants = [first, last - 1, 0, -1, day - 1, day, -day, -day - 1, 1_777_308_120_000_000]
    instants += [rng.randrange(first, last) for _ in range(2000)]
    start = rng.randrange(0, 10 * day)
    instants += [start + n * 3_600_000_007 for n in range(100)]  # hourly, through several days and back
    instants += instants[::-1]
    local = Machine(BOOTSTRAP)
    for micros in instants:
        t = epoch + timedelta(microseconds=micros)
        text = format_instant(micros)
        assert text == (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
                        f"{t.microsecond:06d}Z")
        assert parse_instant(text) == t
    for micros in instants[:300]:
        local.step({"type": "jail_activated", "jail_name": "sshd"}, epoch + timedelta(microseconds=micros))
        assert local.state["last_activation"]["at"] == format_instant(micros)
    for micros in (first - 1, last):
        with pytest.raises(OverflowError):
            format_instant(micros)


def test_snapshots_and_proposals_are_frozen_dataclasses() -> None:
    import dataclasses
    import pickle

    from bangui_state.shared import Proposal, Snapshot

    snapshot = Snapshot(3, "{}", 1)
    assert snapshot == Snapshot(3, "{}", 1) != Snapshot(3, "{}", 2)
    assert hash(snapshot) == hash(Snapshot(3, "{}", 1))
    assert pickle.loads(pickle.dumps(snapshot)) == snapshot
    assert repr(snapshot) == "Snapshot(revision=3, state_json='{}', cache_epoch=1)"
    one, two = Proposal("{}", "now", "{}", False), Proposal("{}", "now", "{}", False)
    assert one.commit_id != two.commit_id  # each a new commit id
    again = Proposal("{}", "now", "{}", False, one.commit_id)
    assert again == one and hash(again) == hash(one) and pickle.loads(pickle.dumps(one)) == one
    assert dataclasses.replace(one, now="later") == Proposal("{}", "later", "{}", False, one.commit_id)
    assert [f.name for f in dataclasses.fields(Proposal)] == ["state_json", "now", "event_json", "cache_replaced",
                                                             "commit_id"]
    for value, name in ((snapshot, "revision"), (one, "commit_id")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, 5)
