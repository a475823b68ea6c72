"""Test helper: a full, schema-valid table body from a few groups (tree lowered here, as R5 reads it)."""

from __future__ import annotations

DIMS = ("crowd", "product", "intent", "order")


def make_body(groups, crowds=(), intents=(), attributes=None) -> dict:
    """groups: [{"name", "crowd"?, "product"?, "intent"?, "order"?}]; crowds/intents: [(name, EXPR)]."""
    gs = []
    for g in groups:
        gs.append(
            {
                "name": g["name"],
                "agents": ["a1"],
                "mode": "efficiency",
                "strength": None,
                "robot": False,
                **{d: list(g.get(d, [])) for d in DIMS},
            }
        )
    bound = {d: [i for i, g in enumerate(gs) if g[d]] for d in DIMS}
    index = {d: {} for d in DIMS}
    for d in DIMS:
        for i, g in enumerate(gs):
            for v in g[d]:
                ids = index[d].setdefault(v, [])
                if not ids or ids[-1] != i:
                    ids.append(i)
    defined = {"crowd": {n for n, _ in crowds}, "intent": {n for n, _ in intents}}
    labels = {d: sorted({v for g in gs for v in g[d]} - defined[d]) for d in ("crowd", "intent")}
    return {
        "shop": "t",
        "timezone": "Asia/Shanghai",
        "routing": {
            "when_nobody_online": "message_pool",
            "robot_first": False,
            "exclusive_direct": False,
            "busy_threshold": 4,
            "sticky_hold": 86400,
            "sticky_window": 259200,
            "drain_pool": False,
        },
        "outreach": {"cap_window": 604800, "max_delay": 86400},
        "attributes": dict(attributes or {}),
        "crowds": [{"name": n, "expr": e} for n, e in crowds],
        "intents": [{"name": n, "expr": e} for n, e in intents],
        "labels": labels,
        "agents": [{"id": "a1", "level": 3}],
        "groups": gs,
        "tree": {"dims": list(DIMS), "bound": bound, "index": index},
        "promos": {},
        "facts": {
            "tool_level": None,
            "relationships_last_month_end": None,
            "advanced_relationships_this_month": None,
            "grants": [],
        },
        "campaigns": [],
    }
