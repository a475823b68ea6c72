"""The simulated shop day: SimPy processes for agent shifts and buyer sessions, every routing
decision made by the real router on the compiled table (any store).

Common random numbers: arrivals and buyer behaviour come from streams seeded by the run's seed
and the session's number, and reply times are drawn by inverse transform from one uniform per
round, so two variants of the rules see the same buyers at the same moments and differ only
in where the router sends them.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from statistics import NormalDist
from zoneinfo import ZoneInfo

import simpy

from rulec.sim.scenario import Scenario

_NORMAL = NormalDist()


def _lognormal(u: float, mean: float, sd: float) -> float:
    """The u-quantile of a log-normal with this mean and standard deviation (at least 1 s)."""
    if sd <= 0:
        return max(1.0, mean)
    s2 = math.log(1 + (sd / mean) ** 2)
    mu = math.log(mean) - s2 / 2
    return max(1.0, math.exp(mu + math.sqrt(s2) * _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))))


def _pick(rnd: random.Random, weights: dict):
    keys = list(weights)
    return rnd.choices(keys, [weights[k] for k in keys])[0]


def simulate(
    table, scen: Scenario, seed: int = 0, store="memory:", tick: Callable | None = None
) -> list:
    """Run one day; returns the log (see rulec.sim.metrics) in time order."""
    from rulec.routing.router import Router

    tz = ZoneInfo(table.body["timezone"])
    day0 = dt.datetime.combine(scen.date, dt.time(0), tz).timestamp()
    router = Router(table, store, seed=seed)
    env = simpy.Environment()
    log: list = []

    def iso(t):
        return dt.datetime.fromtimestamp(day0 + t, tz).isoformat()

    def agent_day(a, plan):
        changes = [(plan.shift[0], "online"), (plan.shift[1], "offline")]
        for b0, b1 in plan.breaks:
            changes += [(b0, "suspended"), (b1, "online")]
        for t, status in sorted(changes):
            yield env.timeout(max(0.0, t - env.now))
            router.feed({"type": "agent", "time": iso(env.now), "agent": a, "status": status})

    def close(agent, buyer):
        router.feed({"type": "reply", "time": iso(env.now), "agent": agent, "buyer": buyer})
        log.append({"type": "close", "time": day0 + env.now, "agent": agent, "buyer": buyer})

    def session(i, start, chat, rnd):
        chat["time"] = iso(env.now)
        d = router.route(chat)
        buyer = chat["buyer"]
        log.append(
            {
                "type": "route",
                "time": day0 + env.now,
                "buyer": buyer,
                "target": d["target"],
                "group": d["group"],
                "step": d["step"],
            }
        )
        if tick is not None:
            tick()
        if not d["target"].startswith("agent:"):
            return
        a = d["target"][6:]
        plan = scen.agents[a]
        if rnd.random() < plan.robot_share:
            log.append({"type": "handled_by_robot", "time": day0 + env.now, "buyer": buyer})
            close(a, buyer)
            return
        if rnd.random() < scen.silent:
            yield env.timeout(rnd.expovariate(1 / scen.think))
            close(a, buyer)
            return
        p = 1 / max(1.0, scen.rounds)
        k = 1 + (int(math.log(1 - rnd.random()) / math.log(1 - p)) if p < 1 else 0)
        for r in range(k):
            log.append({"type": "message", "time": day0 + env.now, "buyer": buyer})
            yield env.timeout(_lognormal(rnd.random(), *plan.reply))
            log.append({"type": "reply", "time": day0 + env.now, "agent": a, "buyer": buyer})
            if r + 1 < k:
                yield env.timeout(rnd.expovariate(1 / scen.think))
        close(a, buyer)

    rates = {a: p.conversion for a, p in scen.agents.items() if p.conversion is not None}
    for a, r in rates.items():
        router.feed({"type": "conversion", "time": iso(0), "agent": a, "rate": r})
    for a, plan in scen.agents.items():
        env.process(agent_day(a, plan))
    arr = random.Random(seed)
    hours = arr.choices(range(24), scen.arrivals, k=scen.chats)
    starts = sorted(h * 3600 + arr.random() * 3600 for h in hours)
    buyers: list = []
    labels = list(scen.mix["crowds"].items())

    def arrivals():
        # Sessions start as the day reaches them (not all created at 00:00), so the event
        # queue and the live generators stay as small as the day's concurrency.
        for i, start in enumerate(starts):
            if start > env.now:
                yield env.timeout(start - env.now)
            rnd = random.Random(seed * 1_000_003 + i)
            if buyers and rnd.random() < scen.returning:
                buyer = buyers[rnd.randrange(len(buyers))]
            else:
                buyer = f"b{i}"
                buyers.append(buyer)
            chat = {
                "buyer": buyer,
                "product": _pick(rnd, scen.mix["product"]),
                "order": _pick(rnd, scen.mix["order"]),
                "intent": _pick(rnd, scen.mix["intent"]),
                "crowds": [c for c, p in labels if rnd.random() < p],
            }
            env.process(session(i, start, chat, rnd))

    env.process(arrivals())
    try:
        env.run()
    finally:
        router.close()
    log.sort(key=lambda r: r["time"])
    return log
