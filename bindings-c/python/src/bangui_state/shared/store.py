"""What a shared store keeps, and the interface every store implements.

A store holds one machine under a name: its current state (JSON text), the
state's revision, the session-cache epoch, and a commit log. Writers change it
only through `commit`, a compare-and-set on the revision that also appends the
commit to the log and notifies watchers, all in one atomic step.
"""
from __future__ import annotations

import itertools
import json
import os
import secrets
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, Protocol

DEFAULT_NAME = "bangui"
DEFAULT_LOG_RETENTION = 10_000
CHECKPOINT_INTERVAL_MAX = 100


def checkpoint_interval(retention: int) -> int:
    """Every this many revisions a log entry also carries its state, so that
    the first retained entry always does (see `trim_before`)."""
    # max(1, min(CHECKPOINT_INTERVAL_MAX, retention)), without two builtin calls (a commit asks twice)
    return 1 if retention < 1 else retention if retention < CHECKPOINT_INTERVAL_MAX else CHECKPOINT_INTERVAL_MAX


def carries_state(revision: int, retention: int) -> bool:
    """Whether the log entry of `revision` stores the committed state too:
    revision 1 and every checkpoint."""
    return revision == 1 or revision % checkpoint_interval(retention) == 0


def trim_before(revision: int, retention: int) -> int:
    """After appending `revision`, entries below the returned revision are
    dropped (0: none). The cut moves to the next checkpoint once every
    checkpoint interval, so only those commits trim: the log keeps between
    `retention` and `retention + interval - 1` entries and starts at a
    checkpoint (or at revision 1), so its first entry carries its state."""
    keep_from = revision - retention + 1
    interval = checkpoint_interval(retention)
    return keep_from if keep_from >= interval and keep_from > 1 and keep_from % interval == 0 else 0


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "{}\x00"):
        raise ValueError(f"name: expected a non-empty str without braces or NUL, got {name!r}")
    return name


def check_retention(log_retention: int) -> int:
    if isinstance(log_retention, bool) or not isinstance(log_retention, int) or log_retention < 1:
        raise ValueError(f"log_retention: expected an int >= 1, got {log_retention!r}")
    return log_retention


def _commit_id_source() -> tuple[str, Iterator[int]]:
    return f"{os.getpid()}-{secrets.token_hex(8)}-", itertools.count(1)


# A random prefix per process (a forked child draws its own) and a counter:
# unique without drawing random bytes for every commit.
_commit_ids = _commit_id_source()


def _new_commit_id_source() -> None:
    global _commit_ids
    _commit_ids = _commit_id_source()


os.register_at_fork(after_in_child=_new_commit_id_source)


def new_commit_id() -> str:
    """Names one commit attempt, so a commit retried after a lost reply is
    recognised as already done instead of applied twice."""
    prefix, counter = _commit_ids
    return f"{prefix}{next(counter)}"


# Snapshot and Proposal, made on every step, write their fields straight into
# the instance's __dict__ (as unpickling does): the frozen dataclass's own
# __init__ pays an object.__setattr__ call per field. Still frozen, compared,
# hashed and shown as dataclasses.


@dataclass(frozen=True, init=False)
class Snapshot:
    """The stored machine at one revision."""

    revision: int
    state_json: str
    cache_epoch: int
    """The revision of the last commit that replaced the session cache (0: none
    since the machine was made); every worker reinstalls its cache when it
    sees this change."""

    def __init__(self, revision: int, state_json: str, cache_epoch: int) -> None:
        fields = self.__dict__
        fields["revision"] = revision
        fields["state_json"] = state_json
        fields["cache_epoch"] = cache_epoch


@dataclass(frozen=True, init=False)
class Proposal:
    """A commit offered to the store: the state after applying `event_json` at
    `now` to the state at the expected revision. `commit_id` is a new one
    (`new_commit_id()`) unless given."""

    state_json: str
    now: str
    event_json: str
    cache_replaced: bool
    commit_id: str

    def __init__(self, state_json: str, now: str, event_json: str, cache_replaced: bool,
                 commit_id: str | None = None) -> None:
        fields = self.__dict__
        fields["state_json"] = state_json
        fields["now"] = now
        fields["event_json"] = event_json
        fields["cache_replaced"] = cache_replaced
        fields["commit_id"] = new_commit_id() if commit_id is None else commit_id


@dataclass(frozen=True)
class Commit:
    """One entry of the commit log: the event committed as `revision`, at
    `now` (RFC 3339, the core's format). `state_json` is the state it
    committed, kept on checkpoint entries only (None otherwise)."""

    revision: int
    now: str
    event: dict[str, Any]
    state_json: str | None = None

    def as_json(self) -> dict[str, Any]:
        """`{"revision", "now", "event"}`: the log entry as plain JSON data."""
        return {"revision": self.revision, "now": self.now, "event": self.event}

    def step(self) -> dict[str, Any]:
        """The entry as a step of a replay trace: `{"now", "event"}`."""
        return {"now": self.now, "event": self.event}


def parse_event(text: str, store: str, where: str) -> dict[str, Any]:
    from .errors import StoreCorruptError

    try:
        event = json.loads(text)
    except ValueError as error:
        raise StoreCorruptError(store, f"{where}: event is not JSON ({error})") from None
    if not isinstance(event, dict):
        raise StoreCorruptError(store, f"{where}: event is not a JSON object")
    return event


class Store(Protocol):
    """A synchronous shared store (`SqliteStore`, `RedisStore`)."""

    description: str
    name: str
    log_retention: int

    def load(self) -> Snapshot | None:
        """The stored machine, or None if there is none."""

    def load_if_newer(self, revision: int) -> Snapshot | None:
        """None if the stored revision is `revision`, else the stored machine
        (`StoreStateMissingError` if it vanished)."""

    def create(self, state_json: str) -> Snapshot | None:
        """Stores a new machine (revision 0) unless one exists: None if
        created (the log starts empty), else the existing machine."""

    def commit(self, expected_revision: int, proposal: Proposal, *, resend: bool = False) -> Snapshot | None:
        """Compare-and-set: if the stored revision is `expected_revision`,
        stores the proposal as `expected_revision + 1`, appends it to the log
        (trimmed to the retention) and notifies watchers, atomically, and
        returns None. Otherwise changes nothing and returns the current
        machine, so a retry needs no extra read.

        Idempotent per commit id: if `proposal.commit_id` is already the
        commit at `expected_revision + 1` (an earlier send whose reply was
        lost), returns None without writing. `resend`: the proposal was sent
        before; if the stored revision is past `expected_revision + 1` and that
        entry was trimmed from the log, `LogTrimmedError` (the outcome can no
        longer be known) rather than the current machine.

        `StoreUnavailableError` if the store cannot be reached, with
        `outcome_unknown` when the commit may have landed."""

    def read_log(self, after_revision: int = 0, limit: int | None = None) -> list[Commit]:
        """Log entries with a revision above `after_revision`, oldest first."""

    def close(self) -> None:
        """Releases what the store opened itself (not a host-owned client)."""


class Subscription(Protocol):
    async def wait(self, revision: int, timeout: float) -> None:
        """Returns when the stored revision may have moved past `revision`,
        or after `timeout` seconds (a hint: callers read the log to know)."""

    async def aclose(self) -> None: ...


class AsyncStore(Protocol):
    """The asyncio twin of `Store` (`AsyncSqliteStore`, `AsyncRedisStore`),
    plus change notifications."""

    description: str
    name: str
    log_retention: int

    async def load(self) -> Snapshot | None: ...

    async def load_if_newer(self, revision: int) -> Snapshot | None: ...

    async def create(self, state_json: str) -> Snapshot | None: ...

    async def commit(self, expected_revision: int, proposal: Proposal, *, resend: bool = False) \
            -> Snapshot | None: ...

    async def read_log(self, after_revision: int = 0, limit: int | None = None) -> list[Commit]: ...

    def subscribe(self) -> Subscription:
        """Change notifications, from now on."""

    async def aclose(self) -> None: ...
