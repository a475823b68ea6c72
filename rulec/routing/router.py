"""The routing runtime (分流): R1–R10 over a compiled table and a state store.

`Router(table, store="memory:", seed=0)`; `feed(event)` for agent / reply / conversion
events; `route(chat, trace=False)` returns the decision dict of the contract and
`route_many(chats)` those of a run of chats (one group commit on stores that group). Every
chat takes one path, whatever the store: a snapshot of what the decision needs, the
decision (R1–R9, matching with `table.matcher.match_outcome`, R6 data cached per outcome
id), the trace observer (R10; by default one that does nothing), and one commit (decided
again on the fresh state when a shared store refuses it). docs/routing.md gives the details.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from operator import itemgetter

from rulec.common import vocab as v
from rulec.errors import Diagnostic, InputError, StoreError
from rulec.routing import modes
from rulec.routing.events import (
    _time_cache,
    bad_exclusive,
    check_chat,
    check_chat_key,
    check_event,
    check_pool_chat,
    check_state,
)
from rulec.routing.records import Candidates, Choice
from rulec.routing.stores import use_store
from rulec.routing.stores.base import DEGRADED, OFFLINE, ONLINE, STATUS_CODES, SUSPENDED
from rulec.routing.trace import NO_TRACE, Trace, Tracer

CACHE_MAX = 65536
COMMIT_TRIES = 16  # decisions refused by a shared store (redis) before giving up
GROUP_TRIES = 2  # group commits refused before the group is routed chat by chat
MIN_GROUP = 4  # a refused group shrinks the next ones (x1/4, down to this), a committed one
# lets them grow back (x2)


class Router:
    """Routes chats of one shop's table; state lives in `store` (a URL or a Store)."""

    def __init__(self, table, store="memory:", seed=0):
        self.table = table
        body = table.body
        r = body["routing"]
        self.nobody = r["when_nobody_online"]
        self.robot_first = r["robot_first"]
        self.exclusive_direct = r["exclusive_direct"]
        self.busy = r["busy_threshold"]
        self.hold = r["sticky_hold"]
        self.window = r["sticky_window"]
        self.drain = r.get("drain_pool", False)
        agents = body["agents"]
        self.ids = [a["id"] for a in agents]
        self.index = {a: i for i, a in enumerate(self.ids)}
        self.level = [a["level"] for a in agents]
        self.targets = ["agent:" + a for a in self.ids]
        self.all_agents = list(range(len(agents)))
        self.all_cum = modes.cumulative(self.all_agents, self.level)
        groups = body["groups"]
        self.g_name = [g["name"] for g in groups]
        self.g_agents = [sorted({self.index[a] for a in g["agents"]}) for g in groups]
        self.g_cum = [modes.cumulative(m, self.level) for m in self.g_agents]
        self.g_robot = [g["robot"] for g in groups]
        self.g_mode = [
            modes.CONVERSION
            if g["mode"] == v.CONVERSION and len(self.g_agents[i]) > modes.SMALL_GROUP
            else modes.EFFICIENCY
            for i, g in enumerate(groups)
        ]  # C5
        self.g_k = [modes.STRENGTH_K.get(g["strength"], 0.0) for g in groups]
        self._g_rates = [
            (lambda conv, m=tuple(m): tuple(conv[a] for a in m)) if len(m) < 2 else itemgetter(*m)
            for m in self.g_agents
        ]
        self._conv_tables = [None] * len(groups)
        self.g_robot_target = ["group_robot:" + g["name"] for g in groups]
        self.agent_groups = [[] for _ in agents]
        for gi, members in enumerate(self.g_agents):
            for a in members:
                self.agent_groups[a].append(gi)
        self._choices()
        self.seed = seed
        self.rng = random.Random(seed if seed is not None else 0)
        self._random = self.rng.random
        self.store, self._owns_store = use_store(store, table.shop)
        if self.store.shop != table.shop:
            raise StoreError(
                [
                    Diagnostic(
                        "S902",
                        f"store is for shop {self.store.shop!r}, table is for {table.shop!r}",
                    )
                ]
            )
        self.store.attach(self.ids)
        self._snapshot = self.store.snapshot
        self._commit = self.store.commit
        self._outcome = None  # the table matcher's match_outcome, bound on first use
        self._cands: dict = {}  # outcome id -> Candidates (see _cand_info)
        self._tracer = Tracer(self)

    def _choices(self):
        """Every Choice a decision can make, built once (records.Choice)."""
        n, names, targets = range(len(self.ids)), self.g_name, self.targets
        self._nobody = Choice(-1, self.nobody, v.STEP_NOBODY_ONLINE)
        # a chat that finds nobody online waits in the message pool (drain_pool)
        self._to_pool = self._nobody if self.drain and self.nobody == v.MESSAGE_POOL else None
        self._robot_first = Choice(-1, v.ROBOT, v.STEP_ROBOT_FIRST)
        self._offline_robot = Choice(-1, v.ROBOT, v.STEP_STICKY_OFFLINE_ROBOT)
        self._sticky_c = [Choice(a, targets[a], v.STEP_STICKY) for a in n]
        self._exclusive_c = [Choice(a, targets[a], v.STEP_EXCLUSIVE) for a in n]
        self._fallback_c = [Choice(a, targets[a], v.STEP_FALLBACK_ANY) for a in n]
        self._group_robot_c = [
            Choice(-1, self.g_robot_target[g], v.STEP_GROUP_ROBOT, g, names[g])
            for g in range(len(names))
        ]
        self._group_c, self._sticky_group_c = (
            [
                {a: Choice(a, targets[a], step, g, names[g]) for a in m}
                for g, m in enumerate(self.g_agents)
            ]
            for step in (v.STEP_GROUP, v.STEP_STICKY_GROUP)
        )

    # -- setup ---------------------------------------------------------------------------
    def load_state(self, doc) -> None:
        """Apply a `--state` document (contract form); InputError when it is malformed."""
        state, diags = check_state(doc, self.index)
        if diags:
            raise InputError(diags)
        self.apply_state(state)

    def apply_state(self, state) -> None:
        """Apply a state already checked by events.check_state / read_state."""
        for i, rec in state["agents"].items():
            st = rec.get("status")
            self.store.put_agent(
                i,
                None if st is None else STATUS_CODES[st],
                rec.get("pending"),
                rec.get("conversion"),
                clear_conversion="conversion" in rec,
            )
        for buyer, (i, t) in state["contacts"].items():
            self.store.put_contact(buyer, i, t)

    def restart(self, seed=0) -> None:
        """Start again from an empty memory store with the PRNG seeded with `seed`, keeping
        everything precomputed from the table (rulec test runs each test so: building a
        router for a large table costs more than routing a few chats)."""
        from rulec.routing.stores.memory import MemoryStore

        if not isinstance(self.store, MemoryStore):
            raise ValueError("restart needs a memory: store")
        self.store.clear()
        self.seed = seed
        self.rng = random.Random(seed if seed is not None else 0)
        self._random = self.rng.random

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    @property
    def group(self) -> int:
        """Chats worth handing to route_many at once: the store's commit group (1: any)."""
        return self.store.group

    # -- events --------------------------------------------------------------------------
    def feed(self, event, trace=False) -> list:
        """Apply an agent / reply / conversion event (a chat event is routed). Returns the
        decisions it causes: none, except chats drained from the message pool (drain_pool)
        and, for a chat event, its own decision."""
        t = check_event(event, self.index)
        kind = event["type"]
        if kind == "chat":
            return [self.route(event, trace)]
        i = self.index[event["agent"]]
        if kind == "agent":
            self.store.set_status(i, STATUS_CODES[event["status"]])
        elif kind == "reply":
            self.store.reply(i)
        else:
            self.store.set_conversion(i, float(event["rate"]))
            return []
        if self.drain:
            return self._drain(event["time"], t, trace)
        return []

    # -- routing -------------------------------------------------------------------------
    def route(self, chat, trace=False) -> dict:
        """The decision for one chat dict (buyer, time, product, order, intent, crowds, attrs,
        message, exclusive_agent); with trace=True it carries "trace": [strings] (R10)."""
        return self._route(chat, Trace(self._tracer) if trace else NO_TRACE, self._commit)

    def route_many(self, chats, trace=False, group=None) -> list:
        """The decisions for `chats` (a list of chat dicts), in order, exactly as route()
        one by one gives them (E1). A store that commits groups (`store.group` > 1: Redis)
        gets them as groups of up to that many (or `group`) decisions, each in one call, all
        or nothing: a refused group (another process wrote the shop) is decided again from
        the same PRNG state on the fresh state, then chat by chat; while others write, groups
        shrink, and grow back after. Every chat is checked whole, as the CLI checks an events line,
        before any is decided (route() checks what it reads: buyer, time, the exclusive agent
        when R3 is reached, the matching fields through the matcher when R5 is; E840)."""
        for c in chats:
            check_chat(c, self.index)
        out, i = [], 0
        limit = size = max(1, self.store.group if group is None else group)
        while i < len(chats):
            part = chats[i : i + size]
            i += len(part)
            if self.drain or len(part) < 2 or self.store.group < 2 and group is None:
                out += self._one_by_one(part, trace)
                continue
            done, ok = self._group(part, trace)
            out += done
            # another process is writing this shop: smaller groups are refused less often
            size = min(limit, size * 2) if ok else max(MIN_GROUP, size // 4)
        return out

    def _one_by_one(self, chats, trace):
        commit = self._commit
        return [self._route(c, Trace(self._tracer) if trace else NO_TRACE, commit) for c in chats]

    def _group(self, chats, trace):
        """(decisions, whether they went in as one group commit)."""
        store, rng_state = self.store, self.rng.getstate()
        for _ in range(GROUP_TRIES):
            store.begin_group()
            out = [
                self._route(c, Trace(self._tracer) if trace else NO_TRACE, store.stage)
                for c in chats
            ]
            if store.commit_group():
                return out, True
            self.rng.setstate(rng_state)  # the fresh state is in: decide the group again
        return self._one_by_one(chats, trace), False

    def _route(self, chat, obs, commit, drained=None):
        """The one path of every chat on every store: snapshot, decide, let the observer see
        why (R10), commit (`commit`: the store's, or its `stage` inside a group); decided
        again on the fresh state when a shared store refuses. Returns the decision dict (the
        only place one is built). `drained`: (buyer, time text, epoch, queued at) of a chat
        drained from the message pool."""
        if drained is None:
            try:  # the common chat: an ASCII buyer, a time parsed before; else the full check
                buyer = chat["buyer"]
                ts = chat["time"]
                t = _time_cache[ts]
                plain = buyer.isascii() and buyer != ""
            except (KeyError, TypeError, AttributeError):
                plain = False
            if not plain:
                buyer, ts, t = check_chat_key(chat)
            queued_at = None
        else:
            buyer, ts, t, queued_at = drained
        snap = self._snapshot(buyer)
        c = self._decide(chat, t, snap)
        obs.decided(chat, t, snap, c)
        a, target, step, _, group = c
        done = commit(a, buyer, t)
        if not done:
            c, done = self._decide_again(chat, buyer, t, obs, commit)
            a, target, step, _, group = c
        if queued_at is None:
            if c is self._to_pool:
                check_pool_chat(chat)
                self.store.pool_push(buyer, t, json.dumps(chat, ensure_ascii=False))
                obs.queued()
            d = {"buyer": buyer, "time": ts, "target": target, "step": step, "group": group}
        else:
            d = {
                "buyer": buyer,
                "time": ts,
                "target": target,
                "step": "pool_drain",
                "group": group,
                "via": step,
                "queued_at": queued_at,
            }
        if obs.lines is not None:
            d["trace"] = obs.lines
        if done == DEGRADED:
            d["degraded"] = True
        return d

    def _decide_again(self, chat, buyer, t, obs, commit):
        """A shared store refused the commit and took in the fresh state: decide on it,
        again while refused (at most COMMIT_TRIES in all, then S913)."""
        for _ in range(COMMIT_TRIES - 1):
            obs.refused()
            snap = self._snapshot(buyer)
            c = self._decide(chat, t, snap)
            obs.decided(chat, t, snap, c)
            done = commit(c.agent, buyer, t)
            if done:
                return c, done
        raise StoreError(
            [
                Diagnostic(
                    "S913", "the shared state store kept changing; no decision could be committed"
                )
            ]
        )

    def _decide(self, chat, t, snap):
        """R1–R9 on a snapshot (contact, status, pending, conversion): a Choice; no writes."""
        contact, status, pending, conv = snap
        if ONLINE not in status:
            return self._nobody
        if contact is not None:
            c = self._sticky(contact, t, status, pending, conv)
            if c is not None:
                return c
        ex = chat.get("exclusive_agent")
        if ex is not None:
            i = self.index.get(ex) if ex.__class__ is str else bad_exclusive(ex)
            if self.exclusive_direct and i is not None and status[i] == ONLINE:
                return self._exclusive_c[i]
        if self.robot_first:
            return self._robot_first
        info = self._cands.get((self._outcome or self._bind_matcher())(chat))
        return self._r6(info or self._cand_info(chat), status, pending, conv)

    def candidates(self, chat) -> Candidates:
        """R5 of `chat` with its R6 data (cached per match outcome)."""
        return self._cands.get((self._outcome or self._bind_matcher())(chat)) or self._cand_info(
            chat
        )

    def _bind_matcher(self):
        self._outcome = self.table.matcher.match_outcome
        return self._outcome

    def _cand_info(self, chat):
        """Candidates (records.Candidates) of `chat`'s R5 outcome, computed and cached."""
        oid = self._outcome(chat)
        cands = self.table.matcher.match_indices(chat)
        humans = [g for g in cands if not self.g_robot[g]]
        first = {}
        for g in humans:
            for a in self.g_agents[g]:
                first.setdefault(a, g)
        members = sorted(first)
        robots = [g for g in cands if self.g_robot[g]]
        cum = modes.cumulative(members, self.level)
        info = Candidates(
            members,
            cum,
            {a: self._group_c[g][a] for a, g in first.items()},
            robots[0] if robots else None,
            humans,
            [g for g in humans if self.g_mode[g] == modes.CONVERSION],
            cum[-1] if cum else 0,
            cands,
        )
        if len(self._cands) >= CACHE_MAX:
            self._cands.clear()
        self._cands[oid] = info
        return info

    def _r6(self, info, status, pending, conv):
        """R6/R7 (decision): drop groups with no available agent and no robot; none left →
        fallback_any; only robot groups left → the first one's robot; else the available
        agents of the remaining robot-off groups, in that group's mode when one remains,
        else efficiency. A group without an available agent adds no available agent, so
        the union of all robot-off candidates has exactly the remaining groups' agents."""
        members, cum, choice, robot, humans, conv_groups, total, _ = info
        if conv_groups:
            g = self._only_remaining(humans, status)
            if g is not None and self.g_mode[g] == modes.CONVERSION:
                return self._group_c[g][self._conversion(g, status, pending, conv)]
        if total:  # the first rejection-sampling try, inline (see modes.draw_efficiency)
            a = members[bisect_right(cum, self._random() * total)]
            if status[a] == ONLINE and pending[a] <= self.busy:
                return choice[a]
        a = modes.draw_efficiency(
            members, cum, status, pending, self.busy, self.level, self.rng, modes.TRIES - 1
        )
        if a >= 0:
            return choice[a]
        if robot is not None:
            return self._group_robot_c[robot]
        a = modes.draw_efficiency(
            self.all_agents, self.all_cum, status, pending, self.busy, self.level, self.rng
        )
        return self._fallback_c[a]

    def _only_remaining(self, humans, status):
        """The one robot-off group with an available agent, or None (none or several)."""
        found = None
        g_agents = self.g_agents
        for g in humans:
            for a in g_agents[g]:
                if status[a] == ONLINE:
                    if found is not None:
                        return None
                    found = g
                    break
        return found

    def _conversion(self, g, status, pending, conv):
        """R9 in group g; its weights are cached until one of its members' rates changes."""
        members = self.g_agents[g]
        key = self._g_rates[g](conv)
        cached = self._conv_tables[g]
        if cached is None or cached[0] != key:
            cached = self._conv_tables[g] = (
                key,
                *modes.conversion_table(members, self.level, conv, self.g_k[g]),
            )
        return modes.draw_weighted(
            members, cached[1], cached[2], status, pending, self.busy, self.level, self.rng
        )

    def _sticky(self, contact, t, status, pending, conv):
        """R2a–R2e: a Choice, or None to continue with R3."""
        ca, ct = contact
        age = t - ct if t >= ct else 0.0  # a contact later than the chat: age 0 (routing.md)
        if age >= self.window:
            return None
        st = status[ca]
        if age < self.hold:
            if st != OFFLINE:
                return self._sticky_c[ca]  # R2a
        elif st == ONLINE:
            return self._sticky_c[ca]  # R2b
        elif st == SUSPENDED:  # R2c
            for g in self.agent_groups[ca]:
                if self.g_mode[g] == modes.CONVERSION:
                    a = self._conversion(g, status, pending, conv)
                else:
                    a = modes.draw_efficiency(
                        self.g_agents[g],
                        self.g_cum[g],
                        status,
                        pending,
                        self.busy,
                        self.level,
                        self.rng,
                    )
                if a >= 0:
                    return self._sticky_group_c[g][a]
            return None
        if self.robot_first:  # R2d
            return self._offline_robot
        return None

    # -- message pool (drain_pool) ------------------------------------------------------
    def _can_serve(self):
        status, pending, _ = self.store.agent_state()
        busy = self.busy
        return any(s == ONLINE and p <= busy for s, p in zip(status, pending))

    def _queued_chat(self, chat_json):
        """The chat a message-pool entry holds; S922 when the entry is not one."""
        try:
            chat = json.loads(chat_json)
            check_chat_key(chat)
            return chat
        except (ValueError, TypeError, RecursionError, InputError):
            raise StoreError(
                [
                    Diagnostic(
                        "S922",
                        f"state store {self.store.url}: a queued chat in the message pool is "
                        f"damaged: {str(chat_json)[:80]!r}",
                    )
                ]
            ) from None

    def _drain(self, ts, t, trace):
        """Assign queued message-pool chats, oldest first, while a non-busy agent is available.
        Each is routed again from R2 at the time of the event that freed capacity."""
        out = []
        while self.store.pool_len() and self._can_serve():
            item = self.store.pool_pop()
            if item is None:  # emptied meanwhile, or the store lost its server (degraded)
                break
            buyer, _queued, chat_json = item
            chat = self._queued_chat(chat_json)
            queued = chat["time"]
            obs = (
                Trace(self._tracer, f"pool_drain: queued at {queued}, routed again at {ts}")
                if trace
                else NO_TRACE
            )
            out.append(self._route(chat, obs, self._commit, (buyer, ts, t, queued)))
        return out
