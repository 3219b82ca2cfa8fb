"""Shared stores: one BanGUI state for many worker processes.

    from bangui_state.shared import SharedMachine, SqliteStore

    machine = SharedMachine(SqliteStore("bangui-state.db"), settings)   # a file; its directory must exist
    effects = machine.step({"type": "jail_activated", "jail_name": "sshd"}, now)

`SqliteStore` (standard library, one host) and `RedisStore` (redis-py, the
`bangui-state[redis]` extra; any number of hosts, a Redis Cluster too), each
with an asyncio twin for `AsyncSharedMachine`. A step whose commit reply was
lost learns whether it landed before it returns; `OutcomeUnknownError` and
`resolve()` when the store stays out of reach. `session_cache_for(machine)` is a session cache kept
in the same store (sessions.py). See the README's "Many workers" and
docs/shared-stores.md for the guarantees and the store layout.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BootstrapMismatchError,
    CommitConflictError,
    LogTrimmedError,
    OutcomeUnknownError,
    StoreCorruptError,
    StoreError,
    StoreStateMissingError,
    StoreUnavailableError,
)
from .machine import (
    PER_PROCESS_EFFECTS,
    AsyncSharedMachine,
    PendingCommit,
    Resolution,
    SessionCacheSettings,
    SharedMachine,
    Stats,
    format_instant,
)
from .sessions import AsyncSessionCache, CachedSession, SessionCache, session_cache_for
from .sqlite import AsyncSqliteStore, SqliteStore
from .sqlite_sessions import AsyncSqliteSessionCache, SqliteSessionCache
from .store import AsyncStore, Commit, Proposal, Snapshot, Store, Subscription

if TYPE_CHECKING:
    from .redis_sessions import AsyncRedisSessionCache, RedisSessionCache
    from .redis_store import AsyncRedisStore, RedisStore


def __getattr__(name: str) -> Any:
    # redis-py is an optional extra: imported only when a Redis store is asked for.
    if name in ("RedisStore", "AsyncRedisStore"):
        from . import redis_store as _redis_store

        return getattr(_redis_store, name)
    if name in ("RedisSessionCache", "AsyncRedisSessionCache"):
        from . import redis_sessions as _redis_sessions

        return getattr(_redis_sessions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncRedisSessionCache",
    "AsyncRedisStore",
    "AsyncSessionCache",
    "AsyncSharedMachine",
    "AsyncSqliteSessionCache",
    "AsyncSqliteStore",
    "AsyncStore",
    "BootstrapMismatchError",
    "CachedSession",
    "Commit",
    "CommitConflictError",
    "LogTrimmedError",
    "OutcomeUnknownError",
    "PER_PROCESS_EFFECTS",
    "PendingCommit",
    "Proposal",
    "RedisSessionCache",
    "RedisStore",
    "Resolution",
    "SessionCache",
    "SessionCacheSettings",
    "SharedMachine",
    "Snapshot",
    "SqliteSessionCache",
    "SqliteStore",
    "Stats",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreStateMissingError",
    "StoreUnavailableError",
    "Subscription",
    "format_instant",
    "session_cache_for",
]
