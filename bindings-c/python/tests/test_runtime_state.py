"""bangui_state.runtime_state: the seed module's API over the machine.

The seed's calls, made the way BanGUI makes them (small pydantic models shaped
like BanGUI's below), must return, keep and log exactly what the core's events
give: in one process for random call sequences (hypothesis), and with 4
processes sharing a SQLite store, where the final state must be the committed
calls applied serially. The backend lock is tried with 8 processes, and with
a holder killed mid-probe."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr
from shared_support import run_workers
from starlette.applications import Starlette
from structlog.testing import capture_logs

from bangui_state import InvalidEventError, Machine, NaiveDatetimeError
from bangui_state import runtime_state as rs
from bangui_state.runtime_state import aio
from bangui_state.shared import AsyncSharedMachine, AsyncSqliteStore, SharedMachine, SqliteStore

UTC = timezone.utc
T0 = datetime(2026, 4, 27, 16, 42, tzinfo=UTC)


# ---------------------------------------------------------------------------
# BanGUI's models, reduced to their shape (app.models.server, app.models.config,
# app.config, app.utils.session_cache)
# ---------------------------------------------------------------------------


class ServerStatus(BaseModel):
    online: bool
    version: str | None = None
    active_jails: int = 0


class PendingRecovery(BaseModel):
    jail_name: str
    activated_at: datetime
    detected_at: datetime
    recovered: bool = False


class Settings(BaseModel):
    database_path: str = "/var/lib/bangui/bangui.db"
    fail2ban_socket: str = "/var/run/fail2ban/fail2ban.sock"
    session_secret: SecretStr = SecretStr("correct horse battery staple")
    session_cache_enabled: bool = True
    session_cache_ttl_seconds: float = 3600.0


class InMemorySessionCache(dict[str, Any]):
    pass


class NoOpSessionCache:
    pass


CACHE_CLASSES: dict[str, type] = {"in_memory": InMemorySessionCache, "no_op": NoOpSessionCache}
BOOTSTRAP = Settings()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_of(settings: Settings) -> dict[str, Any]:
    """The settings record as the tests expect it: the JSON dump, the secret revealed."""
    return {**settings.model_dump(mode="json"), "session_secret": settings.session_secret.get_secret_value()}


class Clock:
    """The module's clock, set by the test before each call."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def install(app: Starlette, machine: Any, clock: Any, **options: Any) -> rs.RuntimeState:
    return rs.install(app, machine, BOOTSTRAP, session_cache_classes=(InMemorySessionCache, NoOpSessionCache),
                      server_status_model=ServerStatus, pending_recovery_model=PendingRecovery, clock=clock, **options)


def local_app(clock: Any) -> Starlette:
    app = Starlette()
    install(app, Machine(record_of(BOOTSTRAP)), clock)
    return app


def shared_app(path: str, clock: Any, **options: Any) -> Starlette:
    app = Starlette()
    machine = SharedMachine(SqliteStore(path, timeout=30), record_of(BOOTSTRAP),
                            on_session_cache=rs.session_cache_hook(app))
    install(app, machine, clock, **options)
    return app


def machine_of(app: Starlette) -> Any:
    return rs.get_runtime_state(app).machine


def state_of(app: Starlette) -> dict[str, Any]:
    return json.loads(machine_of(app).state_json)  # type: ignore[no-any-return]


def without_revision(state: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in state.items() if key != "revision"}


# ---------------------------------------------------------------------------
# The seed's calls: made through the module, and the events they stand for
# ---------------------------------------------------------------------------

TIMES = st.integers(0, 150)  # seconds after T0: the crash window is 60 s
JAILS = st.sampled_from(["sshd", "nginx-http-auth", "recidive"])
VERSIONS = st.sampled_from([None, "1.1.0", "1.0.2"])
OVERRIDES = [(("session_cache_enabled", False),), (("session_cache_ttl_seconds", 0),),
             (("database_path", "/srv/bangui.db"), ("session_cache_ttl_seconds", 120.5)), ()]
CALLS = st.one_of(
    st.tuples(st.just("probe"), TIMES, st.booleans(), VERSIONS, st.integers(0, 3), st.booleans()),
    st.tuples(st.just("probe_dict"), TIMES, st.booleans(), VERSIONS, st.integers(0, 3)),
    st.tuples(st.just("record_activation"), TIMES, JAILS, st.none() | TIMES),
    st.tuples(st.just("create_pending_recovery"), TIMES, JAILS, TIMES, st.none() | TIMES),
    st.tuples(st.just("clear_pending_recovery"), TIMES),
    st.tuples(st.just("clear_activation_record"), TIMES),
    st.tuples(st.just("set_runtime_settings"), TIMES, st.booleans(), st.sampled_from([0.0, 60.0, 3600.0])),
    st.tuples(st.just("update_app_settings"), TIMES, st.sampled_from(OVERRIDES)),
    st.tuples(st.just("assign_setup_complete_cached"), TIMES, st.booleans()),
    st.tuples(st.just("assign_pending_recovery"), TIMES, st.none() | st.tuples(JAILS, TIMES, TIMES)),
    st.tuples(st.just("assign_last_activation"), TIMES, st.none() | st.tuples(JAILS, TIMES)),
    st.tuples(st.just("assign_runtime_settings"), TIMES, st.booleans(), st.sampled_from([0.0, 3600.0])),
    st.tuples(st.just("assign_backend_cmd_supported"), TIMES, st.sampled_from([None, True, False])),
    st.tuples(st.just("delete"), TIMES, st.sampled_from(["setup_complete_cached", "pending_recovery",
                                                         "last_activation", "backend_cmd_supported"])),
)


def perform(app: Starlette, call: tuple[Any, ...], clock: Clock) -> Any:
    """Makes the call as BanGUI's code makes it; returns what it returned."""
    kind, t, *args = call
    clock.now = at(t)
    state: Any = app.state
    runtime_state = rs.get_runtime_state(app)
    if kind == "probe":
        online, version, jails, explicit_now = args
        return rs.process_health_probe_result(runtime_state, ServerStatus(online=online, version=version,
                                                                          active_jails=jails),
                                              at(t) if explicit_now else None)
    if kind == "probe_dict":
        online, version, jails = args
        return rs.process_health_probe_result(runtime_state, {"online": online, "version": version,
                                                              "active_jails": jails, "total_bans": 7}, at(t))
    if kind == "record_activation":
        jail, at_t = args
        return rs.record_activation(app, jail, None if at_t is None else at(at_t))
    if kind == "create_pending_recovery":
        jail, activated_t, detected_t = args
        return rs.create_pending_recovery(app, jail, at(activated_t), None if detected_t is None else at(detected_t))
    if kind == "clear_pending_recovery":
        return rs.clear_pending_recovery(app)
    if kind == "clear_activation_record":
        return rs.clear_activation_record(app)
    if kind == "set_runtime_settings":
        enabled, ttl = args
        return rs.set_runtime_settings(app, Settings(session_cache_enabled=enabled, session_cache_ttl_seconds=ttl))
    if kind == "update_app_settings":
        return rs.update_app_settings(app, **dict(args[0]))
    if kind == "assign_setup_complete_cached":
        state.setup_complete_cached = args[0]
    elif kind == "assign_pending_recovery":
        value = args[0]
        runtime_state.pending_recovery = None if value is None else PendingRecovery(
            jail_name=value[0], activated_at=at(value[1]), detected_at=at(value[2]))
    elif kind == "assign_last_activation":
        value = args[0]
        state.last_activation = None if value is None else {"jail_name": value[0], "at": at(value[1])}
    elif kind == "assign_runtime_settings":
        enabled, ttl = args
        runtime_state.runtime_settings = Settings(session_cache_enabled=enabled, session_cache_ttl_seconds=ttl)
    elif kind == "assign_backend_cmd_supported":
        runtime_state.jail_service_state.backend_cmd_supported = args[0]
    elif kind == "delete":
        if args[0] == "backend_cmd_supported":
            del runtime_state.jail_service_state.backend_cmd_supported
        else:
            delattr(state, args[0])
    else:
        raise AssertionError(f"unknown call {kind}")
    return None


def expected_step(call: tuple[Any, ...]) -> tuple[dict[str, Any], datetime, Any]:
    """The event the call stands for (CONTRACT.md's table), its `now`, and
    what the seed's function returns."""
    kind, t, *args = call
    now = at(t)
    if kind in ("probe", "probe_dict"):
        status = {"online": args[0], "version": args[1], "active_jails": args[2]}
        if kind == "probe_dict":
            status["total_bans"] = 7
        return {"type": "health_probe_completed", "status": status}, now, None
    if kind == "record_activation":
        recorded = now if args[1] is None else at(args[1])
        return {"type": "jail_activated", "jail_name": args[0], "at": iso(recorded)}, now, recorded
    if kind == "create_pending_recovery":
        detected = now if args[2] is None else at(args[2])
        return {"type": "pending_recovery_created", "jail_name": args[0], "activated_at": iso(at(args[1])),
                "detected_at": iso(detected)}, now, None
    if kind == "clear_pending_recovery":
        return {"type": "pending_recovery_cleared"}, now, None
    if kind == "clear_activation_record":
        return {"type": "activation_cleared"}, now, None
    if kind in ("set_runtime_settings", "assign_runtime_settings"):
        settings = Settings(session_cache_enabled=args[0], session_cache_ttl_seconds=args[1])
        return {"type": "runtime_settings_set", "settings": record_of(settings)}, now, None
    if kind == "update_app_settings":
        return {"type": "settings_updated", "overrides": dict(args[0])}, now, None
    if kind == "assign_setup_complete_cached":
        return {"type": "setup_completion_cached", "complete": args[0]}, now, None
    if kind == "assign_pending_recovery":
        if args[0] is None:
            return {"type": "pending_recovery_cleared"}, now, None
        jail, activated_t, detected_t = args[0]
        return {"type": "pending_recovery_created", "jail_name": jail, "activated_at": iso(at(activated_t)),
                "detected_at": iso(at(detected_t))}, now, None
    if kind == "assign_last_activation":
        if args[0] is None:
            return {"type": "activation_cleared"}, now, None
        return {"type": "jail_activated", "jail_name": args[0][0], "at": iso(at(args[0][1]))}, now, None
    if kind == "assign_backend_cmd_supported":
        if args[0] is None:
            return {"type": "backend_capability_reset"}, now, None
        return {"type": "backend_probe_completed", "supported": args[0]}, now, None
    if kind == "delete":
        return {
            "setup_complete_cached": {"type": "setup_completion_cached", "complete": False},
            "pending_recovery": {"type": "pending_recovery_cleared"},
            "last_activation": {"type": "activation_cleared"},
            "backend_cmd_supported": {"type": "backend_capability_reset"},
        }[args[0]], now, None
    raise AssertionError(f"unknown call {kind}")


def logged(effects: list[Any]) -> list[dict[str, Any]]:
    """The log effects as structlog's capture_logs records them."""
    return [{"event": e["event"], "log_level": e["level"], **e["fields"]} for e in effects if e["type"] == "log"]


def assert_reads_match(app: Starlette, state: dict[str, Any]) -> None:
    """What BanGUI reads from `app.state` is the core's state, in BanGUI's kinds."""
    app_state: Any = app.state
    assert app_state.setup_complete_cached is state["setup_complete_cached"]
    assert app_state.server_status == ServerStatus.model_validate(state["server_status"])
    recovery = state["pending_recovery"]
    assert app_state.pending_recovery == (None if recovery is None else PendingRecovery(
        jail_name=recovery["jail_name"], activated_at=datetime.fromisoformat(recovery["activated_at"]),
        detected_at=datetime.fromisoformat(recovery["detected_at"]), recovered=recovery["recovered"]))
    activation = state["last_activation"]
    assert app_state.last_activation == (None if activation is None else {
        "jail_name": activation["jail_name"], "at": datetime.fromisoformat(activation["at"])})
    runtime = app_state.runtime_settings
    assert (None if runtime is None else record_of(runtime)) == state["runtime_settings"]
    effective = rs.get_effective_settings(app)
    assert isinstance(effective, Settings)
    assert record_of(effective) == (state["runtime_settings"] or state["bootstrap_settings"])
    assert app_state.jail_service_state.backend_cmd_supported is state["backend_capability"]["supported"]
    assert type(app_state.session_cache) is CACHE_CLASSES[state["session_cache"]]


# ---------------------------------------------------------------------------
# One process
# ---------------------------------------------------------------------------


def check_against_the_core(app: Starlette, clock: Clock, calls: list[tuple[Any, ...]]) -> None:
    """Each call returns, keeps and logs what its event gives on a plain Machine."""
    reference = Machine(record_of(BOOTSTRAP))
    counts_every_event = isinstance(machine_of(app), Machine)  # a shared revision counts commits only
    for call in calls:
        event, now, returns = expected_step(call)
        cache_before = app.state.session_cache
        with capture_logs() as logs:
            returned = perform(app, call, clock)
        effects = reference.step(event, now)  # type: ignore[arg-type]
        assert returned == returns, call
        assert logs == logged(effects), call
        if counts_every_event:
            assert machine_of(app).state_json == reference.state_json, call
        else:
            assert without_revision(state_of(app)) == without_revision(reference.state), call
        replaced = [e["kind"] for e in effects if e["type"] == "session_cache_replaced"]
        if replaced:
            assert app.state.session_cache is not cache_before
            assert type(app.state.session_cache) is CACHE_CLASSES[replaced[-1]]
        else:
            assert app.state.session_cache is cache_before
        assert_reads_match(app, reference.state)


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.lists(CALLS, max_size=25))
def test_the_seeds_calls_return_keep_and_log_what_the_cores_events_give(calls: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    check_against_the_core(local_app(clock), clock, calls)


@hypothesis_settings(max_examples=40, deadline=None)
@given(st.lists(CALLS, max_size=25))
def test_over_a_shared_machine_the_calls_give_the_same(calls: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as directory:
        app = shared_app(str(Path(directory) / "state.db"), clock)
        try:
            check_against_the_core(app, clock, calls)
        finally:
            machine_of(app).close()


def test_a_crash_after_an_activation_reads_as_the_seed_left_it() -> None:
    clock = Clock()
    app = local_app(clock)
    runtime_state = rs.get_runtime_state(app)
    rs.process_health_probe_result(runtime_state, ServerStatus(online=True, version="1.1.0", active_jails=2), at(0))
    assert rs.record_activation(app, "sshd", at(30)) == at(30)
    with capture_logs() as logs:
        rs.process_health_probe_result(runtime_state, ServerStatus(online=False), at(42))
    assert [entry["event"] for entry in logs] == ["fail2ban_went_offline", "activation_crash_detected",
                                                 "health_check_complete"]
    assert logs[1] == {"event": "activation_crash_detected", "log_level": "warning", "jail": "sshd",
                       "seconds_since_activation": 12.0}
    recovery = app.state.pending_recovery
    assert isinstance(recovery, PendingRecovery)
    assert (recovery.jail_name, recovery.activated_at, recovery.detected_at, recovery.recovered) == \
        ("sshd", at(30), at(42), False)
    assert recovery.activated_at.tzinfo is not None  # datetimes, not texts
    assert app.state.last_activation == {"jail_name": "sshd", "at": at(30)}  # not cleared, as in the seed
    rs.process_health_probe_result(runtime_state, ServerStatus(online=True, version="1.1.0"), at(50))
    assert app.state.pending_recovery.recovered is True


def test_instants_in_any_zone_are_kept_as_the_same_instant_in_utc() -> None:
    app = local_app(Clock())
    paris = timezone(timedelta(hours=2))
    rs.create_pending_recovery(app, "sshd", at(0).astimezone(paris), at(1.5).astimezone(paris))
    assert state_of(app)["pending_recovery"]["activated_at"] == "2026-04-27T16:42:00.000000Z"
    assert state_of(app)["pending_recovery"]["detected_at"] == "2026-04-27T16:42:01.500000Z"
    assert app.state.pending_recovery.activated_at == at(0)
    assert app.state.pending_recovery.activated_at.utcoffset() == timedelta(0)
    assert rs.record_activation(app, "sshd", at(2).astimezone(paris)) == at(2)
    assert app.state.last_activation == {"jail_name": "sshd", "at": at(2)}


def test_the_crash_window_constant_is_the_cores() -> None:
    for seconds_after, blamed in ((rs._ACTIVATION_CRASH_WINDOW, True),
                                  (rs._ACTIVATION_CRASH_WINDOW + 0.000001, False)):
        app = local_app(Clock())
        runtime_state = rs.get_runtime_state(app)
        rs.process_health_probe_result(runtime_state, ServerStatus(online=True), at(-1))
        rs.record_activation(app, "sshd", at(0))
        rs.process_health_probe_result(runtime_state, ServerStatus(online=False), at(seconds_after))
        assert (app.state.pending_recovery is not None) is blamed


def test_settings_come_back_as_the_object_set_and_as_equal_objects_elsewhere(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    clock = Clock()
    first, second = shared_app(path, clock), shared_app(path, clock)
    chosen = Settings(session_cache_ttl_seconds=60.0, session_secret=SecretStr("another secret"))
    rs.set_runtime_settings(first, chosen)
    assert rs.get_effective_settings(first) is chosen  # as the seed returns what it was given
    elsewhere = rs.get_effective_settings(second)
    assert elsewhere is not chosen and elsewhere == chosen
    assert elsewhere.session_secret.get_secret_value() == "another secret"  # the secret is the real one
    rs.update_app_settings(first, session_cache_enabled=False)
    updated = rs.get_effective_settings(first)
    assert updated == BOOTSTRAP.model_copy(update={"session_cache_enabled": False})  # from the bootstrap settings
    assert rs.get_effective_settings(second) == updated
    assert rs.get_app_settings(second) is BOOTSTRAP


def test_a_status_with_more_fields_keeps_them_in_the_state() -> None:
    class RicherStatus(ServerStatus):
        total_bans: int = 0

    app = local_app(Clock())
    rs.process_health_probe_result(rs.get_runtime_state(app), RicherStatus(online=True, total_bans=12), at(0))
    assert state_of(app)["server_status"] == {"online": True, "version": None, "active_jails": 0, "total_bans": 12}


def test_without_models_of_its_own_an_app_reads_the_modules() -> None:
    app = Starlette()
    rs.install(app, Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 60}),
               {"session_cache_enabled": True, "session_cache_ttl_seconds": 60})
    runtime_state = rs.get_runtime_state(app)
    rs.process_health_probe_result(runtime_state, rs.ServerStatus(online=True, version="1.1.0",
                                                                  extra={"total_bans": 3}), at(0))
    assert app.state.server_status == rs.ServerStatus(True, "1.1.0", 0, {"total_bans": 3})
    app.state.pending_recovery = rs.PendingRecovery("sshd", at(0), at(1))
    assert app.state.pending_recovery == rs.PendingRecovery("sshd", at(0), at(1), False)
    assert isinstance(app.state.session_cache, rs.InMemorySessionCache)
    rs.update_app_settings(app, session_cache_ttl_seconds=0)
    assert rs.get_effective_settings(app) == {"session_cache_enabled": True, "session_cache_ttl_seconds": 0}
    assert isinstance(app.state.session_cache, rs.NoOpSessionCache)


def test_patching_the_modules_log_is_heard() -> None:
    app = local_app(Clock())
    with mock.patch.object(rs, "log") as log:
        rs.process_health_probe_result(rs.get_runtime_state(app), ServerStatus(online=True, version="1.1.0"), at(0))
    log.info.assert_called_once_with("fail2ban_came_online", version="1.1.0")
    log.debug.assert_called_once_with("health_check_complete", online=True, version="1.1.0", active_jails=0)


# ---------------------------------------------------------------------------
# Assignments: mapped to events, or refused
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("assign", "names"), [
    (lambda s: setattr(s, "server_status", ServerStatus(online=True)), "process_health_probe_result"),
    (lambda s: delattr(s, "server_status"), "process_health_probe_result"),
    (lambda s: setattr(s, "runtime_settings", None), "set_runtime_settings(app, get_app_settings(app))"),
    (lambda s: delattr(s, "runtime_settings"), "set_runtime_settings(app, get_app_settings(app))"),
    (lambda s: setattr(s, "pending_recovery", PendingRecovery(jail_name="sshd", activated_at=at(0),
                                                              detected_at=at(1), recovered=True)),
     "process_health_probe_result"),
    (lambda s: setattr(s, "jail_service_state", rs.JailServiceState()), "reset_backend_capability_cache()"),
    (lambda s: delattr(s, "jail_service_state"), "reset_backend_capability_cache()"),
])
def test_an_assignment_no_event_stands_for_is_refused_naming_the_call(assign: Any, names: str) -> None:
    app = local_app(Clock())
    before = state_of(app)
    with pytest.raises(rs.AssignmentRefusedError, match="nothing was changed") as refused:
        assign(app.state)
    assert names in str(refused.value)
    assert isinstance(refused.value, AttributeError)
    assert state_of(app) == before  # the revision included


def test_assigning_the_same_jail_service_state_changes_nothing() -> None:
    app = local_app(Clock())
    runtime_state = rs.get_runtime_state(app)
    runtime_state.jail_service_state = runtime_state.jail_service_state
    assert state_of(app)["revision"] == 0


def test_plain_attributes_stay_plain_and_are_kept_by_install() -> None:
    app = Starlette()
    app.state.database = "a connection"
    install(app, Machine(record_of(BOOTSTRAP)), Clock())
    state: Any = app.state
    assert isinstance(state, rs.ApplicationState)
    assert state.database == "a connection"
    state.http_session = "a client"
    assert state.http_session == "a client" and "http_session" not in state_of(app)
    del state.http_session
    with pytest.raises(AttributeError):
        state.http_session  # noqa: B018
    assert state.settings is BOOTSTRAP
    assert state.runtime_state is rs.get_runtime_state(app)


def test_refused_and_malformed_values_name_what_is_wrong() -> None:
    app = local_app(Clock())
    with pytest.raises(NaiveDatetimeError, match="record_activation: at"):
        rs.record_activation(app, "sshd", datetime(2026, 4, 27, 16, 42))
    with pytest.raises(rs.RecordError, match="pending_recovery.*'detected_at'"):
        app.state.pending_recovery = {"jail_name": "sshd", "activated_at": at(0)}
    with pytest.raises(InvalidEventError, match="complete"):
        app.state.setup_complete_cached = "yes"
    with pytest.raises(TypeError, match="process_health_probe_result: expected"):
        rs.process_health_probe_result(object(), ServerStatus(online=True))  # type: ignore[arg-type]
    assert state_of(app)["revision"] == 0


def test_a_runtime_state_made_without_a_machine_works_alone() -> None:
    runtime_state = rs.RuntimeState()
    app = Starlette()
    app.state = rs.ApplicationState(runtime_state)
    app.state.settings = BOOTSTRAP
    rs.process_health_probe_result(runtime_state, ServerStatus(online=True), at(0))
    rs.record_activation(app, "sshd", at(1))
    assert app.state.last_activation == {"jail_name": "sshd", "at": at(1)}
    with pytest.raises(rs.InstallError, match="install"):
        rs.update_app_settings(app, session_cache_enabled=False)
    with pytest.raises(rs.InstallError, match="already changed"):
        install(app, Machine(record_of(BOOTSTRAP)), Clock())
    # The seed dataclasses' fields as keywords, each assigned as after construction.
    assert rs.RuntimeState(setup_complete_cached=True).setup_complete_cached is True
    assert rs.RuntimeState(last_activation={"jail_name": "sshd", "at": at(0)}).last_activation == \
        {"jail_name": "sshd", "at": at(0)}
    with pytest.raises(rs.AssignmentRefusedError, match="process_health_probe_result"):
        rs.RuntimeState(server_status=ServerStatus(online=True))
    assert rs.JailServiceState(backend_cmd_supported=False).backend_cmd_supported is False
    with pytest.raises(rs.AssignmentRefusedError, match="get_backend_cmd_lock"):
        rs.JailServiceState(backend_cmd_lock=asyncio.Lock())  # type: ignore[arg-type]


def test_install_refuses_a_machine_that_does_not_fit(tmp_path: Path) -> None:
    app = Starlette()
    with pytest.raises(rs.InstallError, match="database_path"):
        install(app, Machine({**record_of(BOOTSTRAP), "database_path": "/elsewhere"}), Clock())
    unhooked = SharedMachine(SqliteStore(str(tmp_path / "state.db")), record_of(BOOTSTRAP))
    with pytest.raises(rs.InstallError, match="on_session_cache"):
        install(app, unhooked, Clock())
    assert not isinstance(app.state, rs.ApplicationState)


# ---------------------------------------------------------------------------
# Workers sharing a store: reads see other workers' writes
# ---------------------------------------------------------------------------


def test_a_read_after_another_workers_write_returned_sees_it(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    clock = Clock()
    writer, reader = shared_app(path, clock), shared_app(path, clock)
    assert reader.state.last_activation is None
    rs.record_activation(writer, "sshd", at(0))
    assert reader.state.last_activation == {"jail_name": "sshd", "at": at(0)}  # no refresh() called
    writer.state.setup_complete_cached = True
    assert reader.state.setup_complete_cached is True
    rs.process_health_probe_result(rs.get_runtime_state(writer), ServerStatus(online=True, version="1.1.0"), at(1))
    assert reader.state.server_status == ServerStatus(online=True, version="1.1.0")


def test_every_worker_gets_a_new_session_cache_when_one_changes_the_settings(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    clock = Clock()
    first, second = shared_app(path, clock), shared_app(path, clock)
    before = second.state.session_cache
    assert type(before) is InMemorySessionCache
    rs.update_app_settings(first, session_cache_ttl_seconds=0)
    assert type(first.state.session_cache) is NoOpSessionCache
    assert type(second.state.session_cache) is NoOpSessionCache
    again = second.state.session_cache
    rs.set_runtime_settings(first, Settings(session_cache_ttl_seconds=0))  # the same kind: still a new cache
    assert second.state.session_cache is not again
    assert type(second.state.session_cache) is NoOpSessionCache


def run_calls(barrier: Any, path: str, calls: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A worker: makes its calls, noting the revision of each one that committed."""
    clock = Clock()
    app = shared_app(path, clock)
    machine = machine_of(app)
    barrier.wait()
    made = []
    for call in calls:
        commits = machine.stats.commits
        perform(app, call, clock)
        made.append((call, machine.revision if machine.stats.commits > commits else None))
    barrier.wait()  # every worker's writes have returned: reads must see them all
    app_state: Any = app.state
    reads = {"last_activation": app_state.last_activation, "pending_recovery": app_state.pending_recovery,
             "setup_complete_cached": app_state.setup_complete_cached}
    return {"made": made, "cache": type(app_state.session_cache).__name__, **reads}


@hypothesis_settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CALLS, min_size=10, max_size=30), min_size=4, max_size=4))
def test_4_processes_end_where_their_committed_calls_applied_serially_end(
        calls_per_worker: list[list[tuple[Any, ...]]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "state.db")
        results = run_workers(run_calls, [(path, calls) for calls in calls_per_worker])
        final = SharedMachine(SqliteStore(path), record_of(BOOTSTRAP))
        shared_state = final.state
        final.close()
    committed = sorted((revision, call) for result in results for call, revision in result["made"]
                       if revision is not None)
    assert [revision for revision, _ in committed] == list(range(1, shared_state["revision"] + 1))
    clock = Clock()
    serial = local_app(clock)
    for _, call in committed:
        perform(serial, call, clock)
    assert without_revision(state_of(serial)) == without_revision(shared_state)
    for result in results:
        assert result["cache"] == CACHE_CLASSES[shared_state["session_cache"]].__name__
        assert result["last_activation"] == serial.state.last_activation
        assert result["pending_recovery"] == serial.state.pending_recovery
        assert result["setup_complete_cached"] is shared_state["setup_complete_cached"]


# ---------------------------------------------------------------------------
# The backend-capability lock across processes
# ---------------------------------------------------------------------------


def probe_under_lock(barrier: Any, path: str, probe_seconds: float) -> dict[str, Any]:
    app = shared_app(path, rs._binding.utc_now, lock_poll_interval=0.01)
    jail_service_state = rs.get_runtime_state(app).jail_service_state

    async def main() -> dict[str, Any]:
        probed = False
        async with jail_service_state.get_backend_cmd_lock():
            if jail_service_state.backend_cmd_supported is None:
                probed = True
                await asyncio.sleep(probe_seconds)
                jail_service_state.backend_cmd_supported = True
        return {"probed": probed, "supported": jail_service_state.backend_cmd_supported}

    barrier.wait()
    return asyncio.run(main())


def test_8_processes_entering_the_backend_lock_at_once_probe_once_and_all_see_the_result(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    shared_app(path, Clock())  # the store exists before the workers race
    results = run_workers(probe_under_lock, [(path, 0.3)] * 8)
    assert sum(result["probed"] for result in results) == 1
    assert all(result["supported"] is True for result in results)


def hold_the_lock_and_hang(path: str, lag_seconds: float, ready: str) -> None:
    """A worker whose clock runs `lag_seconds` behind: it starts the probe,
    says so, and hangs until it is killed."""
    app = shared_app(path, lambda: rs._binding.utc_now() - timedelta(seconds=lag_seconds))
    jail_service_state = rs.get_runtime_state(app).jail_service_state

    async def main() -> None:
        async with jail_service_state.get_backend_cmd_lock():
            Path(ready).touch()
            await asyncio.sleep(3600)

    asyncio.run(main())


def test_a_probe_whose_worker_died_is_taken_over_30_s_after_it_started(tmp_path: Path) -> None:
    import multiprocessing

    path = str(tmp_path / "state.db")
    observer = shared_app(path, Clock())
    ready = str(tmp_path / "holding")
    # The holder's probe started 29.5 s ago as the others' clocks see it: it goes stale in 0.5 s.
    holder = multiprocessing.get_context("fork").Process(target=hold_the_lock_and_hang, args=(path, 29.5, ready),
                                                         daemon=True)
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while not Path(ready).exists():
            assert time.monotonic() < deadline and holder.is_alive(), "the holder did not take the lock"
            time.sleep(0.01)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()
    results = run_workers(probe_under_lock, [(path, 0.05)] * 4)
    assert sum(result["probed"] for result in results) == 1
    assert all(result["supported"] is True for result in results)
    requests = [commit for commit in machine_of(observer).commits() if commit.event["type"] ==
                "backend_probe_requested"]
    assert len(requests) == 2  # the dead holder's, and the one that took over
    started = [datetime.fromisoformat(commit.now) for commit in requests]
    assert started[1] - started[0] >= timedelta(seconds=30)


def test_within_one_process_one_task_probes_and_leaving_without_a_result_hands_over() -> None:
    app = local_app(rs._binding.utc_now)
    jail_service_state = rs.get_runtime_state(app).jail_service_state
    probes: list[str] = []

    async def check(name: str, fail: bool) -> bool | None:
        async with jail_service_state.get_backend_cmd_lock():
            if jail_service_state.backend_cmd_supported is None:
                probes.append(name)
                await asyncio.sleep(0.05)
                if fail:
                    raise OSError("fail2ban did not answer")
                jail_service_state.backend_cmd_supported = False
        return jail_service_state.backend_cmd_supported

    async def main() -> list[Any]:
        return await asyncio.gather(check("first", True), check("second", False), check("third", False),
                                    return_exceptions=True)

    started = time.monotonic()
    with capture_logs() as logs:
        results = asyncio.run(main())
    assert time.monotonic() - started < 10  # not the 30 s after which a silent probe goes stale
    assert isinstance(results[0], OSError) and results[1:] == [False, False]
    # The failed probe handed over to one of the waiting tasks, at once; it probed, the other waited.
    assert probes[0] == "first" and len(probes) == 2 and probes[1] in ("second", "third")
    assert {"event": "backend_capability_probe_failed", "log_level": "warning",
            "reason": "OSError: fail2ban did not answer"} in logs


def test_resetting_the_backend_capability_is_seen_by_every_worker(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first, second = shared_app(path, Clock()), shared_app(path, Clock())
    first.state.jail_service_state.backend_cmd_supported = True
    assert second.state.jail_service_state.backend_cmd_supported is True
    asyncio.run(second.state.jail_service_state.reset_backend_capability_cache())
    assert first.state.jail_service_state.backend_cmd_supported is None


# ---------------------------------------------------------------------------
# AsyncSharedMachine: the aio coroutines
# ---------------------------------------------------------------------------


@pytest.fixture
def store_path(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "state.db")


def test_over_an_async_shared_machine_the_aio_calls_do_what_the_seeds_calls_do(store_path: str) -> None:
    calls: list[tuple[Any, ...]] = [
        ("probe", 0, True, "1.1.0", 2, True), ("record_activation", 30, "sshd", None),
        ("probe", 42, False, None, 0, True), ("update_app_settings", 43, (("session_cache_enabled", False),)),
        ("probe", 50, True, "1.1.0", 2, True), ("clear_pending_recovery", 51), ("clear_activation_record", 52),
        ("create_pending_recovery", 53, "nginx-http-auth", 10, None),
        ("set_runtime_settings", 54, True, 60.0), ("assign_setup_complete_cached", 55, True),
    ]
    clock = Clock()
    local = local_app(clock)
    with capture_logs() as expected_logs:
        expected = [perform(local, call, clock) for call in calls]

    async def main() -> tuple[list[Any], list[Any], dict[str, Any]]:
        app = Starlette()
        machine = await AsyncSharedMachine.open(AsyncSqliteStore(store_path), record_of(BOOTSTRAP),
                                                on_session_cache=rs.session_cache_hook(app))
        install(app, machine, clock)
        runtime_state = rs.get_runtime_state(app)
        got = []
        with capture_logs() as logs:
            for kind, t, *args in calls:
                clock.now = at(t)
                if kind == "probe":
                    got.append(await aio.process_health_probe_result(
                        runtime_state, ServerStatus(online=args[0], version=args[1], active_jails=args[2]), at(t)))
                elif kind == "record_activation":
                    got.append(await aio.record_activation(app, args[0]))
                elif kind == "update_app_settings":
                    got.append(await aio.update_app_settings(app, **dict(args[0])))
                elif kind == "clear_pending_recovery":
                    got.append(await aio.clear_pending_recovery(app))
                elif kind == "clear_activation_record":
                    got.append(await aio.clear_activation_record(app))
                elif kind == "create_pending_recovery":
                    got.append(await aio.create_pending_recovery(app, args[0], at(args[1])))
                elif kind == "set_runtime_settings":
                    got.append(await aio.set_runtime_settings(
                        app, Settings(session_cache_enabled=args[0], session_cache_ttl_seconds=args[1])))
                else:
                    got.append(await aio.cache_setup_completion(app, args[0]))
        assert type(app.state.session_cache) is InMemorySessionCache
        await machine.aclose()
        return got, logs, json.loads(machine.state_json)

    got, logs, state = asyncio.run(main())
    assert got == expected
    assert logs == expected_logs
    assert without_revision(state) == without_revision(state_of(local))


def test_over_an_async_shared_machine_sync_writes_name_the_coroutine_and_change_nothing(store_path: str) -> None:
    async def main() -> None:
        app = Starlette()
        machine = await AsyncSharedMachine.open(AsyncSqliteStore(store_path), record_of(BOOTSTRAP),
                                                on_session_cache=rs.session_cache_hook(app))
        install(app, machine, Clock())
        state: Any = app.state
        attempts = [
            (lambda: rs.record_activation(app, "sshd"), "aio.record_activation(app, jail_name, at)"),
            (lambda: rs.set_runtime_settings(app, BOOTSTRAP), "aio.set_runtime_settings(app, settings)"),
            (lambda: setattr(state, "setup_complete_cached", True), "aio.cache_setup_completion(app, True)"),
            (lambda: setattr(state, "pending_recovery", None), "aio.clear_pending_recovery(app)"),
            (lambda: setattr(state.jail_service_state, "backend_cmd_supported", True),
             "aio.set_backend_cmd_supported(jail_service_state, True)"),
            (lambda: rs.process_health_probe_result(state.runtime_state, ServerStatus(online=True)),
             "aio.process_health_probe_result(runtime_state, status, now)"),
        ]
        for attempt, names in attempts:
            with pytest.raises(rs.AsyncMachineError) as refused:
                attempt()
            assert names in str(refused.value) and "nothing was changed" in str(refused.value)
        assert machine.revision == 0
        await machine.aclose()

    asyncio.run(main())


def test_over_an_async_shared_machine_a_request_reads_what_was_written_before_it_started(store_path: str) -> None:
    writer = shared_app(store_path, Clock())

    async def main() -> None:
        seen: list[Any] = []

        async def endpoint(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["app"].state.last_activation)

        app = Starlette()
        machine = await AsyncSharedMachine.open(AsyncSqliteStore(store_path), record_of(BOOTSTRAP),
                                                on_session_cache=rs.session_cache_hook(app))
        install(app, machine, Clock())
        rs.record_activation(writer, "sshd", at(0))
        assert app.state.last_activation is None  # not yet refreshed: no request started since
        middleware = aio.RefreshMiddleware(endpoint)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request"}

        async def send(message: Any) -> None:
            pass

        await middleware({"type": "http", "app": app}, receive, send)
        assert seen == [{"jail_name": "sshd", "at": at(0)}]
        # The probe's result set inside the lock is committed as the lock is left.
        jail_service_state = app.state.jail_service_state
        async with jail_service_state.get_backend_cmd_lock():
            jail_service_state.backend_cmd_supported = False
            assert jail_service_state.backend_cmd_supported is False
            assert writer.state.jail_service_state.backend_cmd_supported is None
        assert writer.state.jail_service_state.backend_cmd_supported is False
        await machine.aclose()

    asyncio.run(main())
