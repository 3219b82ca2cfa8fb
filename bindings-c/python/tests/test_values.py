"""What crosses from Python into C: every value with no JSON form is refused
with a `bangui_state.Error` naming its path, a NUL is carried exactly or
refused (never truncated), any Mapping is read, keys must be strings, and
`now` is what its type says. Each refusal leaves the state as it was."""
from __future__ import annotations

import math
import random
from collections import ChainMap, OrderedDict
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

import bangui_state
from bangui_state import Machine

T0 = datetime(2026, 4, 27, 16, 42, tzinfo=timezone.utc)
T0_US = 1_777_308_120_000_000


@pytest.fixture
def machine(bootstrap: dict[str, Any]) -> Machine:
    m = Machine(bootstrap)
    m.step({"type": "jail_activated", "jail_name": "sshd"}, T0)
    return m


def overrides(value: Any) -> dict[str, Any]:
    return {"type": "settings_updated", "overrides": {"extra": value}}


class LyingInt(int):
    def __index__(self) -> int:
        return 7

    def __int__(self) -> int:
        return 7


class RaisingInt(int):
    def __index__(self) -> int:
        raise RuntimeError("no")


class LyingFloat(float):
    def __float__(self) -> float:
        return 1.0


def cycle() -> dict[str, Any]:
    inner: dict[str, Any] = {"a": 1}
    inner["self"] = {"again": inner}
    return inner


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


NOT_JSON = [
    (b"1.1.0", "event.overrides.extra: a bytes has no JSON form"),
    ({1, 2}, "event.overrides.extra: a set has no JSON form"),
    (object(), "event.overrides.extra: a object has no JSON form"),
    (print, "event.overrides.extra: a builtin_function_or_method has no JSON form"),
    (lambda: 1, "event.overrides.extra: a function has no JSON form"),
    ({(1, 2): "x"}, "event.overrides.extra: key (1, 2) (tuple) is not a string"),
    ({1: "x"}, "event.overrides.extra: key 1 (int) is not a string"),
    ({None: "x"}, "event.overrides.extra: key None (NoneType) is not a string"),
    (cycle(), "event.overrides.extra.self.again: a cycle: this value contains itself"),
    (float("nan"), "event.overrides.extra: nan is not a JSON number"),
    (float("inf"), "event.overrides.extra: inf is not a JSON number"),
    ([1, 2, float("-inf")], "event.overrides.extra[2]: -inf is not a JSON number"),
    (10**5000, "event.overrides.extra: an integer of 16610 bits is too large to write as JSON"),
    (nested(1_000), "event.overrides.extra[0][0][0][0]...[0][0][0] (a path of 127 keys): nested deeper than 127"),
    (nested(100_000), "(a path of 127 keys): nested deeper than 127 levels"),
    (LyingInt(5), "event.overrides.extra: LyingInt (an int subclass) holds 5 but converts to 7 and 7"),
    (RaisingInt(5), "event.overrides.extra: RaisingInt (an int subclass) fails to convert: RuntimeError('no')"),
    (LyingFloat(2.5), "event.overrides.extra: LyingFloat (a float subclass) holds 2.5 but converts to 1.0"),
    ({"ok": [{"deep": {"version": b"x"}}]}, "event.overrides.extra.ok[0].deep.version: a bytes has no JSON form"),
    ({"a b": "\ud800"}, 'event.overrides.extra["a b"]: lone surrogate U+D800 at index 0 is not Unicode text'),
]


@pytest.mark.parametrize(("value", "message"), NOT_JSON, ids=[m.split(": ", 1)[-1][:30] for _, m in NOT_JSON])
def test_a_value_with_no_json_form_is_refused_with_its_path(machine: Machine, value: Any, message: str) -> None:
    before = machine.state_json
    with pytest.raises(bangui_state.NotJsonError) as raised:
        machine.step(overrides(value), T0)
    assert message in raised.value.message, raised.value.message
    assert isinstance(raised.value, bangui_state.Error) and isinstance(raised.value, TypeError)
    assert raised.value.path.startswith("event.overrides.extra")
    assert machine.state_json == before


def test_the_path_names_the_field_of_the_event(machine: Machine) -> None:
    with pytest.raises(bangui_state.NotJsonError) as raised:
        machine.step({"type": "health_probe_completed", "status": {"online": True, "version": b"1.0"}}, T0)
    assert raised.value.path == "event.status.version"
    with pytest.raises(bangui_state.NotJsonError, match=r"^bootstrap\.x: a set has no JSON form"):
        Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 1, "x": {1}})
    with pytest.raises(bangui_state.NotJsonError, match=r"^state\.bootstrap_settings\.y: nan is not a JSON number"):
        state: Any = dict(machine.state)
        state["bootstrap_settings"] = {**state["bootstrap_settings"], "y": math.nan}
        Machine.restore(state)


def test_nesting_the_core_reads_is_passed_on(machine: Machine) -> None:
    """Up to the core's own depth the value is the core's to judge (it may accept
    it, or refuse it with its own error); one level more is refused here."""
    try:
        machine.step(overrides(nested(125)), T0)  # the event is 127 levels deep in all
    except bangui_state.Error as e:
        assert not isinstance(e, bangui_state.NotJsonError), e
    with pytest.raises(bangui_state.NotJsonError, match="nested deeper than 127 levels"):
        machine.step(overrides(nested(126)), T0)


def test_honest_subclasses_are_carried_as_their_values(machine: Machine) -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    machine.step(overrides({Name("k"): [Level.HIGH, Name("v"), (1, 2)], "o": OrderedDict(a=1)}), T0)
    extra = machine.effective_settings["extra"]
    assert extra == {"k": [3, "v", [1, 2]], "o": {"a": 1}}
    assert type(extra["k"][0]) is int


def test_keys_one_and_string_one_never_merge(machine: Machine) -> None:
    before = machine.state_json
    with pytest.raises(bangui_state.NotJsonError, match="key 1 .int. is not a string"):
        machine.step(overrides({1: "a", "1": "b"}), T0)
    assert machine.state_json == before


def test_any_mapping_is_an_event(machine: Machine) -> None:
    proxy = MappingProxyType({"type": "jail_activated", "jail_name": "nginx"})
    assert machine.step(proxy, T0) == []  # type: ignore[arg-type]  # typed as Event; any Mapping runs
    chained = ChainMap({"jail_name": "postfix"}, {"type": "jail_activated", "jail_name": "ignored"})
    machine.step(chained, T0)  # type: ignore[arg-type]
    assert machine.state["last_activation"] == {"jail_name": "postfix", "at": "2026-04-27T16:42:00.000000Z"}
    probe = MappingProxyType({"type": "health_probe_completed", "status": MappingProxyType({"online": True})})
    assert machine.step(probe, T0)[0]["event"] == "fail2ban_came_online"  # type: ignore[arg-type]


def test_a_mapping_that_fails_while_read_is_refused_with_its_path(machine: Machine) -> None:
    class Broken(dict[str, Any]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(bangui_state.NotJsonError, match=r"event\.overrides\.extra: reading this Broken failed"):
        machine.step(overrides(Broken(a=1)), T0)


# --- NUL: carried exactly inside JSON strings, refused where C would stop at it ---


def test_a_nul_inside_an_event_string_is_carried_exactly(machine: Machine) -> None:
    machine.step({"type": "jail_activated", "jail_name": "ss\x00hd"}, T0)
    assert machine.state["last_activation"]["jail_name"] == "ss\x00hd"
    effects = machine.step({"type": "health_probe_completed", "status": {"online": True, "version": "1.0\x00evil"}}, T0)
    assert effects[0]["fields"] == {"version": "1.0\x00evil"}
    assert machine.state["server_status"]["version"] == "1.0\x00evil"
    assert Machine.restore(machine.state).state_json == machine.state_json


def test_a_nul_in_the_probe_version_is_refused_never_truncated(machine: Machine) -> None:
    before = machine.state_json
    with pytest.raises(bangui_state.InvalidEventError, match=r"^version: a NUL character at index 3"):
        machine.health_probe(True, "1.0\x00evil", 1, now=T0)
    assert machine.state_json == before


@pytest.mark.parametrize("text", ['{"type": "activation_cleared"}\x00junk', b'{"type": "activation_cleared"}\x00'])
def test_a_nul_in_step_json_is_refused(machine: Machine, text: str | bytes) -> None:
    before = machine.state_json
    with pytest.raises(bangui_state.NotJsonError, match=r"^event_json: a NUL character at index 30"):
        machine.step_json(text, T0)
    assert machine.state_json == before


def test_a_nul_in_restore_json_and_parse_instant_is_refused(machine: Machine) -> None:
    with pytest.raises(bangui_state.NotJsonError, match=r"^state_json: a NUL character"):
        Machine.restore_json(machine.state_json + "\x00{")
    with pytest.raises(bangui_state.InvalidInstantError, match=r"^text: a NUL character at index 20"):
        bangui_state.parse_instant("2026-04-27T16:42:00Z\x00garbage")
    with pytest.raises(bangui_state.InstantTypeError):
        bangui_state.parse_instant(5)  # type: ignore[arg-type]


# --- the typed fast path's arguments ---


def test_fast_path_arguments_of_the_wrong_type_are_bangui_errors(machine: Machine) -> None:
    before = machine.state_json
    for call in (lambda: machine.health_probe(1, now=T0),  # type: ignore[arg-type]
                 lambda: machine.health_probe(True, b"1.0", now=T0),  # type: ignore[arg-type]
                 lambda: machine.health_probe(True, "1.0", 2.0, now=T0),  # type: ignore[arg-type]
                 lambda: machine.health_probe(True, "1.0", LyingInt(5), now=T0)):
        with pytest.raises(bangui_state.ArgumentTypeError) as raised:
            call()
        assert isinstance(raised.value, TypeError) and raised.value.path in {"online", "version", "active_jails"}
    with pytest.raises(bangui_state.InvalidEventError, match="active_jails: expected an integer from 0 to 2"):
        machine.health_probe(True, "1.0", 2**64, now=T0)
    assert machine.state_json == before


# --- now ---


@pytest.mark.parametrize(("now", "unit"), [(1_777_308_120, "Unix seconds"), (1_777_308_120_000, "Unix milliseconds"),
                                           (1_777_308_120_000_000_000, "Unix nanoseconds"), (0, None), (-1, None)])
def test_an_int_now_in_another_unit_is_refused(machine: Machine, now: int, unit: str | None) -> None:
    before = machine.state_json
    for call in (lambda: machine.step({"type": "activation_cleared"}, now),
                 lambda: machine.step({"type": "health_probe_completed", "status": {"online": True}}, now),
                 lambda: machine.health_probe(True, now=now),
                 lambda: machine.step_json('{"type": "activation_cleared"}', now),
                 lambda: machine.next_deadline(now)):
        with pytest.raises(bangui_state.InvalidInstantError, match="is not Unix microseconds of this era") as raised:
            call()
        assert raised.value.path == "now"
        if unit:
            assert f"it looks like {unit}" in raised.value.message
    assert machine.state_json == before


def test_the_int_now_range_edges() -> None:
    m = Machine({"session_cache_enabled": True, "session_cache_ttl_seconds": 1})
    m.step({"type": "activation_cleared"}, bangui_state.MIN_NOW_US)
    m.step({"type": "activation_cleared"}, bangui_state.MAX_NOW_US - 1)
    with pytest.raises(bangui_state.InvalidInstantError):
        m.step({"type": "activation_cleared"}, bangui_state.MIN_NOW_US - 1)
    with pytest.raises(bangui_state.InvalidInstantError):
        m.step({"type": "activation_cleared"}, bangui_state.MAX_NOW_US)
    # Other instants, 1970 included, go as datetimes.
    m.step({"type": "jail_activated", "jail_name": "old"}, datetime(1970, 1, 1, tzinfo=timezone.utc))
    assert m.state["last_activation"]["at"] == "1970-01-01T00:00:00.000000Z"
    assert m.revision == 3


def test_now_none_is_the_current_time_everywhere(machine: Machine) -> None:
    """The signatures say `now: Now | None = None`; None (or leaving it out) reads the clock."""
    lower = datetime.now(timezone.utc).replace(microsecond=0)
    machine.step({"type": "jail_activated", "jail_name": "now"})
    machine.step({"type": "jail_activated", "jail_name": "none"}, None)
    at = datetime.fromisoformat(machine.state["last_activation"]["at"])
    assert lower <= at <= datetime.now(timezone.utc)
    assert machine.step_json('{"type": "activation_cleared"}') == "[]"
    assert machine.health_probe(True).revision == machine.revision
    assert machine.next_deadline() is None


@pytest.mark.parametrize("now", ["2026-04-27T16:42:00Z", 1.7e15, True, T0.date()])
def test_a_now_of_another_type_is_an_instant_type_error(machine: Machine, now: Any) -> None:
    with pytest.raises(bangui_state.InstantTypeError, match="^now: expected an aware datetime or int Unix micro"):
        machine.step({"type": "activation_cleared"}, now)
    with pytest.raises(TypeError):
        machine.health_probe(True, now=now)


def test_a_lying_int_now_is_refused(machine: Machine) -> None:
    with pytest.raises(bangui_state.InstantTypeError, match="^now: LyingInt"):
        machine.step({"type": "activation_cleared"}, LyingInt(T0_US))


def test_datetimes_convert_exactly_to_the_microsecond(bootstrap: dict[str, Any]) -> None:
    rng = random.Random(7)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for _ in range(2000):
        micros = rng.randrange(-62_135_596_800_000_000, 253_402_300_799_999_999)
        dt = epoch + timedelta(microseconds=micros)
        assert bangui_state.to_unix_micros(dt) == micros
        assert bangui_state.to_unix_micros(dt.astimezone(timezone(timedelta(hours=-7, minutes=-30)))) == micros


# --- step's probe fast path gives exactly the general path's answer ---


def probe_events(rng: random.Random) -> list[Any]:
    events: list[Any] = []
    for _ in range(300):
        status: dict[str, Any] = {"online": rng.choice([True, False])}
        if rng.random() < 0.7:
            status["version"] = rng.choice([None, "1.1.0", "1.1.1", "ünï", "nul\x00", "\udc80", 5, b"x"])
        if rng.random() < 0.7:
            status["active_jails"] = rng.choice([0, 2, 3, 2**64 - 1, 2**64, -1, 2.0, True])
        if rng.random() < 0.1:
            status["extra"] = {"k": [1]}
        if rng.random() < 0.05:
            status["online"] = rng.choice([1, "yes", None])
        events.append({"type": "health_probe_completed", "status": status})
    return events


def test_step_fast_path_equals_the_json_path(bootstrap: dict[str, Any]) -> None:
    fast, slow = Machine(bootstrap), Machine(bootstrap)
    rng = random.Random(11)
    at = T0_US
    for number, event in enumerate(probe_events(rng)):
        at += rng.choice([1, 5_000_000, 30_000_000, 70_000_000])
        if number % 17 == 0:
            activation = {"type": "jail_activated", "jail_name": f"jail{number}"}
            fast.step(activation, at)
            slow.step(activation, at)
        try:
            got: Any = fast.step(event, at)
        except bangui_state.Error as e:
            got = (type(e), e.message)
        try:
            text = bangui_state._convert.dumps(event, "event")
            want: Any = bangui_state.machine._loads(slow.step_json(text, at))
        except bangui_state.Error as e:
            want = (type(e), e.message)
        assert got == want, event
        assert fast.state_json == slow.state_json
    assert fast.revision == slow.revision > 100


def test_step_effects_are_the_callers_own(machine: Machine) -> None:
    """The steady state's effects come from a cache: each call gets a fresh copy."""
    probe = {"type": "health_probe_completed", "status": {"online": True, "version": "1.1.0", "active_jails": 2}}
    machine.step(probe, T0)
    first = machine.step(probe, T0)
    first[0]["fields"]["version"] = "mutated"
    first[0]["event"] = "mutated"
    assert machine.step(probe, T0) == [{"type": "log", "level": "debug", "event": "health_check_complete",
                                        "fields": {"online": True, "version": "1.1.0", "active_jails": 2}}]


def test_step_reads_utc_datetimes_of_any_year_exactly(bootstrap: dict[str, Any]) -> None:
    """`now` as a UTC datetime is converted in C on step's probe path: the crash it
    detects is stamped with exactly that instant, for instants of any year."""
    from bangui_state import machine as machine_module

    assert (machine_module._c_step_probe is not None) == (bangui_state._ffi.MODE == "api")
    rng = random.Random(5)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    online = {"type": "health_probe_completed", "status": {"online": True}}
    offline = {"type": "health_probe_completed", "status": {"online": False}}
    for _ in range(300):
        at = epoch + timedelta(microseconds=rng.randrange(-62_135_596_800_000_000, 253_402_300_799_999_999))
        m = Machine(bootstrap)
        m.step_json('{"type": "jail_activated", "jail_name": "sshd"}', at)
        m.step(online, at)
        effects = m.step(offline, at)
        assert effects[1]["fields"] == {"jail": "sshd", "seconds_since_activation": 0.0}
        expected = (f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}."
                    f"{at.microsecond:06d}Z")
        assert m.state["pending_recovery"]["detected_at"] == expected


def test_the_c_fast_path_takes_cached_plain_probes_only(bootstrap: dict[str, Any]) -> None:
    from bangui_state import machine as machine_module

    step_probe = machine_module._c_step_probe
    if step_probe is None:
        pytest.skip("ABI mode: no _speedups")
    m = Machine(bootstrap)
    probe = {"type": "health_probe_completed", "status": {"online": True, "version": "9.9", "active_jails": 1}}
    args = (m._address, probe, T0_US, machine_module._probes, bangui_state.MIN_NOW_US, bangui_state.MAX_NOW_US)
    machine_module._probes.pop((True, "9.9", 1), None)
    assert step_probe(*args) is None and m.revision == 0  # not cached yet: not taken, nothing done
    m.step(probe, T0_US)  # the Python side caches it
    assert step_probe(*args) == [{"type": "log", "level": "debug", "event": "health_check_complete",  # steady
                                  "fields": {"online": True, "version": "9.9", "active_jails": 1}}]
    assert m.revision == 2
    for event in ({**probe, "extra": 1}, {"type": "health_probe_completed", "status": {**probe["status"], "x": 1}},
                  {"type": "health_probe_completed", "status": {"online": 1}}, [probe], None):
        assert step_probe(m._address, event, T0_US, *args[3:]) is None
    for now in (T0, T0_US):
        assert step_probe(0, probe, now, *args[3:]) is None  # a closed machine's address
    assert step_probe(m._address, probe, 5, *args[3:]) is None  # not this era's microseconds
    assert step_probe(m._address, probe, T0.astimezone(timezone(timedelta(hours=1))), *args[3:]) is None
    assert m.revision == 2


def test_a_hostile_key_cannot_change_a_probe_while_it_is_read(bootstrap: dict[str, Any]) -> None:
    """A key whose hash collides with "online" and whose __eq__ empties the dict:
    the C reader leaves such a dict to Python (it holds borrowed references while
    it reads), and the event, changed while read, is refused, the state untouched."""
    status: dict[Any, Any] = {"online": True, "version": "1.1.0"}

    class Collider:
        def __hash__(self) -> int:
            return hash("online")

        def __eq__(self, other: object) -> bool:
            status.clear()
            return False

    m = Machine(bootstrap)
    probe = {"type": "health_probe_completed", "status": status}
    m.step(probe, T0)
    m.step(probe, T0)  # cached: the C path next time
    status[Collider()] = 1
    with pytest.raises(bangui_state.Error, match=r"^event\.status"):
        m.step(probe, T0)
    assert m.revision == 2


# --- health_probe: the C entry (_speedups.health_probe) gives exactly the Python path's answer ---


def test_health_probe_reads_datetimes_of_any_year_and_zone_exactly(bootstrap: dict[str, Any]) -> None:
    """`now` as an aware datetime, UTC (read in C in API mode) or any other offset
    (read by `micros`): the crash the probe detects is stamped with exactly that
    instant, to the microsecond, for instants of any year."""
    rng = random.Random(9)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    zones = [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7, minutes=-30)),
             timezone(timedelta(hours=23, minutes=59, seconds=59, microseconds=999999))]
    for n in range(300):
        at = epoch + timedelta(microseconds=rng.randrange(-62_135_596_800_000_000, 253_402_300_799_999_999))
        try:
            local = at.astimezone(zones[n % len(zones)])
        except OverflowError:  # the local time would be outside years 1 to 9999
            local = at
        assert local == at
        m = Machine(bootstrap)
        m.step_json('{"type": "jail_activated", "jail_name": "sshd"}', at)
        assert m.health_probe(True, now=local).came_online
        report = m.health_probe(False, "1.1.0", 3, now=local + timedelta(microseconds=1))
        assert report.crash_detected and report.seconds_since_activation == 1e-6
        assert report.effects[1]["fields"] == {"jail": "sshd", "seconds_since_activation": 1e-6}
        d = at + timedelta(microseconds=1)
        assert m.state["pending_recovery"]["detected_at"] == (
            f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}Z")
        assert m.health_probe(False, "1.1.0", 3, now=local).steady
        assert m.revision == 4


def test_health_probe_refuses_a_naive_datetime_as_step_does(bootstrap: dict[str, Any]) -> None:
    m = Machine(bootstrap)
    naive = datetime(2026, 4, 27, 16, 42, 0, 7)
    with pytest.raises(bangui_state.NaiveDatetimeError) as by_step:
        m.step({"type": "health_probe_completed", "status": {"online": True}}, naive)
    with pytest.raises(bangui_state.NaiveDatetimeError) as by_probe:
        m.health_probe(True, now=naive)
    assert by_probe.value.message == by_step.value.message == (
        "now: naive datetime 2026-04-27T16:42:00.000007 is ambiguous; give a timezone-aware one "
        "(e.g. datetime.now(timezone.utc))")
    assert m.revision == 0


def probe_arguments(rng: random.Random, at: int) -> tuple[Any, Any, Any, Any]:
    """Valid arguments, each replaced by an odd or invalid one now and then."""
    utc = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=at)
    args: list[Any] = [rng.choice([True, False]), rng.choice([None, "1.1.0", "1.1.1", "ünï"]),
                       rng.choice([0, 2, 3, 2**64 - 1]), rng.choice([at, utc, utc.astimezone(timezone.min)])]
    odd = [[1, None, "yes"], ["nul\x00", "\udc80", 5, b"x"], [2**64, -1, 2.0, True, LyingInt(3)],
           [utc.replace(tzinfo=None), at // 1000, 2**63, float(at), None, "2026-04-27T16:42:00Z"]]
    for n, values in enumerate(odd):
        if rng.random() < 0.08:
            args[n] = rng.choice(values)
    return args[0], args[1], args[2], args[3]


def test_health_probe_in_c_equals_the_python_path(bootstrap: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Same reports, same errors (type and message), same states, for valid and
    invalid arguments alike, with and without the C entry (API mode only)."""
    from bangui_state import machine as machine_module

    assert (machine_module._c_health_probe is not None) == (bangui_state._ffi.MODE == "api")
    c_entry = machine_module._c_health_probe
    if c_entry is None:
        pytest.skip("ABI mode: no _speedups")
    fast, slow = Machine(bootstrap), Machine(bootstrap)
    rng = random.Random(13)
    at = T0_US
    for number in range(400):
        at += rng.choice([1, 5_000_000, 30_000_000, 70_000_000])
        if number % 13 == 0:
            for m in (fast, slow):
                m.step({"type": "jail_activated", "jail_name": f"jail{number}"}, at)
        args = probe_arguments(rng, at)
        results = []
        for m, entry in ((fast, c_entry), (slow, None)):
            monkeypatch.setattr(machine_module, "_c_health_probe", entry)
            try:
                report = m.health_probe(*args)
                results.append((tuple(report), report.effects))
            except bangui_state.Error as e:
                results.append((type(e), e.message))
        if args[3] is None and type(results[0][0]) is tuple:  # the current time: both read the clock
            assert results[0][0][2] == results[1][0][2]  # the same revision
        else:
            assert results[0] == results[1], args
            assert fast.state_json == slow.state_json
    assert fast.revision == slow.revision > 100


def test_the_c_health_probe_takes_plain_arguments_only(bootstrap: dict[str, Any]) -> None:
    from bangui_state import machine as machine_module

    health_probe = machine_module._c_health_probe
    if health_probe is None:
        pytest.skip("ABI mode: no _speedups")
    m = Machine(bootstrap)
    edges = (bangui_state.MIN_NOW_US, bangui_state.MAX_NOW_US)
    assert health_probe(m._address, True, "1.1.0", 2, T0, *edges) == (
        0, bangui_state.LOG_FAIL2BAN_CAME_ONLINE | bangui_state.LOG_HEALTH_CHECK_COMPLETE, 0.0, 1,
        '[{"type":"log","level":"info","event":"fail2ban_came_online","fields":{"version":"1.1.0"}},'
        '{"type":"log","level":"debug","event":"health_check_complete",'
        '"fields":{"online":true,"version":"1.1.0","active_jails":2}}]')
    assert health_probe(m._address, True, "1.1.0", 2, T0_US, *edges) == 2  # steady: the revision
    assert health_probe(m._address, True, None, 2**64 - 1, T0, *edges) == 3
    for args in ((0, True, None, 0, T0), (m._address, 1, None, 0, T0), (m._address, True, b"1", 0, T0),
                 (m._address, True, "1\x00", 0, T0), (m._address, True, "\udc80", 0, T0),
                 (m._address, True, None, -1, T0), (m._address, True, None, 2**64, T0),
                 (m._address, True, None, True, T0), (m._address, True, None, LyingInt(0), T0),
                 (m._address, True, None, 0, T0.replace(tzinfo=None)),
                 (m._address, True, None, 0, T0.astimezone(timezone(timedelta(hours=1)))),
                 (m._address, True, None, 0, edges[0] - 1), (m._address, True, None, 0, edges[1]),
                 (m._address, True, None, 0, None), (m._address, True, None, 0, float(T0_US))):
        assert health_probe(*args, *edges) is None, args  # not taken, nothing done
    assert m.revision == 3
    state = m.state
    state["revision"] = 2**64 - 1
    full = Machine.restore(state)
    code, *_ = health_probe(full._address, True, None, 0, T0, *edges)
    assert code == bangui_state.RevisionExhaustedError.code
    assert full.revision == 2**64 - 1
