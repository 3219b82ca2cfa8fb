"""A session cache kept in the shared store, so that every worker sees every
other's logouts at once.

    cache = session_cache_for(machine)          # SqliteSessionCache, RedisSessionCache, or an async one
    session = cache.get_or_load(token, lambda: load_from_sessions_table(token))
    ...
    revoke_in_sessions_table(token)             # the source of truth first,
    cache.invalidate(token)                     # then the cache

One interface (`SessionCache`, `AsyncSessionCache`), one class per store
(`sqlite_sessions.py`, `redis_sessions.py`), as Django's session backends. The
rules, which docs/shared-stores.md ("Session cache") spells out for hosts in
other languages:

- **It follows the shared state.** The kind and TTL are those of the state the
  worker's replica last saw (`SharedMachine.session_cache_settings()`). Kind
  `no_op`: nothing is read or stored (`get` misses, `get_or_load` calls
  `load`). Kind `in_memory`: an entry lives `session_cache_ttl_seconds`, and
  never past its session's `expires_at`.
- **A committed `session_cache_replaced` empties the cache once, for every
  worker**, without deleting anything: each entry carries the store's
  `cache_epoch` at the time it was written, a lookup accepts it only if that is
  still the stored epoch (read in the same atomic read), and a fill is refused
  unless the stored epoch is the worker's replica's (whose kind and TTL it
  used). A lookup that finds the stored epoch ahead of the replica's refreshes
  the machine (which calls `on_session_cache`, as any observed replacement does).
- **Revocation has no stale window.** `invalidate` and `invalidate_user`
  delete the entries and add one to the store's invalidation counter in one
  atomic step; a lookup that starts after they return misses, on every
  worker. `get_or_load` reads the counter with its lookup, and its fill after
  `load()` is a compare-and-set refused if the counter (or the epoch) moved
  meanwhile: so a session loaded just before another worker revoked it is
  never stored after the revocation. This holds when hosts **revoke in their
  source of truth first, then invalidate the cache**: the other order leaves a
  window in which a fill reloads the session not yet revoked.
- **Failing closed.** Store unreachable: `StoreUnavailableError` (never a
  hit); a stored entry that is not this layout's: `StoreCorruptError` naming it.
- **Tokens are never stored**: only `sha256(token)` in hex. Session tokens are
  random with at least 128 bits, so a fast unsalted hash cannot be inverted or
  guessed and is what OWASP advises for them (GitHub and Rails store session
  and API tokens the same way); a slow password hash would only slow lookups.

There is no per-process front cache: a local copy would answer after another
worker's logout, which is the stale window this cache exists to close.
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, overload

from .._convert import micros as _micros
from ..machine import Now, from_unix_micros
from .machine import AsyncSharedMachine, SessionCacheSettings, SharedMachine

DEFAULT_MAX_ENTRIES = 10_000
IN_MEMORY = "in_memory"

_UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class CachedSession:
    """What the cache keeps for one session token."""

    user: str
    """The user name the session belongs to."""
    expires_at: datetime
    """The session's own end (aware; kept as UTC): the cache never keeps it past this."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """JSON-able extra data the host wants back."""

    def __post_init__(self) -> None:
        check_user(self.user)
        at = self.expires_at
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"expires_at: expected an aware datetime, got {at!r}")
        if at.tzinfo is not _UTC:
            object.__setattr__(self, "expires_at", at.astimezone(_UTC))
        if not isinstance(self.data, Mapping):
            raise ValueError(f"data: expected a mapping of JSON-able values, got {type(self.data).__name__}")


def check_token(token: object) -> str:
    """The token's stored form: sha256 of its UTF-8 bytes, in hex."""
    if not isinstance(token, str) or not token:
        raise ValueError(f"token: expected a non-empty str, got {_shown(token)}")
    try:
        return hashlib.sha256(token.encode()).hexdigest()
    except UnicodeEncodeError:
        raise ValueError("token: not encodable as UTF-8 (it holds a lone surrogate)") from None


def check_user(user: object) -> str:
    if not isinstance(user, str) or not user:
        raise ValueError(f"user: expected a non-empty str, got {_shown(user)}")
    try:
        user.encode()
    except UnicodeEncodeError:
        raise ValueError("user: not encodable as UTF-8 (it holds a lone surrogate)") from None
    return user


def user_hash(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()


def _shown(value: object) -> str:
    # A wrong token is still a secret: name its type, never its text.
    return "an empty str" if isinstance(value, str) else f"a {type(value).__name__}"


def check_max_entries(max_entries: int) -> int:
    if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
        raise ValueError(f"max_entries: expected an int >= 1, got {max_entries!r}")
    return max_entries


def encode_data(data: Mapping[str, Any]) -> str:
    if not data:
        return "{}"
    try:
        # ASCII: a lone surrogate in a str is then an escape, which every store takes.
        return json.dumps(dict(data), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise ValueError(f"data: not JSON-able ({error})") from None


_new_session = object.__new__
_set_field = object.__setattr__


def stored_session(user: str, session_expires: int, data: str) -> CachedSession:
    """A stored entry as a CachedSession (ValueError if it is not one).
    Built without `__init__`: a lookup's hit path, checked here instead."""
    value = {} if data == "{}" else json.loads(data)
    if type(value) is not dict:
        raise ValueError("data is not a JSON object")
    if not user:
        raise ValueError("the user is empty")
    session = _new_session(CachedSession)
    _set_field(session, "user", user)
    _set_field(session, "expires_at", from_unix_micros(session_expires))
    _set_field(session, "data", value)
    return session


@dataclass(frozen=True, slots=True)
class Fill:
    """An entry to store, and the compare-and-set it is stored under."""

    token_hash: str
    session: CachedSession
    data_json: str
    expires: int  # the entry's end, Unix microseconds: the TTL's end or the session's, whichever is first
    session_expires: int  # the session's own end, Unix microseconds
    epoch: int  # the replica's epoch, whose kind and TTL made this entry: the stored one must equal it
    invalidations: int  # the counter read with the lookup: refused if it moved
    now: int


Miss = tuple[int, int]
"""A lookup's miss: the stored cache epoch and invalidation counter, read
atomically with the (absent or dead) entry."""


def plan_fill(token_hash: str, session: CachedSession, settings: SessionCacheSettings, miss: Miss, now: int) \
        -> Fill | None:
    """The fill of a loaded session, or None if nothing is to be stored
    (kind no_op, or the entry would already be expired)."""
    if settings.kind != IN_MEMORY:
        return None
    session_expires = _micros(session.expires_at)
    expires = min(now + settings.ttl_micros, session_expires)
    if expires <= now:
        return None
    return Fill(token_hash, session, encode_data(session.data), expires, session_expires, settings.epoch, miss[1],
                now)


def _loaded(session: object) -> CachedSession | None:
    if session is None or isinstance(session, CachedSession):
        return session
    raise TypeError(f"load() returned {type(session).__name__}, expected a CachedSession or None")


class SessionBackend(Protocol):
    """One store's operations, each one atomic step (sqlite_sessions.py, redis_sessions.py)."""

    def lookup(self, token_hash: str, now: int) -> CachedSession | Miss: ...

    def fill(self, fill: Fill) -> bool: ...

    def invalidate(self, token_hash: str) -> int: ...

    def invalidate_user(self, user: str) -> int: ...


class AsyncSessionBackend(Protocol):
    async def lookup(self, token_hash: str, now: int) -> CachedSession | Miss: ...

    async def fill(self, fill: Fill) -> bool: ...

    async def invalidate(self, token_hash: str) -> int: ...

    async def invalidate_user(self, user: str) -> int: ...


class SessionCache(Protocol):
    """A session cache in a shared store (`SqliteSessionCache`, `RedisSessionCache`)."""

    def get(self, token: str, now: Now | None = None) -> CachedSession | None:
        """The cached session of `token` at `now` (default: the current
        time), or None: not cached, expired, revoked, replaced, or kind no_op."""

    def get_or_load(self, token: str, load: Callable[[], CachedSession | None], now: Now | None = None) \
            -> CachedSession | None:
        """The cached session, else `load()`'s answer (the host's sessions
        table), stored for the next lookups unless a revocation or a cache
        replacement happened meanwhile. Kind no_op: `load()` every time."""

    def invalidate(self, token: str) -> None:
        """Drops `token`'s entry (logout): once this returns, a lookup on
        any worker misses. Revoke in the source of truth first. If it
        raises, the entry may or may not be gone: call it again."""

    def invalidate_user(self, user: str) -> int:
        """Drops every entry of `user`; returns how many were stored
        (expired or replaced ones not yet purged included)."""


class AsyncSessionCache(Protocol):
    """The asyncio twin of `SessionCache` (`AsyncSqliteSessionCache`, `AsyncRedisSessionCache`)."""

    async def get(self, token: str, now: Now | None = None) -> CachedSession | None: ...

    async def get_or_load(self, token: str, load: Callable[[], Awaitable[CachedSession | None]],
                          now: Now | None = None) -> CachedSession | None: ...

    async def invalidate(self, token: str) -> None: ...

    async def invalidate_user(self, user: str) -> int: ...


class BaseSessionCache:
    """The rules of the module's docstring over a store's `SessionBackend`."""

    def __init__(self, machine: SharedMachine, backend: SessionBackend) -> None:
        self.machine = machine
        self._backend = backend

    def get(self, token: str, now: Now | None = None) -> CachedSession | None:
        token_hash, micros = check_token(token), _micros(now)
        settings = self.machine.session_cache_settings()
        if settings.kind != IN_MEMORY:
            return None
        found = self._backend.lookup(token_hash, micros)
        if isinstance(found, CachedSession):
            return found
        if found[0] != settings.epoch:
            self.machine.refresh()  # another worker replaced the cache: follow it
        return None

    def get_or_load(self, token: str, load: Callable[[], CachedSession | None], now: Now | None = None) \
            -> CachedSession | None:
        token_hash, micros = check_token(token), _micros(now)
        settings = self.machine.session_cache_settings()
        if settings.kind != IN_MEMORY:
            return _loaded(load())
        found = self._backend.lookup(token_hash, micros)
        if isinstance(found, CachedSession):
            return found
        miss = found
        if miss[0] != settings.epoch:
            self.machine.refresh()
            settings = self.machine.session_cache_settings()
        session = _loaded(load())
        if session is not None:
            fill = plan_fill(token_hash, session, settings, miss, micros)
            if fill is not None:
                self._backend.fill(fill)
        return session

    def invalidate(self, token: str) -> None:
        self._backend.invalidate(check_token(token))

    def invalidate_user(self, user: str) -> int:
        return self._backend.invalidate_user(check_user(user))


class BaseAsyncSessionCache:
    """`BaseSessionCache` for asyncio hosts."""

    def __init__(self, machine: AsyncSharedMachine, backend: AsyncSessionBackend) -> None:
        self.machine = machine
        self._backend = backend

    async def get(self, token: str, now: Now | None = None) -> CachedSession | None:
        token_hash, micros = check_token(token), _micros(now)
        settings = self.machine.session_cache_settings()
        if settings.kind != IN_MEMORY:
            return None
        found = await self._backend.lookup(token_hash, micros)
        if isinstance(found, CachedSession):
            return found
        if found[0] != settings.epoch:
            await self.machine.refresh()
        return None

    async def get_or_load(self, token: str, load: Callable[[], Awaitable[CachedSession | None]],
                          now: Now | None = None) -> CachedSession | None:
        token_hash, micros = check_token(token), _micros(now)
        settings = self.machine.session_cache_settings()
        if settings.kind != IN_MEMORY:
            return _loaded(await load())
        found = await self._backend.lookup(token_hash, micros)
        if isinstance(found, CachedSession):
            return found
        miss = found
        if miss[0] != settings.epoch:
            await self.machine.refresh()
            settings = self.machine.session_cache_settings()
        session = _loaded(await load())
        if session is not None:
            fill = plan_fill(token_hash, session, settings, miss, micros)
            if fill is not None:
                await self._backend.fill(fill)
        return session

    async def invalidate(self, token: str) -> None:
        await self._backend.invalidate(check_token(token))

    async def invalidate_user(self, user: str) -> int:
        return await self._backend.invalidate_user(check_user(user))


@overload
def session_cache_for(machine: SharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> SessionCache: ...


@overload
def session_cache_for(machine: AsyncSharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> AsyncSessionCache: ...


def session_cache_for(machine: SharedMachine | AsyncSharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) \
        -> SessionCache | AsyncSessionCache:
    """The session cache class for `machine`'s store, sync or async:
    `SqliteSessionCache`, `AsyncSqliteSessionCache`, `RedisSessionCache` or
    `AsyncRedisSessionCache`. TypeError for any other store."""
    from .sqlite import AsyncSqliteStore, SqliteStore
    from .sqlite_sessions import AsyncSqliteSessionCache, SqliteSessionCache

    store = getattr(machine, "store", None)
    if isinstance(machine, SharedMachine):
        if isinstance(store, SqliteStore):
            return SqliteSessionCache(machine, max_entries=max_entries)
        if _is_redis_store(store, "RedisStore"):
            from .redis_sessions import RedisSessionCache

            return RedisSessionCache(machine, max_entries=max_entries)
    elif isinstance(machine, AsyncSharedMachine):
        if isinstance(store, AsyncSqliteStore):
            return AsyncSqliteSessionCache(machine, max_entries=max_entries)
        if _is_redis_store(store, "AsyncRedisStore"):
            from .redis_sessions import AsyncRedisSessionCache

            return AsyncRedisSessionCache(machine, max_entries=max_entries)
    else:
        raise TypeError(f"session_cache_for: expected a SharedMachine or AsyncSharedMachine, got "
                        f"{type(machine).__name__}")
    raise TypeError(f"session_cache_for: no shared session cache for {type(machine).__name__} over "
                    f"{type(store).__name__} ({getattr(store, 'description', store)!r}); there is one for "
                    "SharedMachine over SqliteStore or RedisStore, and AsyncSharedMachine over AsyncSqliteStore "
                    "or AsyncRedisStore")


def _is_redis_store(store: object, class_name: str) -> bool:
    # A Redis store exists only if its module (and redis-py) was imported: never import it here for nothing.
    module = sys.modules.get(f"{__package__}.redis_store")
    return module is not None and isinstance(store, getattr(module, class_name))


def wrong_store(cache: str, expected: str, machine: object) -> TypeError:
    store = getattr(machine, "store", None)
    return TypeError(f"{cache}: expected {expected}, got {type(machine).__name__} over "
                     f"{type(store).__name__} ({getattr(store, 'description', store)!r}); session_cache_for(machine) "
                     "picks the class for its store")


__all__ = ["AsyncSessionCache", "CachedSession", "SessionCache", "session_cache_for"]
