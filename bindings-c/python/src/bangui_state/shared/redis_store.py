"""`RedisStore` and `AsyncRedisStore`: a machine in Redis (or Valkey), for
workers on any number of hosts. Needs redis-py (`pip install "bangui-state[redis]"`).

Keys, all with the hash tag `{name}` so that Redis Cluster keeps them on one
slot (docs/shared-stores.md has the full layout):

    {name}:state    hash: revision, state, cache_epoch, commit_id
    {name}:log      stream: entry id "<revision>-0", fields now, event, commit_id[, state]
    {name}:commits  pub/sub channel: the new revision, after each commit

Every write is one Lua script run with EVALSHA (redis-py's `Script` loads it
again on NOSCRIPT), so the compare-and-set, the log entry, the trim and the
notification happen atomically. The client (address, auth, TLS, timeouts,
decode_responses either way) is the host's: a `redis.Redis`, or a
`redis.cluster.RedisCluster` for a Redis Cluster (the asyncio twins for
`AsyncRedisStore`).

`wait_replicas=n` makes a commit count only once `n` replicas have it (`WAIT`
on the commit's own connection, after the script): a failover then cannot
lose an acknowledged commit as long as a replica that confirmed it is the one
promoted (docs/shared-stores.md says when that holds).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import AskError, ClusterError, NoScriptError, ReadOnlyError, RedisClusterException, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, TryAgainError
from redis.exceptions import TimeoutError as RedisTimeoutError

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

# Reads the machine's revision and cache epoch (h[1], h[2]; false if there is
# no machine); refuses a hash that is not this store's. `current()` is the
# reply that hands the whole machine back.
_READ = """
local h = redis.call('HMGET', KEYS[1], 'revision', 'cache_epoch')
"""
_CHECK_STATE = """
if not h[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[1] .. ': the hash has no revision field')
  end
elseif not tonumber(h[1]) or not tonumber(h[2]) then
  return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[1] .. ': revision and cache_epoch must be integers; found '
    .. 'revision ' .. tostring(h[1]) .. ', cache_epoch ' .. tostring(h[2]))
end
local function current()
  local state = redis.call('HGET', KEYS[1], 'state')
  if not state then
    return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[1] .. ': the hash has no state field')
  end
  return {'state', h[1], state, h[2]}
end
"""
_READ_STATE = _READ + _CHECK_STATE

# KEYS: state, log. ARGV: known revision ('' for any). Returns {'missing'} (no machine),
# {'same'} (the stored revision is ARGV[1]) or {'state', revision, state, cache_epoch}.
LOAD_SCRIPT = _READ_STATE + """
if not h[1] then return {'missing'} end
if ARGV[1] ~= '' and h[1] == ARGV[1] then return {'same'} end
return current()
"""

# KEYS: state, log. ARGV: the new machine's state JSON.
# Returns {'created'}, or {'state', revision, state, cache_epoch} if one exists.
CREATE_SCRIPT = _READ_STATE + """
if h[1] then return current() end
local log_type = redis.call('TYPE', KEYS[2])['ok']
if log_type ~= 'none' and log_type ~= 'stream' then
  return redis.error_reply('BANGUI_CORRUPT ' .. KEYS[2] .. ': expected a stream, found a ' .. log_type)
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'revision', '0', 'state', ARGV[1], 'cache_epoch', '0', 'commit_id', '')
return {'created'}
"""

# KEYS: state, log. ARGV: expected revision, state JSON, now, event JSON,
# commit id, then optionally cache_replaced ('1'/'0'), carries_state ('1'/'0'),
# cut (0: no trim), resend ('1'/'0'): trailing ones that are '0' may be left
# out, as they are in most commits (each argument costs the client time).
# Returns the committed revision (an integer), {'missing'}, {'trimmed'}, or
# {'state', ...} on conflict. The common case (the expected revision is
# stored, the epoch is an integer) is the first branch; everything else falls
# through to the checks of _READ_STATE. The log entry is written first: a
# script that fails midway keeps its earlier writes, and XADD is the one write
# that can fail. The channel is the keys' prefix and "commits".
#
# Idempotent per commit id: if this commit id is the commit at the expected
# revision + 1 (the stored one, or a log entry once others followed), the
# commit was sent before and landed: reply that revision, after rewriting the
# stored commit_id with its own value, a write that changes nothing but
# replicates, so that a WAIT after this script covers the earlier commit too.
# If that log entry was trimmed, a resend replies {'trimmed'}.
COMMIT_SCRIPT = _READ + """
if h[1] == ARGV[1] and tonumber(h[2]) then
  local revision = tonumber(ARGV[1]) + 1
  local new = string.format('%d', revision)
  if ARGV[7] == '1' then
    redis.call('XADD', KEYS[2], new .. '-0', 'now', ARGV[3], 'event', ARGV[4], 'commit_id', ARGV[5], 'state', ARGV[2])
  else
    redis.call('XADD', KEYS[2], new .. '-0', 'now', ARGV[3], 'event', ARGV[4], 'commit_id', ARGV[5])
  end
  if ARGV[6] == '1' then
    redis.call('HSET', KEYS[1], 'revision', new, 'state', ARGV[2], 'cache_epoch', new, 'commit_id', ARGV[5])
  else
    redis.call('HSET', KEYS[1], 'revision', new, 'state', ARGV[2], 'commit_id', ARGV[5])
  end
  local cut = tonumber(ARGV[8] or '0')
  if cut > 0 then redis.call('XTRIM', KEYS[2], 'MAXLEN', revision - cut + 1) end
  redis.call('PUBLISH', string.sub(KEYS[1], 1, -6) .. 'commits', new)
  return revision
end
""" + _CHECK_STATE + """
if not h[1] then return {'missing'} end
local mine = tonumber(ARGV[1]) + 1
local stored = tonumber(h[1])
if stored >= mine then
  local id = redis.call('HGET', KEYS[1], 'commit_id')
  local found = id
  if stored > mine then
    local at = string.format('%d-0', mine)
    local entry = redis.call('XRANGE', KEYS[2], at, at)
    found = nil
    if entry[1] then
      local fields = entry[1][2]
      for i = 1, #fields, 2 do
        if fields[i] == 'commit_id' then found = fields[i + 1] end
      end
    elseif ARGV[9] == '1' then
      return {'trimmed'}
    end
  end
  if found == ARGV[5] then
    redis.call('HSET', KEYS[1], 'commit_id', id or '')
    return mine
  end
end
return current()
"""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# Errors of a Redis Cluster between a master's failure and its replica's
# promotion (or a slot moving): the store is out of reach for now.
_CLUSTER_ERRORS = (ClusterError, TryAgainError, ReadOnlyError, AskError, RedisClusterException)


def _check_wait(wait_replicas: int, wait_timeout_ms: int) -> None:
    if isinstance(wait_replicas, bool) or not isinstance(wait_replicas, int) or wait_replicas < 0:
        raise ValueError(f"wait_replicas: expected an int >= 0, got {wait_replicas!r}")
    if isinstance(wait_timeout_ms, bool) or not isinstance(wait_timeout_ms, int) or wait_timeout_ms < 1:
        raise ValueError(f"wait_timeout_ms: expected an int >= 1 (WAIT 0 would block forever), "
                         f"got {wait_timeout_ms!r}")


def _sends_once(client: Any) -> bool:
    """Whether the client sends each command once (no retries of its own):
    then a connection error while connecting means nothing was sent. A
    cluster client always retries (on another node, after a failover)."""
    get_retry = getattr(client, "get_retry", None)
    if get_retry is None or isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)):
        return False
    retry = get_retry()
    return retry is None or retry.get_retries() == 0


class _Layout:
    """Key names, script arguments and reply parsing shared by both stores."""

    def __init__(self, client: Any, name: str, log_retention: int, wait_replicas: int = 0,
                 wait_timeout_ms: int = 1000) -> None:
        _check_wait(wait_replicas, wait_timeout_ms)
        self.client = client
        self.cluster = isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster))
        self._load = client.register_script(LOAD_SCRIPT)
        self._create = client.register_script(CREATE_SCRIPT)
        self._commit = client.register_script(COMMIT_SCRIPT)
        self.name = check_name(name)
        self.log_retention = check_retention(log_retention)
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.state_key = f"{{{self.name}}}:state"
        self.log_key = f"{{{self.name}}}:log"
        self.channel = f"{{{self.name}}}:commits"
        self.keys = (self.state_key, self.log_key)
        self.description = f"redis store key {self.state_key}"
        self._sends_once = _sends_once(client)
        self._refresh_nodes = False  # a cluster WAIT path met an error: ask the cluster for its slots first

    def snapshot(self, reply: Sequence[Any] | int) -> Snapshot | None:
        """A LOAD/CREATE/COMMIT reply's machine (None for 'same', 'created' or
        a committed revision)."""
        if isinstance(reply, int):
            return None
        tag = _text(reply[0])
        if tag == "missing":
            raise StoreStateMissingError(self.description, "the machine's key is gone (deleted, or Redis restarted "
                                                           "without persistence)")
        if tag != "state":
            return None
        revision, state, epoch = (_text(part) for part in reply[1:4])
        return Snapshot(int(revision), state, int(epoch))

    def commit_args(self, expected_revision: int, proposal: Proposal, resend: bool = False) -> list[Any]:
        revision = expected_revision + 1
        args = [expected_revision, proposal.state_json, proposal.now, proposal.event_json, proposal.commit_id]
        options = [int(proposal.cache_replaced), int(carries_state(revision, self.log_retention)),
                   trim_before(revision, self.log_retention), int(resend)]
        while options and not options[-1]:
            options.pop()
        return args + options

    def commit_reply(self, reply: Any, expected_revision: int, proposal: Proposal, acked: int | None = None) \
            -> Snapshot | None:
        """A COMMIT reply as `commit` returns it; `acked` is WAIT's answer
        (None: not asked)."""
        if not isinstance(reply, int) and _text(reply[0]) == "trimmed":
            raise LogTrimmedError(self.description, f"commit {proposal.commit_id} would be revision "
                                                    f"{expected_revision + 1}, which is no longer in {self.log_key} "
                                                    "(trimmed by log_retention): whether it landed can no longer be "
                                                    "known", proposal.commit_id)
        found = self.snapshot(reply)
        if found is None and acked is not None and acked < self.wait_replicas:
            raise StoreUnavailableError(
                self.description, f"the commit of revision {expected_revision + 1} is on the master, but only "
                                  f"{acked} of wait_replicas={self.wait_replicas} replicas confirmed it within "
                                  f"{self.wait_timeout_ms} ms: a failover now could lose it (the commit's outcome is "
                                  "unknown until a replica confirms it)", outcome_unknown=True)
        return found

    def log_range(self, after_revision: int) -> str:
        return f"{after_revision + 1}-0"

    def commits(self, entries: Any) -> list[Commit]:
        commits = []
        for entry_id, raw in entries or []:
            fields = {_text(k): _text(v) for k, v in raw.items()}
            ident = _text(entry_id)
            where = f"{self.log_key} entry {ident}"
            try:
                revision = int(ident.split("-", 1)[0])
                now = fields["now"]
                event = parse_event(fields["event"], self.description, where)
            except (KeyError, ValueError) as error:
                raise StoreCorruptError(self.description, f"{where}: not a commit ({error!r})") from None
            commits.append(Commit(revision, now, event, fields.get("state")))
        return commits

    def error(self, error: RedisError | RedisClusterException, *, writing: bool = False) -> StoreError:
        message = str(error) or type(error).__name__
        if isinstance(error, (RedisConnectionError, RedisTimeoutError) + _CLUSTER_ERRORS):
            if self.cluster:
                self._refresh_nodes = True
            kind = "unreachable" if isinstance(error, (RedisConnectionError, RedisTimeoutError)) else \
                "the cluster cannot serve the key's slot now (failing over?)"
            reason = f"{kind}: {message}"
            # redis-py says "Error N connecting to ..." when no connection was
            # made; if the client retries on its own, an earlier try may have
            # been sent all the same.
            unknown = writing and not (self._sends_once and (
                "connecting to" in message or isinstance(error, (ResponseError, RedisClusterException))))
            if unknown:
                reason += " (the commit may have landed)"
            return StoreUnavailableError(self.description, reason, outcome_unknown=unknown)
        if isinstance(error, ResponseError) and ("BANGUI_CORRUPT" in message or "WRONGTYPE" in message):
            reason = message.split("BANGUI_CORRUPT ", 1)[-1]
            return StoreCorruptError(self.description, f"the stored value is not this store's: {reason}")
        return StoreError(self.description, f"redis refused: {message}")

    def waited(self, reply: Any, acked: Any) -> tuple[Any, int] | None:
        """The answers of a pipelined commit and WAIT: the commit's reply and
        how many replicas have it, or None when the keys' slot moved (try
        again, after asking the cluster for its slots); errors raised. (A lost
        script is the caller's to load again, sync or async.)"""
        if isinstance(reply, AskError):  # the slot moved (MovedError is an AskError)
            self._refresh_nodes = True
            return None
        if isinstance(reply, Exception):
            raise reply
        if isinstance(acked, Exception):
            raise acked
        return reply, int(acked)

    def wait_command(self) -> tuple[Any, ...]:
        return ("WAIT", self.wait_replicas, self.wait_timeout_ms)


SyncClient = Union["redis.Redis", "redis.cluster.RedisCluster"]
AsyncClient = Union["redis.asyncio.Redis", "redis.asyncio.cluster.RedisCluster"]


class RedisStore(_Layout):
    """A machine named `name` in the Redis server behind `client` (a
    `redis.Redis`, or a `redis.cluster.RedisCluster`, that the host made and
    owns; `close()` leaves it open).

    `wait_replicas`: a commit counts once that many replicas confirm it
    (`WAIT wait_replicas wait_timeout_ms` after it); until then its outcome is
    unknown, and the step sends it again until confirmed or `resolve_timeout`."""

    client: Any  # SyncClient; redis-py's cluster client is typed loosely

    def __init__(self, client: SyncClient, *, name: str = DEFAULT_NAME,
                 log_retention: int = DEFAULT_LOG_RETENTION, wait_replicas: int = 0,
                 wait_timeout_ms: int = 1000) -> None:
        super().__init__(client, name, log_retention, wait_replicas, wait_timeout_ms)

    def _call(self, script: Any, args: list[Any], *, writing: bool = False) -> Any:
        # EVALSHA directly: redis-py's Script.__call__ costs ~3 us a call on top.
        try:
            try:
                return self.client.evalsha(script.sha, 2, *self.keys, *args)
            except NoScriptError:  # the server lost its scripts (SCRIPT FLUSH, a restart)
                script.sha = self.client.script_load(script.script)
                return self.client.evalsha(script.sha, 2, *self.keys, *args)
        except (RedisError, RedisClusterException) as error:
            raise self.error(error, writing=writing) from None

    def _node_client(self) -> Any:
        """A client on the connection(s) of the node serving the keys: the
        client itself, or a cluster's client of that master."""
        if not self.cluster:
            return self.client
        if self._refresh_nodes:
            self.client.nodes_manager.initialize()
            self._refresh_nodes = False
        return self.client.get_redis_connection(self.client.get_node_from_key(self.state_key))

    def _commit_waiting(self, args: list[Any]) -> tuple[Any, int]:
        """The commit script and WAIT on one connection (a pipeline, not a
        transaction): WAIT counts the replicas that have this connection's
        writes."""
        try:
            for _ in range(3):
                node = self._node_client()
                pipe = node.pipeline(transaction=False)
                pipe.evalsha(self._commit.sha, 2, *self.keys, *args)
                pipe.execute_command(*self.wait_command())
                reply, acked = pipe.execute(raise_on_error=False)
                if isinstance(reply, NoScriptError):
                    self._commit.sha = node.script_load(self._commit.script)
                    continue
                waited = self.waited(reply, acked)
                if waited is not None:
                    return waited
            raise TryAgainError("the slot of the keys kept moving")
        except (RedisError, RedisClusterException) as error:
            raise self.error(error, writing=True) from None

    def load(self) -> Snapshot | None:
        reply = self._call(self._load, [""])
        return None if _text(reply[0]) == "missing" else self.snapshot(reply)

    def load_if_newer(self, revision: int) -> Snapshot | None:
        # A plain HGET answers the common case (still current) without running
        # Lua; the script reads (and checks) the machine otherwise.
        try:
            current = self.client.hget(self.state_key, "revision")
        except (RedisError, RedisClusterException) as error:
            raise self.error(error) from None
        if current is not None and _text(current) == str(revision):
            return None
        return self.snapshot(self._call(self._load, [revision]))

    def create(self, state_json: str) -> Snapshot | None:
        return self.snapshot(self._call(self._create, [state_json], writing=True))

    def commit(self, expected_revision: int, proposal: Proposal, *, resend: bool = False) -> Snapshot | None:
        args = self.commit_args(expected_revision, proposal, resend)
        if self.wait_replicas:
            reply, acked = self._commit_waiting(args)
            return self.commit_reply(reply, expected_revision, proposal, acked)
        return self.commit_reply(self._call(self._commit, args, writing=True), expected_revision, proposal)

    def read_log(self, after_revision: int = 0, limit: int | None = None) -> list[Commit]:
        try:
            entries = self.client.xrange(self.log_key, self.log_range(after_revision), "+", count=limit)
        except (RedisError, RedisClusterException) as error:
            raise self.error(error) from None
        return self.commits(entries)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<RedisStore {self.description}>"


class AsyncRedisStore(_Layout):
    """`RedisStore` over a `redis.asyncio.Redis` or
    `redis.asyncio.cluster.RedisCluster` client (the host's); watchers
    subscribe to the commit channel."""

    client: Any  # AsyncClient

    def __init__(self, client: AsyncClient, *, name: str = DEFAULT_NAME,
                 log_retention: int = DEFAULT_LOG_RETENTION, wait_replicas: int = 0,
                 wait_timeout_ms: int = 1000) -> None:
        super().__init__(client, name, log_retention, wait_replicas, wait_timeout_ms)

    async def _call(self, script: Any, args: list[Any], *, writing: bool = False) -> Any:
        try:
            try:
                return await self.client.evalsha(script.sha, 2, *self.keys, *args)
            except NoScriptError:  # the server lost its scripts (SCRIPT FLUSH, a restart)
                script.sha = await self.client.script_load(script.script)
                return await self.client.evalsha(script.sha, 2, *self.keys, *args)
        except (RedisError, RedisClusterException) as error:
            raise self.error(error, writing=writing) from None

    async def _commit_waiting(self, args: list[Any]) -> tuple[Any, int]:
        try:
            for _ in range(3):
                if self.cluster:
                    reply, acked = await self._cluster_pair(args)
                else:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.evalsha(self._commit.sha, 2, *self.keys, *args)
                    pipe.execute_command(*self.wait_command())
                    reply, acked = await pipe.execute(raise_on_error=False)
                if isinstance(reply, NoScriptError):
                    self._commit.sha = await self.client.script_load(self._commit.script)
                    continue
                waited = self.waited(reply, acked)
                if waited is not None:
                    return waited
            raise TryAgainError("the slot of the keys kept moving")
        except (RedisError, RedisClusterException) as error:
            raise self.error(error, writing=True) from None

    async def _cluster_pair(self, args: list[Any]) -> tuple[Any, Any]:
        """EVALSHA and WAIT on one connection of the master serving the keys
        (the asyncio cluster client has no per-node pipeline that keeps WAIT
        on the script's connection)."""
        if self._refresh_nodes:
            await self.client.nodes_manager.initialize()
            self._refresh_nodes = False
        node = self.client.get_node_from_key(self.state_key)
        connection = node.acquire_connection()
        try:
            await connection.send_packed_command(connection.pack_commands(
                [("EVALSHA", self._commit.sha, 2, *self.keys, *args), self.wait_command()]))
            replies: list[Any] = []
            for _ in range(2):
                try:
                    replies.append(await connection.read_response())
                except ResponseError as error:
                    replies.append(error)
            return replies[0], replies[1]
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            node.release(connection)

    async def load(self) -> Snapshot | None:
        reply = await self._call(self._load, [""])
        return None if _text(reply[0]) == "missing" else self.snapshot(reply)

    async def load_if_newer(self, revision: int) -> Snapshot | None:
        try:
            current = await self.client.hget(self.state_key, "revision")
        except (RedisError, RedisClusterException) as error:
            raise self.error(error) from None
        if current is not None and _text(current) == str(revision):
            return None
        return self.snapshot(await self._call(self._load, [revision]))

    async def create(self, state_json: str) -> Snapshot | None:
        return self.snapshot(await self._call(self._create, [state_json], writing=True))

    async def commit(self, expected_revision: int, proposal: Proposal, *, resend: bool = False) -> Snapshot | None:
        args = self.commit_args(expected_revision, proposal, resend)
        if self.wait_replicas:
            reply, acked = await self._commit_waiting(args)
            return self.commit_reply(reply, expected_revision, proposal, acked)
        return self.commit_reply(await self._call(self._commit, args, writing=True), expected_revision, proposal)

    async def read_log(self, after_revision: int = 0, limit: int | None = None) -> list[Commit]:
        try:
            entries = await self.client.xrange(self.log_key, self.log_range(after_revision), "+", count=limit)
        except (RedisError, RedisClusterException) as error:
            raise self.error(error) from None
        return self.commits(entries)

    def subscribe(self) -> _ChannelSubscription:
        return _ChannelSubscription(self)

    async def aclose(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<AsyncRedisStore {self.description}>"


class _ChannelSubscription:
    """Notifications from the `{name}:commits` channel (subscribed on first wait)."""

    def __init__(self, store: AsyncRedisStore) -> None:
        self._store = store
        self._pubsub: Any = None

    async def wait(self, revision: int, timeout: float) -> None:
        try:
            if self._pubsub is None:
                pubsub = self._store.client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._store.channel)
                self._pubsub = pubsub
                return  # subscribed: the caller reads the log once more, then waits
            await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        except (RedisError, RedisClusterException) as error:
            await self.aclose()
            raise self._store.error(error) from None

    async def aclose(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except (RedisError, RedisClusterException):
                pass
