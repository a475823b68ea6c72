"""The routing runtime (分流): R1–R10 over a compiled table and a state store.

`Router(table, store="memory:", seed=0)`; `feed(event)` for agent / reply / conversion
events; `route(chat, trace=False)` returns the decision dict of the contract. The hot path
reads the store once, matches with `table.matcher.match_indices`, and writes once (assign:
pending + 1 and the buyer's last contact, atomically). docs/routing.md gives the details.
"""
from __future__ import annotations

import json
import random

from rulec.errors import Diagnostic, InputError
from rulec.runtime import modes
from rulec.runtime.events import _time_cache, check_event, check_state, epoch
from rulec.runtime.stores import open_store
from rulec.runtime.stores.base import OFFLINE, ONLINE, STATUS_CODES, STATUS_NAMES, SUSPENDED, Store

_NO_GROUP = None


def _dur(seconds: float) -> str:
    s = int(abs(seconds))
    text = f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
    return "-" + text if seconds < 0 else text


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
        groups = body["groups"]
        self.g_name = [g["name"] for g in groups]
        self.g_agents = [sorted({self.index[a] for a in g["agents"]}) for g in groups]
        self.g_sets = [frozenset(x) for x in self.g_agents]
        self.g_robot = [g["robot"] for g in groups]
        self.g_mode = [modes.CONVERSION if g["mode"] == "conversion"
                       and len(self.g_agents[i]) > modes.SMALL_GROUP else modes.EFFICIENCY
                       for i, g in enumerate(groups)]  # C5
        self.g_k = [modes.STRENGTH_K.get(g["strength"], 0.0) for g in groups]
        self.g_robot_target = ["group_robot:" + g["name"] for g in groups]
        self.agent_groups = [[] for _ in agents]
        for gi, members in enumerate(self.g_agents):
            for a in members:
                self.agent_groups[a].append(gi)
        self.all_agents = list(range(len(agents)))
        self.rng = random.Random(seed if seed is not None else 0)
        self.seed = seed
        self._owns_store = not isinstance(store, Store)
        self.store = open_store(store, table.shop) if self._owns_store else store
        if self.store.shop != table.shop:
            from rulec.errors import StoreError
            raise StoreError([Diagnostic("S902", f"store is for shop {self.store.shop!r}, "
                                                 f"table is for {table.shop!r}")])
        self.store.attach(self.ids)
        self._match = None

    # -- setup ---------------------------------------------------------------------------
    def _matcher(self):
        self._match = self.table.matcher.match_indices
        return self._match

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
            self.store.put_agent(i, None if st is None else STATUS_CODES[st], rec.get("pending"),
                                 rec.get("conversion"), clear_conversion="conversion" in rec)
        for buyer, (i, t) in state["contacts"].items():
            self.store.put_contact(buyer, i, t)

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
            raise InputError([Diagnostic("E806", f"chat event is malformed: {exc!r} "
                                                 "(needs buyer and time with an offset)")]) from None
        tr = [] if trace else None
        a, target, step, g = self._decide(chat, buyer, t, tr)
        if a >= 0:
            self.store.assign(a, buyer, t)
        elif step == "nobody_online" and self.drain and target == "message_pool":
            self.store.pool_push(buyer, t, json.dumps(chat, ensure_ascii=False))
            if tr is not None:
                tr.append("pool: queued until an agent can take it (drain_pool)")
        d = {"buyer": buyer, "time": ts, "target": target, "step": step,
             "group": None if g is None else self.g_name[g]}
        if tr is not None:
            d["trace"] = tr
        return d

    def _decide(self, chat, buyer, t, tr):
        """(agent index or -1, target, step, group index or None); no writes."""
        contact, status, pending, conv = self.store.read(buyer)
        if ONLINE not in status:
            if tr is not None:
                tr.append(f"R1: no agent of the shop is available → {self.nobody}")
            return -1, self.nobody, "nobody_online", None
        if tr is not None:
            n = sum(1 for s in status if s == ONLINE)
            tr.append(f"R1: {n} of {len(status)} agents available")
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
                return i, self.targets[i], "exclusive", None
            if tr is not None:
                tr.append(self._exclusive_miss(ex, i, status))
        if self.robot_first:
            if tr is not None:
                tr.append("R4: robot_first is on → robot")
            return -1, "robot", "robot_first", None
        match = self._match or self._matcher()
        cands = match(chat)
        if tr is not None:
            self._trace_r5(chat, cands, tr)
        if len(cands) == 1:  # fast path: one candidate group
            g = cands[0]
            if self.g_robot[g]:
                if tr is not None:
                    tr.append(f"R6/R7: {self.g_name[g]} has its robot on → group_robot:{self.g_name[g]}")
                return -1, self.g_robot_target[g], "group_robot", g
            pool = [a for a in self.g_agents[g] if status[a] == ONLINE]
            if pool:
                a = self._pick(pool, self.g_mode[g], self.g_k[g], pending, conv, tr,
                               f"R6: pool = available agents of {self.g_name[g]}")
                return a, self.targets[a], "group", g
            if tr is not None:
                tr.append(f"R6: dropped {self.g_name[g]} (no available agent, no robot)")
            return self._fallback(status, pending, conv, tr)
        remaining, humans = [], []
        for g in cands:
            if self.g_robot[g]:
                remaining.append(g)
                continue
            for a in self.g_agents[g]:
                if status[a] == ONLINE:
                    remaining.append(g)
                    humans.append(g)
                    break
        if tr is not None:
            dropped = [self.g_name[g] for g in cands if g not in remaining]
            if dropped:
                tr.append(f"R6: dropped {', '.join(dropped)} (no available agent, no robot)")
        if not remaining:
            return self._fallback(status, pending, conv, tr)
        if not humans:
            g = remaining[0]
            if tr is not None:
                tr.append(f"R6/R7: every remaining group has its robot on → first in "
                          f"declaration order: group_robot:{self.g_name[g]}")
            return -1, self.g_robot_target[g], "group_robot", g
        if len(humans) == 1:
            g = humans[0]
            pool = [a for a in self.g_agents[g] if status[a] == ONLINE]
            a = self._pick(pool, self.g_mode[g], self.g_k[g], pending, conv, tr,
                           f"R6: pool = available agents of {self.g_name[g]} "
                           "(the one remaining robot-off group)")
            return a, self.targets[a], "group", g
        members = set()
        for g in humans:
            members.update(self.g_agents[g])
        pool = [a for a in sorted(members) if status[a] == ONLINE]
        a = self._pick(pool, modes.EFFICIENCY, 0.0, pending, conv, tr,
                       "R6: pool = available agents of "
                       f"{', '.join(self.g_name[g] for g in humans)} (several groups: efficiency)")
        for g in humans:
            if a in self.g_sets[g]:
                return a, self.targets[a], "group", g
        raise AssertionError("chosen agent is in no remaining group")  # pragma: no cover

    def _sticky(self, contact, t, status, pending, conv, tr):
        """R2a–R2e; None to continue with R3."""
        ca, ct = contact
        age = t - ct
        aid = self.ids[ca]
        st = status[ca]
        if tr is not None:
            tr.append(f"R2: last human contact {aid}, age {_dur(age)} (hold {_dur(self.hold)}, "
                      f"window {_dur(self.window)}); {aid} is {STATUS_NAMES[st]}")
        if age >= self.window:
            if tr is not None:
                tr.append("R2: contact is not younger than the window → no stickiness")
            return None
        if age < self.hold:
            if st != OFFLINE:
                if tr is not None:
                    tr.append(f"R2a: within hold and online → agent:{aid}")
                return ca, self.targets[ca], "sticky", None
        elif st == ONLINE:
            if tr is not None:
                tr.append(f"R2b: past hold, within window, available → agent:{aid}")
            return ca, self.targets[ca], "sticky", None
        elif st == SUSPENDED:
            for g in self.agent_groups[ca]:
                pool = [a for a in self.g_agents[g] if status[a] == ONLINE]
                if pool:
                    a = self._pick(pool, self.g_mode[g], self.g_k[g], pending, conv, tr,
                                   f"R2c: {aid} is suspended past hold → same-group pool of "
                                   f"{self.g_name[g]}")
                    return a, self.targets[a], "sticky_group", g
            if tr is not None:
                groups = ", ".join(self.g_name[g] for g in self.agent_groups[ca]) or "no group"
                tr.append(f"R2c: {aid} is suspended past hold; {groups} has no available "
                          "agent → continue with R3")
            return None
        # offline (R2d)
        if self.robot_first:
            if tr is not None:
                tr.append(f"R2d: {aid} is offline and robot_first is on → robot")
            return -1, "robot", "sticky_offline_robot", None
        if tr is not None:
            tr.append(f"R2d: {aid} is offline → continue with R3")
        return None

    def _exclusive_miss(self, ex, i, status):
        if i is None:
            return f"R3: exclusive agent {ex!r} is not an agent of this shop → ignored"
        if not self.exclusive_direct:
            return f"R3: exclusive_direct is off → exclusive agent {ex} not used"
        return f"R3: exclusive agent {ex} is {STATUS_NAMES[status[i]]} → falls through to R4"

    def _fallback(self, status, pending, conv, tr):
        pool = [a for a in self.all_agents if status[a] == ONLINE]
        a = self._pick(pool, modes.EFFICIENCY, 0.0, pending, conv, tr,
                       "R6: no candidate group left → any available agent of the shop "
                       "(fallback_any, efficiency)")
        return a, self.targets[a], "fallback_any", None

    def _pick(self, pool, mode, k, pending, conv, tr, why):
        if tr is not None:
            self._trace_pool(pool, mode, k, pending, conv, tr, why)
        if mode == modes.CONVERSION:
            a = modes.pick_conversion(pool, self.level, pending, conv, self.busy, k, self.rng)
        else:
            a = modes.pick_efficiency(pool, self.level, pending, self.busy, self.rng)
        if tr is not None:
            tr.append(f"chosen: {self.ids[a]}")
        return a

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
            buyer, queued, chat_json = self.store.pool_pop()
            chat = json.loads(chat_json)
            tr = [f"pool_drain: queued at {chat.get('time')}, routed again at {ts}"] \
                if trace else None
            a, target, step, g = self._decide(chat, buyer, t, tr)
            if a >= 0:
                self.store.assign(a, buyer, t)
            d = {"buyer": buyer, "time": ts, "target": target, "step": "pool_drain",
                 "group": None if g is None else self.g_name[g], "via": step,
                 "queued_at": chat.get("time")}
            if tr is not None:
                d["trace"] = tr
            out.append(d)
        return out

    # -- traces (R10) -------------------------------------------------------------------
    def _trace_r5(self, chat, cands, tr):
        names = [self.g_name[g] for g in cands]
        try:
            from rulec.runtime.reference import explain
            ex = explain(self.table.body, chat)
        except ImportError:
            tr.append(f"R5: candidates {names}")
            return
        tr.append(f"R5: crowds {ex.get('crowds', [])}, intents {ex.get('intents', [])}")
        if ex.get("missing"):
            tr.append(f"R5: missing attributes {ex['missing']} (comparisons reading them are false)")
        for step in ex.get("steps", []):
            vals = step.get("values")
            if step.get("skipped"):
                tr.append(f"R5 {step['dim']} {vals}: no candidate group holds it → skipped; "
                          f"candidates {list(step.get('candidates', []))}")
            else:
                tr.append(f"R5 {step['dim']} {vals}: hits {list(step.get('hits', []))} → "
                          f"candidates {list(step.get('candidates', []))}")
        tr.append(f"R5: candidates {names}")

    def _trace_pool(self, pool, mode, k, pending, conv, tr, why):
        tr.append(why)
        if mode == modes.CONVERSION:
            strength = next(s for s, v in modes.STRENGTH_K.items() if v == k)
            tr.append(f"mode: conversion ({strength}: weight = level × (rate + {modes.EPS})^{k:g})")
        else:
            tr.append("mode: efficiency (weight = level)")
        rows, rule = modes.scores(pool, mode, k, self.level, pending, conv, self.busy)
        parts = []
        for a, w, share in rows:
            desc = f"{self.ids[a]} level {self.level[a]} pending {pending[a]}"
            if mode == modes.CONVERSION:
                desc += f" rate {conv[a]}"
            if w is None:
                desc += f" busy (pending > {self.busy})"
            else:
                desc += f" weight {w:.4g} share {share:.2f}"
            parts.append(desc)
        tr.append(f"scores ({rule}): " + "; ".join(parts))
