"""The untraced hot path (cached candidate sets, fused R6 efficiency pick) makes exactly the
decisions of the traced general path: same targets, steps, groups and PRNG draws (E1, R10)."""

import random

import pytest
from routing_helpers import at, table_from_rules

from rulec.routing.router import Router

ORDER = ["no_active_order", "unpaid", "paid_unshipped", "shipped", "completed", "after_sale"]


def random_rules(rnd):
    agents = {f"a{i}": {"level": rnd.randint(1, 5)} for i in range(rnd.randint(3, 14))}
    names = sorted(agents)
    groups = {}
    for g in range(rnd.randint(1, 9)):
        spec = {"agents": rnd.sample(names, rnd.randint(0, min(8, len(names))))}
        if rnd.random() < 0.6:
            spec["product"] = rnd.sample(["p0", "p1", "p2", "p3"], rnd.randint(1, 2))
        if rnd.random() < 0.4:
            spec["order"] = rnd.sample(ORDER, rnd.randint(1, 3))
        if rnd.random() < 0.3:
            spec["crowd"] = [rnd.choice(["vip", "new"])]
        if rnd.random() < 0.15:
            spec["robot"] = True
        if rnd.random() < 0.3:
            spec["mode"] = {"conversion": rnd.choice(["low", "medium", "high"])}
        groups[f"g{g}"] = spec
    routing = {
        "busy_threshold": rnd.randint(0, 3),
        "when_nobody_online": rnd.choice(["message_pool", "main_account"]),
        "exclusive_direct": rnd.random() < 0.5,
        "robot_first": rnd.random() < 0.1,
        "sticky": {"hold": "10m", "window": "30m"},
    }
    return {"shop": "s", "routing": routing, "agents": agents, "groups": groups}


def events(rnd, rules, n=400):
    names = sorted(rules["agents"])
    out = []
    for i in range(n):
        x = rnd.random()
        if x < 0.15:
            out.append(
                {
                    "type": "agent",
                    "time": at(i * 20),
                    "agent": rnd.choice(names),
                    "status": rnd.choice(["online", "online", "suspended", "offline"]),
                }
            )
        elif x < 0.3:
            out.append({"type": "reply", "time": at(i * 20), "agent": rnd.choice(names)})
        elif x < 0.35:
            out.append(
                {
                    "type": "conversion",
                    "time": at(i * 20),
                    "agent": rnd.choice(names),
                    "rate": round(rnd.random(), 2),
                }
            )
        else:
            chat = {
                "type": "chat",
                "time": at(i * 20),
                "buyer": f"u{rnd.randrange(40)}",
                "product": rnd.choice(["p0", "p1", "p2", "p3", None]),
                "order": rnd.choice(ORDER + [None]),
                "crowds": rnd.sample(["vip", "new"], rnd.randint(0, 2)),
            }
            if rnd.random() < 0.2:
                chat["exclusive_agent"] = rnd.choice(names)
            out.append(chat)
    return out


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
