"""The untraced hot path (cached candidate sets, fused R6 efficiency pick) makes exactly the
decisions of the traced general path: same targets, steps, groups and PRNG draws (E1, R10)."""

import random

import pytest
from routing_helpers import events, random_rules, table_from_rules

from rulec.routing.router import Router


@pytest.mark.parametrize("seed", range(25))
def test_untraced_equals_traced(seed):
    rnd = random.Random(seed)
    rules = random_rules(rnd)
    table = table_from_rules(rules)
    fast, slow = Router(table, seed=seed), Router(table, seed=seed)
    for ev in events(rnd, rules):
        if ev["type"] == "chat":
            a, b = fast.route(ev), slow.route(ev, trace=True)
        else:
            a, b = fast.feed(ev), slow.feed(ev, trace=True)
            a, b = (a[0] if a else None), (b[0] if b else None)
        if b is not None:
            b = {k: v for k, v in b.items() if k != "trace"}
        assert a == b, ev
    assert fast.store.export() == slow.store.export()


@pytest.mark.parametrize("seed", range(100, 115))
def test_invariants_on_random_streams(seed):
    """R1: nobody_online exactly when nobody is available; a person is chosen only when
    available (or online-but-suspended under R2a); pending never goes below zero, and every
    assignment to a person adds exactly one (settled reading)."""
    rnd = random.Random(seed)
    rules = random_rules(rnd)
    r = Router(table_from_rules(rules), seed=seed)
    for ev in events(rnd, rules):
        if ev["type"] != "chat":
            r.feed(ev)
            continue
        _, status, pending, _ = r.store.snapshot(ev["buyer"])
        before_status, before_pending = list(status), list(pending)
        d = r.route(ev)
        assert (d["step"] == "nobody_online") == (2 not in before_status)
        after = r.store.snapshot(ev["buyer"])[2]
        if d["target"].startswith("agent:"):
            i = r.index[d["target"][6:]]
            assert before_status[i] == 2 or (d["step"] == "sticky" and before_status[i] == 1)
            assert after[i] == before_pending[i] + 1
            assert r.store.snapshot(ev["buyer"])[0][0] == i  # R3: the last contact
        else:
            assert after == before_pending
        assert min(after, default=0) >= 0
