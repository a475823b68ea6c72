"""The router's decision path in pure Python: the twin of the Cython `_decide.pyx`.

One chat's route (snapshot, R1–R9, the trace observer, the commit, the decision dict) and
the decision itself, over the tables a Router precomputed from its table. The Cython twin
makes the same decisions with the same PRNG draws (tests/routing/test_decide_twins.py);
`Router(..., impl="python")` or RULEC_PURE=1 picks this one. Rare paths (a refused commit,
the message pool) call back into the router, which both twins share.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rulec.routing import modes
from rulec.routing.events import _time_cache, bad_exclusive, check_chat_key
from rulec.routing.stores.base import DEGRADED, OFFLINE, ONLINE, SUSPENDED

if TYPE_CHECKING:
    from rulec.routing.records import Candidates, Choice
    from rulec.routing.router import Router
    from rulec.routing.stores.base import Contact, Snapshot
    from rulec.routing.trace import Chat, NoTrace, Trace

    Commit = Callable[[int, str, float], int]  # a store's commit, or its stage in a group
    Drained = tuple[str, str, float, Any]  # (buyer, time text, epoch, queued at): pool chats


class Decider:
    """The decision path of one router (`router`: its tables, choices and candidate cache)."""

    def __init__(self, router: Router) -> None:
        self.r = r = router
        # the router's tables, fixed once it is built (the candidate cache is filled in place)
        self.index, self.level, self.busy = r.index, r.level, r.busy
        self.hold, self.window = r.hold, r.window
        self.exclusive_direct, self.robot_first = r.exclusive_direct, r.robot_first
        self.g_mode, self.g_agents, self.g_cum = r.g_mode, r.g_agents, r.g_cum
        self.agent_groups, self.all_agents, self.all_cum = r.agent_groups, r.all_agents, r.all_cum
        self.cands, self.snapshot = r._cands, r._snapshot
        self.set_rng(router.rng)
        # the matcher's match_outcome, bound on first use
        self.outcome: Callable[[Chat], int] | None = None

    def set_rng(self, rng: random.Random) -> None:
        """Draw from `rng` (the router's seeded PRNG; Router.restart gives a new one)."""
        self.rng = rng
        self._random = rng.random

    def route(
        self, chat: Chat, obs: NoTrace | Trace, commit: Commit, drained: Drained | None = None
    ) -> dict[str, Any]:
        """The one path of every chat on every store: snapshot, decide, let the observer see
        why (R10), commit (`commit`: the store's, or its `stage` inside a group); decided
        again on the fresh state when a shared store refuses. Returns the decision dict (the
        only place one is built). `drained`: (buyer, time text, epoch, queued at) of a chat
        drained from the message pool."""
        r = self.r
        if drained is None:
            try:  # the common chat: an ASCII buyer, a time parsed before; else the full check
                buyer = chat["buyer"]
                ts = chat["time"]
                t = _time_cache[ts]
                plain = buyer.__class__ is str and buyer.isascii() and buyer != ""
            except (KeyError, TypeError, AttributeError):
                plain = False
            if not plain:
                buyer, ts, t = check_chat_key(chat)
            queued_at = None
        else:
            buyer, ts, t, queued_at = drained
        snap = self.snapshot(buyer)
        c = self.decide(chat, t, snap)
        obs.decided(chat, t, snap, c)
        done = commit(c.agent, buyer, t)
        if not done:
            c, done = r._decide_again(chat, buyer, t, obs, commit)
        _, target, step, _, group = c
        if queued_at is None:
            if c is r._to_pool:
                r._queue(chat, buyer, t, obs)
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

    def decide(self, chat: Chat, t: float, snap: Snapshot) -> Choice:
        """R1–R9 on a snapshot (contact, status, pending, conversion): a Choice; no writes."""
        r = self.r
        contact, status, pending, conv = snap
        if ONLINE not in status:
            return r._nobody
        if contact is not None:
            c = self.sticky(contact, t, status, pending, conv)
            if c is not None:
                return c
        ex = chat.get("exclusive_agent")
        if ex is not None:
            i = self.index.get(ex) if ex.__class__ is str else bad_exclusive(ex)
            if self.exclusive_direct and i is not None and status[i] == ONLINE:
                return r._exclusive_c[i]
        if self.robot_first:
            return r._robot_first
        outcome = self.outcome or self._bind_matcher()
        oid = outcome(chat)
        info = self.cands.get(oid) or r._cand_info(chat, oid)
        return self.r6(info, status, pending, conv)

    def _bind_matcher(self) -> Callable[[Chat], int]:
        self.outcome = self.r.table.matcher.match_outcome
        return self.outcome

    def r6(
        self, info: Candidates, status: list[int], pending: list[int], conv: list[float | None]
    ) -> Choice:
        """R6/R7 (decision): drop groups with no available agent and no robot; none left →
        fallback_any; only robot groups left → the first one's robot; else the available
        agents of the remaining robot-off groups, in that group's mode when one remains,
        else efficiency. A group without an available agent adds no available agent, so
        the union of all robot-off candidates has exactly the remaining groups' agents."""
        r = self.r
        members, cum, choice, robot, humans, conv_groups, total, _ = info
        if conv_groups:
            g = self.only_remaining(humans, status)
            if g is not None and self.g_mode[g] == modes.CONVERSION:
                return r._group_c[g][self.conversion(g, status, pending, conv)]
        busy, level = self.busy, self.level
        if total:  # the first rejection-sampling try, inline (see modes.draw_efficiency)
            a = members[bisect_right(cum, self._random() * total)]
            if status[a] == ONLINE and pending[a] <= busy:
                return choice[a]
        a = modes.draw_efficiency(
            members, cum, status, pending, busy, level, self.rng, modes.TRIES - 1
        )
        if a >= 0:
            return choice[a]
        if robot is not None:
            return r._group_robot_c[robot]
        a = modes.draw_efficiency(
            self.all_agents, self.all_cum, status, pending, busy, level, self.rng
        )
        return r._fallback_c[a]

    def only_remaining(self, humans: list[int], status: list[int]) -> int | None:
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

    def conversion(
        self, g: int, status: list[int], pending: list[int], conv: list[float | None]
    ) -> int:
        """R9 in group g (weights from Router.conversion_weights)."""
        _, weights, cum = self.r.conversion_weights(g, conv)
        return modes.draw_weighted(
            self.g_agents[g], weights, cum, status, pending, self.busy, self.level, self.rng
        )

    def sticky(
        self,
        contact: Contact,
        t: float,
        status: list[int],
        pending: list[int],
        conv: list[float | None],
    ) -> Choice | None:
        """R2a–R2e: a Choice, or None to continue with R3."""
        r = self.r
        ca, ct = contact
        age = t - ct if t >= ct else 0.0  # a contact later than the chat: age 0 (routing.md)
        if age >= self.window:
            return None
        st = status[ca]
        if age < self.hold:
            if st != OFFLINE:
                return r._sticky_c[ca]  # R2a
        elif st == ONLINE:
            return r._sticky_c[ca]  # R2b
        elif st == SUSPENDED:  # R2c
            for g in self.agent_groups[ca]:
                if self.g_mode[g] == modes.CONVERSION:
                    a = self.conversion(g, status, pending, conv)
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
                    return r._sticky_group_c[g][a]
            return None
        if self.robot_first:  # R2d
            return r._offline_robot
        return None
