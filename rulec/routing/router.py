"""The routing runtime (分流): R1–R10 over a compiled table and a state store.

`Router(table, store="memory:", seed=0)`; `feed(event)` for agent / reply / conversion
events; `route(chat, trace=False)` returns the decision dict of the contract. The hot path
reads the store once, matches with `table.matcher.match_outcome` (R6 data cached per outcome
id), and writes once (assign: pending + 1 and the buyer's last contact, atomically). A trace
(R10) is built on the side: it never changes a decision. docs/routing.md gives the details.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from operator import itemgetter

from rulec.common import vocab as v
from rulec.errors import Diagnostic, InputError, StoreError
from rulec.routing import modes
from rulec.routing.events import _time_cache, check_event, check_state, epoch
from rulec.routing.stores import open_store
from rulec.routing.stores.base import OFFLINE, ONLINE, STATUS_CODES, SUSPENDED, Store
from rulec.routing.trace import Tracer

CACHE_MAX = 65536
COMMIT_TRIES = 16  # decisions retried on a shared store (redis) before giving up


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
        self.seed = seed
        self.rng = random.Random(seed if seed is not None else 0)
        self._random = self.rng.random
        self._owns_store = not isinstance(store, Store)
        self.store = open_store(store, table.shop) if self._owns_store else store
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
        self._read = self.store.read
        self._shared = type(self.store).commit is not Store.commit  # redis: commit may refuse
        self._outcome = None  # the table matcher's match_outcome, bound on first use
        self._cands: dict = {}  # outcome id -> R6 data (see _cand_info)
        self._tracer = Tracer(self)

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
        try:
            buyer = chat["buyer"]
            ts = chat["time"]
            t = _time_cache.get(ts)
            if t is None:
                t = epoch(ts)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                [
                    Diagnostic(
                        "E806",
                        f"chat event is malformed: {exc!r} (needs buyer and time with an offset)",
                    )
                ]
            ) from None
        if not (trace or self._shared):  # the common case, without the trace and retry checks
            contact, status, pending, conv = self._read(buyer)
            if (
                contact is None
                and not self.robot_first
                and ONLINE in status
                and chat.get("exclusive_agent") is None
            ):
                # R1 passes, no R2 contact, no R3 exclusive agent, R4 off: R5/R6 directly
                oid = (self._outcome or self._bind_matcher())(chat)
                info = self._cands.get(oid)
                if info is None:
                    info = self._cand_info(oid, chat)
                a, target, step, g = self._r6(info, status, pending, conv, None)
            else:
                a, target, step, g = self._decide_on(chat, t, None, contact, status, pending, conv)
            if a >= 0:
                self.store.assign(a, buyer, t)
            elif step == v.STEP_NOBODY_ONLINE and self.drain and target == v.MESSAGE_POOL:
                self.store.pool_push(buyer, t, json.dumps(chat, ensure_ascii=False))
            return {
                "buyer": buyer,
                "time": ts,
                "target": target,
                "step": step,
                "group": None if g is None else self.g_name[g],
            }
        tr: list[str] | None = [] if trace else None
        if self._shared:
            a, target, step, g = self._decide_shared(chat, buyer, t, tr)
        else:
            a, target, step, g = self._decide(chat, buyer, t, tr)
            if a >= 0:
                self.store.assign(a, buyer, t)
        if a < 0 and step == v.STEP_NOBODY_ONLINE and self.drain and target == v.MESSAGE_POOL:
            self.store.pool_push(buyer, t, json.dumps(chat, ensure_ascii=False))
            if tr is not None:
                tr.append("pool: queued until an agent can take it (drain_pool)")
        d = {
            "buyer": buyer,
            "time": ts,
            "target": target,
            "step": step,
            "group": None if g is None else self.g_name[g],
        }
        if tr is not None:
            d["trace"] = tr
        if self._shared and self.store.degraded:
            d["degraded"] = True
        return d

    def _decide_shared(self, chat, buyer, t, tr):
        """A shared store (redis) commits the decision only if the state it was taken on is
        still current; otherwise decide again on the fresh state (the store bounds retries)."""
        mark = 0 if tr is None else len(tr)
        for _ in range(COMMIT_TRIES):
            res = self._decide(chat, buyer, t, tr)
            if self.store.commit(res[0], buyer, t):
                return res
            if tr is not None:
                del tr[mark:]
                tr.append(
                    "store: the shared state changed meanwhile (another router); decided again"
                )
        raise StoreError(
            [
                Diagnostic(
                    "S913", "the shared state store kept changing; no decision could be committed"
                )
            ]
        )

    def _decide(self, chat, buyer, t, tr):
        """(agent index or -1, target, step, group index or None); no writes."""
        contact, status, pending, conv = self._read(buyer)
        return self._decide_on(chat, t, tr, contact, status, pending, conv)

    def _decide_on(self, chat, t, tr, contact, status, pending, conv):
        """_decide on the state just read."""
        if ONLINE not in status:
            if tr is not None:
                tr.append(f"R1: no agent of the shop is available → {self.nobody}")
            return -1, self.nobody, v.STEP_NOBODY_ONLINE, None
        if tr is not None:
            self._tracer.r1(status, tr)
        if contact is not None:
            res = self._sticky(contact, t, status, pending, conv, tr)
            if res is not None:
                return res
        elif tr is not None:
            tr.append("R2: no earlier human contact")
        ex = chat.get("exclusive_agent")
        if ex is not None:
            i = self.index.get(ex)
            if self.exclusive_direct and i is not None and status[i] == ONLINE:
                if tr is not None:
                    tr.append(f"R3: exclusive agent {ex} is available → agent:{ex}")
                return i, self.targets[i], v.STEP_EXCLUSIVE, None
            if tr is not None:
                self._tracer.exclusive_miss(ex, i, status, tr)
        if self.robot_first:
            if tr is not None:
                tr.append("R4: robot_first is on → robot")
            return -1, v.ROBOT, v.STEP_ROBOT_FIRST, None
        oid = (self._outcome or self._bind_matcher())(chat)
        info = self._cands.get(oid)
        if info is None:
            info = self._cand_info(oid, chat)
        if tr is not None:
            cands = info[7]
            self._tracer.r5(chat, cands, tr)
            self._tracer.r6(cands, info, status, pending, conv, tr)
        return self._r6(info, status, pending, conv, tr)

    def _bind_matcher(self):
        self._outcome = self.table.matcher.match_outcome
        return self._outcome

    def _cand_info(self, oid, chat):
        """Precomputed R6 data for the candidate set of outcome `oid` (R5 of `chat`): the
        agents of its robot-off groups in declaration order, their running level sums, each
        agent's first such group, the first robot group, the robot-off groups, those in
        conversion mode, the level total and the candidate groups themselves."""
        cands = self.table.matcher.match_indices(chat)
        humans = [g for g in cands if not self.g_robot[g]]
        first = {}
        for g in humans:
            for a in self.g_agents[g]:
                first.setdefault(a, g)
        members = sorted(first)
        robots = [g for g in cands if self.g_robot[g]]
        conv_groups = [g for g in humans if self.g_mode[g] == modes.CONVERSION]
        cum = modes.cumulative(members, self.level)
        info = (
            members,
            cum,
            first,
            robots[0] if robots else None,
            humans,
            conv_groups,
            cum[-1] if cum else 0,
            cands,
        )
        if len(self._cands) >= CACHE_MAX:
            self._cands.clear()
        self._cands[oid] = info
        return info

    def _r6(self, info, status, pending, conv, tr):
        """R6/R7 (decision): drop groups with no available agent and no robot; none left →
        fallback_any; only robot groups left → the first one's robot; else the available
        agents of the remaining robot-off groups, in that group's mode when one remains,
        else efficiency. A group without an available agent adds no available agent, so
        the union of all robot-off candidates has exactly the remaining groups' agents."""
        members, cum, first, robot, humans, conv_groups, total, _ = info
        if conv_groups:
            g = self._only_remaining(humans, status)
            if g is not None and self.g_mode[g] == modes.CONVERSION:
                a = self._conversion(g, status, pending, conv)
                if tr is not None:
                    tr.append(f"chosen: {self.ids[a]}")
                return a, self.targets[a], v.STEP_GROUP, g
        if total:  # the first rejection-sampling try, inline (see modes.draw_efficiency)
            a = members[bisect_right(cum, self._random() * total)]
            if status[a] == ONLINE and pending[a] <= self.busy:
                if tr is not None:
                    tr.append(f"chosen: {self.ids[a]}")
                return a, self.targets[a], v.STEP_GROUP, first[a]
        a = modes.draw_efficiency(
            members, cum, status, pending, self.busy, self.level, self.rng, modes.TRIES - 1
        )
        if a >= 0:
            if tr is not None:
                tr.append(f"chosen: {self.ids[a]}")
            return a, self.targets[a], v.STEP_GROUP, first[a]
        if robot is not None:
            return -1, self.g_robot_target[robot], v.STEP_GROUP_ROBOT, robot
        return self._fallback(status, pending, tr)

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

    def _fallback(self, status, pending, tr):
        if tr is not None:
            self._tracer.fallback(status, pending, tr)
        a = modes.draw_efficiency(
            self.all_agents, self.all_cum, status, pending, self.busy, self.level, self.rng
        )
        if tr is not None:
            tr.append(f"chosen: {self.ids[a]}")
        return a, self.targets[a], v.STEP_FALLBACK_ANY, None

    def _sticky(self, contact, t, status, pending, conv, tr):
        """R2a–R2e; None to continue with R3."""
        ca, ct = contact
        age = t - ct
        st = status[ca]
        if tr is not None:
            self._tracer.r2(ca, age, st, tr)
        if age >= self.window:
            return None
        if age < self.hold:
            if st != OFFLINE:
                return ca, self.targets[ca], v.STEP_STICKY, None  # R2a
        elif st == ONLINE:
            return ca, self.targets[ca], v.STEP_STICKY, None  # R2b
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
                if a < 0:
                    continue
                if tr is not None:
                    self._tracer.sticky_group(g, status, pending, conv, a, tr)
                return a, self.targets[a], v.STEP_STICKY_GROUP, g
            if tr is not None:
                self._tracer.sticky_group_none(ca, tr)
            return None
        if self.robot_first:  # R2d
            return -1, v.ROBOT, v.STEP_STICKY_OFFLINE_ROBOT, None
        return None

    # -- message pool (drain_pool) ------------------------------------------------------
    def _can_serve(self):
        _, status, pending, _ = self.store.read("")
        busy = self.busy
        return any(s == ONLINE and p <= busy for s, p in zip(status, pending))

    def _drain(self, ts, t, trace):
        """Assign queued message-pool chats, oldest first, while a non-busy agent is available.
        Each is routed again from R2 at the time of the event that freed capacity."""
        out = []
        while self.store.pool_len() and self._can_serve():
            buyer, _queued, chat_json = self.store.pool_pop()
            chat = json.loads(chat_json)
            tr = (
                [f"pool_drain: queued at {chat.get('time')}, routed again at {ts}"]
                if trace
                else None
            )
            if self._shared:
                a, target, step, g = self._decide_shared(chat, buyer, t, tr)
            else:
                a, target, step, g = self._decide(chat, buyer, t, tr)
                if a >= 0:
                    self.store.assign(a, buyer, t)
            d = {
                "buyer": buyer,
                "time": ts,
                "target": target,
                "step": "pool_drain",
                "group": None if g is None else self.g_name[g],
                "via": step,
                "queued_at": chat.get("time"),
            }
            if tr is not None:
                d["trace"] = tr
            if self._shared and self.store.degraded:
                d["degraded"] = True
            out.append(d)
        return out
