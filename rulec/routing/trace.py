"""R10 traces of the router: why a decision was made, as lines a person can read.

Tracing is an observer of the router: each decision is shown to it with the snapshot it was
taken on (before the commit changes anything), and the observer explains it from there.
Nothing here changes a decision. The router's default observer, NO_TRACE, does nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rulec.common import vocab as v
from rulec.routing import modes
from rulec.routing.records import Candidates, Choice
from rulec.routing.stores.base import ONLINE, STATUS_NAMES, SUSPENDED, Snapshot

if TYPE_CHECKING:
    from rulec.routing.router import Router

Chat = dict[str, Any]  # a chat event (contract form), checked where it is read


class NoTrace:
    """The do-nothing observer: no trace asked (the decision dict gets no "trace")."""

    lines: list[str] | None = None

    def decided(self, chat: Chat, t: float, snap: Snapshot, choice: Choice) -> None:
        pass

    def refused(self) -> None:
        pass

    def queued(self) -> None:
        pass


NO_TRACE = NoTrace()


class Trace:
    """The observer of one chat's decision that keeps its R10 lines (`lines`)."""

    def __init__(self, tracer: Tracer, first: str | None = None):
        self.tracer = tracer
        self.lines: list[str] = [] if first is None else [first]
        self._mark = len(self.lines)

    def decided(self, chat: Chat, t: float, snap: Snapshot, choice: Choice) -> None:
        self.tracer.explain(self.lines, chat, t, snap, choice)

    def refused(self) -> None:
        """The shared store refused the commit: the chat is decided again, explained anew."""
        del self.lines[self._mark :]
        self.lines.append(
            "store: the shared state changed meanwhile (another router); decided again"
        )

    def queued(self) -> None:
        self.lines.append("pool: queued until an agent can take it (drain_pool)")


def duration(seconds: float) -> str:
    s = int(abs(seconds))
    text = f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
    return "-" + text if seconds < 0 else text


class Tracer:
    """Trace lines for one router (reads its precomputed tables, never its state store)."""

    def __init__(self, router: Router):
        self.r = router

    def explain(self, tr: list[str], chat: Chat, t: float, snap: Snapshot, c: Choice) -> None:
        """Append to `tr` why `chat` at epoch `t` got Choice `c` on snapshot `snap`, rule by
        rule in the order the router applies them (R1, R2, R3, R4, R5, R6–R9)."""
        r = self.r
        contact, status, pending, conv = snap
        step = c.step
        if step == v.STEP_NOBODY_ONLINE:
            tr.append(f"R1: no agent of the shop is available → {r.nobody}")
            return
        self.r1(status, tr)
        if contact is not None:
            ca, ct = contact
            age, st = t - ct, status[ca]
            if age < 0:
                tr.append(f"R2: the contact is {duration(-age)} later than the chat → age 0")
                age = 0.0
            self.r2(ca, age, st, tr)
            if step in (v.STEP_STICKY, v.STEP_STICKY_OFFLINE_ROBOT):
                return
            if step == v.STEP_STICKY_GROUP:
                assert c.group is not None  # a sticky_group choice names its group
                self.sticky_group(c.group, status, pending, conv, c.agent, tr)
                return
            if st == SUSPENDED and r.hold <= age < r.window:
                self.sticky_group_none(ca, tr)
        else:
            tr.append("R2: no earlier human contact")
        ex = chat.get("exclusive_agent")
        if ex is not None:
            if step == v.STEP_EXCLUSIVE:
                tr.append(f"R3: exclusive agent {ex} is available → agent:{ex}")
                return
            self.exclusive_miss(ex, r.index.get(ex), status, tr)
        if step == v.STEP_ROBOT_FIRST:
            tr.append("R4: robot_first is on → robot")
            return
        info = r.candidates(chat)
        self.r5(chat, info.groups, tr)
        self.r6(info, status, pending, conv, tr)
        if step == v.STEP_FALLBACK_ANY:
            self.fallback(status, pending, tr)
        if c.agent >= 0:
            tr.append(f"chosen: {r.ids[c.agent]}")

    def names(self, groups: Iterable[int]) -> str:
        return ", ".join(self.r.g_name[g] for g in groups)

    def r1(self, status: list[int], tr: list[str]) -> None:
        n = sum(1 for s in status if s == ONLINE)
        tr.append(f"R1: {n} of {len(status)} agents available")

    def r2(self, ca: int, age: float, st: int, tr: list[str]) -> None:
        r = self.r
        aid = r.ids[ca]
        tr.append(
            f"R2: last human contact {aid}, age {duration(age)} (hold {duration(r.hold)}, "
            f"window {duration(r.window)}); {aid} is {STATUS_NAMES[st]}"
        )
        if age >= r.window:
            tr.append("R2: the contact is not younger than the window → no stickiness")
        elif age < r.hold and st != 0:
            tr.append(f"R2a: within hold and online → agent:{aid}")
        elif age >= r.hold and st == ONLINE:
            tr.append(f"R2b: past hold, within window, available → agent:{aid}")
        elif st == 0 and r.robot_first:
            tr.append(f"R2d: {aid} is offline and robot_first is on → robot")
        elif st == 0:
            tr.append(f"R2d: {aid} is offline → continue with R3")

    def sticky_group(
        self,
        g: int,
        status: list[int],
        pending: list[int],
        conv: list[float | None],
        a: int,
        tr: list[str],
    ) -> None:
        r = self.r
        pool = [x for x in r.g_agents[g] if status[x] == ONLINE]
        tr.append(
            f"R2c: suspended past hold → same-group preference: {r.g_name[g]} "
            "(first of the agent's groups with an available agent)"
        )
        self.pool(pool, r.g_mode[g], r.g_k[g], pending, conv, tr, r.g_agents[g])
        tr.append(f"chosen: {r.ids[a]}")

    def sticky_group_none(self, ca: int, tr: list[str]) -> None:
        groups = self.names(self.r.agent_groups[ca]) or "no group"
        tr.append(f"R2c: suspended past hold; {groups}: no available agent → continue with R3")

    def exclusive_miss(self, ex: Any, i: int | None, status: list[int], tr: list[str]) -> None:
        r = self.r
        if i is None:
            tr.append(f"R3: exclusive agent {ex!r} is not an agent of this shop → ignored")
        elif not r.exclusive_direct:
            tr.append(f"R3: exclusive_direct is off → exclusive agent {ex} not used")
        else:
            tr.append(
                f"R3: exclusive agent {ex} is {STATUS_NAMES[status[i]]} → falls through to R4"
            )

    def r5(self, chat: Chat, cands: list[int], tr: list[str]) -> None:
        try:
            from rulec.matching.reference import explain
        except ImportError:  # pragma: no cover - reference is part of the runtime
            tr.append(f"R5: candidates [{self.names(cands)}]")
            return
        ex = explain(self.r.table.body, chat)
        tr.append(f"R5: crowds {ex.get('crowds', [])}, intents {ex.get('intents', [])}")
        if ex.get("missing"):
            tr.append(
                f"R5: missing attributes {ex['missing']} (comparisons reading them are false)"
            )
        for step in ex.get("steps", []):
            vals, cands_after = step.get("values"), list(step.get("candidates", []))
            if step.get("skipped"):
                tr.append(
                    f"R5 {step['dim']} {vals}: no candidate group holds it → skipped; "
                    f"candidates {cands_after}"
                )
            else:
                tr.append(
                    f"R5 {step['dim']} {vals}: hits {list(step.get('hits', []))} → "
                    f"candidates {cands_after}"
                )
        tr.append(f"R5: candidates [{self.names(cands)}]")

    def r6(
        self,
        info: Candidates,
        status: list[int],
        pending: list[int],
        conv: list[float | None],
        tr: list[str],
    ) -> None:
        r = self.r
        cands, robot, humans = info.groups, info.robot, info.humans
        remaining = [g for g in humans if any(status[a] == ONLINE for a in r.g_agents[g])]
        dropped = [g for g in humans if g not in remaining]
        if dropped:
            tr.append(f"R6: dropped {self.names(dropped)} (no available agent, no robot)")
        if not remaining and robot is None:
            tr.append(
                "R6: no candidate group left → any available agent of the shop "
                "(fallback_any, efficiency)"
            )
            return
        if robot is not None and not remaining:
            tr.append(
                f"R6/R7: every remaining group has its robot on → the first in "
                f"declaration order: group_robot:{r.g_name[robot]}"
            )
            return
        if robot is not None:
            tr.append(
                f"R6: robot groups {self.names(g for g in cands if r.g_robot[g])} "
                "remain but robot-off groups have agents → pool from those"
            )
        pool = sorted({a for g in remaining for a in r.g_agents[g] if status[a] == ONLINE})
        if len(remaining) == 1:
            g = remaining[0]
            tr.append(f"R6: pool = available agents of {r.g_name[g]} (one group remains)")
            self.pool(pool, r.g_mode[g], r.g_k[g], pending, conv, tr, r.g_agents[g])
        else:
            tr.append(
                f"R6: pool = available agents of {self.names(remaining)} (several "
                "groups remain: efficiency; group = the chosen agent's first group)"
            )
            self.pool(pool, modes.EFFICIENCY, 0.0, pending, conv, tr)

    @staticmethod
    def no_rate(members: Iterable[int], conv: Sequence[float | None]) -> str:
        """C1: an agent with no known rate weighs as the mean known rate of its group."""
        known = [r for r in (conv[a] for a in members) if r is not None]
        mean = sum(known) / len(known) if known else 0.0
        return f" rate unknown (counts as the group's mean known rate, {mean:.4g})"

    def fallback(self, status: list[int], pending: list[int], tr: list[str]) -> None:
        pool = [a for a in self.r.all_agents if status[a] == ONLINE]
        self.pool(pool, modes.EFFICIENCY, 0.0, pending, (), tr)  # no rate read

    def pool(
        self,
        pool: list[int],
        mode: int,
        k: float,
        pending: list[int],
        conv: Sequence[float | None],
        tr: list[str],
        members: Sequence[int] = (),
    ) -> None:
        r = self.r
        if mode == modes.CONVERSION:
            strength = next(s for s, v in modes.STRENGTH_K.items() if v == k)
            tr.append(f"mode: conversion ({strength}: weight = level × (rate + {modes.EPS})^{k:g})")
        else:
            tr.append("mode: efficiency (weight = level)")
        rows, rule = modes.scores(pool, mode, k, r.level, pending, conv, r.busy, members)
        parts = []
        for a, w, share in rows:
            desc = f"{r.ids[a]} level {r.level[a]} pending {pending[a]}"
            if mode == modes.CONVERSION:
                desc += f" rate {conv[a]}" if conv[a] is not None else self.no_rate(members, conv)
            if w is None:
                desc += f" busy (pending > {r.busy})"
            else:
                desc += f" weight {w:.4g} share {share:.2f}"
            parts.append(desc)
        tr.append(f"scores ({rule}): " + "; ".join(parts))
