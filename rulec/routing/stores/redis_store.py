"""`redis://host:port/db` store: one shop's routing state shared by many router processes.

Keys (one Redis Cluster slot per shop through the hash tag): `rulec:{SHOP}:ver` (a version
bumped by every agent-state write), `:status`, `:pending`, `:conv` (hashes by agent id),
`:contacts` (hash buyer -> "time|agent id"), `:pool` (list), `:meta`.

One round trip per decision. `snapshot` answers from this process's copy of the agent state and
its cache of contacts (a buyer not cached is assumed to have none); `commit` sends the
decision to a Lua script that applies it only if the copy was current: the shop's version
is the one the copy was taken at AND the buyer's stored contact is the one assumed. Otherwise
the script answers with the fresh state in the same round trip, `commit` answers REFUSED and
the router decides again (a later forced commit bounds the retries). So two routers never
assign on a stale view: an agent is never pushed past what the rules allow, and a buyer
assigned by one router is sticky in every other.

Faults: Redis unreachable at start -> StoreError S910. Lost mid-run: `?on_error=fail`
(default) raises S911; `?on_error=degrade` keeps routing from the last known agent statuses
with no stickiness and no pending (commits answer DEGRADED, and the router flags each decision),
trying Redis again every `retry` seconds; state changes made meanwhile stay in this process.
On a Redis Cluster (`redis+cluster://`) reads are sent again on the master promoted after a
failover; a commit whose connection was lost may have run, so it is not: S911 or degraded
routing as above, then the new master (docs/deploy.md, "Failover").
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Sequence
from typing import Any, NoReturn

from rulec.common.redis_conn import Lost, Script, open_conn, pack
from rulec.errors import StoreError
from rulec.routing.stores.base import (
    COMMITTED,
    DEGRADED,
    OFFLINE,
    REFUSED,
    AgentState,
    Contact,
    PooledChat,
    Snapshot,
    Store,
)

# a buyer's cached contact: the text stored in Redis ("time|agent id") and what it means
Cached = tuple[str, "Contact | None"]

SCHEMA_VERSION = "1"
MAX_CONFLICTS = 8  # conflicts in a row before a commit is forced (bounds the router's retries)
MAX_CONTACT_CACHE = 500_000

LOG = 1024  # agent ids of the last LOG version bumps (`:log`), for delta refreshes
# KEYS: ver status pending conv contacts log. The state as of now for a copy taken at
# version `seen`: the agents changed since (from the log), or all agents.
_STATE = """
local function state(v, c, seen)
  if seen >= 0 and seen <= v and v - seen < %d then
    local ids, got = {}, {}
    if v > seen then
      for _, id in ipairs(redis.call('LRANGE', KEYS[6], 0, v - seen - 1)) do
        if not got[id] then got[id] = true; ids[#ids + 1] = id end
      end
    end
    if #ids == 0 then return {v, c, ids, {}, {}, {}} end
    return {v, c, ids, redis.call('HMGET', KEYS[2], unpack(ids)),
            redis.call('HMGET', KEYS[3], unpack(ids)), redis.call('HMGET', KEYS[4], unpack(ids))}
  end
  return {v, c, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]),
          redis.call('HGETALL', KEYS[4])}
end
local function bump(id)
  redis.call('LPUSH', KEYS[6], id)
  local v = redis.call('INCR', KEYS[1])
  if v %% 64 == 0 then redis.call('LTRIM', KEYS[6], 0, %d) end
  return v
end
""" % (LOG - 100, LOG - 1)
# ARGV: version seen, buyer
FETCH = Script(
    _STATE
    + """
return state(tonumber(redis.call('GET', KEYS[1]) or '0'),
             redis.call('HGET', KEYS[5], ARGV[2]) or '', tonumber(ARGV[1]))
"""
)
# ARGV: version seen, buyer, contact assumed ('' = none), agent id ('' = no assignment),
# new contact, force ('1')
COMMIT = Script(
    _STATE
    + """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local c = redis.call('HGET', KEYS[5], ARGV[2]) or ''
if ARGV[6] == '1' or (v == tonumber(ARGV[1]) and c == ARGV[3]) then
  if ARGV[4] ~= '' then
    redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
    redis.call('HSET', KEYS[5], ARGV[2], ARGV[5])
    return {v, bump(ARGV[4])}
  end
  return {v, v}
end
return state(v, c, tonumber(ARGV[1]))
"""
)
# ARGV: version seen, then per decision: buyer, contact assumed, agent id ('' = none), new
# contact. All or nothing: every assumption holds (in order: a buyer may come twice) or the
# state since `seen` is returned and nothing is written.
COMMIT_MANY = Script(
    _STATE
    + """
local v, seen = tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1])
local ok, now = v == seen, {}
if ok then
  for i = 2, #ARGV, 4 do
    local c = now[ARGV[i]]
    if c == nil then c = redis.call('HGET', KEYS[5], ARGV[i]) or '' end
    if c ~= ARGV[i + 1] then ok = false; break end
    if ARGV[i + 2] ~= '' then now[ARGV[i]] = ARGV[i + 3] end
  end
end
if not ok then return state(v, '', seen) end
local v1 = v
for i = 2, #ARGV, 4 do
  if ARGV[i + 2] ~= '' then
    redis.call('HINCRBY', KEYS[3], ARGV[i + 2], 1)
    redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 3])
    v1 = bump(ARGV[i + 2])
  end
end
return {v, v1}
"""
)
# ARGV: agent id, status, pending, conversion ('' = unchanged), clear conversion, reply
AGENT = Script(
    _STATE
    + """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = ARGV[1]
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], id, ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], id, ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], id, ARGV[4])
elseif ARGV[5] == '1' then redis.call('HDEL', KEYS[4], id) end
local p = -1
if ARGV[6] == '1' then
  p = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  if p > 0 then p = redis.call('HINCRBY', KEYS[3], id, -1) end
end
return {v, bump(id), p}
"""
)


class RedisStore(Store):
    """Shared state in Redis; see the module docstring for keys, round trips and faults."""

    may_refuse = True  # another process may have written the shop since the snapshot

    def __init__(self, url: str, shop: str) -> None:
        super().__init__(shop)
        if not isinstance(shop, str) or not shop or "{" in shop or "}" in shop:
            raise StoreError.of(
                "S900", f"shop {shop!r} cannot name Redis keys (no braces, not empty)"
            )
        self._conn = open_conn(url, "state store")
        self.url, self.opts = self._conn.shown, self._conn.opts
        self.degrade = self.opts["on_error"] == "degrade"
        self.degraded = False
        self.round_trips = 0
        base = f"{self.opts['prefix']}:{{{shop}}}:"
        self.keys = tuple(base + k for k in ("ver", "status", "pending", "conv", "contacts", "log"))
        self.pool_key, self.meta_key = base + "pool", base + "meta"
        self._ver, self._conflicts, self._lost_at = -1, 0, 0.0
        self._contacts: dict[str, Cached] = {}  # buyer -> (stored text, contact or None)
        self.status: list[int] = []
        self.pending: list[int] = []
        self.conversion: list[float | None] = []
        self._zeros: list[int] = []
        self._conn.bind(self.keys[0])  # a Redis Cluster: the shop's slot
        self._conn.connect()
        try:
            self._check_meta()
        except _Degraded:
            raise StoreError.of(
                "S910", f"state store {self.url}: Redis went away while opening"
            ) from None

    # -- plumbing -------------------------------------------------------------------------
    def _call(self, packed: bytes, retry: bool = False) -> Any:
        """One command; `retry`: safe to send again after a cluster failover (a read, or
        a write that sets what it sets)."""
        self.round_trips += 1
        try:
            return self._conn.call(packed, retry)
        except Lost as exc:
            self._lose(exc)

    def _script(
        self, script: Script, keys: tuple[str, ...], args: Sequence[Any], retry: bool = False
    ) -> Any:
        self.round_trips += 1
        try:
            return self._conn.script(script, keys, args, retry)
        except Lost as exc:
            self._lose(exc)

    def _lose(self, exc: Lost) -> NoReturn:
        if not self.degrade:
            raise StoreError.of(
                "S911", f"state store {self.url}: connection to Redis lost: {exc.reason}"
            ) from None
        self.degraded, self._lost_at, self._ver = True, _time.monotonic(), -1
        raise _Degraded

    def _check_meta(self) -> None:
        meta = self._call(pack("HGETALL", self.meta_key), retry=True)
        meta = dict(zip(meta[::2], meta[1::2]))
        if not meta:
            self._call(
                pack("HSET", self.meta_key, "schema", SCHEMA_VERSION, "shop", self.shop), True
            )
        elif meta.get("schema") != SCHEMA_VERSION:
            raise StoreError.of(
                "S903",
                f"state store {self.url}: shop {self.shop!r} has schema "
                f"{meta.get('schema')!r} (this runtime: {SCHEMA_VERSION})",
            )

    def _install(self, reply: list[Any], buyer: str | None = None) -> None:
        """Take the state of a FETCH or failed COMMIT reply into this process's copy: the
        agents changed since the copy's version (6 items) or every agent (5 items)."""
        if buyer is not None:
            self._remember(buyer, reply[1])
        self._ver = reply[0]
        index, status, pending, conversion = (
            self.agent_index,
            self.status,
            self.pending,
            self.conversion,
        )
        if len(reply) == 6:
            for aid, st, p, c in zip(*reply[2:]):
                i = index.get(aid)
                if i is not None:
                    status[i] = OFFLINE if st is None else int(st)
                    pending[i] = 0 if p is None else int(p)
                    conversion[i] = None if c is None else float(c)
            return
        _, _, st, pend, conv = reply
        n = len(self.agent_ids)
        status, pending, conversion = [OFFLINE] * n, [0] * n, [None] * n
        for k, v in zip(st[::2], st[1::2]):
            i = index.get(k)
            if i is not None:
                status[i] = int(v)
        for k, v in zip(pend[::2], pend[1::2]):
            i = index.get(k)
            if i is not None:
                pending[i] = int(v)
        for k, v in zip(conv[::2], conv[1::2]):
            i = index.get(k)
            if i is not None:
                conversion[i] = float(v)
        self.status[:], self.pending[:], self.conversion[:] = status, pending, conversion

    def _remember(self, buyer: str, text: str) -> None:
        if not text:
            self._contacts.pop(buyer, None)
            return
        t, _, aid = text.partition("|")
        i = self.agent_index.get(aid)
        if len(self._contacts) >= MAX_CONTACT_CACHE:
            self._contacts.clear()
        self._contacts[buyer] = (text, None if i is None else (i, float(t)))

    def _refresh(self, buyer: str = "") -> None:
        self._install(self._script(FETCH, self.keys, (self._ver, buyer), True), buyer or None)

    def _recover(self) -> None:
        """Degraded: try Redis again (at most every `retry` seconds)."""
        if _time.monotonic() - self._lost_at < self.opts["retry"]:
            return
        try:
            self._conn.reconnect()
            self._refresh()
        except (_Degraded, Exception):
            self._lost_at = _time.monotonic()
            return
        self.degraded = False

    # -- binding and the hot path ---------------------------------------------------------
    def _attached(self) -> None:
        n = len(self.agent_ids)
        self.status, self.pending = [OFFLINE] * n, [0] * n
        self.conversion = [None] * n
        self._zeros = [0] * n
        self._ver = -1  # a full fetch: agents new to this process have no copy yet
        for buyer, (text, _) in list(self._contacts.items()):  # re-read under the new order
            self._remember(buyer, text)
        try:
            self._refresh()
        except _Degraded:
            pass

    @property
    def group(self) -> int:
        """64 decisions per group commit; 1 while degraded (nothing is shared then)."""
        return 1 if self.degraded else 64

    def snapshot(self, buyer: str) -> Snapshot:
        if self.degraded:
            self._recover()
            if self.degraded:
                return None, self.status, self._zeros, self.conversion
        c = self._contacts.get(buyer)
        return (c[1] if c is not None else None), self.status, self.pending, self.conversion

    def agent_state(self) -> AgentState:
        """Fresh from Redis (pool drain, export); the last known statuses while degraded."""
        if self.degraded:
            self._recover()
        if not self.degraded:
            try:
                self._refresh()
                return self.status, self.pending, self.conversion
            except _Degraded:
                pass
        return self.status, self._zeros, self.conversion

    def commit(self, agent: int, buyer: str, time: float) -> int:
        """Apply the decision taken on the last `snapshot(buyer)` if that snapshot was current
        (COMMITTED); REFUSED (with the fresh state taken in) when it was not, or when Redis
        was lost meanwhile; DEGRADED while Redis is away (nothing is written)."""
        if self.degraded:
            return DEGRADED
        c = self._contacts.get(buyer)
        assumed = c[0] if c is not None else ""
        force = "1" if self._conflicts >= MAX_CONFLICTS else ""
        if agent >= 0:
            aid = self.agent_ids[agent]
            text = f"{time!r}|{aid}"
        else:
            aid = text = ""
        try:
            reply = self._script(COMMIT, self.keys, (self._ver, buyer, assumed, aid, text, force))
        except _Degraded:
            return REFUSED  # decide again, on the degraded view
        if len(reply) == 2:
            if agent >= 0:
                self.pending[agent] += 1
                if len(self._contacts) >= MAX_CONTACT_CACHE:
                    self._contacts.clear()
                self._contacts[buyer] = (text, (agent, time))
            if reply[0] == self._ver:  # else: the log will bring our change with the others
                self._ver = reply[1]
            self._conflicts = 0
            return COMMITTED
        self._conflicts += 1
        self._install(reply, buyer)
        return REFUSED

    # -- commit many (Router.route_many) ----------------------------------------------------
    def begin_group(self) -> None:
        """Start a group of decisions taken on this copy and applied to it as they go."""
        self._staged: list[Any] = []  # per decision: buyer, contact assumed, agent id, contact
        self._undo: tuple[list[int], dict[str, Cached | None]] = (self.pending[:], {})

    def stage(self, agent: int, buyer: str, time: float) -> int:
        """Record one decision of the group (assignment when agent >= 0) in the copy."""
        c = self._contacts.get(buyer)
        self._undo[1].setdefault(buyer, c)
        assumed = c[0] if c is not None else ""
        if agent >= 0:
            aid, text = self.agent_ids[agent], f"{time!r}|{self.agent_ids[agent]}"
            self.pending[agent] += 1
            self._contacts[buyer] = (text, (agent, time))
        else:
            aid = text = ""
        self._staged += (buyer, assumed, aid, text)
        return COMMITTED

    def commit_group(self) -> int:
        """Commit the group in one call if every snapshot it took is still current; otherwise
        undo it in the copy, take in the fresh agent state and return REFUSED (also when
        Redis is away: a degraded store shares nothing, so the group is decided one by one)."""
        staged, self._staged = self._staged, []
        if self.degraded:
            self._unstage()
            return REFUSED
        try:
            reply = self._script(COMMIT_MANY, self.keys, (self._ver, *staged))
        except _Degraded:
            self._unstage()
            return REFUSED
        if len(reply) == 2:
            if reply[0] == self._ver:
                self._ver = reply[1]
            return COMMITTED
        self._unstage()
        self._install(reply)
        return REFUSED

    def _unstage(self) -> None:
        pending, contacts = self._undo
        self.pending[:] = pending
        for buyer, c in contacts.items():
            if c is None:
                self._contacts.pop(buyer, None)
            else:
                self._contacts[buyer] = c

    def assign(self, agent: int, buyer: str, time: float) -> None:
        """Unconditional assignment (pending + 1 and contact, one atomic script)."""
        self._conflicts = MAX_CONFLICTS
        self.commit(agent, buyer, time)

    # -- events ---------------------------------------------------------------------------
    def _agent(
        self,
        agent: int,
        status: int | str = "",
        pending: int | str = "",
        conv: str = "",
        clear: str = "",
        reply: str = "",
    ) -> int | None:
        try:
            v0, v1, p = self._script(
                AGENT, self.keys, (self.agent_ids[agent], status, pending, conv, clear, reply)
            )
        except _Degraded:
            return None
        if v0 == self._ver:
            self._ver = v1
        pending_now: int = p  # -1 unless `reply`
        return pending_now

    def set_status(self, agent: int, status: int) -> None:
        self._agent(agent, status=status)
        self.status[agent] = status

    def set_conversion(self, agent: int, rate: float | None) -> None:
        self._agent(
            agent, conv="" if rate is None else repr(float(rate)), clear="1" if rate is None else ""
        )
        self.conversion[agent] = rate

    def reply(self, agent: int) -> None:
        p = self._agent(agent, reply="1")
        self.pending[agent] = max(self.pending[agent] - 1, 0) if p is None else p

    def put_agent(
        self, agent: int, status: int | None = None, pending: int | None = None,
        conversion: float | None = None, clear_conversion: bool = False,
    ) -> None:  # fmt: skip
        self._agent(
            agent,
            "" if status is None else status,
            "" if pending is None else pending,
            "" if conversion is None else repr(float(conversion)),
            "1" if conversion is None and clear_conversion else "",
        )
        if status is not None:
            self.status[agent] = status
        if pending is not None:
            self.pending[agent] = pending
        if conversion is not None or clear_conversion:
            self.conversion[agent] = conversion

    def put_contact(self, buyer: str, agent: int, time: float) -> None:
        text = f"{time!r}|{self.agent_ids[agent]}"
        try:
            self._call(pack("HSET", self.keys[4], buyer, text))
        except _Degraded:
            return
        self._remember(buyer, text)

    # -- message pool ---------------------------------------------------------------------
    def pool_push(self, buyer: str, time: float, chat_json: str) -> None:
        try:
            self._call(pack("RPUSH", self.pool_key, json.dumps([buyer, time, chat_json])))
        except _Degraded:
            pass

    def pool_pop(self) -> PooledChat | None:
        try:
            item = self._call(pack("LPOP", self.pool_key))
        except _Degraded:
            return None
        if item is None:
            return None
        buyer, time, chat_json = json.loads(item)  # as pool_push wrote it
        return buyer, time, chat_json

    def pool_len(self) -> int:
        if self.degraded:
            return 0
        try:
            n: int = self._call(pack("LLEN", self.pool_key), True)
            return n
        except _Degraded:
            return 0

    # -- inspection -----------------------------------------------------------------------
    def contacts(self) -> list[tuple[str, str, float]]:
        out: list[tuple[str, str, float]] = []
        cursor, index = "0", self.agent_index
        while True:
            try:
                cursor, flat = self._call(pack("HSCAN", self.keys[4], cursor, "COUNT", 2000), True)
            except _Degraded:
                raise StoreError.of(
                    "S911", f"state store {self.url}: Redis is unreachable"
                ) from None
            for b, text in zip(flat[::2], flat[1::2]):
                t, _, aid = text.partition("|")
                if aid in index:
                    out.append((b, aid, float(t)))
            if cursor == "0":
                return sorted(out)

    def close(self) -> None:
        self._conn.close()


class _Degraded(Exception):
    """Internal: Redis was lost and the store went degraded (on_error=degrade)."""
