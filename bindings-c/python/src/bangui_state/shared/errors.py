"""Errors of the shared stores. All are `bangui_state.Error`s, so a host that
catches the package's errors catches these too; each message names the store
(and the key or row) and the reason."""
from __future__ import annotations

from ..errors import Error


class StoreError(Error):
    """Any failure of a shared store. `store` is its description (e.g.
    ``redis store key {bangui}:state``)."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store}: {reason}")
        self.store = store
        self.reason = reason


class StoreUnavailableError(StoreError):
    """The store could not be reached (connection refused, timeout, a locked
    or unreadable database file). Nothing changed in this worker.

    `outcome_unknown` is True when the connection failed while a commit was
    in flight: the commit may have landed (the next step or `refresh()` sees
    it). It is False when the store was not reached at all."""

    def __init__(self, store: str, reason: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(store, reason)
        self.outcome_unknown = outcome_unknown


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
    the last `log_retention` commits)."""
