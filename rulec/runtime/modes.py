"""Assignment modes: efficiency (R8, E1–E4) and conversion (R9, C1–C5); see docs/routing.md.

A pool is a list of available agent indices in declaration order. An agent is busy when
pending > busy_threshold (R8). Both modes draw one number from the router's seeded PRNG per
decision that has two or more non-busy agents to choose from (E1), and none otherwise.

- efficiency: weight(a) = level(a) among non-busy agents (E2, E3).
- conversion: weight(a) = level(a) * (rate(a) + EPS) ** K[strength] among non-busy agents
  (C1–C4); an agent with no known rate takes the mean known rate of the pool.
- every agent busy: the lowest pending/level wins, ties by declaration order (E4).
"""
from __future__ import annotations

EFFICIENCY, CONVERSION = 0, 1
STRENGTH_K = {"low": 1.0, "medium": 2.0, "high": 4.0}
EPS = 0.01
SMALL_GROUP = 5  # C5: groups of this many agents or fewer use efficiency


def least_loaded(pool, level, pending):
    """E4: the agent with the lowest pending/level (exact: cross-multiplied), first on ties."""
    best = pool[0]
    bp, bl = pending[best], level[best]
    for a in pool:
        if pending[a] * bl < bp * level[a]:
            best, bp, bl = a, pending[a], level[a]
    return best


def pick_efficiency(pool, level, pending, busy, rng):
    """E2/E3: a non-busy agent with probability ∝ level; E4 when all are busy."""
    free = [a for a in pool if pending[a] <= busy]
    if not free:
        return least_loaded(pool, level, pending)
    if len(free) == 1:
        return free[0]
    total = 0
    for a in free:
        total += level[a]
    r = rng.random() * total
    for a in free:
        r -= level[a]
        if r < 0:
            return a
    return free[-1]


def conversion_weights(free, level, conversion, k):
    """C1–C4: level * (rate + EPS) ** k for each agent of `free` (unknown rate: pool mean)."""
    known = [conversion[a] for a in free if conversion[a] is not None]
    mean = sum(known) / len(known) if known else 0.0
    out = []
    for a in free:
        r = conversion[a]
        out.append(level[a] * ((mean if r is None else r) + EPS) ** k)
    return out


def pick_conversion(pool, level, pending, conversion, busy, k, rng):
    """C3: busy agents are excluded like E3; E4 when all are busy."""
    free = [a for a in pool if pending[a] <= busy]
    if not free:
        return least_loaded(pool, level, pending)
    if len(free) == 1:
        return free[0]
    weights = conversion_weights(free, level, conversion, k)
    r = rng.random() * sum(weights)
    for a, w in zip(free, weights):
        r -= w
        if r < 0:
            return a
    return free[-1]


def scores(pool, mode, k, level, pending, conversion, busy):
    """For traces (R10): [(agent, weight or None when busy, share or None)] and the rule
    that applies ("weighted" or "all busy: lowest pending/level")."""
    free = [a for a in pool if pending[a] <= busy]
    if not free:
        return [(a, None, None) for a in pool], "all busy: lowest pending/level (E4)"
    if mode == CONVERSION:
        ws = conversion_weights(free, level, conversion, k)
    else:
        ws = [float(level[a]) for a in free]
    total = sum(ws) or 1.0
    w_of = dict(zip(free, ws))
    out = [(a, w_of.get(a), (w_of[a] / total) if a in w_of else None) for a in pool]
    return out, "weighted draw among non-busy agents"
