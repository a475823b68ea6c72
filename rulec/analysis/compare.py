"""Run two rule sets on the same input: a traffic log replayed through a router for each
(decisions that differ, old target -> new target, traffic moved per group), and an audience
planned by each on a fresh in-memory ledger (sends gained and lost)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import attrs

from rulec.errors import RulecError
from rulec.routing.events import check_event, read_events, read_state


@attrs.define
class Replay:
    chats: int = 0
    differ: int = 0
    matrix: Counter = attrs.field(factory=Counter)  # (old target, new target) -> chats
    groups_old: Counter = attrs.field(factory=Counter)  # group -> chats, old rules
    groups_new: Counter = attrs.field(factory=Counter)
    examples: list = attrs.field(factory=list)  # first differing decisions (old, new)


def _router(table, state_path, seed):
    import rulec

    router = rulec.Router(table, "memory:", seed=seed)
    if state_path is not None:
        agents = {a["id"]: i for i, a in enumerate(table.body["agents"])}
        state, diags = read_state(state_path, agents)
        if diags:
            raise RulecError(diags)
        router.apply_state(state)
    return router


def replay(
    old_table, new_table, events_path, state_path=None, seed: int = 0, examples: int = 20
) -> Replay:
    """Both rule sets route the same log with the same seed and starting state; agent events
    for an agent one side does not know are applied to the other side only."""
    agents: dict[Any, Any] = {}
    for t in (old_table, new_table):
        for a in t.body["agents"]:
            agents.setdefault(a["id"], len(agents))
    events, diags = read_events(events_path, agents)
    if diags:
        raise RulecError(diags)
    sides = [
        (_router(t, state_path, seed), {a["id"] for a in t.body["agents"]})
        for t in (old_table, new_table)
    ]
    res = Replay()
    try:
        (old_router, _), (new_router, _) = sides
        for ev, _t, _line in events:
            if ev["type"] != "chat":
                for router, known in sides:
                    if ev.get("agent") in known:
                        router.feed(ev)
                continue
            # feed() of a chat is check_event() then route(): the check is the same for both
            # sides (a chat names no agent it checks), so it is made once
            check_event(ev, agents)
            a, b = old_router.route(ev), new_router.route(ev)
            res.chats += 1
            res.matrix[(a["target"], b["target"])] += 1
            res.groups_old[a["group"]] += 1
            res.groups_new[b["group"]] += 1
            if (a["target"], a["group"], a["step"]) != (b["target"], b["group"], b["step"]):
                res.differ += 1
                if len(res.examples) < examples:
                    res.examples.append((a, b))
    finally:
        for router, _ in sides:
            router.close()
    return res


def sends(old_table, new_table, audience_path, now, activities=None):
    """(gained, lost): sends the new rules make that the old do not, and the reverse, each as
    (campaign, consumer, channel) with the send; planned on fresh in-memory ledgers."""
    import rulec

    def plan(table):
        with rulec.Planner(table, "memory:") as planner:
            res = planner.plan(audience_path, now, activities=activities)
        return {(s["campaign"], s["consumer"], s["channel"]): s for s in res.sends}

    a, b = plan(old_table), plan(new_table)
    gained = [b[k] for k in b if k not in a]
    lost = [a[k] for k in a if k not in b]
    return gained, lost


def send_line(s: dict) -> str:
    return json.dumps(s, ensure_ascii=False, sort_keys=True)
