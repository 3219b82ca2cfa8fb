"""`SqliteStore`: the embedded store for worker processes on one host.

The standard library's `sqlite3`, in WAL mode; each commit is one `BEGIN
IMMEDIATE` transaction (check the revision, write the state, append to the
log, trim it), so writers are serialised by SQLite's own lock and readers
never block. Layout (docs/shared-stores.md):

    bangui_state(name PRIMARY KEY, revision, state, cache_epoch, commit_id)
    bangui_log(name, revision, now, event, state, commit_id; PRIMARY KEY (name, revision))
"""
from __future__ import annotations

import asyncio
import copy
import functools
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import LogTrimmedError, StoreCorruptError, StoreError, StoreStateMissingError, StoreUnavailableError
from .store import (
    DEFAULT_LOG_RETENTION,
    DEFAULT_NAME,
    Commit,
    Proposal,
    Snapshot,
    carries_state,
    check_name,
    check_retention,
    parse_event,
    trim_before,
)

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bangui_state (
    name TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    state TEXT NOT NULL,
    cache_epoch INTEGER NOT NULL DEFAULT 0,
    commit_id TEXT
);
CREATE TABLE IF NOT EXISTS bangui_log (
    name TEXT NOT NULL,
    revision INTEGER NOT NULL,
    now TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT,
    commit_id TEXT,
    PRIMARY KEY (name, revision)
) WITHOUT ROWID;
"""


_COMMIT_UPDATE = ("UPDATE bangui_state SET revision = ?, state = ?, "
                  "cache_epoch = CASE WHEN ? THEN ? ELSE cache_epoch END, commit_id = ? "
                  "WHERE name = ? AND revision = ?")
_COMMIT_INSERT = "INSERT INTO bangui_log (name, revision, now, event, state, commit_id) VALUES (?, ?, ?, ?, ?, ?)"


class SqliteStore:
    """A machine named `name` in the SQLite database file `path` (created if
    missing). One store per process (open it after forking, e.g. in the
    app's lifespan); it may be used from several threads.

    `timeout` is how long a writer waits for another's transaction (SQLite's
    busy timeout) before `StoreUnavailableError`. `synchronous` is SQLite's
    setting: "NORMAL" (default) survives a process crash, "FULL" also a power
    loss, at an fsync per commit.

    A commit that fails (a full disk, a read-only file, a lock held past the
    timeout, an I/O error) is rolled back and its outcome read back at once,
    so a `StoreUnavailableError` from `commit` means it did not land; only if
    that read fails too is `outcome_unknown` set. After a read-only error the
    next write opens the file again (SQLite keeps a connection read-only that
    opened the file so), so the store works once the file is writable."""

    _waits = True
    """False on the event-loop twin (`_loop_twin`): it never waits for the lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str = DEFAULT_NAME,
        log_retention: int = DEFAULT_LOG_RETENTION,
        timeout: float = 10.0,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = Path(path)
        self.name = check_name(name)
        self.log_retention = check_retention(log_retention)
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous: expected NORMAL, FULL or EXTRA, got {synchronous!r}")
        self.description = f"sqlite store {self.path} (table bangui_state, name {self.name!r})"
        self.timeout = timeout
        self._synchronous = synchronous.upper()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._reopen = False  # set by a read-only error: the next write opens the file again
        self._db = self._connect()
        self._connected = True
        try:
            self._prepare_retrying(self._synchronous, timeout)
        except BaseException:
            self._db.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, timeout=self.timeout if self._waits else 0, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as error:
            raise StoreUnavailableError(self.description,
                                        f"cannot open the database: {error}{self._why_not_open()}") from None

    def _why_not_open(self) -> str:
        """What SQLite's "unable to open database file" leaves unsaid, when the
        file system tells: SQLite creates the file, never its directory."""
        directory = self.path.parent
        try:
            if not directory.exists():
                return (f": the directory {directory} does not exist: create it (writable by the workers' user) "
                        "or give a path in an existing one")
            if not directory.is_dir():
                return f": {directory} is not a directory"
            if not self.path.exists() and not os.access(directory, os.W_OK | os.X_OK):
                return f": this process may not create files in the directory {directory}"
        except OSError:
            pass  # a parent that cannot be searched: SQLite's message is all there is
        return ""

    def _reconnect(self) -> None:
        """Opens the file again (under the lock): SQLite opens a file it may
        not write read-only, and the connection stays so after the file
        becomes writable. The old connection is closed first: while it is
        open, a new one in this process shares its read-only WAL files."""
        self._db.close()
        self._connected = False
        db = self._connect()
        try:
            if self._waits:
                self._prepare(db, self._synchronous)
            else:
                self._configure_twin(db)
        except BaseException:
            db.close()
            raise
        self._db, self._connected, self._reopen = db, True, False

    def _loop_twin(self) -> SqliteStore:
        """A second connection to the same file, for calls made on an event
        loop's own thread (`AsyncSqliteStore`): it never waits for SQLite's
        lock (a call that would raises `_WouldWait`, having done nothing) and
        never checkpoints, which can fsync (this store's own connection does
        that, on its thread: `checkpoint`)."""
        twin = copy.copy(self)
        twin._waits = False
        twin._lock = threading.Lock()
        twin._db = twin._connect()
        try:
            twin._run(twin._configure_twin)
        except BaseException:
            twin._db.close()
            raise
        return twin

    def _configure_twin(self, db: sqlite3.Connection) -> None:
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute("PRAGMA wal_autocheckpoint=0")

    def checkpoint(self) -> None:
        """Copies what the write-ahead log holds into the database file, as
        far as readers allow (SQLite's PASSIVE checkpoint, what it otherwise
        does by itself every 1000 pages)."""
        self._run(lambda db: db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())

    def _prepare_retrying(self, synchronous: str, timeout: float) -> None:
        """Workers that start together open a new file at once. Switching it
        to WAL can then answer "database is locked" at once, without SQLite's
        busy handler waiting (it is not used for that lock change): try again
        until `timeout` has passed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._run(lambda db: self._prepare(db, synchronous))
                return
            except StoreUnavailableError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    @staticmethod
    def _prepare(db: sqlite3.Connection, synchronous: str) -> None:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL (journal_mode is {mode and mode[0]})")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(_SCHEMA)
        for table, needed in (("bangui_state", {"name", "revision", "state", "cache_epoch", "commit_id"}),
                              ("bangui_log", {"name", "revision", "now", "event", "state", "commit_id"})):
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if not needed <= columns:
                raise _Corrupt(f"table {table} has columns {sorted(columns)}, not this store's "
                               f"{sorted(needed)}")

    def _run(self, work: Callable[[sqlite3.Connection], _T], *, writing: bool = False) -> _T:
        """Runs `work` under this store's lock, mapping SQLite's errors."""
        if os.getpid() != self._pid:
            # A connection inherited through fork() would corrupt the database.
            raise StoreError(self.description, f"opened in process {self._pid}, used in process {os.getpid()}: "
                                               "open the store in each worker, after it started (e.g. in the "
                                               "app's lifespan)")
        with self._lock:
            try:
                if self._reopen and (writing or not self._connected):
                    self._reconnect()
                try:
                    return work(self._db)
                finally:
                    # Whatever stopped the work (a corrupt row read mid-commit
                    # included) must not leave the write lock held.
                    if self._db.in_transaction:
                        try:
                            self._db.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
            except _Corrupt as error:
                raise StoreCorruptError(self.description, str(error)) from None
            except StoreError:
                raise
            except sqlite3.DatabaseError as error:
                if not self._waits and _is_busy(error):
                    # In WAL mode only BEGIN IMMEDIATE (and, rarely, a read)
                    # waits for a lock, and the finally above rolled back:
                    # nothing was done.
                    raise _WouldWait from None
                raise self._error(error, writing) from None

    def _error(self, error: sqlite3.DatabaseError, writing: bool) -> StoreError:
        """SQLite's error as the store's, with what it means for the operator."""
        message = str(error)
        code = str(getattr(error, "sqlite_errorname", ""))
        named = f"{message} ({code})" if code and code not in message else message
        if _is_busy(error):
            return StoreUnavailableError(self.description, f"database is locked: {named}: another connection held "
                                                           f"the lock for longer than timeout={self.timeout:g} s")
        if code.startswith("SQLITE_READONLY") or "readonly database" in message:
            self._reopen = True
            return StoreUnavailableError(self.description, f"the database is read-only: {named}: make the file, "
                                                           "its -wal and -shm files (made with the file's mode) "
                                                           "and its directory writable by this process")
        if code == "SQLITE_FULL" or "disk is full" in message:
            return StoreUnavailableError(self.description, f"the disk is full: {named}")
        if code.startswith("SQLITE_NOTADB") or code.startswith("SQLITE_CORRUPT") or "not a database" in message \
                or "malformed" in message:
            return StoreCorruptError(self.description, f"not a usable database: {named}")
        if code.startswith("SQLITE_IOERR") or "I/O error" in message:
            return StoreUnavailableError(self.description, f"cannot write or read the file: {named} (a full disk, "
                                                           "a file size limit, a failing device)",
                                         outcome_unknown=writing)
        return StoreUnavailableError(self.description, named, outcome_unknown=writing)

    def _row(self, row: Any) -> Snapshot:
        revision, state, epoch = row
        if type(revision) is not int or type(epoch) is not int or not isinstance(state, str):
            raise _Corrupt(f"row name={self.name!r}: revision, state and cache_epoch must be an integer, text "
                           f"and an integer; found {type(revision).__name__}, {type(state).__name__}, "
                           f"{type(epoch).__name__}")
        return Snapshot(revision, state, epoch)

    def _select(self, db: sqlite3.Connection) -> Snapshot | None:
        row = db.execute("SELECT revision, state, cache_epoch FROM bangui_state WHERE name = ?",
                         (self.name,)).fetchone()
        return None if row is None else self._row(row)

    def _committed_as(self, db: sqlite3.Connection, revision: int, commit_id: str, current: int) -> bool | None:
        """Whether `commit_id` is the commit of `revision` (the stored
        revision being `current` >= `revision`); None if that log entry was
        trimmed, so nobody can tell."""
        if current == revision:
            row = db.execute("SELECT commit_id FROM bangui_state WHERE name = ?", (self.name,)).fetchone()
        else:
            row = db.execute("SELECT commit_id FROM bangui_log WHERE name = ? AND revision = ?",
                             (self.name, revision)).fetchone()
        return None if row is None else row[0] == commit_id

    def load(self) -> Snapshot | None:
        return self._run(self._select)

    def load_if_newer(self, revision: int) -> Snapshot | None:
        def work(db: sqlite3.Connection) -> Snapshot | None:
            row = db.execute("SELECT revision FROM bangui_state WHERE name = ?", (self.name,)).fetchone()
            if row is None:
                raise StoreStateMissingError(self.description, "the machine's row is gone")
            if row[0] == revision:
                return None
            snapshot = self._select(db)
            if snapshot is None:
                raise StoreStateMissingError(self.description, "the machine's row is gone")
            return snapshot

        return self._run(work)

    def create(self, state_json: str) -> Snapshot | None:
        def work(db: sqlite3.Connection) -> Snapshot | None:
            db.execute("BEGIN IMMEDIATE")
            existing = self._select(db)
            if existing is not None:
                db.execute("COMMIT")
                return existing
            db.execute("INSERT INTO bangui_state (name, revision, state, cache_epoch) VALUES (?, 0, ?, 0)",
                       (self.name, state_json))
            # A new machine starts a new history.
            db.execute("DELETE FROM bangui_log WHERE name = ?", (self.name,))
            db.execute("COMMIT")
            return None

        return self._run(work, writing=True)

    def commit(self, expected_revision: int, proposal: Proposal, *, resend: bool = False) -> Snapshot | None:
        revision = expected_revision + 1
        state = proposal.state_json if carries_state(revision, self.log_retention) else None
        cut = trim_before(revision, self.log_retention)
        update = (revision, proposal.state_json, proposal.cache_replaced, revision, proposal.commit_id, self.name,
                  expected_revision)
        entry = (self.name, revision, proposal.now, proposal.event_json, state, proposal.commit_id)

        def work(db: sqlite3.Connection) -> Snapshot | None:
            db.execute("BEGIN IMMEDIATE")
            # The compare-and-set is the UPDATE's WHERE: it changes the row
            # only at the expected revision.
            if db.execute(_COMMIT_UPDATE, update).rowcount != 1:
                current = self._select(db)
                if current is None:
                    raise StoreStateMissingError(self.description, "the machine's row is gone")
                mine = self._committed_as(db, revision, proposal.commit_id, current.revision) \
                    if current.revision >= revision else False
                db.execute("ROLLBACK")
                if mine:
                    return None  # this commit, sent before: done already
                if mine is None and resend:
                    raise self._trimmed(revision, proposal.commit_id)
                return current
            db.execute(_COMMIT_INSERT, entry)
            if cut:
                db.execute("DELETE FROM bangui_log WHERE name = ? AND revision < ?", (self.name, cut))
            db.execute("COMMIT")
            return None

        try:
            return self._run(work, writing=True)
        except StoreUnavailableError as error:
            # The transaction is over (committed or rolled back) and nothing
            # is in flight: read which, so that the caller knows.
            try:
                landed = self._run(lambda db: self._landed(db, revision, proposal.commit_id))
            except StoreError:
                raise StoreUnavailableError(self.description, f"{error.reason}; whether the commit landed could "
                                                              "not be read", outcome_unknown=True) from None
            if landed:
                return None
            if landed is None and resend:  # an earlier send may have landed, and its log entry is gone
                raise self._trimmed(revision, proposal.commit_id) from None
            raise StoreUnavailableError(self.description, f"{error.reason}; nothing was committed") from None

    def _landed(self, db: sqlite3.Connection, revision: int, commit_id: str) -> bool | None:
        """Whether `commit_id` is the commit of `revision` now (None: its log
        entry was trimmed)."""
        row = db.execute("SELECT revision FROM bangui_state WHERE name = ?", (self.name,)).fetchone()
        if row is None or type(row[0]) is not int or row[0] < revision:
            return False
        return self._committed_as(db, revision, commit_id, row[0])

    def _trimmed(self, revision: int, commit_id: str) -> LogTrimmedError:
        return LogTrimmedError(self.description, f"commit {commit_id} would be revision {revision}, which is no "
                                                 "longer in the log (trimmed by log_retention): whether it landed "
                                                 "can no longer be known", commit_id)

    def read_log(self, after_revision: int = 0, limit: int | None = None) -> list[Commit]:
        def work(db: sqlite3.Connection) -> list[Commit]:
            rows = db.execute(
                "SELECT revision, now, event, state FROM bangui_log WHERE name = ? AND revision > ? "
                "ORDER BY revision LIMIT ?", (self.name, after_revision, -1 if limit is None else limit)
            ).fetchall()
            return [Commit(revision, now, parse_event(event, self.description, f"bangui_log revision {revision}"),
                           state) for revision, now, event, state in rows]

        return self._run(work)

    def stored_revision(self) -> int | None:
        """The stored revision alone (None if there is no machine): a cheap poll."""
        row = self._run(lambda db: db.execute("SELECT revision FROM bangui_state WHERE name = ?",
                                              (self.name,)).fetchone())
        return None if row is None else row[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<SqliteStore {self.description}>"


class _Corrupt(Exception):
    """A stored value this store cannot use (mapped to StoreCorruptError)."""


class _WouldWait(Exception):
    """The loop twin found the database locked, and did nothing: the call is
    for the store's thread, which waits."""


def _is_busy(error: sqlite3.DatabaseError) -> bool:
    """SQLite's "database is locked": another connection holds the lock."""
    code = str(getattr(error, "sqlite_errorname", ""))
    message = str(error)
    return code.startswith("SQLITE_BUSY") or code.startswith("SQLITE_LOCKED") or (
        not code and isinstance(error, sqlite3.OperationalError) and ("locked" in message or "busy" in message))


class AsyncSqliteStore:
    """`SqliteStore` for asyncio hosts. A call runs on the event loop's own
    thread when SQLite can answer it at once, and on the store's one worker
    thread when it would wait for another writer's lock, so the event loop
    never waits on SQLite.

    `inline` (default: with `synchronous="NORMAL"`) is that first way: a
    commit here takes ~20 µs of the loop's time, where handing it to the
    thread and back costs ~45 µs more, and a loop busy with requests pays it
    again in GIL hand-offs. On the loop's thread the store never waits for a
    lock (a busy database sends the call to the thread, nothing done) and
    never checkpoints, the one step that may fsync: the thread does that
    every `checkpoint_every` commits made on the loop. With `inline=False`
    every call goes to the thread; FULL and EXTRA, which fsync every commit,
    do so by default. `read_log`, which may read thousands of entries, always
    runs on the thread.

    Watchers poll `PRAGMA data_version` every `poll_interval` seconds
    (SQLite has no notifications)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str = DEFAULT_NAME,
        log_retention: int = DEFAULT_LOG_RETENTION,
        timeout: float = 10.0,
        synchronous: str = "NORMAL",
        poll_interval: float = 0.05,
        inline: bool | None = None,
        checkpoint_every: int = 256,
    ) -> None:
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every: expected an int >= 1, got {checkpoint_every!r}")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bangui-sqlite")
        self._loop_store: SqliteStore | None = None
        try:
            self.sync = self._executor.submit(
                SqliteStore, path, name=name, log_retention=log_retention, timeout=timeout, synchronous=synchronous
            ).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        try:
            if inline if inline is not None else self.sync._synchronous == "NORMAL":
                self._loop_store = self.sync._loop_twin()
        except BaseException:
            self._executor.submit(self.sync.close)
            self._executor.shutdown(wait=True)
            raise
        self.name = self.sync.name
        self.log_retention = self.sync.log_retention
        self.description = self.sync.description
        self.poll_interval = poll_interval
        self.checkpoint_every = checkpoint_every
        self._writes_on_loop = 0

    @property
    def inline(self) -> bool:
        """Whether calls run on the event loop's thread when SQLite can answer at once."""
        return self._loop_store is not None

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _either(self, on_thread: Callable[..., _T], on_loop: Callable[..., _T] | None, *args: Any,
                      writing: bool = False) -> _T:
        """`on_loop(*args)` here, on the loop's thread, if it runs without
        waiting for a lock; else `on_thread(*args)` on the store's thread."""
        if on_loop is not None:
            try:
                result = on_loop(*args)
            except _WouldWait:
                pass
            else:
                if writing:
                    self._wrote_on_loop()
                return result
        return await self._call(on_thread, *args)

    def _wrote_on_loop(self) -> None:
        self._writes_on_loop += 1
        if self._writes_on_loop % self.checkpoint_every == 0:
            # Not awaited: a checkpoint that fails (readers in the way, a
            # full disk) is tried again after the next `checkpoint_every`.
            self._executor.submit(self.sync.checkpoint)

    def _on_loop(self, method: str) -> Callable[..., Any] | None:
        return None if self._loop_store is None else getattr(self._loop_store, method)

    async def load(self) -> Snapshot | None:
        return await self._either(self.sync.load, self._on_loop("load"))

    async def load_if_newer(self, revision: int) -> Snapshot | None:
        return await self._either(self.sync.load_if_newer, self._on_loop("load_if_newer"), revision)

    async def create(self, state_json: str) -> Snapshot | None:
        return await self._either(self.sync.create, self._on_loop("create"), state_json, writing=True)

    async def commit(self, expected_revision: int, proposal: Proposal, *, resend: bool = False) -> Snapshot | None:
        on_loop = self._on_loop("commit")
        if resend:
            return await self._either(functools.partial(self.sync.commit, resend=True),
                                      on_loop and functools.partial(on_loop, resend=True),
                                      expected_revision, proposal, writing=True)
        return await self._either(self.sync.commit, on_loop, expected_revision, proposal, writing=True)

    async def read_log(self, after_revision: int = 0, limit: int | None = None) -> list[Commit]:
        return await self._call(self.sync.read_log, after_revision, limit)

    async def stored_revision(self) -> int | None:
        """The stored revision alone (None if there is no machine): a cheap poll."""
        return await self._either(self.sync.stored_revision, self._on_loop("stored_revision"))

    def subscribe(self) -> _PollingSubscription:
        return _PollingSubscription(self)

    async def aclose(self) -> None:
        if self._loop_store is not None:
            self._loop_store.close()
        await self._call(self.sync.close)
        self._executor.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"<AsyncSqliteStore {self.description}>"


class _PollingSubscription:
    """Change notifications for SQLite: polls the stored revision every
    `poll_interval` seconds."""

    def __init__(self, store: AsyncSqliteStore) -> None:
        self._store = store

    async def wait(self, revision: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if await self._store.stored_revision() != revision:
                return
            left = deadline - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(self._store.poll_interval, left))

    async def aclose(self) -> None:
        pass
