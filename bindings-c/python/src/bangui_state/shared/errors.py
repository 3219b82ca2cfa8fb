"""Errors of the shared stores. All are `bangui_state.Error`s, so a host that
catches the package's errors catches these too; each message names the store
(and the key or row) and the reason."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Error

if TYPE_CHECKING:
    from .machine import PendingCommit


class StoreError(Error):
    """Any failure of a shared store. `store` is its description (e.g.
    ``redis store key {bangui}:state``)."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store}: {reason}")
        self.store = store
        self.reason = reason


class StoreUnavailableError(StoreError):
    """The store could not be reached or could not write (connection refused,
    timeout, a Redis Cluster failing over, a locked, read-only or full
    database file). Nothing changed in this worker.

    Raised by a store, `outcome_unknown` is True when the failure came while a
    commit was in flight: it may have landed. A `SharedMachine` step never
    leaves it at that: it resolves the outcome (see `OutcomeUnknownError`), so
    a `StoreUnavailableError` from a step that is not an `OutcomeUnknownError`
    means the step was not committed."""

    def __init__(self, store: str, reason: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(store, reason)
        self.outcome_unknown = outcome_unknown


class OutcomeUnknownError(StoreUnavailableError):
    """A step's commit was sent, its reply was lost, and the store stayed
    unreachable for the machine's `resolve_timeout` while the step tried to
    learn whether it landed. `pending` holds what `machine.resolve(pending)`
    needs to settle it later, on this worker or any other on the same store:
    the commit id, the revision it would have, the proposal and the effects it
    returns if it landed. Until it is resolved, nobody knows whether the
    event is in the shared state; stepping the event again instead could
    apply it twice."""

    def __init__(self, store: str, reason: str, pending: PendingCommit) -> None:
        super().__init__(store, reason, outcome_unknown=True)
        self.pending = pending

    @property
    def commit_id(self) -> str:
        return self.pending.commit_id

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.store, self.reason, self.pending))


class StoreCorruptError(StoreError):
    """The stored value is not a state this build can use (garbage, another
    schema version, a revision that disagrees with the state). The stored
    value is left exactly as it was: nothing overwrites it."""


class StoreStateMissingError(StoreError):
    """The machine's state vanished from the store while workers were using
    it (deleted by hand, or a Redis restarted without persistence). Never
    re-created silently: restart the workers to start a new machine."""


class CommitConflictError(StoreError):
    """Every attempt of a step lost the compare-and-set to another worker
    (`max_retries` reached). Nothing was committed for this step."""


class BootstrapMismatchError(StoreError):
    """The stored machine was made from other bootstrap settings than this
    worker's. `differences` lists them as ``(key, stored, ours)``."""

    def __init__(self, store: str, reason: str, differences: list[tuple[str, object, object]]) -> None:
        super().__init__(store, reason)
        self.differences = differences


class LogTrimmedError(StoreError):
    """The commit log no longer holds the revisions asked for (the store keeps
    the last `log_retention` commits). From `resolve()`: the commit's
    revision was trimmed from the log before its outcome was looked up, so
    whether it landed can no longer be known (`commit_id` names it)."""

    def __init__(self, store: str, reason: str, commit_id: str | None = None) -> None:
        super().__init__(store, reason)
        self.commit_id = commit_id

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.store, self.reason, self.commit_id))
