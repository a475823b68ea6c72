"""The router's two decision paths, the Cython `_decide` and its pure-Python twin `decide`,
make the same decisions with the same traces (R10) and leave the same state, on random
shops and event streams (E1: same table, state, events and seed, same decisions)."""

from __future__ import annotations

import json
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import events, random_rules, table_from_rules

from rulec.errors import RulecError
from rulec.routing import router as R
from rulec.routing.router import Router

REQUIRED = os.environ.get("RULEC_REQUIRE_EXTENSIONS") == "1"
needs_cython = pytest.mark.skipif(
    R._decide is None and not REQUIRED, reason=f"no Cython decision path ({R.extension_error})"
)


def test_implementation_is_cython_when_extensions_required():
    """CI sets RULEC_REQUIRE_EXTENSIONS=1: the Cython decision path must be built, and live
    unless RULEC_PURE=1 asks for the pure-Python twin."""
    assert R.implementation in ("cython", "python")
    if REQUIRED:
        assert R._decide is not None, R.extension_error
        pure = os.environ.get("RULEC_PURE") == "1"
        assert R.implementation == ("python" if pure else "cython")
    assert type(Router(table_from_rules(random_rules(random.Random(0))))._decider) is (
        R.decider(None)
    )


def test_unknown_implementation():
    with pytest.raises(ValueError, match="unknown decision path"):
        R.decider("fortran")


def outcome(call):
    """What a call gives: its result, or the codes of the coded error it raises."""
    try:
        return call()
    except RulecError as exc:
        return ("error", [d.code for d in exc.diagnostics])


def replay(impl, rules, evs, seed, trace_every, batch):
    r = Router(table_from_rules(rules), seed=seed, impl=impl)
    out, run = [], []
    for k, ev in enumerate(evs):
        trace = k % trace_every == 0
        if ev["type"] == "chat" and batch:
            run.append(ev)
            if len(run) < batch:
                continue
            out.append(outcome(lambda: r.route_many(run, trace, group=batch)))
            run = []
            continue
        if run:
            out.append(outcome(lambda: r.route_many(run, trace, group=batch)))
            run = []
        out.append(outcome(lambda: r.feed(ev, trace)))
    if run:
        out.append(outcome(lambda: r.route_many(run, False, group=batch)))
    return out, r.store.export()


def hostile(rnd, evs):
    """A few chats with a bad exclusive agent or buyer (coded errors, same in both)."""
    for ev in evs:
        if ev["type"] == "chat" and rnd.random() < 0.03:
            bad = rnd.choice([("exclusive_agent", 7), ("exclusive_agent", ["a1"]), ("buyer", "")])
            ev[bad[0]] = bad[1]
    return evs


@needs_cython
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    trace_every=st.sampled_from([1, 3, 1000]),
    batch=st.sampled_from([0, 0, 5]),
)
def test_twins_decide_alike(seed, trace_every, batch):
    rnd = random.Random(seed)
    rules = random_rules(rnd, drain=True)
    evs = hostile(rnd, events(rnd, rules, n=300))
    py = replay("python", rules, evs, seed, trace_every, batch)
    cy = replay("cython", rules, evs, seed, trace_every, batch)
    assert json.dumps(cy, ensure_ascii=False) == json.dumps(py, ensure_ascii=False)


def saturated_shop():
    """A larger shop where popular candidate sets run out of free agents: rejection misses,
    exact scans, E4 (all busy), conversion groups over C5's size, fallback_any."""
    rnd = random.Random(5)
    agents = {f"a{i}": {"level": rnd.randint(1, 5)} for i in range(40)}
    names = sorted(agents)
    groups = {}
    for g in range(12):
        spec = {"agents": rnd.sample(names, rnd.randint(6, 12)), "product": [f"p{g % 6}"]}
        if g % 3 == 0:
            spec["mode"] = {"conversion": ["low", "medium", "high"][g % 3]}
        groups[f"g{g}"] = spec
    agents.update({"z0": {"level": 1}, "z1": {"level": 2}})  # never online: fallback_any
    groups["solo"] = {"agents": ["z0", "z1"], "product": ["p9"]}
    routing = {"busy_threshold": 1, "sticky": {"hold": "1m", "window": "3m"}}
    return {"shop": "s", "routing": routing, "agents": agents, "groups": groups}


PRODUCTS = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p9"]


@needs_cython
@pytest.mark.parametrize("seed", range(3))
def test_twins_on_a_saturated_shop(seed):
    rules = saturated_shop()
    rnd = random.Random(seed)
    names = sorted(a for a in rules["agents"] if a[0] == "a")
    evs = [
        {"type": "agent", "time": "2026-11-23T09:00:00+08:00", "agent": a, "status": "online"}
        for a in names
    ]
    evs += [
        {
            "type": "conversion",
            "time": "2026-11-23T09:00:00+08:00",
            "agent": a,
            "rate": round(rnd.random() * 0.3, 3),
        }
        for a in names[::2]
    ]
    for i in range(1500):
        t = f"2026-11-23T{9 + i // 600:02d}:{i // 10 % 60:02d}:00+08:00"
        x = rnd.random()
        if x < 0.1:
            evs.append({"type": "reply", "time": t, "agent": rnd.choice(names)})
        elif x < 0.13:
            evs.append(
                {
                    "type": "agent",
                    "time": t,
                    "agent": rnd.choice(names),
                    "status": rnd.choice(["online", "suspended", "offline"]),
                }
            )
        else:
            evs.append(
                {
                    "type": "chat",
                    "time": t,
                    "buyer": f"u{rnd.randrange(300)}",
                    "product": rnd.choice(PRODUCTS),
                }
            )
    py = replay("python", rules, evs, seed, 7, 0)
    cy = replay("cython", rules, evs, seed, 7, 0)
    assert cy == py
    steps = {d["step"] for ds in py[0] for d in (ds if isinstance(ds, list) else [])}
    assert {"group", "sticky", "fallback_any"} <= steps
