"""Test helper: build a table from YAML-form rules (the scenario `rules`), for routing tests.

Uses the real compiler (rulec.compile_source) when it is importable; otherwise a small local
builder that covers routing-only rules (no crowd/intent predicates), so the router can be
tested while the compiler is being written."""
from __future__ import annotations

import json
import re

from rulec.runtime.table import Table

DIMS = ("crowd", "product", "intent", "order")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _secs(text):
    m = re.fullmatch(r"(\d+)([smhd])", str(text))
    assert m, text
    return int(m.group(1)) * _UNITS[m.group(2)]


def compiler_available() -> bool:
    try:
        from rulec.compiler.pipeline import compile_source  # noqa: F401
        from rulec.runtime.matcher import build_matcher  # noqa: F401
    except ImportError:
        return False
    return True


def table_from_rules(rules: dict) -> Table:
    if compiler_available():
        import rulec
        return rulec.compile_source(json.dumps(rules, ensure_ascii=False), file="shop.yaml")
    return Table.from_body(local_body(rules))


def local_body(rules: dict) -> dict:
    if rules.get("crowds") or rules.get("intents"):
        import pytest
        pytest.skip("predicates need the compiler")
    r = rules.get("routing", {})
    sticky = r.get("sticky", {})
    agents = [{"id": a, "level": (v or {}).get("level", 3)}
              for a, v in rules.get("agents", {}).items()]
    groups, index, bound, labels = [], {d: {} for d in DIMS}, {d: [] for d in DIMS}, set()
    for gi, (name, g) in enumerate(rules.get("groups", {}).items()):
        mode = g.get("mode", "efficiency")
        strength = None
        if isinstance(mode, dict):
            strength = mode["conversion"]
            mode = "conversion"
        groups.append({"name": name, "agents": g.get("agents", []),
                       **{d: list(g.get(d, [])) for d in DIMS},
                       "mode": mode, "strength": strength, "robot": g.get("robot", False)})
        for d in DIMS:
            if g.get(d):
                bound[d].append(gi)
            for v in g.get(d, []):
                index[d].setdefault(v, []).append(gi)
            if d == "crowd":
                labels.update(g.get(d, []))
    return {
        "shop": rules["shop"], "timezone": rules.get("timezone", "Asia/Shanghai"),
        "routing": {"when_nobody_online": r.get("when_nobody_online", "message_pool"),
                    "robot_first": r.get("robot_first", False),
                    "exclusive_direct": r.get("exclusive_direct", False),
                    "busy_threshold": r.get("busy_threshold", 4),
                    "sticky_hold": _secs(sticky.get("hold", "24h")),
                    "sticky_window": _secs(sticky.get("window", "72h")),
                    "drain_pool": r.get("drain_pool", False)},
        "outreach": {"cap_window": 604800, "max_delay": 86400},
        "attributes": {}, "crowds": [], "intents": [],
        "labels": {"crowd": sorted(labels), "intent": sorted(index["intent"])},
        "agents": agents, "groups": groups,
        "tree": {"dims": list(DIMS), "bound": bound, "index": index},
        "promos": {}, "facts": {"tool_level": None, "relationships_last_month_end": None,
                                "advanced_relationships_this_month": None, "grants": []},
        "campaigns": [],
    }


class ShimMatcher:
    """R5 over the lowered tree, labels only (used only until rulec.runtime.matcher lands)."""

    def __init__(self, body):
        self.tree = body["tree"]
        self.n = len(body["groups"])

    def match_indices(self, chat):
        cands = list(range(self.n))
        idx = self.tree["index"]
        values = {"crowd": chat.get("crowds") or [], "product": [chat.get("product")],
                  "intent": [chat.get("intent")], "order": [chat.get("order")]}
        for d in DIMS:
            hit = set()
            for v in values[d]:
                hit.update(idx[d].get(v, []) if v is not None else [])
            hits = [g for g in cands if g in hit]
            if hits:
                cands = hits
        return cands
