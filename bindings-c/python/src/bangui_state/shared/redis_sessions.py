"""The shared session cache in the Redis store's server (sessions.py has the
rules). Imported only when a Redis session cache is asked for: it needs
redis-py, as redis_store.py does. Keys, all under the store's hash tag
`{name}` (one Cluster slot):

    {name}:session:<sha256(token)>          hash: epoch, user, user_hash, data, expires, session_expires
    {name}:sessions:user:<sha256(user)>     set of the user's token hashes
    {name}:sessions:expiry                  zset: token hash -> entry end, entries of the epoch in ...
    {name}:sessions:expiry_epoch            string: ... this key
    {name}:sessions:stale                   zset: entries of earlier epochs (evicted first)
    {name}:sessions:invalidations           integer: one more per invalidation

Instants are Unix microseconds. Each operation is one Lua script run with
EVALSHA (loaded again on NOSCRIPT); the scripts name the keys of other entries
(eviction, a user's sessions) from the same `{name}:` prefix, so they stay on
the slot of the declared keys. docs/shared-stores.md ("Session cache") has
the scripts' contracts.
"""
from __future__ import annotations

from typing import Any

from redis.exceptions import NoScriptError, RedisError

from .errors import StoreCorruptError, StoreError, StoreStateMissingError, StoreUnavailableError
from .machine import AsyncSharedMachine, SharedMachine
from .redis_store import AsyncRedisStore, RedisStore, _Layout
from .sessions import (
    DEFAULT_MAX_ENTRIES,
    BaseAsyncSessionCache,
    BaseSessionCache,
    CachedSession,
    Fill,
    Miss,
    check_max_entries,
    stored_session,
    user_hash,
    wrong_store,
)

# The stored cache epoch (false: no machine), or a BANGUI_CORRUPT error.
_EPOCH = """
local epoch = redis.call('HGET', KEYS[1], 'cache_epoch')
if not epoch and redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[1] .. ': the hash has no cache_epoch field')
end
"""

# KEYS: state, entry, invalidations. No ARGV (each argument costs the client
# time): the caller compares `expires` with its `now`.
# Replies one text (redis-py parses a text much faster than an array):
# "<found> <stored epoch> <invalidations>", where found is 0 unless the entry
# is of the stored epoch: then 1, followed by " <expires> <session_expires>
# <bytes in user> <user><data>". Nil if there is no machine. One script: the
# entry, the epoch and the counter are one read.
LOOKUP_SCRIPT = _EPOCH + """
if not epoch then return false end
local counted = epoch .. ' ' .. (redis.call('GET', KEYS[3]) or '0')
local e = redis.call('HMGET', KEYS[2], 'epoch', 'expires', 'session_expires', 'user', 'data')
if e[1] == epoch then
  if not tonumber(e[2]) or not tonumber(e[3]) or not e[4] or not e[5] then
    return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[2] .. ': expires and session_expires must be integers, '
      .. 'user and data present; found expires ' .. tostring(e[2]) .. ', session_expires ' .. tostring(e[3]))
  end
  return '1 ' .. counted .. ' ' .. e[2] .. ' ' .. e[3] .. ' ' .. #e[4] .. ' ' .. e[4] .. e[5]
elseif not e[1] and (e[2] or e[3] or e[4] or e[5]) then
  return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[2] .. ': the hash has no epoch field')
end
return '0 ' .. counted
"""

# Deletes the entry of token hash `member` and its membership in its user's set.
_DROP = """
local function drop(member)
  local key = ARGV[12] .. 'session:' .. member
  local owner = redis.call('HGET', key, 'user_hash')
  if owner then redis.call('SREM', ARGV[12] .. 'sessions:user:' .. owner, member) end
  redis.call('DEL', key)
end
"""

# KEYS: state, entry, invalidations, user set, expiry, stale, expiry_epoch.
# ARGV: expected epoch, expected invalidations, now, token hash, user, user
# hash, data, expires, session_expires, milliseconds to live, max entries,
# key prefix "{name}:". Replies 1 (stored), 0 (refused: the epoch or the
# counter moved since the lookup), -1 (no machine).
FILL_SCRIPT = _EPOCH + _DROP + """
if not epoch then return -1 end
if epoch ~= ARGV[1] or (redis.call('GET', KEYS[3]) or '0') ~= ARGV[2] then return 0 end
local old_owner = redis.call('HGET', KEYS[2], 'user_hash')
local max = tonumber(ARGV[11])
-- The expiry index holds the entries of one epoch: after a cache replacement
-- its entries are dead, and move to the stale index, evicted first.
if redis.call('GET', KEYS[7]) ~= epoch then
  if redis.call('EXISTS', KEYS[5]) == 1 then
    if redis.call('EXISTS', KEYS[6]) == 1 then
      redis.call('ZUNIONSTORE', KEYS[6], 2, KEYS[6], KEYS[5])
      redis.call('DEL', KEYS[5])
    else
      redis.call('RENAME', KEYS[5], KEYS[6])
    end
  end
  redis.call('SET', KEYS[7], epoch)
end
-- Purge as we go, a bounded number per fill: stale entries, then expired ones.
redis.call('ZREM', KEYS[6], ARGV[4])
for _, member in ipairs(redis.call('ZRANGE', KEYS[6], 0, 7)) do
  drop(member)
  redis.call('ZREM', KEYS[6], member)
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[3], 'LIMIT', 0, 8)) do
  if member ~= ARGV[4] then drop(member) end
  redis.call('ZREM', KEYS[5], member)
end
if old_owner and old_owner ~= ARGV[6] then
  redis.call('SREM', ARGV[12] .. 'sessions:user:' .. old_owner, ARGV[4])
end
if not redis.call('ZSCORE', KEYS[5], ARGV[4]) then
  -- A new entry: make room, stale entries first, then those closest to their end.
  local count = redis.call('ZCARD', KEYS[5]) + redis.call('ZCARD', KEYS[6])
  while count >= max do
    local victim = redis.call('ZPOPMIN', KEYS[6])
    if #victim == 0 then victim = redis.call('ZPOPMIN', KEYS[5]) end
    if #victim == 0 then break end
    drop(victim[1])
    count = count - 1
  end
end
redis.call('HSET', KEYS[2], 'epoch', epoch, 'user', ARGV[5], 'user_hash', ARGV[6], 'data', ARGV[7],
  'expires', ARGV[8], 'session_expires', ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[10])
redis.call('ZADD', KEYS[5], ARGV[8], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[4])
if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[10]) then redis.call('PEXPIRE', KEYS[4], ARGV[10]) end
return 1
"""

# KEYS: entry, invalidations, expiry, stale. ARGV: token hash, key prefix.
# Replies how many entries were deleted (0 or 1). The counter moves first: a
# script stopped by an error midway keeps its earlier writes, and a
# revocation must never leave the counter where an in-flight fill expects it.
INVALIDATE_SCRIPT = """
redis.call('INCR', KEYS[2])
local owner = redis.call('HGET', KEYS[1], 'user_hash')
if owner then redis.call('SREM', ARGV[2] .. 'sessions:user:' .. owner, ARGV[1]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: user set, invalidations, expiry, stale. ARGV: user, key prefix.
# Replies how many entries of the user were deleted.
INVALIDATE_USER_SCRIPT = """
redis.call('INCR', KEYS[2])
local dropped = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. 'session:' .. member
  -- The set may still list a token since filled for another user: not this user's.
  if redis.call('HGET', key, 'user') == ARGV[1] then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[3], member)
    redis.call('ZREM', KEYS[4], member)
    dropped = dropped + 1
  end
end
redis.call('DEL', KEYS[1])
return dropped
"""


_Call = tuple[Any, int, list[Any]]
"""A script, its number of keys, its keys and arguments."""


class _RedisSessionLayout:
    """Key names, script arguments and reply parsing shared by both caches."""

    def __init__(self, store: _Layout, max_entries: int) -> None:
        self.store = store
        self.max_entries = check_max_entries(max_entries)
        client = store.client
        self._lookup = client.register_script(LOOKUP_SCRIPT)
        self._fill = client.register_script(FILL_SCRIPT)
        self._invalidate = client.register_script(INVALIDATE_SCRIPT)
        self._invalidate_user = client.register_script(INVALIDATE_USER_SCRIPT)
        self.prefix = f"{{{store.name}}}:"
        self.state_key = store.state_key
        self.entry_prefix = self.prefix + "session:"
        self.invalidations_key = self.prefix + "sessions:invalidations"
        self.expiry_key = self.prefix + "sessions:expiry"
        self.stale_key = self.prefix + "sessions:stale"
        self.expiry_epoch_key = self.prefix + "sessions:expiry_epoch"

    def entry_key(self, token_hash: str) -> str:
        return self.entry_prefix + token_hash

    def user_key(self, hashed_user: str) -> str:
        return f"{self.prefix}sessions:user:{hashed_user}"

    def lookup_call(self, token_hash: str) -> _Call:
        return self._lookup, 3, [self.state_key, self.entry_prefix + token_hash, self.invalidations_key]

    def lookup_reply(self, token_hash: str, reply: bytes | str | None, now: int) -> CachedSession | Miss:
        if reply is None:
            raise self.missing()
        # A client with decode_responses answers a str: the user's length is in bytes.
        raw = reply.encode() if isinstance(reply, str) else reply
        try:
            if raw[:1] == b"1":
                _, epoch, invalidations, expires, session_expires, length, rest = raw.split(b" ", 6)
                if int(expires) > now:
                    size = int(length)
                    return stored_session(rest[:size].decode(), int(session_expires), rest[size:].decode())
            else:
                _, epoch, invalidations = raw.split(b" ")
            return int(epoch), int(invalidations)
        except (ValueError, OverflowError) as error:
            raise StoreCorruptError(self.store.description, f"{self.entry_key(token_hash)}: not a cached session, "
                                                            f"or {self.state_key} cache_epoch and "
                                                            f"{self.invalidations_key} not integers ({error})") \
                from None

    def error(self, error: RedisError, *, writing: bool) -> StoreError:
        """The store's mapping of redis-py's errors, worded for the cache."""
        mapped = self.store.error(error)
        # redis-py says "Error N connecting to ..." when no connection was made.
        if writing and isinstance(mapped, StoreUnavailableError) and "connecting to" not in str(error):
            return StoreUnavailableError(mapped.store, f"{mapped.reason} (the write may have landed; an "
                                                       "invalidation can safely be repeated)", outcome_unknown=True)
        return mapped

    def missing(self) -> StoreStateMissingError:
        return StoreStateMissingError(self.store.description, "the machine's key is gone (deleted, or Redis "
                                                              "restarted without persistence)")

    def fill_call(self, fill: Fill) -> _Call:
        user = fill.session.user
        hashed_user = user_hash(user)
        keys = [self.state_key, self.entry_key(fill.token_hash), self.invalidations_key,
                self.user_key(hashed_user), self.expiry_key, self.stale_key, self.expiry_epoch_key]
        milliseconds = -(-(fill.expires - fill.now) // 1000)  # rounded up: the stored expiry decides, to the µs
        args = [fill.epoch, fill.invalidations, fill.now, fill.token_hash, user, hashed_user, fill.data_json,
                fill.expires, fill.session_expires, milliseconds, self.max_entries, self.prefix]
        return self._fill, len(keys), keys + args

    def fill_reply(self, reply: int) -> bool:
        if reply == -1:
            raise self.missing()
        return reply == 1

    def invalidate_call(self, token_hash: str) -> _Call:
        return self._invalidate, 4, [self.entry_key(token_hash), self.invalidations_key, self.expiry_key,
                                  self.stale_key, token_hash, self.prefix]

    def invalidate_user_call(self, user: str) -> _Call:
        return self._invalidate_user, 4, [self.user_key(user_hash(user)), self.invalidations_key, self.expiry_key,
                                       self.stale_key, user, self.prefix]


class RedisSessions(_RedisSessionLayout):
    """The cache's operations over a `RedisStore`'s client, one script each."""

    store: RedisStore

    def _run(self, call: _Call, *, writing: bool = False) -> Any:
        script, keys, keys_and_args = call
        client: Any = self.store.client  # redis.Redis; execute_command is untyped
        try:
            try:
                # EVALSHA directly: redis-py's evalsha() and Script.__call__ cost microseconds a call.
                return client.execute_command("EVALSHA", script.sha, keys, *keys_and_args)
            except NoScriptError:  # the server lost its scripts (SCRIPT FLUSH, a restart)
                script.sha = client.script_load(script.script)
                return client.execute_command("EVALSHA", script.sha, keys, *keys_and_args)
        except RedisError as error:
            raise self.error(error, writing=writing) from None

    def lookup(self, token_hash: str, now: int) -> CachedSession | Miss:
        return self.lookup_reply(token_hash, self._run(self.lookup_call(token_hash)), now)

    def fill(self, fill: Fill) -> bool:
        return self.fill_reply(self._run(self.fill_call(fill), writing=True))

    def invalidate(self, token_hash: str) -> int:
        return int(self._run(self.invalidate_call(token_hash), writing=True))

    def invalidate_user(self, user: str) -> int:
        return int(self._run(self.invalidate_user_call(user), writing=True))


class AsyncRedisSessions(_RedisSessionLayout):
    """The cache's operations over an `AsyncRedisStore`'s client."""

    store: AsyncRedisStore

    async def _run(self, call: _Call, *, writing: bool = False) -> Any:
        script, keys, keys_and_args = call
        client: Any = self.store.client  # redis.asyncio.Redis
        try:
            try:
                return await client.execute_command("EVALSHA", script.sha, keys, *keys_and_args)
            except NoScriptError:
                script.sha = await client.script_load(script.script)
                return await client.execute_command("EVALSHA", script.sha, keys, *keys_and_args)
        except RedisError as error:
            raise self.error(error, writing=writing) from None

    async def lookup(self, token_hash: str, now: int) -> CachedSession | Miss:
        return self.lookup_reply(token_hash, await self._run(self.lookup_call(token_hash)), now)

    async def fill(self, fill: Fill) -> bool:
        return self.fill_reply(await self._run(self.fill_call(fill), writing=True))

    async def invalidate(self, token_hash: str) -> int:
        return int(await self._run(self.invalidate_call(token_hash), writing=True))

    async def invalidate_user(self, user: str) -> int:
        return int(await self._run(self.invalidate_user_call(user), writing=True))


class RedisSessionCache(BaseSessionCache):
    """The shared session cache of a `SharedMachine` over a `RedisStore`,
    through the store's client. At most `max_entries` entries per machine
    name: a fill beyond evicts entries of earlier epochs first, then those
    closest to their end (expired ones first)."""

    def __init__(self, machine: SharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if not isinstance(machine, SharedMachine) or not isinstance(machine.store, RedisStore):
            raise wrong_store("RedisSessionCache", "a SharedMachine over a RedisStore", machine)
        super().__init__(machine, RedisSessions(machine.store, max_entries))


class AsyncRedisSessionCache(BaseAsyncSessionCache):
    """`RedisSessionCache` for an `AsyncSharedMachine` over an `AsyncRedisStore`."""

    def __init__(self, machine: AsyncSharedMachine, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if not isinstance(machine, AsyncSharedMachine) or not isinstance(machine.store, AsyncRedisStore):
            raise wrong_store("AsyncRedisSessionCache", "an AsyncSharedMachine over an AsyncRedisStore", machine)
        super().__init__(machine, AsyncRedisSessions(machine.store, max_entries))
