"""Pass: static analysis warnings (unreachable groups, idle agents, no-op modes, dead predicates)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rulec.common.vocab import CONVERSION, DIMS
from rulec.compiler import model as m
from rulec.errors import Diagnostic, Span, diag, did_you_mean

Binds = dict[str, set[str]]  # dimension -> the values a group binds


def _warn(
    d: list[Diagnostic], code: str, message: str, span: Span | None, hints: Iterable[str] = ()
) -> None:
    d.append(diag(code, message, span, "warning", tuple(hints)))


def _binds(g: m.Group) -> Binds:
    return {dim: {r.name for r in getattr(g, dim)} for dim in DIMS if getattr(g, dim)}


class Shadowing:
    """Finds, for each group in declaration order, an earlier group that makes it unreachable.

    H shadows G when H is a candidate whenever G is (R5: H binds every dimension G binds, with
    the same or wider values), H has every agent of G and the same robot setting, so R6 always
    credits the choice to H (or to its robot). Earlier groups are indexed by agent and by bound
    value, so each look-up scans only groups that could qualify (linear in practice)."""

    def __init__(self) -> None:
        self.seen: list[tuple[m.Group, Binds, set[str]]] = []
        self.by_agent: dict[str, list[int]] = {}
        self.by_value: dict[tuple[str, str], list[int]] = {}

    def check(self, g: m.Group) -> m.Group | None:
        binds = _binds(g)
        agents = {r.name for r in g.agents}
        none: tuple[int, ...] = ()
        pools: list[Sequence[int]] = [self.by_agent.get(a, none) for a in agents]
        pools += [self.by_value.get((dim, v), none) for dim, vals in binds.items() for v in vals]
        pool: Sequence[int] = min(pools, key=len) if pools else range(len(self.seen))
        found = None
        for i in pool:
            h, hb, ha = self.seen[i]
            if (
                h.robot == g.robot
                and agents <= ha
                and all(dim in hb and vals <= hb[dim] for dim, vals in binds.items())
            ):
                found = h
                break
        idx = len(self.seen)
        self.seen.append((g, binds, agents))
        for a in agents:
            self.by_agent.setdefault(a, []).append(idx)
        for dim, vals in binds.items():
            for v in vals:
                self.by_value.setdefault((dim, v), []).append(idx)
        return found


# -- predicates that can never hold ----------------------------------------------------------


def _bounds_conflict(cmps: list[tuple[str, Any]]) -> bool:
    """Comparisons on one attribute with numeric or string literals, all required: unsat?"""
    lo, lo_incl, hi, hi_incl, eq, ne = None, True, None, True, None, set()
    for op, v in cmps:
        if op == "==":
            if eq is not None and eq != v:
                return True
            eq = v
        elif op == "!=":
            ne.add(v)
        elif op in (">", ">="):
            if lo is None or v > lo or (v == lo and op == ">"):
                lo, lo_incl = v, op == ">="
        elif op in ("<", "<="):
            if hi is None or v < hi or (v == hi and op == "<"):
                hi, hi_incl = v, op == "<="
    try:
        if (
            lo is not None
            and hi is not None
            and (lo > hi or (lo == hi and not (lo_incl and hi_incl)))
        ):
            return True
        if eq is not None:
            if eq in ne:
                return True
            if lo is not None and (eq < lo or (eq == lo and not lo_incl)):
                return True
            if hi is not None and (eq > hi or (eq == hi and not hi_incl)):
                return True
    except TypeError:
        return False  # mixed literal types: the type pass reports those
    return False


def never_holds(e: m.Expr) -> bool:
    """True when the predicate is false for every buyer (a sound, incomplete check)."""
    if isinstance(e, m.Const):
        return not e.value
    if isinstance(e, m.InList):
        return not e.negated and not e.values.items
    if isinstance(e, m.Contains):
        return e.any and isinstance(e.value, m.ListLit) and not e.value.items
    if isinstance(e, m.BoolOp):
        if e.op == "or":
            return all(never_holds(x) for x in e.items)
        if any(never_holds(x) for x in e.items):
            return True
        # values of any literal type: _bounds_conflict gives up on a mixed list (TypeError)
        per_attr: dict[str, list[tuple[str, Any]]] = {}
        for x in e.items:
            if (
                isinstance(x, m.Compare)
                and isinstance(x.left, m.Attr)
                and isinstance(x.right, m.Literal)
                and not isinstance(x.right.value, bool)
            ):
                per_attr.setdefault(x.left.name, []).append((x.op, x.right.value))
            elif (
                isinstance(x, m.InList)
                and isinstance(x.attr, m.Attr)  # a literal on the left is T305, not lint's
                and not x.negated
                and len(x.values.items) == 1
            ):
                per_attr.setdefault(x.attr.name, []).append(("==", x.values.items[0].value))
        return any(_bounds_conflict(c) for c in per_attr.values())
    return False


def _walk(e: m.Expr) -> Iterator[m.Expr]:
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        if isinstance(x, m.BoolOp):
            stack.extend(x.items)
        elif isinstance(x, m.Not):
            stack.append(x.item)


def run(shop: m.Shop) -> list[Diagnostic]:
    d: list[Diagnostic] = []
    grouped = {r.name for g in shop.groups for r in g.agents}
    for a in shop.agents:
        if a.id not in grouped:
            _warn(
                d,
                "W501",
                f"agent {a.id} is in no group: it only gets its own recent buyers "
                "(R2) and exclusive buyers (R3), or fallback chats",
                a.span,
            )
    shadowing = Shadowing()
    for g in shop.groups:
        h = shadowing.check(g)
        if not g.agents and not g.robot:
            _warn(
                d,
                "W500",
                f"group {g.name} has no agents and no robot: it can never be chosen (R6 drops it)",
                g.span,
            )
            continue
        if h is not None:
            _warn(
                d,
                "W500",
                f"group {g.name} is shadowed by {h.name}, declared earlier with the "
                f"same or wider bindings and all its agents: it can never be chosen (R5, R6)",
                g.span,
            )
        if g.mode == CONVERSION and len(g.agents) <= 5:
            _warn(
                d,
                "W502",
                f"group {g.name} has {len(g.agents)} agents: conversion mode takes "
                "no effect with 5 or fewer (C5), efficiency is used",
                g.mode_span or g.span,
            )
    for kind, defs in (("crowd", shop.crowds), ("intent", shop.intents)):
        for p in defs:
            if never_holds(p.expr):
                _warn(d, "W503", f"{kind} {p.name} can never hold", p.span)
            for x in _walk(p.expr):
                # a literal on the left is T305 (types pass), not a lint finding
                if isinstance(x, m.InList) and isinstance(x.attr, m.Attr) and not x.values.items:
                    _warn(
                        d,
                        "W505",
                        f"`{x.attr.name} {'not in' if x.negated else 'in'} []` "
                        f"{'always' if x.negated else 'never'} holds",
                        x.span,
                    )
    defined = {"crowd": [c.name for c in shop.crowds], "intent": [i.name for i in shop.intents]}
    known = {dim: set(names) for dim, names in defined.items()}  # a list would be quadratic
    reported = set()
    refs = [(dim, r) for g in shop.groups for dim in ("crowd", "intent") for r in getattr(g, dim)]
    refs += [("crowd", t.crowd) for c in shop.campaigns for t in c.targets + c.segments]
    for dim, r in refs:
        if r.name not in known[dim] and (dim, r.name) not in reported:
            reported.add((dim, r.name))
            _warn(
                d,
                "W504",
                f"{dim} `{r.name}` is not defined: it is an outside label, taken "
                f"from the event's `{'crowds' if dim == 'crowd' else 'intent'}`",
                r.span,
                did_you_mean(r.name, defined[dim]),
            )
    return d
