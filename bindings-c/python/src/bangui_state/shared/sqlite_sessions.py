"""The shared session cache in the SQLite store's database file (sessions.py
has the rules). Two tables next to the store's, used through the store's own
connection and lock:

    bangui_session_cache(name, token_hash, epoch, user, data, expires_at, session_expires_at;
                         PRIMARY KEY (name, token_hash))
    bangui_session_cache_meta(name PRIMARY KEY, invalidations, entries)

A lookup is one SELECT joining `bangui_state` (its `cache_epoch`), the entry
and the counter: one statement reads one snapshot of the database. Fills and
invalidations are each one `BEGIN IMMEDIATE` transaction. Instants are Unix
microseconds. docs/shared-stores.md ("Session cache") has the statements.
"""
from __future__ import annotations

import copy
import sqlite3
from collections.abc import Callable
from typing import Any

from .errors import StoreCorruptError, StoreStateMissingError
from .machine import AsyncSharedMachine, SharedMachine
from .sessions import (
    DEFAULT_MAX_ENTRIES,
    BaseAsyncSessionCache,
    BaseSessionCache,
    CachedSession,
    Fill,
    Miss,
    check_max_entries,
    stored_session,
    wrong_store,
)
from .sqlite import AsyncSqliteStore, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bangui_session_cache (
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    user TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    session_expires_at INTEGER NOT NULL,
    PRIMARY KEY (name, token_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bangui_session_cache_user ON bangui_session_cache (name, user);
CREATE INDEX IF NOT EXISTS bangui_session_cache_expiry ON bangui_session_cache (name, expires_at);
CREATE INDEX IF NOT EXISTS bangui_session_cache_epoch ON bangui_session_cache (name, epoch);
CREATE TABLE IF NOT EXISTS bangui_session_cache_meta (
    name TEXT PRIMARY KEY,
    invalidations INTEGER NOT NULL DEFAULT 0,
    entries INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""
_COLUMNS = {
    "bangui_session_cache": {"name", "token_hash", "epoch", "user", "data", "expires_at", "session_expires_at"},
    "bangui_session_cache_meta": {"name", "invalidations", "entries"},
}

# The entry, the stored epoch and the counter, as one statement: one snapshot.
_LOOKUP = """
SELECT s.cache_epoch, m.invalidations, c.epoch, c.expires_at, c.session_expires_at, c.user, c.data
FROM bangui_state AS s
LEFT JOIN bangui_session_cache AS c ON c.name = s.name AND c.token_hash = ?
LEFT JOIN bangui_session_cache_meta AS m ON m.name = s.name
WHERE s.name = ?
"""
_FILL_CHECK = """
SELECT s.cache_epoch, m.invalidations, m.entries
FROM bangui_state AS s LEFT JOIN bangui_session_cache_meta AS m ON m.name = s.name
WHERE s.name = ?
"""
# Dead entries go first, a bounded number per fill: those written before the
# last cache replacement (epochs only grow), and expired ones.
_PURGE_OLD_EPOCHS = """
DELETE FROM bangui_session_cache WHERE name = ?1 AND token_hash IN (
    SELECT token_hash FROM bangui_session_cache WHERE name = ?1 AND epoch < ?2 LIMIT ?3)
"""
_PURGE_EXPIRED = """
DELETE FROM bangui_session_cache WHERE name = ?1 AND token_hash IN (
    SELECT token_hash FROM bangui_session_cache WHERE name = ?1 AND expires_at <= ?2 LIMIT ?3)
"""
_EVICT_SOONEST = """
DELETE FROM bangui_session_cache WHERE name = ?1 AND token_hash IN (
    SELECT token_hash FROM bangui_session_cache WHERE name = ?1 ORDER BY expires_at LIMIT ?2)
"""
_UPDATE_ENTRY = """
UPDATE bangui_session_cache SET epoch = ?, user = ?, data = ?, expires_at = ?, session_expires_at = ?
WHERE name = ? AND token_hash = ?
"""
_INSERT_ENTRY = """
INSERT INTO bangui_session_cache (epoch, user, data, expires_at, session_expires_at, name, token_hash)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_SET_ENTRIES = """
INSERT INTO bangui_session_cache_meta (name, invalidations, entries) VALUES (?, 0, ?)
ON CONFLICT (name) DO UPDATE SET entries = excluded.entries
"""
_COUNT_INVALIDATION = """
INSERT INTO bangui_session_cache_meta (name, invalidations, entries) VALUES (?1, 1, 0)
ON CONFLICT (name) DO UPDATE SET invalidations = invalidations + 1, entries = max(0, entries - ?2)
"""

PURGE_PER_FILL = 32
"""How many dead entries of each sort (old epoch, expired) a fill deletes at most."""


class SqliteSessions:
    """The operations of the session cache of the machine in `store`, each one
    atomic step on the store's connection (under its lock)."""

    def __init__(self, store: SqliteStore, max_entries: int) -> None:
        self.store = store
        self.name = store.name
        self.max_entries = check_max_entries(max_entries)
        self.description = f"sqlite store {store.path} (table bangui_session_cache, name {store.name!r})"
        store._run(self._prepare, writing=True)

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.executescript(_SCHEMA)
        for table, needed in _COLUMNS.items():
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if not needed <= columns:
                raise StoreCorruptError(self.description, f"table {table} has columns {sorted(columns)}, not "
                                                          f"this cache's {sorted(needed)}")

    def _corrupt(self, token_hash: str, reason: str) -> StoreCorruptError:
        return StoreCorruptError(self.description, f"row name={self.name!r} token_hash={token_hash!r}: {reason}")

    def _missing(self) -> StoreStateMissingError:
        return StoreStateMissingError(self.store.description, "the machine's row is gone")

    def lookup(self, token_hash: str, now: int) -> CachedSession | Miss:
        row = self.store._run(lambda db: db.execute(_LOOKUP, (token_hash, self.name)).fetchone())
        if row is None:
            raise self._missing()
        stored_epoch, invalidations, epoch, expires, session_expires, user, data = row
        if type(stored_epoch) is not int or not (invalidations is None or type(invalidations) is int):
            raise StoreCorruptError(self.description, f"cache_epoch of bangui_state row {self.name!r} and "
                                                      "invalidations of its bangui_session_cache_meta row must be "
                                                      f"integers; found {stored_epoch!r}, {invalidations!r}")
        if epoch == stored_epoch:
            if type(expires) is not int or type(session_expires) is not int or type(user) is not str \
                    or type(data) is not str:
                raise self._corrupt(token_hash, "expires_at and session_expires_at must be integers, user and "
                                                f"data texts; found {expires!r}, {session_expires!r}, "
                                                f"{type(user).__name__}, {type(data).__name__}")
            if expires > now:
                try:
                    return stored_session(user, session_expires, data)
                except (ValueError, OverflowError) as error:
                    raise self._corrupt(token_hash, f"not a cached session ({error})") from None
        return stored_epoch, invalidations or 0

    def fill(self, fill: Fill) -> bool:
        name = self.name

        def work(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(_FILL_CHECK, (name,)).fetchone()
            if row is None:
                raise self._missing()
            epoch, invalidations, entries = row
            if epoch != fill.epoch or (invalidations or 0) != fill.invalidations:
                db.execute("ROLLBACK")
                return False  # a cache replacement or a revocation since the lookup
            if entries is not None and type(entries) is not int:
                raise StoreCorruptError(self.description, f"bangui_session_cache_meta row {name!r}: entries must "
                                                          f"be an integer, found {entries!r}")
            count = entries or 0
            count -= db.execute(_PURGE_OLD_EPOCHS, (name, epoch, PURGE_PER_FILL)).rowcount
            count -= db.execute(_PURGE_EXPIRED, (name, fill.now, PURGE_PER_FILL)).rowcount
            values = (epoch, fill.session.user, fill.data_json, fill.expires, fill.session_expires, name,
                      fill.token_hash)
            if db.execute(_UPDATE_ENTRY, values).rowcount == 0:
                over = count + 1 - self.max_entries
                if over > 0:  # entries of earlier epochs first, then those closest to their end
                    count -= db.execute(_PURGE_OLD_EPOCHS, (name, epoch, over)).rowcount
                    over = count + 1 - self.max_entries
                    if over > 0:
                        count -= db.execute(_EVICT_SOONEST, (name, over)).rowcount
                db.execute(_INSERT_ENTRY, values)
                count += 1
            db.execute(_SET_ENTRIES, (name, max(0, count)))
            db.execute("COMMIT")
            return True

        return self.store._run(work, writing=True)

    def _invalidate(self, delete: str, argument: str) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            dropped = db.execute(delete, (self.name, argument)).rowcount
            db.execute(_COUNT_INVALIDATION, (self.name, dropped))
            db.execute("COMMIT")
            return dropped

        return self.store._run(work, writing=True)

    def invalidate(self, token_hash: str) -> int:
        return self._invalidate("DELETE FROM bangui_session_cache WHERE name = ? AND token_hash = ?", token_hash)

    def invalidate_user(self, user: str) -> int:
        return self._invalidate("DELETE FROM bangui_session_cache WHERE name = ? AND user = ?", user)


class SqliteSessionCache(BaseSessionCache):
    """The shared session cache of a `SharedMachine` over a `SqliteStore`, in
    the same database file. At most `max_entries` entries per machine name:
    a fill beyond evicts dead entries (replaced, then expired) first, then
    those closest to their end."""

    def __init__(self, machine: SharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if not isinstance(machine, SharedMachine) or not isinstance(machine.store, SqliteStore):
            raise wrong_store("SqliteSessionCache", "a SharedMachine over a SqliteStore", machine)
        super().__init__(machine, SqliteSessions(machine.store, max_entries))


class _AsyncSqliteSessions:
    """`SqliteSessions` run as the `AsyncSqliteStore` runs its own calls: on
    the event loop's thread when SQLite answers at once, else on the store's
    thread."""

    def __init__(self, store: AsyncSqliteStore, max_entries: int) -> None:
        self._store = store
        # Once, at start: the tables, through the store's lock from this thread.
        self._sync = SqliteSessions(store.sync, max_entries)
        self._loop: SqliteSessions | None = None
        if store._loop_store is not None:
            self._loop = copy.copy(self._sync)
            self._loop.store = store._loop_store

    def _on_loop(self, method: str) -> Callable[..., Any] | None:
        return None if self._loop is None else getattr(self._loop, method)

    async def lookup(self, token_hash: str, now: int) -> CachedSession | Miss:
        return await self._store._either(self._sync.lookup, self._on_loop("lookup"), token_hash, now)

    async def fill(self, fill: Fill) -> bool:
        return await self._store._either(self._sync.fill, self._on_loop("fill"), fill, writing=True)

    async def invalidate(self, token_hash: str) -> int:
        return await self._store._either(self._sync.invalidate, self._on_loop("invalidate"), token_hash, writing=True)

    async def invalidate_user(self, user: str) -> int:
        return await self._store._either(self._sync.invalidate_user, self._on_loop("invalidate_user"), user,
                                         writing=True)


class AsyncSqliteSessionCache(BaseAsyncSessionCache):
    """`SqliteSessionCache` for an `AsyncSharedMachine` over an
    `AsyncSqliteStore`: each operation runs where the store runs its own
    (the event loop's thread when SQLite answers at once, else the store's)."""

    def __init__(self, machine: AsyncSharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if not isinstance(machine, AsyncSharedMachine) or not isinstance(machine.store, AsyncSqliteStore):
            raise wrong_store("AsyncSqliteSessionCache", "an AsyncSharedMachine over an AsyncSqliteStore", machine)
        super().__init__(machine, _AsyncSqliteSessions(machine.store, max_entries))
