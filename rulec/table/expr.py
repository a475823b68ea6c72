"""Named reading of the table's predicate form (EXPR, docs/table-format.md): printing and atoms.

The runtime evaluates EXPR arrays positionally for speed; tools that show or reason about a
predicate (views, diff, capture analysis) read it through these functions instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

ATOMS = ("cmp", "in", "not_in", "contains", "contains_any")
# How tightly each form binds when printed (higher binds tighter), for minimal parentheses.
# A predicate in the table's form: a JSON list headed by its operator (docs/table-format.md).
Expr = list[Any]
_PREC = {"or": 1, "and": 2, "not": 3}


def literal(v: object) -> str:
    """A literal as the .rules language writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return repr(v) if isinstance(v, float) else str(v)


def attribute(expr: Expr) -> str | None:
    """The attribute an atom reads (None for const/and/or/not)."""
    op = expr[0]
    name: str | None = expr[2] if op == "cmp" else expr[1] if op in ATOMS else None
    return name


def atoms(expr: Expr) -> Iterator[Expr]:
    """Every atom of a predicate, left to right (iteratively: depth is bounded by the schema)."""
    stack = [expr]
    while stack:
        e = stack.pop()
        op = e[0]
        if op in ("and", "or"):
            stack.extend(reversed(e[1]))
        elif op == "not":
            stack.append(e[1])
        elif op in ATOMS:
            yield e


def to_text(expr: Expr, _outer: int = 0) -> str:
    """The predicate in the .rules language's syntax (`member_level >= 3 and city in ["杭州"]`)."""
    op = expr[0]
    if op == "const":
        return literal(expr[1])
    if op in ("and", "or"):
        text = f" {op} ".join(to_text(e, _PREC[op]) for e in expr[1])
        return f"({text})" if _outer > _PREC[op] else text
    if op == "not":
        return f"not {to_text(expr[1], _PREC['not'] + 1)}"
    if op == "cmp":
        return f"{expr[2]} {expr[1]} {literal(expr[3])}"
    if op in ("in", "not_in"):
        word = "in" if op == "in" else "not in"
        return f"{expr[1]} {word} [{', '.join(literal(v) for v in expr[2])}]"
    if op == "contains":
        return f"{expr[1]} contains {literal(expr[2])}"
    if op == "contains_any":
        return f"{expr[1]} contains_any [{', '.join(literal(v) for v in expr[2])}]"
    raise ValueError(f"unknown predicate form {op!r}")
