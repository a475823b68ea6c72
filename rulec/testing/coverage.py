"""What a shop's tests exercised: groups, steps, bindings, crowds, intents, predicate branches, campaigns.

Definitions (docs/testing.md):
- a group is covered when a decision names it (step group, group_robot or sticky_group);
- a step is one of the router's decision steps that the shop's settings can reach;
- a binding is a group's value in one dimension (crowd, product, intent, order), covered when
  R5 kept the group because of that value;
- a crowd or intent is covered when it held for a chat (crowds: or a consumer);
- a predicate branch is one comparison of a crowd or intent coming out true, or false, when
  evaluated (as the router does: `and`/`or` stop at the first deciding item);
- a campaign is covered when a test planned it at a moment it was due (sent or skipped).
"""

from __future__ import annotations

from rulec.common import vocab
from rulec.common.vocab import DIMS
from rulec.compiler import model as m
from rulec.compiler.passes.lower import expr as lower_expr
from rulec.errors import Span
from rulec.matching import reference

CATEGORIES = ("groups", "steps", "bindings", "crowds", "intents", "branches", "campaigns")


def reachable_steps(body: dict) -> list:
    """The decision steps the shop's settings allow (R1–R9): with robot_first on every chat
    past R3 goes to the robot (R4); exclusive needs exclusive_direct; group_robot a robot
    group; the R2d robot only with robot_first; R2c (sticky_group) another agent in a group
    with the suspended one."""
    r = body["routing"]
    steps = [vocab.STEP_NOBODY_ONLINE, vocab.STEP_STICKY]
    if any(len(set(g["agents"])) > 1 for g in body["groups"]):
        steps.append(vocab.STEP_STICKY_GROUP)
    if r["exclusive_direct"]:
        steps.append(vocab.STEP_EXCLUSIVE)
    if r["robot_first"]:
        return steps + [vocab.STEP_STICKY_OFFLINE_ROBOT, vocab.STEP_ROBOT_FIRST]
    steps.append(vocab.STEP_GROUP)
    if any(g["robot"] for g in body["groups"]):
        steps.append(vocab.STEP_GROUP_ROBOT)
    return steps + [vocab.STEP_FALLBACK_ANY]


def _leaves(node, out):
    """A predicate as nested ("and"|"or"|"not", items) / ("leaf", index) with its leaves'
    lowered forms and spans appended to `out`."""
    if isinstance(node, m.BoolOp):
        return (node.op, [_leaves(x, out) for x in node.items])
    if isinstance(node, m.Not):
        return ("not", [_leaves(node.item, out)])
    out.append((lower_expr(node), node.span))
    return ("leaf", len(out) - 1)


def _walk(tree, leaves, env, seen) -> bool:
    kind, arg = tree
    if kind == "leaf":
        v = reference.evaluate(leaves[arg][0], env)
        seen.add((arg, v))
        return v
    if kind == "not":
        return not _walk(arg[0], leaves, env, seen)
    stop = kind == "or"  # `or` stops at the first true item, `and` at the first false one
    for item in arg:
        if _walk(item, leaves, env, seen) == stop:
            return stop
    return not stop


class RulesCoverage:
    """Coverage of one rules file (merged over every suite run against it)."""

    def __init__(self, rules: str, result):
        self.rules, self.body, shop = rules, result.body, result.shop
        # category -> {item: span or None}; an item is a name, or a tuple for a branch
        self.items: dict[str, dict[object, Span | None]] = {c: {} for c in CATEGORIES}
        self.hit: dict[str, set[object]] = {c: set() for c in CATEGORIES}
        it = self.items
        for g in shop.groups:
            it["groups"][g.name] = g.span
            for dim in DIMS:
                for ref in getattr(g, dim):
                    it["bindings"][f"{g.name} {dim} {ref.name}"] = ref.span
        for s in reachable_steps(self.body):
            it["steps"][s] = None
        self.preds = {}
        for kind, defs in (("crowds", shop.crowds), ("intents", shop.intents)):
            for d in defs:
                it[kind][d.name] = d.span
                leaves: list = []
                tree = _leaves(d.expr, leaves)
                self.preds[(kind, d.name)] = (tree, leaves)
                for i, (_low, span) in enumerate(leaves):
                    for v in (True, False):
                        it["branches"][(kind, d.name, i, v)] = span
        for c in shop.campaigns:
            it["campaigns"][c.name] = c.span
        self.groups = {g["name"]: g for g in self.body["groups"]}

    def _predicates(self, kind, env):
        for (k, name), (tree, leaves) in self.preds.items():
            if k != kind:
                continue
            seen: set = set()
            if _walk(tree, leaves, env, seen):
                self.hit[kind].add(name)
            self.hit["branches"].update((kind, name, i, v) for i, v in seen)

    def routed(self, chat: dict, decision: dict) -> None:
        self.hit["steps"].add(decision["step"])
        if decision.get("group") is not None:
            self.hit["groups"].add(decision["group"])
        attrs = chat.get("attrs") or {}
        self._predicates("crowds", attrs)
        self._predicates("intents", reference.intent_env(attrs, chat.get("message")))
        for step in reference.explain(self.body, chat)["steps"]:
            dim = step["dim"]
            for g in step["hits"]:
                for v in step["values"]:
                    if v in self.groups[g][dim]:
                        self.hit["bindings"].add(f"{g} {dim} {v}")

    def planned(self, record: dict, report: dict) -> None:
        self._predicates("crowds", record.get("attrs") or {})
        for name, entry in report["campaigns"].items():
            if entry["status"] != "not_due":
                self.hit["campaigns"].add(name)

    # -- the figures ---------------------------------------------------------------------
    def _label(self, category, key) -> str:
        if category == "branches":
            kind, name, i, v = key
            leaf = self.preds[(kind, name)][1][i][0]
            return f"{kind[:-1]} {name}: {_leaf_text(leaf)} never {'true' if v else 'false'}"
        return f"{category[:-1]} {key}"

    def figures(self) -> dict:
        cats, n_all, c_all, missing = {}, 0, 0, []
        for cat in CATEGORIES:
            items = self.items[cat]
            covered = sum(1 for k in items if k in self.hit[cat])
            cats[cat] = {
                "covered": covered,
                "total": len(items),
                "percent": _pct(covered, len(items)),
            }
            n_all, c_all = n_all + len(items), c_all + covered
            for k, span in items.items():
                if k not in self.hit[cat]:
                    missing.append(
                        {
                            "category": cat,
                            "item": self._label(cat, k),
                            "file": span.file if span else None,
                            "line": span.line if span else None,
                            "col": span.col if span else None,
                        }
                    )
        return {
            "rules": self.rules,
            "categories": cats,
            "covered": c_all,
            "total": n_all,
            "percent": _pct(c_all, n_all),
            "uncovered": missing,
        }


def _pct(a, n) -> float:
    return round(100.0 * a / n, 1) if n else 100.0


def _leaf_text(low) -> str:
    """A lowered leaf as the operator wrote it (roughly): `level >= 3`, `tags contains "x"`."""
    import json

    op = low[0]
    if op == "const":
        return "true" if low[1] else "false"
    if op == "cmp":
        return f"{low[2]} {low[1]} {json.dumps(low[3], ensure_ascii=False)}"
    return f"{low[1]} {op.replace('_', ' ')} {json.dumps(low[2], ensure_ascii=False)}"


class Coverage:
    """Coverage of every rules file a run tested."""

    def __init__(self):
        self.per_rules: dict = {}

    def add_rules(self, rules: str, result) -> None:
        if rules not in self.per_rules:
            self.per_rules[rules] = RulesCoverage(rules, result)

    def for_rules(self, rules: str) -> RulesCoverage:
        return self.per_rules[rules]

    def report(self) -> dict:
        files = [c.figures() for c in self.per_rules.values()]
        covered = sum(f["covered"] for f in files)
        total = sum(f["total"] for f in files)
        return {"files": files, "covered": covered, "total": total, "percent": _pct(covered, total)}
