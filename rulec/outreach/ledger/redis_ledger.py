"""The Redis ledger (O12, O13): many planners on one shop's ledger, batch-atomic and exactly once.

Keys (one Redis Cluster slot per shop): `rulec:{SHOP}:ledger:meta`, `:camps` (hash name ->
"id|{json state}"), `:cids` (hash id -> name), `:nextid`, `:sends` (hash consumer ->
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
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid

from rulec.common.redis_conn import Conn, Lost, Script, fail, pack
from rulec.outreach.ledger.base import CHANNEL_CODE, CHANNELS, FINISHED, STARTED, Ledger

SCHEMA_VERSION = "1"
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
"""
    % CHUNK
)
# KEYS: locks sends. ARGV: token, ttl ms, consumers...
CLAIM = Script(
    _LIB
    + """
local now, mine = now_ms(), ARGV[1] .. ':'
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and not owned(v, mine) and tonumber(string.match(v, ':(%d+)$') or '0') > now then
    return {0, ARGV[i]}
  end
end
local val = mine .. (now + tonumber(ARGV[2]))
local hist = {}
each_chunk(3, #ARGV, function(i, j)
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
# KEYS: locks sends. ARGV: token, n, the n claimed consumers, then (consumer, sends) pairs
RECORD = Script(
    _LIB
    + """
local mine, n = ARGV[1] .. ':', tonumber(ARGV[2])
for i = 3, n + 2 do
  if not owned(redis.call('HGET', KEYS[1], ARGV[i]), mine) then return {-1, ARGV[i]} end
end
local new = {}
for i = n + 3, #ARGV, 2 do
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
each_chunk(3, n + 2, function(i, j) redis.call('HDEL', KEYS[1], unpack(ARGV, i, j)) end)
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
# KEYS: camps cids nextid. ARGV: (name, state json) pairs; a name already there is kept
OPEN = Script("""
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    local id = redis.call('INCR', KEYS[3])
    redis.call('HSET', KEYS[2], id, ARGV[i])
    redis.call('HSET', KEYS[1], ARGV[i], id .. '|' .. ARGV[i + 1])
  end
end
return redis.call('HGETALL', KEYS[1])
""")
# KEYS: camps. ARGV: finished_at, names... (only `started` ones change)
FINISH = Script(
    """
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local bar = string.find(v, '|', 1, true)
    local st = cjson.decode(string.sub(v, bar + 1))
    if st['status'] == '%s' then
      st['status'] = '%s'
      st['finished_at'] = ARGV[1]
      redis.call('HSET', KEYS[1], ARGV[i], string.sub(v, 1, bar) .. cjson.encode(st))
    end
  end
end
return 1
"""
    % (STARTED, FINISHED)
)


def _now():
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class RedisLedger(Ledger):
    """Ledger in Redis for one shop; see the module docstring."""

    def __init__(self, url: str, shop: str):
        if not isinstance(shop, str) or not shop or "{" in shop or "}" in shop:
            raise fail("S900", f"shop {shop!r} cannot name Redis keys (no braces, not empty)")
        self.shop = shop
        self._conn = Conn(url, "ledger")
        self.url, self.opts = self._conn.shown, self._conn.opts
        base = f"{self.opts['prefix']}:{{{shop}}}:ledger:"
        self.k_meta, self.k_camps, self.k_cids, self.k_next, self.k_sends, self.k_locks = (
            base + k for k in ("meta", "camps", "cids", "nextid", "sends", "locks")
        )
        self.token = f"{uuid.uuid4().hex}.{os.getpid()}"
        self.ttl_ms = int(self.opts["lock_ttl"] * 1000)
        self._names: dict = {}  # campaign id (str) -> name
        self._ids: dict = {}  # name -> id (str)
        self._conn.connect()
        self._check_meta()

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, packed):
        try:
            return self._conn.call(packed)
        except Lost as exc:
            raise self._lost(exc) from None

    def _script(self, script, keys, args):
        try:
            return self._conn.script(script, keys, args)
        except Lost as exc:
            raise self._lost(exc) from None

    def _lost(self, exc):
        return fail(
            "S911",
            f"ledger {self.url}: connection to Redis lost ({exc.reason}); the "
            "batch in progress was not recorded - run the same command again "
            "to complete the plan",
        )

    def _check_meta(self):
        flat = self._call(pack("HGETALL", self.k_meta))
        meta = dict(zip(flat[::2], flat[1::2]))
        if not meta:
            self._call(
                pack(
                    "HSET",
                    self.k_meta,
                    "schema",
                    SCHEMA_VERSION,
                    "shop",
                    self.shop,
                    "created",
                    _now(),
                )
            )
        elif meta.get("schema") != SCHEMA_VERSION:
            raise fail(
                "S903",
                f"ledger {self.url} has schema {meta.get('schema')!r} for shop "
                f"{self.shop!r}; this rulec reads schema {SCHEMA_VERSION}",
            )

    def _parse_camps(self, flat) -> dict:
        out = {}
        for name, v in zip(flat[::2], flat[1::2]):
            cid, _, doc = v.partition("|")
            st = json.loads(doc)
            self._names[cid], self._ids[name] = name, cid
            out[name] = (st["status"], st.get("reason"))
        return out

    # -- campaigns --------------------------------------------------------------------------
    def campaign_states(self) -> dict:
        return self._parse_camps(self._call(pack("HGETALL", self.k_camps)))

    def open_campaigns(self, wanted: dict) -> dict:
        if not wanted:
            return {}
        now = _now()
        args = []
        for name, (status, reason, send_at) in wanted.items():
            args += [
                name,
                json.dumps(
                    {"status": status, "reason": reason, "send_at": send_at, "opened_at": now},
                    ensure_ascii=False,
                ),
            ]
        states = self._parse_camps(
            self._script(OPEN, (self.k_camps, self.k_cids, self.k_next), args)
        )
        return {n: states[n] for n in wanted}

    def finish_campaigns(self, names) -> None:
        names = list(names)
        if names:
            self._script(FINISH, (self.k_camps,), [_now(), *names])

    # -- sends ------------------------------------------------------------------------------
    def _entries(self, text):
        """[(campaign name, channel, at)] from a stored history."""
        out = []
        for item in text.split(";")[1:]:
            cid, ch, at = item.split(",")
            name = self._names.get(cid)
            if name is None:
                self.campaign_states()
                name = self._names.get(cid, f"#{cid}")
            out.append((name, CHANNELS[int(ch)], int(at)))
        return out

    def _claim(self, uniq):
        deadline = time.monotonic() + self.opts["lock_ttl"] + 5.0
        pause = 0.001
        while True:
            reply = self._script(
                CLAIM, (self.k_locks, self.k_sends), [self.token, self.ttl_ms, *uniq]
            )
            if reply[0] == 1:
                return reply[1]
            if time.monotonic() > deadline:
                raise fail(
                    "S907",
                    f"ledger {self.url}: consumer {reply[1]!r} stayed locked by "
                    "another planner past lock_ttl; try again",
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def decide_and_record(self, consumers, decide, emit=None) -> list:
        uniq = list(dict.fromkeys(consumers))
        if not uniq:
            records = decide({})
            if emit is not None:
                emit()
            return records
        hist_texts = self._claim(uniq)
        try:
            history = {c: self._entries(h) for c, h in zip(uniq, hist_texts) if h}
            records = decide(history)
            per = {}
            for name, consumer, channel, at in records:
                cid = self._ids.get(name)
                if cid is None:
                    raise fail("S905", f"campaign {name!r} was never opened in this ledger")
                per[consumer] = per.get(consumer, "") + f";{cid},{CHANNEL_CODE[channel]},{int(at)}"
            if emit is not None:
                emit()
        except BaseException:
            self._release(uniq)
            raise
        args = [self.token, len(uniq), *uniq]
        for consumer, text in per.items():
            args += [consumer, text]
        reply = self._script(RECORD, (self.k_locks, self.k_sends), args)
        if reply[0] == -1:
            raise fail(
                "S906",
                f"ledger {self.url}: this planner's lock on consumer "
                f"{reply[1]!r} was taken over (the batch took longer than "
                f"lock_ttl={self.opts['lock_ttl']:g}s); its sends were printed "
                "but not recorded",
            )
        if reply[0] == -2:
            raise fail(
                "S906", f"ledger {self.url}: a send of consumer {reply[1]!r} was recorded twice"
            )
        return records

    def _release(self, uniq):
        try:
            self._conn.script(RELEASE, (self.k_locks,), [self.token, *uniq])
        except Exception:
            pass

    def sends(self, campaign=None) -> list:
        out, cursor = [], "0"
        self.campaign_states()
        while True:
            cursor, flat = self._call(pack("HSCAN", self.k_sends, cursor, "COUNT", 2000))
            for consumer, text in zip(flat[::2], flat[1::2]):
                for name, ch, at in self._entries(text):
                    if campaign is None or name == campaign:
                        out.append((name, consumer, ch, at))
            if cursor == "0":
                return out

    def close(self) -> None:
        self._conn.close()
