"""Test helpers for routing: tables from YAML-form rules, routers, events."""

from __future__ import annotations

import json

import rulec
from rulec.routing import router as R
from rulec.routing.router import Router

T0 = "2026-11-23T09:00:00+08:00"
# the decision paths built here: a test parametrized over them shows a behaviour of both twins
IMPLS = ["python"] + (["cython"] if R._decide is not None else [])


def table_from_rules(rules: dict):
    """Compile YAML-form rules (a dict, as in the scenarios) into a Table."""
    result = rulec.compile_source(json.dumps(rules, ensure_ascii=False), file="shop.yaml")
    assert result.ok, [d.message for d in result.errors]
    return result.table


def shop(agents, groups, **routing):
    rules = {"shop": "s", "agents": agents, "groups": groups}
    if routing:
        rules["routing"] = routing
    return rules


def router(rules, state=None, seed=0, store="memory:", impl=None):
    r = Router(table_from_rules(rules), store=store, seed=seed, impl=impl)
    if state:
        r.load_state(state)
    return r


def at(i: int) -> str:
    """A time i seconds after 2026-11-23T09:00:00+08:00 (i < 86400)."""
    return f"2026-11-23T{9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+08:00"


ORDER = ["no_active_order", "unpaid", "paid_unshipped", "shipped", "completed", "after_sale"]


def random_rules(rnd, drain=False):
    """A random small shop (YAML form): groups over 4 products, order states, 2 crowds,
    robots, conversion modes; `drain`: drain_pool on half the time."""
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
    if drain and rnd.random() < 0.5:
        routing["when_nobody_online"] = "message_pool"
        routing["drain_pool"] = True
    return {"shop": "s", "routing": routing, "agents": agents, "groups": groups}


def events(rnd, rules, n=400):
    """A random stream of n agent / reply / conversion / chat events, 20 s apart."""
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


def route_to_sink(rules_path: str, events_path: str) -> int:
    """`rulec route RULES --events F` with its decision lines counted, not kept; the count.
    (For memory measurements: tests/support/memory.py.)"""
    import io

    from rulec.cli import route_cmd

    class Sink:
        lines = 0

        def write(self, _text):
            self.lines += 1

    out, err = Sink(), io.StringIO()
    code = route_cmd.run([rules_path, "--events", events_path], out, err)
    assert code == 0, err.getvalue()
    return out.lines
