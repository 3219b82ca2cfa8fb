"""Shared stores: one BanGUI state for many worker processes.

    from bangui_state.shared import SharedMachine, SqliteStore

    machine = SharedMachine(SqliteStore("/var/lib/bangui/state.db"), settings)
    effects = machine.step({"type": "jail_activated", "jail_name": "sshd"}, now)

`SqliteStore` (standard library, one host) and `RedisStore` (redis-py, the
`bangui-state[redis]` extra; any number of hosts), each with an asyncio twin
for `AsyncSharedMachine`. See the README's "Many workers" and
docs/shared-stores.md for the guarantees and the store layout.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BootstrapMismatchError,
    CommitConflictError,
    LogTrimmedError,
    StoreCorruptError,
    StoreError,
    StoreStateMissingError,
    StoreUnavailableError,
)
from .machine import PER_PROCESS_EFFECTS, AsyncSharedMachine, SharedMachine, Stats, format_instant
from .sqlite import AsyncSqliteStore, SqliteStore
from .store import AsyncStore, Commit, Proposal, Snapshot, Store, Subscription

if TYPE_CHECKING:
    from .redis_store import AsyncRedisStore, RedisStore


def __getattr__(name: str) -> Any:
    # redis-py is an optional extra: imported only when a Redis store is asked for.
    if name in ("RedisStore", "AsyncRedisStore"):
        from . import redis_store as _redis_store

        return getattr(_redis_store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncRedisStore",
    "AsyncSharedMachine",
    "AsyncSqliteStore",
    "AsyncStore",
    "BootstrapMismatchError",
    "Commit",
    "CommitConflictError",
    "LogTrimmedError",
    "PER_PROCESS_EFFECTS",
    "Proposal",
    "RedisStore",
    "SharedMachine",
    "Snapshot",
    "SqliteStore",
    "Stats",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreStateMissingError",
    "StoreUnavailableError",
    "Subscription",
    "format_instant",
]
