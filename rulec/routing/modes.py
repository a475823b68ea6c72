"""Assignment modes: efficiency (R8, E1–E4) and conversion (R9, C1–C5); see docs/routing.md.

A pool is a list of available agent indices in declaration order. An agent is busy when
pending > busy_threshold (R8). All randomness comes from the router's seeded PRNG, drawn
only while deciding, so the same table, state, events and seed replay identically (E1).

- efficiency: weight(a) = level(a) among non-busy agents (E2, E3).
- conversion: weight(a) = level(a) * (rate(a) + EPS) ** K[strength] among non-busy agents
  (C1–C4); an agent with no known rate takes the mean known rate of its group.
- every agent busy: the lowest pending/level wins, ties by declaration order (E4).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from random import Random

EFFICIENCY, CONVERSION = 0, 1
STRENGTH_K = {"low": 1.0, "medium": 2.0, "high": 4.0}
EPS = 0.01
SMALL_GROUP = 5  # C5: groups of this many agents or fewer use efficiency
TRIES = 4  # rejection-sampling attempts before the exact scan
ONLINE = 2  # stores.base.ONLINE


def cumulative(agents: Sequence[int], level: Sequence[int]) -> list[int]:
    """Running sums of the agents' levels (for draw_efficiency)."""
    out, total = [], 0
    for a in agents:
        total += level[a]
        out.append(total)
    return out


def draw_efficiency(
    members: Sequence[int],
    cum: Sequence[int],
    status: Sequence[int],
    pending: Sequence[int],
    busy: int,
    level: Sequence[int],
    rng: Random,
    tries: int = TRIES,
) -> int:
    """R8 over the *available* agents among `members` (declaration order; `cum` their running
    level sums): a non-busy one with probability ∝ level (E2, E3), else the lowest
    pending/level (E4); -1 when none is available.

    Rejection sampling first: draw a member ∝ level and keep it if it is available and not
    busy (`tries` times); then the exact scan. Conditioned on acceptance both steps pick a free
    agent ∝ level, so the mixture does too; in the common case this costs one draw instead of
    a pass over every member."""
    total = cum[-1] if cum else 0
    random = rng.random
    for _ in range(tries if total else 0):
        a = members[bisect_right(cum, random() * total)]
        if status[a] == ONLINE and pending[a] <= busy:
            return a
    free = [a for a in members if status[a] == ONLINE and pending[a] <= busy]
    if not free:  # E4 among the available agents
        best = -1
        for a in members:
            if status[a] == ONLINE and (
                best < 0 or pending[a] * level[best] < pending[best] * level[a]
            ):
                best = a
        return best
    if len(free) == 1:  # one free agent: nothing to draw
        return free[0]
    r = random() * sum([level[a] for a in free])
    for a in free:
        r -= level[a]
        if r < 0:
            return a
    return free[-1]


def conversion_table(
    members: Sequence[int],
    level: Sequence[int],
    conversion: Sequence[float | None],
    k: float,
) -> tuple[list[float], list[float]]:
    """C1–C4 weights of a conversion group's members, level * (rate + EPS) ** k (an unknown
    rate counts as the mean known rate of the members, 0 if none is known), and their
    running sums."""
    known = [r for r in (conversion[a] for a in members) if r is not None]
    mean = sum(known) / len(known) if known else 0.0
    weights = []
    for a in members:
        r = conversion[a]
        weights.append(level[a] * ((mean if r is None else r) + EPS) ** k)
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return weights, cum


def draw_weighted(
    members: Sequence[int],
    weights: Sequence[float],
    cum: Sequence[float],
    status: Sequence[int],
    pending: Sequence[int],
    busy: int,
    level: Sequence[int],
    rng: Random,
    tries: int = TRIES,
) -> int:
    """draw_efficiency with explicit weights (conversion mode): a non-busy available member
    with probability ∝ its weight (C3 keeps E3), else E4; -1 when none is available."""
    total = cum[-1] if cum else 0.0
    random = rng.random
    for _ in range(tries if total > 0 else 0):
        a = members[bisect_right(cum, random() * total)]
        if status[a] == ONLINE and pending[a] <= busy:
            return a
    free, fw, best = [], [], -1
    for a, w in zip(members, weights):
        if status[a] == ONLINE:
            p = pending[a]
            if p <= busy:
                free.append(a)
                fw.append(w)
            elif best < 0 or p * level[best] < pending[best] * level[a]:
                best = a
    if not free:
        return best
    r = random() * sum(fw)
    for a, w in zip(free, fw):
        r -= w
        if r < 0:
            return a
    return free[-1]


def scores(
    pool: Sequence[int],
    mode: int,
    k: float,
    level: Sequence[int],
    pending: Sequence[int],
    conversion: Sequence[float | None],
    busy: int,
    members: Sequence[int] = (),
) -> tuple[list[tuple[int, float | None, float | None]], str]:
    """For traces (R10): [(agent, weight or None when busy, share or None)] and the rule
    that applies. In conversion mode `members` is the group (for the unknown-rate mean)."""
    free = [a for a in pool if pending[a] <= busy]
    if not free:
        return [(a, None, None) for a in pool], "all busy: lowest pending/level (E4)"
    if mode == CONVERSION:
        weights, _ = conversion_table(members or free, level, conversion, k)
        w_all = dict(zip(members or free, weights))
        ws = [w_all[a] for a in free]
    else:
        ws = [float(level[a]) for a in free]
    total = sum(ws) or 1.0
    w_of = dict(zip(free, ws))
    out = [(a, w_of.get(a), (w_of[a] / total) if a in w_of else None) for a in pool]
    return out, "weighted draw among non-busy agents"
