"""The Redis ledger (O12, O13): many planners on one shop's ledger, batch-atomic and exactly once.

Keys (one Redis Cluster slot per shop): `rulec:{SHOP}:ledger:meta` (format version, shop and
a random ledger identity), `:camps` (hash name -> "id|{json: shards N, send_at, opened_at,
states: {shard I: {status, reason, opened_at, finished_at}}}"), `:cids` (hash id -> name), `:nextid`, `:sends` (hash consumer ->
";campaign id,channel,at" per send) and `:locks` (hash consumer -> "token:expiry ms").

`decide_and_record` keeps the ledger contract (history, decide, emit, then durable) with two
Lua scripts per batch. CLAIM locks the batch's consumers for this planner (all or none; a
consumer locked by another planner means wait and try again) and returns their histories in
the same call; decide and emit run in Python; RECORD checks that every lock is still ours
and that no (campaign, consumer) is already recorded, appends the sends and releases the
locks, in one call. Two planners therefore never decide the same consumer at once, and a
planner that dies between emit and record leaves locks that expire after `lock_ttl` seconds
(URL option, default 10): a re-run then decides that batch again (printing it again, as
with SQLite). With `appendonly yes` and `appendfsync always`, a recorded batch survives a
Redis crash. Redis unreachable at start: S910; lost during a run: S911 (re-run completes).

On a Redis Cluster (`redis+cluster://`, rulec/common/redis_cluster.py) a master lost mid-run
is followed to the replica promoted in its place: calls are sent again there, RECORD in its
`again` form (records the batch unless it is already there). `wait=N/S` WAITs for N
replicas after each commit and, the master lost meanwhile, records the batch again on the
new one; S974 when N replicas do not confirm within S, S975 when the master has fewer than N
(docs/deploy.md, "Failover").

O14: a server that persists nothing (AOF and RDB snapshots off) is refused at start (S943)
unless the ledger is opened `volatile`. Every script checks the ledger identity this planner
opened: a ledger wiped (a server restarted empty) or replaced during the run stops it (S944)
instead of being silently recreated and every send printed again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid

from rulec.common.redis_conn import Lost, Script, open_conn, pack
from rulec.errors import StoreError
from rulec.outreach.ledger import rows
from rulec.outreach.ledger.base import FINISHED, STARTED, WHOLE, Ledger, Packed

SCHEMA_VERSION = "2"
CHUNK = 1000  # elements per unpack() inside the scripts (Lua's stack is bounded)

_LIB = (
    """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function each_chunk(first, last, fn)
  local i = first
  while i <= last do
    local j = math.min(i + %d - 1, last)
    fn(i, j)
    i = j + 1
  end
end
local function owned(v, mine) return v and string.sub(v, 1, #mine) == mine end
local function same_ledger(meta, id) return redis.call('HGET', meta, 'id') == id end
"""
    % CHUNK
)
# KEYS: locks sends meta. ARGV: token, ttl ms, ledger id, consumers...
CLAIM = Script(
    _LIB
    + """
if not same_ledger(KEYS[3], ARGV[3]) then return {-3} end
local now, mine = now_ms(), ARGV[1] .. ':'
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and not owned(v, mine) and tonumber(string.match(v, ':(%d+)$') or '0') > now then
    return {0, ARGV[i], v}
  end
end
local val = mine .. (now + tonumber(ARGV[2]))
local hist = {}
each_chunk(4, #ARGV, function(i, j)
  local kv = {}
  for k = i, j do kv[#kv + 1] = ARGV[k]; kv[#kv + 1] = val end
  redis.call('HSET', KEYS[1], unpack(kv))
  for _, h in ipairs(redis.call('HMGET', KEYS[2], unpack(ARGV, i, j))) do
    hist[#hist + 1] = h or ''
  end
end)
return {1, hist}
"""
)
# KEYS: locks sends meta. ARGV: token, n, ledger id, again, the n claimed consumers, then
# (consumer, sends) pairs. again = '1': this batch's first RECORD was sent and its connection
# lost (a cluster failover), so it may have run, or run and been lost with the old master:
# already there -> done (nothing written); else recorded if no other planner holds a live
# lock (the claim itself may have been lost with the old master).
RECORD = Script(
    _LIB
    + """
if not same_ledger(KEYS[3], ARGV[3]) then return {-3} end
local mine, n, again = ARGV[1] .. ':', tonumber(ARGV[2]), ARGV[4] == '1'
if again then
  local done = true
  for i = n + 5, #ARGV, 2 do
    if not string.find(redis.call('HGET', KEYS[2], ARGV[i]) or '', ARGV[i + 1], 1, true) then
      done = false
      break
    end
  end
  if done then
    for i = 5, n + 4 do
      if owned(redis.call('HGET', KEYS[1], ARGV[i]), mine) then
        redis.call('HDEL', KEYS[1], ARGV[i])
      end
    end
    return {1, 0}
  end
end
local now = now_ms()
for i = 5, n + 4 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if not owned(v, mine) and not (again and
      (not v or tonumber(string.match(v, ':(%d+)$') or '0') <= now)) then
    return {-1, ARGV[i]}
  end
end
local new = {}
for i = n + 5, #ARGV, 2 do
  local h = redis.call('HGET', KEYS[2], ARGV[i]) or ''
  local seen = {}
  for cid in string.gmatch(ARGV[i + 1], ';(%d+),') do
    if seen[cid] or string.find(h, ';' .. cid .. ',', 1, true) then
      return {-2, ARGV[i], cid}
    end
    seen[cid] = true
  end
  new[#new + 1] = ARGV[i]
  new[#new + 1] = h .. ARGV[i + 1]
end
each_chunk(1, #new / 2, function(i, j)
  redis.call('HSET', KEYS[2], unpack(new, 2 * i - 1, 2 * j))
end)
each_chunk(5, n + 4, function(i, j) redis.call('HDEL', KEYS[1], unpack(ARGV, i, j)) end)
return {1, (#new / 2)}
"""
)
# KEYS: locks. ARGV: token, consumers... (release what is still ours)
RELEASE = Script(
    _LIB
    + """
local mine, gone = ARGV[1] .. ':', 0
for i = 2, #ARGV do
  if owned(redis.call('HGET', KEYS[1], ARGV[i]), mine) then
    gone = gone + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return gone
"""
)
# KEYS: camps cids nextid meta. ARGV: ledger id, shard I, N, now, then (name, send_at, status,
# reason or "") quads. A campaign recorded with another N: {0, name, its N}, nothing opened.
OPEN = Script(
    _LIB
    + """
if not same_ledger(KEYS[4], ARGV[1]) then return {-3} end
local shard, n = ARGV[2], tonumber(ARGV[3])
local function split(v)
  local bar = string.find(v, '|', 1, true)
  return string.sub(v, 1, bar - 1), cjson.decode(string.sub(v, bar + 1))
end
for i = 5, #ARGV, 4 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local _, st = split(v)
    if tonumber(st['shards']) ~= n then return {0, ARGV[i], tostring(st['shards'])} end
  end
end
for i = 5, #ARGV, 4 do
  local name, v, id, st = ARGV[i], redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    id, st = split(v)
  else
    id = tostring(redis.call('INCR', KEYS[3]))
    redis.call('HSET', KEYS[2], id, name)
    st = {shards = n, send_at = ARGV[i + 1], opened_at = ARGV[4], states = {}}
  end
  if type(st['states']) ~= 'table' then st['states'] = {} end
  if st['states'][shard] == nil then
    local one = {status = ARGV[i + 2], opened_at = ARGV[4]}
    if ARGV[i + 3] ~= '' then one['reason'] = ARGV[i + 3] end
    st['states'][shard] = one
    redis.call('HSET', KEYS[1], name, id .. '|' .. cjson.encode(st))
  end
end
return {1, redis.call('HGETALL', KEYS[1])}
"""
)
# KEYS: camps meta. ARGV: ledger id, shard I, finished_at, names... (only `started` change)
FINISH = Script(
    _LIB
    + """
if not same_ledger(KEYS[2], ARGV[1]) then return -3 end
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local bar = string.find(v, '|', 1, true)
    local st = cjson.decode(string.sub(v, bar + 1))
    local one = st['states'][ARGV[2]]
    if one and one['status'] == '%s' then
      one['status'] = '%s'
      one['finished_at'] = ARGV[3]
      redis.call('HSET', KEYS[1], ARGV[i], string.sub(v, 1, bar) .. cjson.encode(st))
    end
  end
end
return 1
"""
    % (STARTED, FINISHED)
)
# KEYS: meta camps. ARGV: a new ledger id. Format 1 (one state per campaign, no identity) ->
# 2 (states per shard, all 1 of 1).
# KEYS: meta. ARGV: a new ledger id, schema version, shop, created. Creates the meta record
# unless one exists (two planners opening a fresh ledger: one wins, both read the same record).
CREATE_META = Script("""
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'format', 'rulec-ledger', 'schema', ARGV[2],
             'shop', ARGV[3], 'created', ARGV[4])
end
return redis.call('HGETALL', KEYS[1])
""")
MIGRATE_1 = Script("""
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
  local v = flat[i + 1]
  local bar = string.find(v, '|', 1, true)
  local old = cjson.decode(string.sub(v, bar + 1))
  local st = {shards = 1, send_at = tostring(old['send_at']), opened_at = old['opened_at'],
              states = {['1'] = {status = old['status'], reason = old['reason'],
                                 opened_at = old['opened_at'], finished_at = old['finished_at']}}}
  redis.call('HSET', KEYS[2], flat[i], string.sub(v, 1, bar) .. cjson.encode(st))
end
redis.call('HSET', KEYS[1], 'schema', '2')
redis.call('HSETNX', KEYS[1], 'id', ARGV[1])
return 1
""")


def _now():
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class RedisLedger(Ledger):
    """Ledger in Redis for one shop; see the module docstring."""

    def __init__(self, url: str, shop: str, volatile: bool = False):
        if not isinstance(shop, str) or not shop or "{" in shop or "}" in shop:
            raise StoreError.of(
                "S900", f"shop {shop!r} cannot name Redis keys (no braces, not empty)"
            )
        self.shop = shop
        self._conn = open_conn(url, "ledger")
        self.url, self.opts = self._conn.shown, self._conn.opts
        self.wait = self.opts["wait"]  # (N replicas, seconds) or None
        base = f"{self.opts['prefix']}:{{{shop}}}:ledger:"
        self.k_meta, self.k_camps, self.k_cids, self.k_next, self.k_sends, self.k_locks = (
            base + k for k in ("meta", "camps", "cids", "nextid", "sends", "locks")
        )
        self.token = f"{uuid.uuid4().hex}.{os.getpid()}"
        self.ttl_ms = int(self.opts["lock_ttl"] * 1000)
        self._names: dict = {}  # campaign id (str) -> name
        self._ids: dict = {}  # name -> id (str)
        self._conn.bind(self.k_meta)  # a Redis Cluster: the shop's slot
        self._conn.connect()
        try:
            if not volatile:
                self._check_persistence()
            if self.wait:
                self._check_replicas()
            self.ident = self._check_meta()
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------
    # Every call but RECORD may be sent again after a cluster failover: reads, and scripts
    # that set what they set (CLAIM by the same token, OPEN/FINISH only where not yet done).
    def _call(self, packed):
        try:
            return self._conn.call(packed, True)
        except Lost as exc:
            raise self._lost(exc) from None

    def _script(self, script, keys, args, retry=True):
        try:
            return self._checked(self._conn.script(script, keys, args, retry))
        except Lost as exc:
            raise self._lost(exc) from None

    def _checked(self, reply):
        """A script's reply, or S944 when the script found another ledger identity."""
        if reply == -3 or isinstance(reply, list) and reply[:1] == [-3]:
            raise StoreError.of(
                "S944",
                f"ledger {self.url} is no longer the ledger this run opened (its identity "
                "is gone: the server restarted empty, or the keys were deleted or "
                "replaced); nothing more is recorded - restore the ledger, or plan again "
                "only if the lost history is acceptable",
            )
        return reply

    def _lost(self, exc):
        return StoreError.of(
            "S911",
            f"ledger {self.url}: connection to Redis lost ({exc.reason}); the "
            "batch in progress was not recorded - run the same command again "
            "to complete the plan",
        )

    def _check_persistence(self):
        """O14: a server that keeps writes only in memory loses the ledger on restart; then
        every send would be made again. AOF on, or RDB snapshots configured, is required."""
        try:
            aof = self._call(pack("CONFIG", "GET", "appendonly"))
            save = self._call(pack("CONFIG", "GET", "save"))
            on = (aof[1:2] == ["yes"], bool(save[1:2] and save[1].strip()))
        except StoreError:  # CONFIG renamed or forbidden (managed Redis): ask INFO
            info = self._call(pack("INFO", "persistence"))
            on = ("aof_enabled:1" in info, False)
        if not any(on):
            raise StoreError.of(
                "S943",
                f"ledger {self.url}: the Redis server does not persist writes (appendonly "
                "no and no RDB `save` rule, or they cannot be read); a restart would wipe "
                "the ledger and every send would be made again (O14). Turn on "
                "`appendonly yes` (with `appendfsync always` for exactly once across a "
                "Redis crash), or pass --volatile-ledger to accept the risk",
            )

    def _check_replicas(self):
        """wait=N: refused at start (before anything is planned) when the master serving the
        ledger has fewer than N replicas connected: no commit could be confirmed."""
        info = self._call(pack("INFO", "replication"))
        have = 0
        for line in info.splitlines():
            if line.startswith("connected_slaves:"):
                have = int(line.partition(":")[2] or 0)
        if have < self.wait[0]:
            raise StoreError.of(
                "S975",
                f"ledger {self.url}: wait={self.wait[0]} asks every commit to reach "
                f"{self.wait[0]} replica(s), but the master serving this shop has {have} "
                "connected; nothing was planned (lower wait=, or add replicas)",
            )

    def _durable(self, redo):
        """wait=N/S: return once N replicas have this planner's writes (WAIT). The master
        lost meanwhile (a failover: the write may be gone with it): `redo` writes it again on
        the master now serving the slot, and WAIT again. Fewer than N within S: S974, the
        run stops (docs/deploy.md, "Failover")."""
        if self.wait is None:
            return
        n, seconds = self.wait
        deadline, redone = time.monotonic() + seconds, 0
        while True:
            try:
                # in slices shorter than the socket timeout, which would cut a long WAIT off
                left = min(deadline - time.monotonic(), self.opts["timeout"] / 2)
                got = self._conn.replicas(n, max(left, 0.001))
            except Lost as exc:
                redone += 1
                if redone > 3:
                    raise self._lost(exc) from None
                redo()
                deadline = time.monotonic() + seconds
                continue
            if got >= n:
                return
            if time.monotonic() >= deadline:
                raise StoreError.of(
                    "S974",
                    f"ledger {self.url}: a commit reached {got} of the {n} replica(s) asked "
                    f"(wait={n}/{seconds:g}); the last batch was printed and is recorded on "
                    "the master only, so the run stops here. Run the same command again when "
                    "the replicas are back (a failover before then may lose that one batch)",
                )

    def _check_meta(self) -> str:
        """The ledger identity, after checking the format version and shop (O14)."""
        flat = self._call(pack("HGETALL", self.k_meta))
        meta = dict(zip(flat[::2], flat[1::2]))
        if not meta:
            # Created in one step, so a second planner opening the fresh ledger at the same
            # moment sees either nothing or the whole record, never an id without a version.
            args = [uuid.uuid4().hex, SCHEMA_VERSION, self.shop, _now()]
            flat = self._script(CREATE_META, (self.k_meta,), args)
            meta = dict(zip(flat[::2], flat[1::2]))
            self._durable(lambda: self._script(CREATE_META, (self.k_meta,), args))
        if meta.get("schema") == "1":
            self._script(MIGRATE_1, (self.k_meta, self.k_camps), [uuid.uuid4().hex])
            flat = self._call(pack("HGETALL", self.k_meta))
            meta = dict(zip(flat[::2], flat[1::2]))
        if meta.get("schema") != SCHEMA_VERSION:
            raise StoreError.of(
                "S903",
                f"ledger {self.url} has format version {meta.get('schema')!r} for shop "
                f"{self.shop!r}; this rulec reads versions 1 and {SCHEMA_VERSION}",
            )
        if meta.get("shop") != self.shop or not meta.get("id"):
            raise StoreError.of(
                "S941",
                f"ledger {self.url} is damaged: its meta record names shop "
                f"{meta.get('shop')!r} and identity {meta.get('id')!r}",
            )
        return meta["id"]

    def _parse_camps(self, flat, shard) -> dict:
        out = {}
        for name, v in zip(flat[::2], flat[1::2]):
            try:
                cid, bar, doc = v.partition("|")
                st = json.loads(doc)
                one = st["states"].get(str(shard[0])) or {}
                n = st["shards"]
                done = sum(1 for x in st["states"].values() if x.get("status") == FINISHED)
                status, reason = one.get("status"), one.get("reason")
                if not (bar and cid.isdigit()):
                    raise ValueError(cid)
            except (ValueError, TypeError, KeyError, AttributeError):
                n = status = reason = done = None
            out[name] = rows.campaign_state(self.url, name, n, status, reason, done)
            self._names[cid], self._ids[name] = name, cid
        return out

    # -- campaigns --------------------------------------------------------------------------
    def campaign_states(self, shard=WHOLE) -> dict:
        return self._parse_camps(self._call(pack("HGETALL", self.k_camps)), shard)

    def open_campaigns(self, wanted: dict, shard=WHOLE) -> dict:
        if not wanted:
            return {}
        args = [self.ident, str(shard[0]), shard[1], _now()]
        for name, (status, reason, send_at) in wanted.items():
            args += [name, int(send_at), status, reason or ""]
        keys = (self.k_camps, self.k_cids, self.k_next, self.k_meta)
        reply = self._script(OPEN, keys, args)
        self._durable(lambda: self._script(OPEN, keys, args))
        if reply[0] == 0:
            rows.check_shards(self.url, {reply[1]: int(reply[2])}, shard[1])
        states = self._parse_camps(reply[1], shard)
        return {n: states[n] for n in wanted}

    def finish_campaigns(self, names, shard=WHOLE) -> None:
        names = list(names)
        if names:
            args = [self.ident, str(shard[0]), _now(), *names]
            self._script(FINISH, (self.k_camps, self.k_meta), args)
            self._durable(lambda: self._script(FINISH, (self.k_camps, self.k_meta), args))

    # -- sends ------------------------------------------------------------------------------
    def _entries(self, consumer, text):
        """[(campaign name, channel, at)] from a stored history; S941 when unreadable."""
        return rows.read(text, self._names, self.campaign_states, self.url, consumer)

    def _claim(self, uniq):
        # S907 means one lock outlived its lock_ttl: the wait starts again whenever the lock
        # in the way is another one (planners taking turns on the same consumers, each one
        # live and brief, are progress, not a stuck lock).
        blocker, deadline, pause = None, 0.0, 0.001
        while True:
            reply = self._script(
                CLAIM,
                (self.k_locks, self.k_sends, self.k_meta),
                [self.token, self.ttl_ms, self.ident, *uniq],
            )
            if reply[0] == 1:
                return reply[1]
            if reply[1:] != blocker:
                blocker = reply[1:]
                deadline = time.monotonic() + self.opts["lock_ttl"] + 5.0
            elif time.monotonic() > deadline:
                raise StoreError.of(
                    "S907",
                    f"ledger {self.url}: consumer {reply[1]!r} stayed locked by "
                    "another planner past lock_ttl; try again",
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    packs = True

    def packed_send(self, campaign, channel, at) -> str:
        return rows.campaign_token(self._ids, campaign, channel, at)

    def decide_and_record(self, consumers, decide, emit=None) -> list:
        uniq = list(dict.fromkeys(consumers))
        if not uniq:
            records = decide({})
            if emit is not None:
                emit()
            return records
        hist_texts = self._claim(uniq)
        try:
            history = {c: self._entries(c, h) for c, h in zip(uniq, hist_texts) if h}
            records = decide(history)
            per: dict[str, str] = {}
            if type(records) is Packed:  # RECORD refuses a send already there (S960)
                per = dict(records.rows)
            else:
                for name, consumer, channel, at in records:
                    per[consumer] = per.get(consumer, "") + self.packed_send(name, channel, at)
            if emit is not None:
                emit()
        except BaseException:
            self._release(uniq)
            raise
        args = [self.token, len(uniq), self.ident, "", *uniq]
        for consumer, text in per.items():
            args += [consumer, text]
        self._record(args)
        self._durable(lambda: self._record(args, again=True))
        return records

    def _record(self, args, again=False):
        """RECORD; its connection lost on a Redis Cluster (a failover): RECORD again on the
        master now serving the slot, which records the batch unless it is already there."""
        keys = (self.k_locks, self.k_sends, self.k_meta)
        if not again:
            try:
                reply = self._checked(self._conn.script(RECORD, keys, args))
            except Lost as exc:
                if not self._conn.follows_failover:
                    raise self._lost(exc) from None
                again = True
        if again:
            args[3] = "1"
            reply = self._script(RECORD, keys, args)
        if reply[0] == -1:
            raise StoreError.of(
                "S961",
                f"ledger {self.url}: this planner's lock on consumer "
                f"{reply[1]!r} was taken over (the batch took longer than "
                f"lock_ttl={self.opts['lock_ttl']:g}s); its sends were printed "
                "but not recorded",
            )
        if reply[0] == -2:
            raise StoreError.of(
                "S960", f"ledger {self.url}: a send of consumer {reply[1]!r} was recorded twice"
            )
        return reply

    def _release(self, uniq):
        try:
            self._conn.script(RELEASE, (self.k_locks,), [self.token, *uniq], True)
        except Exception:
            pass

    def sends(self, campaign=None) -> list:
        out, cursor = [], "0"
        self.campaign_states()
        while True:
            cursor, flat = self._call(pack("HSCAN", self.k_sends, cursor, "COUNT", 2000))
            for consumer, text in zip(flat[::2], flat[1::2]):
                for name, ch, at in self._entries(consumer, text):
                    if campaign is None or name == campaign:
                        out.append((name, consumer, ch, at))
            if cursor == "0":
                return out

    def close(self) -> None:
        self._conn.close()
