"""Test helpers for routing: tables from YAML-form rules, routers, events."""

from __future__ import annotations

import json

import rulec
from rulec.routing.router import Router

T0 = "2026-11-23T09:00:00+08:00"


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


def router(rules, state=None, seed=0, store="memory:"):
    r = Router(table_from_rules(rules), store=store, seed=seed)
    if state:
        r.load_state(state)
    return r


def at(i: int) -> str:
    """A time i seconds after 2026-11-23T09:00:00+08:00 (i < 86400)."""
    return f"2026-11-23T{9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+08:00"
