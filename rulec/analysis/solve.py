"""Witness values for predicates: an environment that makes a compiled EXPR true (or false).

The predicate is put in disjunctive normal form (bounded); each conjunction is solved one
attribute at a time from a finite set of candidate values built from the literals it
mentions (each literal, its neighbours, midpoints, concatenations of required substrings),
so every answer is checked by the reference evaluator before it is returned. A predicate
whose normal form is too large gives `UNKNOWN`, never a wrong "impossible".
"""

from __future__ import annotations

import json
from itertools import product as cartesian

from rulec.matching.reference import evaluate
from rulec.table.expr import attribute

MAX_TERMS = 512  # conjunctions in a normal form before the solver says "unknown"
UNKNOWN = "unknown"


def _dnf(expr, want: bool):
    """Conjunctions of (atom, polarity) making `expr` == want; None when too large."""
    op = expr[0]
    if op == "const":
        return [[]] if bool(expr[1]) == want else []
    if op == "not":
        return _dnf(expr[1], not want)
    if op in ("and", "or"):
        conj = (op == "and") == want  # and→true and or→false are conjunctions of the parts
        parts = []
        for e in expr[1]:
            d = _dnf(e, want)
            if d is None:
                return None
            parts.append(d)
        if not conj:
            out = [t for d in parts for t in d]
            return out if len(out) <= MAX_TERMS else None
        out = [[]]
        for d in parts:
            out = [a + b for a in out for b in d]
            if len(out) > MAX_TERMS:
                return None
        return out
    return [[(expr, want)]]


def _numbers(lits, integral: bool):
    vals = sorted({v for v in lits if isinstance(v, (int, float)) and not isinstance(v, bool)})
    out = []
    for i, v in enumerate(vals):
        out += [v, v - 1, v + 1]
        if not integral:
            out += [v - 0.5, v + 0.5]
            if i + 1 < len(vals):
                out.append((v + vals[i + 1]) / 2)
    out += [0, 1, -1] if integral else [0, 1, -1, 0.5]
    if integral:
        out = [int(v) for v in out if float(v).is_integer()]
    return out


def _strings(lits, needs):
    strs = sorted({v for v in lits if isinstance(v, str)})
    out = list(strs) + [s + "x" for s in strs] + [s[:-1] for s in strs if s]
    out += ["".join(combo) for combo in cartesian(*needs)][:64] if needs else []
    out += ["", "x", "zz"]
    return out


def _candidates(kind: str | None, atoms_here):
    """Candidate values for one attribute, given the atoms that read it."""
    lits, needs = [], []
    for e, want in atoms_here:
        op = e[0]
        if op == "cmp":
            lits.append(e[3])
        elif op in ("in", "not_in"):
            lits.extend(e[2])
        elif op == "contains":
            lits.append(e[2])
            if want:
                needs.append([e[2]])
        elif op == "contains_any":
            lits.extend(e[2])
            if want:
                needs.append(list(e[2]))
    if kind == "bool" or (kind is None and any(isinstance(v, bool) for v in lits)):
        yield from (True, False)
        return
    if kind in ("int", "number") or (
        kind is None and any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in lits)
    ):
        yield from _numbers(lits, kind == "int")
        if kind is not None:
            return
    if kind == "set":
        base = sorted({v for v in lits if isinstance(v, str)})
        req = [n[0] for n in needs]
        yield req
        yield base
        for s in base:
            yield [s]
        yield []
        return
    yield from _strings(lits, needs)


def satisfy(expr, want: bool = True, types: dict | None = None, fixed: dict | None = None):
    """An environment (attribute -> value; absent = missing) in which `expr` evaluates to
    `want`, extending `fixed`; None when no conjunction of its normal form can be met (the
    predicate is impossible), UNKNOWN when the normal form is too large to search."""
    types = types or {}
    fixed = dict(fixed or {})
    terms = _dnf(expr, want)
    if terms is None:
        return UNKNOWN
    for term in terms:
        env = _solve_term(term, types, fixed)
        if env is not None and evaluate(expr, env) == want:
            return env
    return None


_MISSING = object()
_memo: dict = {}  # (attribute type, its atoms) -> a value meeting them, _MISSING, or None


def _solve_attr(attr, kind, here):
    """A value for one attribute meeting every (atom, polarity) on it; _MISSING when leaving
    it out does; None when no candidate does. Remembered: the same constraints recur across
    the terms of a normal form and across predicates."""
    key = (attr, kind, json.dumps(here, sort_keys=True, ensure_ascii=False))
    if key in _memo:
        return _memo[key]
    if len(_memo) > 50_000:
        _memo.clear()
    found = None
    if all(not w for _, w in here) and all(not evaluate(a, {}) for a, _ in here):
        found = _MISSING  # every atom on a missing attribute is false: leave it missing
    else:
        env: dict = {}
        for value in _candidates(kind, here):
            env[attr] = value
            if all(evaluate(a, env) == w for a, w in here):
                found = value
                break
    _memo[key] = found
    return found


def _solve_term(term, types, fixed):
    by_attr: dict = {}
    for atom, want in term:
        by_attr.setdefault(attribute(atom), []).append((atom, want))
    env = dict(fixed)
    for attr, here in by_attr.items():
        if attr in fixed:
            if all(evaluate(a, env) == w for a, w in here):
                continue
            return None
        value = _solve_attr(attr, types.get(attr), here)
        if value is None:
            return None
        if value is not _MISSING:
            env[attr] = value
    return env
