"""`SharedMachine` and `AsyncSharedMachine`: one state, many worker processes.

Each worker keeps a replica: the last stored state it saw, restored into a
local `Machine`. A step applies the event to the replica, then offers the
result to the store as a compare-and-set from the replica's revision. If
another worker committed first, the store answers with the current state; the
same event is applied again at the same `now` (the core is pure, so this is
safe), up to `max_retries` times.

Steps whose only change is the revision (a steady health probe, a backend
probe request that joins the one in flight) are not committed: the store is
only asked whether the replica is still current, and the effects (logs only)
are returned. So the shared revision counts committed state changes, the log
holds only them, and idle workers read but never write.

A commit whose reply is lost (the connection broke after it was sent) is sent
again, the same proposal under the same commit id, until the store answers or
`resolve_timeout` passes. A store's commit is idempotent per commit id: it
answers "committed" if that id is the commit at the expected revision + 1
(landed the first time, or now), else the current state, and then the first
send can never land (the revision moved past the one it expected). So the
step returns the effects of a commit that landed exactly once, or re-applies
the event on the current state. Past the bound it raises
`OutcomeUnknownError`, whose `pending` `resolve()` settles later.
"""
from __future__ import annotations

import asyncio
import json
import json.encoder
import logging
import random
import threading
import time
import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar, cast

from ..errors import Error
from .._convert import dumps as _convert_dumps
from .._convert import micros as _micros
from ..machine import Machine, Now, ProbeReport, from_unix_micros
from ..machine import _loads as _loads_output
from ..types import Effect, Settings, StateDict
from .errors import (
    BootstrapMismatchError,
    CommitConflictError,
    LogTrimmedError,
    OutcomeUnknownError,
    StoreCorruptError,
    StoreUnavailableError,
)
from .store import AsyncStore, Commit, Proposal, Snapshot, Store

logger = logging.getLogger("bangui_state.shared")

SessionCacheHook = Callable[[str], None]
"""`on_session_cache(kind)`: install a new, empty session cache of `kind`
("in_memory" or "no_op") in this process."""

BootstrapMismatch = Literal["error", "use_stored"]

PER_PROCESS_EFFECTS = frozenset({"session_cache_replaced"})
"""Effect types every worker carries out for itself, through the
`on_session_cache` hook, rather than only the committing worker."""

DEFAULT_MAX_RETRIES = 100
DEFAULT_RESOLVE_TIMEOUT = 5.0

# Session-cache TTLs beyond this many microseconds (~146,000 years) are
# capped: an entry never outlives its session anyway, and the cap keeps
# `now + ttl` within SQLite's 64-bit integers.
_TTL_MICROS_MAX = 2**62


class SessionCacheSettings(NamedTuple):
    """The session cache a worker's replica says is installed, read by the
    shared session caches (`bangui_state.shared.sessions`) on every lookup."""

    epoch: int
    """The snapshot's `cache_epoch`: entries written at another epoch are dead."""
    kind: str
    """The state's `session_cache`: "in_memory" or "no_op"."""
    ttl_micros: int
    """The effective settings' `session_cache_ttl_seconds` in microseconds
    (capped; 0 or less when the kind is no_op)."""


def _session_cache_settings(snapshot: Snapshot) -> SessionCacheSettings:
    state = json.loads(snapshot.state_json)
    settings = state.get("runtime_settings") or state.get("bootstrap_settings") or {}
    ttl = settings.get("session_cache_ttl_seconds", 0)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl != ttl:
        ttl = 0  # the core refuses such settings; a restored state never holds them
    ttl_micros = _TTL_MICROS_MAX if ttl * 1_000_000 >= _TTL_MICROS_MAX else int(ttl * 1_000_000)
    return SessionCacheSettings(snapshot.cache_epoch, str(state.get("session_cache")), ttl_micros)


_T = TypeVar("_T")
_MISSING = "<missing>"


# Years 1 to 9999 in Unix seconds: what time.gmtime and datetime both cover.
_GMTIME_RANGE = range(-62_135_596_800, 253_402_300_800)
_gmtime = time.gmtime


# The date part of the last day format_instant wrote, with its number (days
# since 1970-01-01): a step logs one instant, and steps keep to the same day.
_last_day: tuple[int, str] = (0, "1970-01-01T")
_TWO_DIGITS = tuple("%02d" % n for n in range(60))


def format_instant(micros: int) -> str:
    """Unix microseconds as the core writes instants: `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    global _last_day
    seconds, fraction = divmod(micros, 1_000_000)
    day, second = divmod(seconds, 86_400)  # UTC: every day has 86,400 seconds
    held = _last_day
    if held[0] != day:
        if seconds not in _GMTIME_RANGE:
            t = from_unix_micros(micros)  # raises OverflowError, as datetime does
            return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
                    f"{t.microsecond:06d}Z")
        year, month, mday = _gmtime(seconds)[:3]  # without building a datetime
        held = _last_day = (day, "%04d-%02d-%02dT" % (year, month, mday))
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{held[1]}{_TWO_DIGITS[hour]}:{_TWO_DIGITS[minute]}:{_TWO_DIGITS[second]}.{fraction:06d}Z"


# The json module's C encoder, built once: compact, non-ASCII kept, NaN refused
# (json.dumps with these options builds an encoder per call). Without cycle
# markers: a cycle ends in RecursionError, and json.dumps then reports it.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encode: Any = (
    _c_make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False, False,
                    False)
    if _c_make_encoder is not None else None
)


def _dumps(value: Any) -> str:
    if _c_encode is not None and type(value) is dict:
        try:
            return "".join(_c_encode(value, 0))
        except RecursionError:
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _event_json(event: Mapping[str, Any]) -> tuple[str, bytes]:
    """The event as JSON text, and as its UTF-8 (what the core reads). What
    has no JSON form (a set, NaN, a lone surrogate, a cycle) is refused as
    `Machine.step` refuses it: a `NotJsonError` naming the path
    (`event.overrides.x: ...`). JSON text holds no raw NUL (it escapes it)."""
    try:
        text = _dumps(event)
        return text, text.encode("utf-8")  # a lone surrogate passes json, not UTF-8
    except (ValueError, TypeError, RecursionError):
        utf8 = _convert_dumps(event, "event")
        return utf8.decode("utf-8"), utf8


@dataclass
class Stats:
    """Counters of one shared machine since it was opened."""

    steps: int = 0
    """Steps that returned (committed or not)."""
    commits: int = 0
    """Steps committed by this worker."""
    unchanged: int = 0
    """Steps not committed because they changed nothing but the revision."""
    conflicts: int = 0
    """Compare-and-sets lost to another worker (each cost one retry)."""
    lost_replies: int = 0
    """Commits whose reply was lost (the outcome was unknown), each then sent
    again to learn it (by a step, or by `resolve()`)."""
    lost_replies_landed: int = 0
    """Of those, the ones found to have landed (at the first send, or at a
    later one): their effects were returned once all the same."""
    unresolved: int = 0
    """Steps that raised `OutcomeUnknownError` (or, asyncio, were cancelled
    with their commit in flight)."""


@dataclass(frozen=True)
class PendingCommit:
    """A commit whose outcome is not known yet: sent, its reply lost, the
    store out of reach since. `SharedMachine.resolve(pending)` (any worker
    on the same store) settles it. Picklable."""

    expected_revision: int
    """The revision the commit was a compare-and-set from."""
    proposal: Proposal
    """What was sent: the state, event, `now` and commit id."""
    effects: list[Effect]
    """The effects the step returns if the commit landed (computed by the
    attempt; the core is pure, so they are exactly the commit's)."""

    @property
    def commit_id(self) -> str:
        return self.proposal.commit_id

    @property
    def revision(self) -> int:
        """The revision the commit has if it landed."""
        return self.expected_revision + 1

    @property
    def event(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.proposal.event_json))

    @property
    def now(self) -> str:
        return self.proposal.now


@dataclass(frozen=True)
class Resolution:
    """What `resolve()` found. `committed`: the commit is in the shared state
    as `revision` (it landed at its first send, or resolve sent it again and it
    landed then), and `effects` are its effects, for the caller to carry out.
    Not committed: it is not in the shared state and can never land (the
    store moved past the revision it expected); `effects` is empty, and the
    caller steps the event again if it still should happen."""

    commit_id: str
    committed: bool
    revision: int | None
    effects: list[Effect]


class _Attempt(NamedTuple):
    """One local application of a step to the replica."""

    proposal: Proposal | None  # None: nothing to commit (only the revision would change)
    effects: list[Effect] | None  # None: a steady probe's, which its ProbeReport makes on demand
    report: ProbeReport | None


def _classify(effects: list[Effect]) -> tuple[bool, bool]:
    """(every effect is a log, one replaced the session cache)."""
    only_logs, cache_replaced = True, False
    for effect in effects:
        kind = effect["type"]
        if kind != "log":
            only_logs = False
            if kind == "session_cache_replaced":
                cache_replaced = True
    return only_logs, cache_replaced


class _Replica:
    """The last stored state this worker saw, and a local machine on it."""

    def __init__(self, description: str, on_session_cache: SessionCacheHook | None) -> None:
        self.description = description
        self.on_session_cache = on_session_cache
        self.snapshot = Snapshot(-1, "", -1)
        self.cache = SessionCacheSettings(-1, "no_op", 0)
        self.machine: Machine | None = None
        self.dirty = True  # the local machine has moved past the snapshot
        self._text: tuple[Snapshot, _StateJson] | None = None  # state_json_value()'s, per snapshot

    def validate(self, snapshot: Snapshot) -> Machine:
        """A machine restored from a stored snapshot, or StoreCorruptError."""
        try:
            machine = Machine.restore_json(snapshot.state_json)
        except Error as error:
            raise StoreCorruptError(self.description, f"the stored state is not a valid state: {error.message}") \
                from None
        if machine.revision != snapshot.revision:
            raise StoreCorruptError(self.description, f"the stored revision {snapshot.revision} disagrees with "
                                                      f"the stored state's revision {machine.revision}")
        return machine

    def observe(self, snapshot: Snapshot, *, initial: bool = False) -> bool:
        """Takes a stored snapshot; reinstalls the session cache if another
        commit replaced it. True if the revision moved."""
        machine = self.validate(snapshot)
        moved = snapshot.revision != self.snapshot.revision
        replaced = initial or snapshot.cache_epoch != self.snapshot.cache_epoch
        self.machine, self.snapshot, self.dirty = machine, snapshot, False
        if replaced:
            # The settings change only with a commit that replaces the cache
            # (the contract's settings events), which moves the epoch.
            self.cache = _session_cache_settings(snapshot)
            self._install_cache()
        return moved

    def _install_cache(self) -> None:
        if self.on_session_cache is None:
            return
        kind = str(self.state()["session_cache"])
        try:
            self.on_session_cache(kind)
        except Exception:  # the commit is done; a failing hook must not hide its effects
            logger.exception("on_session_cache(%r) raised", kind)

    def local(self) -> Machine:
        if self.dirty or self.machine is None:
            self.machine = Machine.restore_json(self.snapshot.state_json)
            self.dirty = False
        return self.machine

    def state(self) -> StateDict:
        """A fresh parse each time: the caller may keep or change it."""
        return cast(StateDict, json.loads(self.snapshot.state_json))

    def state_json_value(self) -> _StateJson:
        """The snapshot's text as the `state_json` property gives it: one
        object per snapshot, so that a caller may tell by identity (`is`)
        that the state has not changed since it last parsed it."""
        snapshot = self.snapshot
        held = self._text
        if held is None or held[0] is not snapshot:
            held = self._text = (snapshot, _StateJson(snapshot.state_json))
        return held[1]

    def _changed_state(self, machine: Machine, only_logs: bool) -> str | None:
        """The local machine's state JSON after a step, or None if the step
        changed nothing but the revision and returned only logs: nothing to commit."""
        self.dirty = True
        state_json = machine.state_json
        if only_logs:
            revision = self.snapshot.revision
            # The state JSON's second key is the revision: compare the rest as text.
            if state_json == self.snapshot.state_json.replace(
                f'"revision":{revision},', f'"revision":{revision + 1},', 1
            ):
                return None
        return state_json

    def attempt_step(self, event: tuple[str, bytes], micros: int) -> _Attempt:
        """`event`: `_event_json`'s text and UTF-8."""
        machine = self.local()
        effects: list[Effect] = _loads_output(machine._step(event[1], micros))
        only_logs, cache_replaced = _classify(effects)
        state_json = self._changed_state(machine, only_logs)
        if state_json is None:
            return _Attempt(None, effects, None)
        return _Attempt(Proposal(state_json, format_instant(micros), event[0], cache_replaced), effects, None)

    def attempt_probe(self, online: bool, version: str | None, active_jails: int, micros: int) -> _Attempt:
        machine = self.local()
        report = machine.health_probe(online, version, active_jails, micros)
        effects = report[3]  # None in the steady state: a health_check_complete log, made on demand
        only_logs, cache_replaced = (True, False) if effects is None else _classify(effects)
        state_json = self._changed_state(machine, only_logs)
        if state_json is None:
            return _Attempt(None, effects, report)
        event = {"type": "health_probe_completed",
                 "status": {"online": online, "version": version, "active_jails": active_jails}}
        return _Attempt(Proposal(state_json, format_instant(micros), _dumps(event), cache_replaced), effects, report)

    def committed(self, proposal: Proposal, *, local_holds_it: bool = True) -> None:
        """Our proposal is now the stored state (the local machine holds it,
        unless `local_holds_it` is False)."""
        revision = self.snapshot.revision + 1
        epoch = revision if proposal.cache_replaced else self.snapshot.cache_epoch
        self.snapshot = Snapshot(revision, proposal.state_json, epoch)
        self.dirty = not local_holds_it
        if proposal.cache_replaced:
            self.cache = _session_cache_settings(self.snapshot)
            self._install_cache()

    def result_report(self, attempt: _Attempt) -> ProbeReport:
        report = cast(ProbeReport, attempt.report)
        # The report's revision is the shared one (unchanged when not committed).
        return ProbeReport((report[0], report[1], self.snapshot.revision, attempt.effects, *report[4:]))


def _bootstrap_differences(ours: Settings, stored: Settings) -> list[tuple[str, object, object]]:
    return [(key, stored.get(key, _MISSING), ours.get(key, _MISSING))
            for key in sorted(set(ours) | set(stored), key=str) if ours.get(key, _MISSING) != stored.get(key, _MISSING)]


def _check_bootstrap(replica: _Replica, snapshot: Snapshot, fresh: Machine, mode: BootstrapMismatch) -> None:
    ours = fresh.state["bootstrap_settings"]
    stored = replica.validate(snapshot).state["bootstrap_settings"]
    differences = _bootstrap_differences(ours, stored)
    if not differences:
        return
    listed = "; ".join(f"{key}: stored {stored_value!r}, this worker {our_value!r}"
                       for key, stored_value, our_value in differences)
    if mode == "use_stored":
        logger.warning("%s: this worker's bootstrap settings differ from the stored machine's; using the stored "
                       "ones (on_bootstrap_mismatch='use_stored'): %s", replica.description, listed)
        return
    raise BootstrapMismatchError(
        replica.description,
        f"the stored machine was made from other bootstrap settings ({listed}); nothing was changed. Fix this "
        "worker's settings, or pass on_bootstrap_mismatch='use_stored' to join with the stored ones, or delete "
        "the stored machine to start a new one from these settings",
        differences,
    )


def _check_mode(on_bootstrap_mismatch: str, max_retries: int, resolve_timeout: float) -> None:
    if on_bootstrap_mismatch not in ("error", "use_stored"):
        raise ValueError(f"on_bootstrap_mismatch: expected 'error' or 'use_stored', got {on_bootstrap_mismatch!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries: expected an int >= 0, got {max_retries!r}")
    if (isinstance(resolve_timeout, bool) or not isinstance(resolve_timeout, (int, float))
            or not 0 <= resolve_timeout < float("inf")):
        raise ValueError(f"resolve_timeout: expected a finite number of seconds >= 0, got {resolve_timeout!r}")


def _backoff(conflicts: int) -> float:
    """Seconds to wait before the next attempt after `conflicts` conflicts in
    a row: none after the first (the store answered with the current state),
    then a jittered, doubling pause so that contenders spread out."""
    return 0.0 if conflicts <= 1 else random.uniform(0, 0.0002 * 2 ** min(conflicts, 8))


def _trace(description: str, snapshot: Snapshot, commits: list[Commit]) -> str:
    """The log as one replay trace: from the bootstrap settings while the log
    still starts at revision 1, else from the state its first entry carries."""
    if not commits or commits[0].revision == 1:
        bootstrap = json.loads(snapshot.state_json)["bootstrap_settings"]
        return _dumps({"bootstrap": bootstrap, "steps": [commit.step() for commit in commits]})
    first = commits[0]
    if first.state_json is None:
        raise StoreCorruptError(description, f"the log's first entry (revision {first.revision}) carries no state, "
                                             "so the log cannot be replayed")
    return f'{{"state":{first.state_json},"steps":{_dumps([commit.step() for commit in commits[1:]])}}}'


def _check_contiguous(description: str, after_revision: int, commits: list[Commit]) -> None:
    if commits and commits[0].revision != after_revision + 1:
        raise LogTrimmedError(description, f"revisions {after_revision + 1} to {commits[0].revision - 1} are no "
                                           "longer in the log (trimmed by log_retention)")


# One step's conversation with the store, written once for both machines: the
# generator yields ("load_if_newer", revision), ("commit", revision, proposal,
# effects), ("resend", revision, proposal, effects) or ("sleep", seconds), is
# sent each answer (or thrown the StoreUnavailableError a store call raised),
# and returns its result. `_drive` runs it on a Store, `_drive_async` on an
# AsyncStore.
_Request = tuple[Any, ...]


def _resend_pause(attempt: int) -> float:
    """Seconds before resending a commit whose reply was lost, at the
    `attempt`th resend: none at once (a new connection usually answers), then
    doubling from 10 ms up to 0.5 s."""
    return 0.0 if attempt == 0 else min(0.5, 0.01 * 2 ** (attempt - 1))


def _settle(replica: _Replica, expected: int, proposal: Proposal, effects: list[Effect] | None,
            first_error: StoreUnavailableError, resolve_timeout: float) -> Generator[_Request, Any, Snapshot | None]:
    """Learns the outcome of a commit whose reply was lost by sending it
    again, the same proposal under the same commit id, until the store
    answers: None if it is committed as `expected + 1` (then or now), else
    the current state (it did not land and never can). Past
    `resolve_timeout` seconds: OutcomeUnknownError with the pending commit."""
    deadline = time.monotonic() + resolve_timeout
    error = first_error
    attempt = 0
    while True:
        if attempt:
            left = deadline - time.monotonic()
            if left <= 0:
                pending = PendingCommit(expected, proposal, list(effects or []))
                raise OutcomeUnknownError(
                    replica.description,
                    f"the reply to commit {proposal.commit_id} (revision {expected + 1}) was lost and the store "
                    f"stayed out of reach for {resolve_timeout:g} s ({attempt} tries to learn its outcome; last: "
                    f"{error.reason}): whether it landed is unknown. machine.resolve(error.pending) settles it "
                    "once the store is back; stepping the event again instead could apply it twice", pending)
            yield ("sleep", min(_resend_pause(attempt), left))
        attempt += 1
        try:
            answer: Snapshot | None = yield ("resend", expected, proposal, effects)
            return answer
        except StoreUnavailableError as raised:
            error = raised


def _step_protocol(replica: _Replica, attempt: Callable[[], _Attempt], stats: Stats, max_retries: int,
                   resolve_timeout: float) -> Generator[_Request, Any, _Attempt]:
    conflicts = 0
    while True:
        tried = attempt()
        if tried.proposal is None:
            fresh = yield ("load_if_newer", replica.snapshot.revision)
            if fresh is None:
                stats.steps += 1
                stats.unchanged += 1
                return tried
            replica.observe(fresh)
            continue
        expected = replica.snapshot.revision
        try:
            current = yield ("commit", expected, tried.proposal, tried.effects)
        except StoreUnavailableError as error:
            if not error.outcome_unknown:
                raise
            stats.lost_replies += 1
            try:
                current = yield from _settle(replica, expected, tried.proposal, tried.effects, error,
                                             resolve_timeout)
            except OutcomeUnknownError:
                stats.unresolved += 1
                raise
            if current is None:
                stats.lost_replies_landed += 1
        if current is None:
            replica.committed(tried.proposal)
            stats.steps += 1
            stats.commits += 1
            return tried
        replica.observe(current)
        conflicts += 1
        stats.conflicts += 1
        if conflicts > max_retries:
            raise CommitConflictError(replica.description, f"the step lost the compare-and-set {conflicts} times "
                                                           "in a row; nothing was committed")
        pause = _backoff(conflicts)
        if pause:
            yield ("sleep", pause)
            # The state the conflict answered with is stale by now.
            fresh = yield ("load_if_newer", replica.snapshot.revision)
            if fresh is not None:
                replica.observe(fresh)


def _resolve_protocol(replica: _Replica, pending: PendingCommit, resolve_timeout: float) \
        -> Generator[_Request, Any, Resolution]:
    expected, proposal = pending.expected_revision, pending.proposal
    try:
        current = yield ("resend", expected, proposal, pending.effects)
    except StoreUnavailableError as error:
        current = yield from _settle(replica, expected, proposal, pending.effects, error, resolve_timeout)
    if current is None:
        if replica.snapshot.revision == expected:
            replica.committed(proposal, local_holds_it=False)
        return Resolution(proposal.commit_id, True, expected + 1, list(pending.effects))
    if current.revision != replica.snapshot.revision:
        replica.observe(current)
    return Resolution(proposal.commit_id, False, None, [])


def _pending_of(target: PendingCommit | OutcomeUnknownError) -> PendingCommit:
    if isinstance(target, OutcomeUnknownError):
        return target.pending
    if isinstance(target, PendingCommit):
        return target
    raise TypeError(f"resolve: expected a PendingCommit or an OutcomeUnknownError, got {type(target).__name__}")


def _drive(store: Store, protocol: Generator[_Request, Any, _T]) -> _T:
    answer: Any = None
    error: StoreUnavailableError | None = None
    try:
        while True:
            if error is None:
                request = protocol.send(answer)
            else:
                request, error = protocol.throw(error), None
            kind = request[0]
            try:
                if kind == "commit":
                    answer = store.commit(request[1], request[2])
                elif kind == "load_if_newer":
                    answer = store.load_if_newer(request[1])
                elif kind == "resend":
                    answer = store.commit(request[1], request[2], resend=True)
                else:
                    time.sleep(request[1])
                    answer = None
            except StoreUnavailableError as raised:
                error = raised
    except StopIteration as done:
        return cast(_T, done.value)


async def _drive_async(store: AsyncStore, protocol: Generator[_Request, Any, _T],
                       on_cancel: Callable[[_Request], None]) -> _T:
    answer: Any = None
    error: StoreUnavailableError | None = None
    try:
        while True:
            if error is None:
                request = protocol.send(answer)
            else:
                request, error = protocol.throw(error), None
            kind = request[0]
            try:
                if kind == "commit":
                    answer = await store.commit(request[1], request[2])
                elif kind == "load_if_newer":
                    answer = await store.load_if_newer(request[1])
                elif kind == "resend":
                    answer = await store.commit(request[1], request[2], resend=True)
                else:
                    await asyncio.sleep(request[1])
                    answer = None
            except StoreUnavailableError as raised:
                error = raised
            except asyncio.CancelledError:
                if kind in ("commit", "resend"):
                    on_cancel(request)
                raise
    except StopIteration as done:
        return cast(_T, done.value)


# The replica's values, `state`, `state_json`, `revision` and
# `effective_settings`, were methods of the shared machines in 0.1.0's
# drafts, while `Machine` has them as properties; they are properties here
# too now, so that code written for a `Machine` reads a shared machine
# unchanged. So that the call spelling (`machine.revision()`) keeps working
# for one version, each property's value is of a small subclass of its plain
# type (dict, str, int: it compares, prints, serialises to JSON and pickles as
# that type) whose `__call__` warns (DeprecationWarning) and returns the
# value itself. Type checkers see the plain types, exactly `Machine`'s, so
# they flag the call already (tests/typing/). In 0.2 the properties return
# the plain values and these classes go.

_C = TypeVar("_C", bound="_CalledValue")


class _CalledValue:
    """A property's value that may still be called as the method it was (deprecated)."""

    __slots__ = ()
    _name: ClassVar[str]

    def __call__(self: _C) -> _C:
        name = self._name
        warnings.warn(f"bangui_state.shared: machine.{name}() is deprecated: {name} is a property of "
                      f"SharedMachine and AsyncSharedMachine, as of Machine; read machine.{name} (the call "
                      "goes in 0.2)", DeprecationWarning, stacklevel=2)
        return self


class _State(_CalledValue, dict[str, Any]):
    __slots__ = ()
    _name = "state"


class _StateJson(_CalledValue, str):
    __slots__ = ()
    _name = "state_json"


class _Revision(_CalledValue, int):
    __slots__ = ()
    _name = "revision"


class _Settings(_CalledValue, dict[str, Any]):
    __slots__ = ()
    _name = "effective_settings"


class _Shared:
    """What both shared machines answer without I/O, from the last state seen:
    the `Machine` properties, of the replica."""

    _replica: _Replica
    _guard: AbstractContextManager[Any]  # serialises use of the local machine

    @property
    def state(self) -> StateDict:
        """The last state this worker saw, parsed (no I/O; `refresh()` first
        for the latest). A new dict each time: the caller may keep or change it."""
        return cast(StateDict, _State(self._replica.state()))

    @property
    def state_json(self) -> str:
        """The last state this worker saw, as JSON text (no I/O)."""
        return self._replica.state_json_value()

    @property
    def revision(self) -> int:
        """The shared revision this worker last saw: how many state changes were committed."""
        return _Revision(self._replica.snapshot.revision)

    def next_deadline(self, now: Now | None = None) -> datetime | None:
        with self._guard:
            return self._replica.local().next_deadline(now)

    @property
    def effective_settings(self) -> Settings:
        """The runtime settings over the bootstrap settings, of the last state seen (no I/O)."""
        with self._guard:
            return _Settings(self._replica.local().effective_settings)

    def session_cache_settings(self) -> SessionCacheSettings:
        """The session cache of the last state seen (no I/O): its epoch, kind
        and TTL, as the shared session caches use them."""
        return self._replica.cache


class SharedMachine(_Shared):
    """A machine shared by worker processes through a `Store` (synchronous).

    Thread-safe: steps from several threads of one process are serialised.
    `on_session_cache(kind)` is called in this process at start and whenever
    an observed commit replaced the session cache (in any worker, this one
    included): the host installs a new, empty cache of that kind there, and
    leaves `session_cache_replaced` effects alone (see PER_PROCESS_EFFECTS).

    `resolve_timeout` bounds how long a step whose commit reply was lost
    keeps trying to learn its outcome (each try also waits as long as the
    client's own timeouts let it) before `OutcomeUnknownError`."""

    def __init__(
        self,
        store: Store,
        bootstrap_settings: Settings,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        resolve_timeout: float = DEFAULT_RESOLVE_TIMEOUT,
        on_session_cache: SessionCacheHook | None = None,
        on_bootstrap_mismatch: BootstrapMismatch = "error",
    ) -> None:
        _check_mode(on_bootstrap_mismatch, max_retries, resolve_timeout)
        fresh = Machine(bootstrap_settings)
        self.store = store
        self.max_retries = max_retries
        self.resolve_timeout = float(resolve_timeout)
        self.stats = Stats()
        self._lock = self._guard = threading.RLock()
        self._replica = _Replica(store.description, on_session_cache)
        snapshot = store.load()
        if snapshot is None:
            fresh_json = fresh.state_json
            snapshot = store.create(fresh_json) or Snapshot(0, fresh_json, 0)
        _check_bootstrap(self._replica, snapshot, fresh, on_bootstrap_mismatch)
        self._replica.observe(snapshot, initial=True)

    def _run(self, attempt: Callable[[], _Attempt]) -> _Attempt:
        with self._lock:
            return _drive(self.store, _step_protocol(self._replica, attempt, self.stats, self.max_retries,
                                                     self.resolve_timeout))

    def step(self, event: Mapping[str, Any], now: Now) -> list[Effect]:
        """Applies `event` at `now` and commits it; returns the committed
        step's effects, for this worker to carry out."""
        event_json, micros = _event_json(event), _micros(now)
        tried = self._run(lambda: self._replica.attempt_step(event_json, micros))
        return tried.effects  # type: ignore[return-value]  # a step's effects are never None

    def health_probe(self, online: bool, version: str | None = None, active_jails: int = 0,
                     now: Now | None = None) -> ProbeReport:
        """A `health_probe_completed` step (the `Machine.health_probe` report;
        its revision is the shared one). A steady probe writes nothing."""
        micros = _micros(now)
        tried = self._run(lambda: self._replica.attempt_probe(online, version, active_jails, micros))
        return self._replica.result_report(tried)

    def resolve(self, pending: PendingCommit | OutcomeUnknownError) -> Resolution:
        """Settles a commit whose outcome was unknown (an `OutcomeUnknownError`
        or its `pending`), from any worker on the same store: sends it again
        under its commit id, so it lands at most once. Committed (it had
        landed, or it lands now because the store still stands at the
        revision it expected): its effects, to carry out. Not committed: the
        store moved past that revision with other commits, so it never will.
        `OutcomeUnknownError` again while the store stays out of reach for
        `resolve_timeout`; `LogTrimmedError` if its revision was trimmed
        from the log before this call, so the outcome can no longer be known."""
        found = _pending_of(pending)
        with self._lock:
            return _drive(self.store, _resolve_protocol(self._replica, found, self.resolve_timeout))

    def refresh(self) -> bool:
        """Reads the store; True if it held a newer revision than this worker had seen."""
        with self._lock:
            fresh = self.store.load_if_newer(self._replica.snapshot.revision)
            return fresh is not None and self._replica.observe(fresh)

    def commits(self, after_revision: int = 0) -> list[Commit]:
        """The logged commits after `after_revision`, oldest first;
        `LogTrimmedError` if some of them were trimmed away."""
        commits = self.store.read_log(after_revision)
        _check_contiguous(self.store.description, after_revision, commits)
        return commits

    def export_trace(self) -> str:
        """The log as one trace line for `bangui-state replay`, which replays
        it to the stored state: from the bootstrap settings while the log
        holds every commit, else from the state its first entry carries."""
        with self._lock:
            self.refresh()
            return _trace(self.store.description, self._replica.snapshot, self.store.read_log(0))

    def close(self) -> None:
        """Closes the store (a host-owned Redis client stays open)."""
        self.store.close()

    def __repr__(self) -> str:
        return f"<SharedMachine {self.store.description} revision={self._replica.snapshot.revision}>"


class AsyncSharedMachine(_Shared):
    """`SharedMachine` for asyncio hosts, over an `AsyncStore`. Make it with
    `await AsyncSharedMachine.open(...)`; `watch()` yields every commit."""

    def __init__(self, store: AsyncStore, max_retries: int, on_session_cache: SessionCacheHook | None,
                 resolve_timeout: float = DEFAULT_RESOLVE_TIMEOUT) -> None:
        self.store = store
        self.max_retries = max_retries
        self.resolve_timeout = float(resolve_timeout)
        self.stats = Stats()
        self.unresolved: list[PendingCommit] = []
        """Commits in flight when their step was cancelled (a request timeout,
        a client gone): they may have landed, and their effects went to
        nobody. Each is logged as a warning too; `resolve()` settles it."""
        self._lock = asyncio.Lock()
        self._guard = nullcontext()  # one thread: steps touch the local machine only between awaits
        self._replica = _Replica(store.description, on_session_cache)

    @classmethod
    async def open(
        cls,
        store: AsyncStore,
        bootstrap_settings: Settings,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        resolve_timeout: float = DEFAULT_RESOLVE_TIMEOUT,
        on_session_cache: SessionCacheHook | None = None,
        on_bootstrap_mismatch: BootstrapMismatch = "error",
    ) -> AsyncSharedMachine:
        _check_mode(on_bootstrap_mismatch, max_retries, resolve_timeout)
        fresh = Machine(bootstrap_settings)
        machine = cls(store, max_retries, on_session_cache, resolve_timeout)
        snapshot = await store.load()
        if snapshot is None:
            fresh_json = fresh.state_json
            snapshot = await store.create(fresh_json) or Snapshot(0, fresh_json, 0)
        _check_bootstrap(machine._replica, snapshot, fresh, on_bootstrap_mismatch)
        machine._replica.observe(snapshot, initial=True)
        return machine

    async def _run(self, attempt: Callable[[], _Attempt]) -> _Attempt:
        async with self._lock:
            return await _drive_async(self.store, _step_protocol(self._replica, attempt, self.stats,
                                                                 self.max_retries, self.resolve_timeout),
                                      self._cancelled)

    def _cancelled(self, request: _Request) -> None:
        """The step was cancelled while its commit was in flight."""
        _kind, expected, proposal, effects = request
        pending = PendingCommit(expected, proposal, list(effects or []))
        self.unresolved.append(pending)
        self.stats.unresolved += 1
        logger.warning("%s: a step was cancelled with commit %s (revision %d) in flight: it may have landed, and "
                       "its effects went to nobody; machine.resolve() settles it (machine.unresolved)",
                       self._replica.description, pending.commit_id, pending.revision)

    async def resolve(self, pending: PendingCommit | OutcomeUnknownError) -> Resolution:
        """`SharedMachine.resolve`. A pending commit this machine listed in
        `unresolved` leaves the list once settled."""
        found = _pending_of(pending)
        async with self._lock:
            resolution = await _drive_async(self.store, _resolve_protocol(self._replica, found,
                                                                          self.resolve_timeout),
                                            lambda request: None)
        if found in self.unresolved:
            self.unresolved.remove(found)
        return resolution

    async def step(self, event: Mapping[str, Any], now: Now) -> list[Effect]:
        event_json, micros = _event_json(event), _micros(now)
        tried = await self._run(lambda: self._replica.attempt_step(event_json, micros))
        return tried.effects  # type: ignore[return-value]  # a step's effects are never None

    async def health_probe(self, online: bool, version: str | None = None, active_jails: int = 0,
                           now: Now | None = None) -> ProbeReport:
        micros = _micros(now)
        tried = await self._run(lambda: self._replica.attempt_probe(online, version, active_jails, micros))
        return self._replica.result_report(tried)

    async def refresh(self) -> bool:
        async with self._lock:
            fresh = await self.store.load_if_newer(self._replica.snapshot.revision)
            return fresh is not None and self._replica.observe(fresh)

    async def commits(self, after_revision: int = 0) -> list[Commit]:
        commits = await self.store.read_log(after_revision)
        _check_contiguous(self.store.description, after_revision, commits)
        return commits

    async def export_trace(self) -> str:
        await self.refresh()
        return _trace(self.store.description, self._replica.snapshot, await self.store.read_log(0))

    async def watch(self, after_revision: int | None = None, *, poll: float = 1.0) -> AsyncGenerator[Commit, None]:
        """Every commit after `after_revision` (default: this worker's
        revision), in order, without gaps, forever: read from the log after
        each notification (and every `poll` seconds in case one was lost).
        The machine is refreshed before a batch is yielded.
        `LogTrimmedError` if the watcher fell further behind than the log
        keeps. An async generator: `aclose()` it (or leave the loop) to end
        its subscription."""
        last = self._replica.snapshot.revision if after_revision is None else after_revision
        subscription = self.store.subscribe()
        try:
            while True:
                commits = await self.store.read_log(last)
                if not commits:
                    await subscription.wait(last, poll)
                    continue
                _check_contiguous(self.store.description, last, commits)
                if commits[-1].revision > self._replica.snapshot.revision:
                    await self.refresh()
                for commit in commits:
                    last = commit.revision
                    yield commit
        finally:
            await subscription.aclose()

    async def aclose(self) -> None:
        """Closes the store (a host-owned Redis client stays open)."""
        await self.store.aclose()

    def __repr__(self) -> str:
        return f"<AsyncSharedMachine {self.store.description} revision={self._replica.snapshot.revision}>"


__all__ = ["AsyncSharedMachine", "PER_PROCESS_EFFECTS", "PendingCommit", "Resolution", "SessionCacheSettings",
           "SharedMachine", "Stats", "format_instant"]
