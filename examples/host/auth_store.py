"""The host's own login records, in the same store as the shared state: the
sessions table (the source of truth for who is logged in, as BanGUI keeps
sessions in its database) and the login throttle counted across all workers.

`bangui_state.shared`'s session cache sits in front of `load_session`; the
rule for revoking is: delete here first, then invalidate the cache (the
cache refuses a fill that raced with an invalidation).

Tokens are never stored: rows and keys are named by the token's SHA-256
(`token_hash`), and throttle keys by a hash of the user name, so what the
store holds cannot be replayed as a cookie.
"""
from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

from bangui_state.shared import CachedSession, StoreUnavailableError

T = TypeVar("T")


def token_hash(token: str) -> str:
    """What the store keeps instead of a session token (≥ 256 random bits, so a
    plain SHA-256 cannot be reversed by guessing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def throttle_keys(address: str, user: str) -> list[str]:
    """The login throttle's counters for one attempt: per client address and per user name."""
    return [f"address:{address}", f"user:{hashlib.sha256(user.casefold().encode()).hexdigest()}"]


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


class AuthStore(Protocol):
    async def create_session(self, token: str, user: str, now: int, expires: int) -> None: ...

    async def load_session(self, token: str, now: int) -> CachedSession | None:
        """The live session of `token`, or None (unknown, or expired at `now`)."""

    async def delete_session(self, token: str) -> None: ...

    async def delete_user_sessions(self, user: str) -> int: ...

    async def reserve_login_attempt(self, keys: list[str], now: int) -> float | None:
        """Counts one login attempt against every key, atomically, unless one of
        them has used its `limit` attempts in the current window: then nothing
        is counted and the answer is the seconds until that window ends."""

    async def release_login_attempt(self, keys: list[str]) -> None:
        """Gives a reserved attempt back (the password was right)."""

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS host_sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS host_sessions_user ON host_sessions (user);
CREATE INDEX IF NOT EXISTS host_sessions_expiry ON host_sessions (expires_at);
CREATE TABLE IF NOT EXISTS host_login_attempts (
    key TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    attempts INTEGER NOT NULL
) WITHOUT ROWID;
"""


class SqliteAuthStore:
    """The tables `host_sessions` and `host_login_attempts` in the shared SQLite
    file. One connection on one thread (as `AsyncSqliteStore` does), so the
    event loop never waits on SQLite; every write is one transaction."""

    def __init__(self, path: str, *, limit: int, window: float, timeout: float = 10.0) -> None:
        self.description = f"sqlite auth store {path}"
        self.limit = limit
        self.window_micros = int(window * 1_000_000)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="host-auth-sqlite")
        self._db: sqlite3.Connection = self._executor.submit(self._open, path, timeout).result()

    @staticmethod
    def _open(path: str, timeout: float) -> sqlite3.Connection:
        if not Path(path).parent.is_dir():
            raise StoreUnavailableError(f"sqlite auth store {path}", f"the directory {Path(path).parent} does not exist")
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        # The shared store switched the file to WAL already (it opens first).
        db.executescript(_SCHEMA)
        return db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def guarded() -> T:
            try:
                try:
                    return work(self._db)
                finally:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
            except sqlite3.Error as error:
                raise StoreUnavailableError(self.description, str(error)) from None

        return await asyncio.get_running_loop().run_in_executor(self._executor, guarded)

    async def create_session(self, token: str, user: str, now: int, expires: int) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            # Expired rows go as new ones come: no cron.
            db.execute("DELETE FROM host_sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO host_sessions VALUES (?, ?, ?, ?)", (token_hash(token), user, now, expires))
            db.execute("COMMIT")

        await self._run(work)

    async def load_session(self, token: str, now: int) -> CachedSession | None:
        row = await self._run(lambda db: db.execute(
            "SELECT user, expires_at FROM host_sessions WHERE token_hash = ? AND expires_at > ?",
            (token_hash(token), now)).fetchone())
        return None if row is None else CachedSession(row[0], from_micros(row[1]))

    async def delete_session(self, token: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM host_sessions WHERE token_hash = ?", (token_hash(token),)))

    async def delete_user_sessions(self, user: str) -> int:
        return await self._run(lambda db: db.execute("DELETE FROM host_sessions WHERE user = ?", (user,)).rowcount)

    async def reserve_login_attempt(self, keys: list[str], now: int) -> float | None:
        def work(db: sqlite3.Connection) -> float | None:
            db.execute("BEGIN IMMEDIATE")
            counts: list[tuple[str, int, int]] = []
            for key in keys:
                row = db.execute("SELECT window_start, attempts FROM host_login_attempts WHERE key = ?",
                                 (key,)).fetchone()
                start, attempts = (now, 0) if row is None or row[0] + self.window_micros <= now else row
                if attempts >= self.limit:
                    db.execute("ROLLBACK")
                    return (start + self.window_micros - now) / 1_000_000
                counts.append((key, start, attempts + 1))
            db.execute("DELETE FROM host_login_attempts WHERE window_start <= ?", (now - self.window_micros,))
            db.executemany("INSERT OR REPLACE INTO host_login_attempts VALUES (?, ?, ?)", counts)
            db.execute("COMMIT")
            return None

        return await self._run(work)

    async def release_login_attempt(self, keys: list[str]) -> None:
        await self._run(lambda db: db.executemany(
            "UPDATE host_login_attempts SET attempts = attempts - 1 WHERE key = ? AND attempts > 0",
            [(key,) for key in keys]))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)


# KEYS: the throttle counters. ARGV: limit, window (ms). Returns 0 when the
# attempt was counted, else the milliseconds left in the window that is full.
_RESERVE = """
for _, key in ipairs(KEYS) do
  local attempts = tonumber(redis.call('GET', key) or '0')
  if attempts >= tonumber(ARGV[1]) then
    local left = redis.call('PTTL', key)
    if left < 1 then left = 1 end
    return left
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 0
"""

# KEYS: the throttle counters: each loses one attempt, never below 0.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""

# KEYS: the session hash, its user's set. ARGV: user, created, expires (ms).
_CREATE = """
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created', ARGV[2], 'expires', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[2], ARGV[3]) end
return 0
"""

# KEYS: the user's set. Deletes every session in it; returns how many existed.
_DELETE_USER = """
local deleted = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do deleted = deleted + redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return deleted
"""


class RedisAuthStore:
    """Sessions as `{bangui-host}:session:<token_hash>` hashes (user, created,
    expires; the key expires with the session) and a set of them per user;
    throttle counters as `{bangui-host}:login:<key>` with the window as TTL.
    One hash tag, so the multi-key scripts also run on Redis Cluster. The
    client is the host's (the same one the shared machine uses)."""

    prefix = "{bangui-host}"

    def __init__(self, client: Any, *, limit: int, window: float) -> None:
        self.client = client
        self.description = f"redis auth store ({self.prefix}:*)"
        self.limit = limit
        self.window_ms = int(window * 1000)
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)
        self._create = client.register_script(_CREATE)
        self._delete_user = client.register_script(_DELETE_USER)

    def _session_key(self, token: str) -> str:
        return f"{self.prefix}:session:{token_hash(token)}"

    def _user_key(self, user: str) -> str:
        return f"{self.prefix}:user-sessions:{hashlib.sha256(user.encode()).hexdigest()}"

    async def _call(self, work: Callable[[], Any]) -> Any:
        import redis

        try:
            return await work()
        except redis.RedisError as error:
            raise StoreUnavailableError(self.description, str(error)) from None

    async def create_session(self, token: str, user: str, now: int, expires: int) -> None:
        await self._call(lambda: self._create(keys=[self._session_key(token), self._user_key(user)],
                                              args=[user, now // 1000, expires // 1000]))

    async def load_session(self, token: str, now: int) -> CachedSession | None:
        fields = await self._call(lambda: self.client.hmget(self._session_key(token), "user", "expires"))
        user, expires = fields
        if user is None or expires is None or int(expires) * 1000 <= now:
            return None
        return CachedSession(user.decode() if isinstance(user, bytes) else user, from_micros(int(expires) * 1000))

    async def delete_session(self, token: str) -> None:
        await self._call(lambda: self.client.delete(self._session_key(token)))

    async def delete_user_sessions(self, user: str) -> int:
        return int(await self._call(lambda: self._delete_user(keys=[self._user_key(user)])))

    def _throttle_keys(self, keys: list[str]) -> list[str]:
        return [f"{self.prefix}:login:{key}" for key in keys]

    async def reserve_login_attempt(self, keys: list[str], now: int) -> float | None:
        left = int(await self._call(lambda: self._reserve(keys=self._throttle_keys(keys),
                                                          args=[self.limit, self.window_ms])))
        return None if left == 0 else left / 1000

    async def release_login_attempt(self, keys: list[str]) -> None:
        await self._call(lambda: self._release(keys=self._throttle_keys(keys)))

    async def close(self) -> None:
        pass  # the client is the host's
