"""Metrics M1–M4 (semantics.md) over a routing log, the same code for simulated and recorded days.

A log is a list of records in time order, each a dict with `type` and `time` (epoch seconds):
- `route`: a chat was routed: buyer, target, group, step (the router's decision);
- `message`: the buyer wrote after the transfer (a round that needs a reply): buyer;
- `reply`: an agent replied to a buyer: agent, buyer;
- `handled_by_robot`: an agent's assistant answered the session instead of the agent: buyer.
`rates` gives each agent's conversion rate. Times of day are read in the shop's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

REPLY_WITHIN = 180.0  # M1: every agent reply round within 3 minutes (3:00 counts, 3:01 does not)
DAY_START, DAY_END = 8, 23  # M1 counts sessions transferred in [08:00, 23:00)
HUMAN = "agent:"


def _hour(t: float, tz) -> int:
    return dt.datetime.fromtimestamp(t, tz).hour


def reply_rate(log: list, tz) -> dict:
    """M1: among sessions transferred to a human between 08:00 and 23:00 in which the buyer
    wrote after the transfer (and no assistant took over), the share in which every reply
    round came within 3 minutes; overall and by hour of transfer."""
    sessions: dict = {}  # buyer -> current session record
    done: list = []
    for r in log:
        kind, buyer = r["type"], r.get("buyer")
        if kind == "route":
            if buyer in sessions:
                done.append(sessions.pop(buyer))
            if r["target"].startswith(HUMAN):
                sessions[buyer] = {
                    "t": r["time"],
                    "agent": r["target"][len(HUMAN) :],
                    "open": [],
                    "rounds": 0,
                    "late": False,
                    "robot": False,
                }
        elif buyer in sessions:
            s = sessions[buyer]
            if kind == "message":
                s["open"].append(r["time"])
                s["rounds"] += 1
            elif kind == "reply" and r.get("agent") == s["agent"]:
                for m in s["open"]:
                    if r["time"] - m > REPLY_WITHIN:
                        s["late"] = True
                s["open"] = []
            elif kind == "handled_by_robot":
                s["robot"] = True
    done.extend(sessions.values())
    by_hour: defaultdict = defaultdict(lambda: [0, 0])
    for s in done:
        h = _hour(s["t"], tz)
        if s["robot"] or s["rounds"] == 0 or not DAY_START <= h < DAY_END:
            continue
        ok = not s["late"] and not s["open"]  # an unanswered round is not within 3 minutes
        by_hour[h][0] += ok
        by_hour[h][1] += 1
    n_ok = sum(v[0] for v in by_hour.values())
    n = sum(v[1] for v in by_hour.values())
    return {
        "rate": n_ok / n if n else None,
        "sessions": n,
        "by_hour": [by_hour[h][0] / by_hour[h][1] if by_hour[h][1] else None for h in range(24)],
    }


def gini(values: list) -> float:
    """Gini coefficient of non-negative loads (0: perfectly even)."""
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    cum = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cum) / (n * total) - (n + 1) / n


def load(log: list, agents: list, rates: dict) -> dict:
    """M2: assignments per agent and per group, max/min, Gini, and the share of assignments
    that went to the top 30% of agents by conversion rate."""
    per_agent = dict.fromkeys(agents, 0)
    per_group: dict = defaultdict(int)
    for r in log:
        if r["type"] == "route" and r["target"].startswith(HUMAN):
            per_agent[r["target"][len(HUMAN) :]] = per_agent.get(r["target"][len(HUMAN) :], 0) + 1
            per_group[r["group"] or "(no group)"] += 1
    counts = list(per_agent.values())
    ranked = sorted(
        per_agent, key=lambda a: (-(rates.get(a) or 0.0), agents.index(a) if a in agents else 0)
    )
    top = ranked[: max(1, round(0.3 * len(ranked)))] if ranked else []
    total = sum(counts)
    return {
        "per_agent": per_agent,
        "per_group": dict(per_group),
        "max": max(counts, default=0),
        "min": min(counts, default=0),
        "gini": gini(counts),
        "top30_share": sum(per_agent[a] for a in top) / total if total else 0.0,
    }


def conversions(log: list, rates: dict) -> float:
    """M3: expected conversions, the sum of the assigned agents' conversion rates."""
    return sum(
        rates.get(r["target"][len(HUMAN) :]) or 0.0
        for r in log
        if r["type"] == "route" and r["target"].startswith(HUMAN)
    )


def series(log: list, tz, step: int = 900) -> dict:
    """Pending (sessions assigned and not yet closed) and message-pool size over the day,
    sampled every `step` seconds from the first record; pool size counts chats sent to the
    message pool so far (they wait for an agent to pick them up)."""
    if not log:
        return {"times": [], "pending": [], "pool": []}
    t0 = log[0]["time"]
    t0 -= t0 % step
    times, pending, pool = [], [], []
    open_, pooled, nxt = 0, 0, t0
    for r in log:
        while r["time"] >= nxt:
            times.append(dt.datetime.fromtimestamp(nxt, tz).strftime("%H:%M"))
            pending.append(open_)
            pool.append(pooled)
            nxt += step
        if r["type"] == "route":
            if r["target"].startswith(HUMAN):
                open_ += 1
            elif r["target"] == "message_pool":
                pooled += 1
        elif r["type"] == "close":
            open_ -= 1
    return {"times": times, "pending": pending, "pool": pool}


def affiliate(records) -> dict:
    """M4 (淘宝客): 引流人数, distinct users who reached the coupon page through a shared link;
    点击人数, distinct users who clicked the link and claimed the coupon. Records: {"type":
    "visit"|"click"|"claim", "user", "via"} where a visit through a link has via "link"."""
    reached, clicked, claimed = set(), set(), set()
    for r in records:
        kind, user = r.get("type"), r.get("user")
        if kind == "visit" and r.get("via") == "link":
            reached.add(user)
        elif kind == "click":
            clicked.add(user)
        elif kind == "claim":
            claimed.add(user)
    return {"引流人数": len(reached), "点击人数": len(clicked & claimed)}


def all_metrics(log: list, tz, agents: list, rates: dict) -> dict:
    return {
        "m1": reply_rate(log, tz),
        "m2": load(log, agents, rates),
        "m3": {"expected_conversions": conversions(log, rates)},
        "over_day": series(log, tz),
    }
