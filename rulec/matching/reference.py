"""Reference R5 evaluator: walks the table body directly (slow, obviously right; used for R10 traces).

Predicate meaning (docs/table-format.md, EXPR; semantics.md "Settled readings"):
- a value is missing when the attribute is absent or JSON null; a comparison reading a missing
  value is false, `not_in` included (and `not` of a comparison on it is true);
- kinds are bool, number (int or float, never bool), string, set (a list) and other; a
  comparison between different kinds is false (True never equals 1);
- numbers compare numerically and exactly (Python's int/float comparison), strings by code
  point; ordering bools is false;
- `contains` is substring on a string and membership on a set; `contains_any` is any of them.
Crowds are evaluated over the chat's attrs; intents over attrs with `message` set to the
chat's message (semantics.md: "Intents ... over message").
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rulec.common.vocab import DIMS
from rulec.errors import InputError, diag

Expr = Sequence[Any]  # a compiled EXPR: (op, ...) as docs/table-format.md describes
Body = dict[str, Any]  # a table body (schema-checked)
Chat = dict[str, Any]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


_KINDS: dict[type, str] = {
    type(None): "missing",
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    list: "set",
    tuple: "set",
}


def kind(v: object) -> str:
    """The runtime kind of a value: missing, bool, number, string, set or other."""
    k = _KINDS.get(v.__class__)  # the plain JSON types at once; subclasses below
    if k is not None:
        return k
    if v is None:
        return "missing"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "set"
    return "other"


def compare(op: str, v: Any, lit: Any) -> bool:
    """`v OP lit` under the runtime rules (false on a missing value or mismatched kinds)."""
    kv = kind(v)
    if kv != kind(lit) or kv not in ("bool", "number", "string"):
        return False
    if op == "==":
        return bool(v == lit)
    if op == "!=":
        return bool(v != lit)
    if kv == "bool":
        return False  # ordering bools is not defined
    return _ORDER[op](v, lit)


def contains(v: Any, s: str) -> bool:
    """Substring of a string value, or member of a set value."""
    k = kind(v)
    if k == "string":
        return s in v
    if k == "set":
        return any(isinstance(x, str) and x == s for x in v)
    return False


def evaluate(expr: Expr, env: dict[str, Any], missing: list[str] | None = None) -> bool:
    """Truth of a compiled EXPR over `env`; appends the absent attributes it reads to `missing`."""
    op = expr[0]
    if op == "const":
        const: bool = expr[1]
        return const
    if op == "and":
        return all(evaluate(e, env, missing) for e in expr[1])
    if op == "or":
        return any(evaluate(e, env, missing) for e in expr[1])
    if op == "not":
        return not evaluate(expr[1], env, missing)
    attr = expr[2] if op == "cmp" else expr[1]
    v = env.get(attr)
    if v is None and missing is not None and attr not in missing:
        missing.append(attr)
    if op == "cmp":
        return compare(expr[1], v, expr[3])
    if op == "in":
        return any(compare("==", v, x) for x in expr[2])
    if op == "not_in":  # an atom: false on a missing value, like every other
        return v is not None and not any(compare("==", v, x) for x in expr[2])
    if op == "contains":
        return contains(v, expr[2])
    if op == "contains_any":
        return any(contains(v, s) for s in expr[2])
    raise ValueError(f"unknown predicate form {op!r}")


def check_chat(chat: Any) -> None:
    """Raise InputError (E840) when a chat's matching fields have the wrong JSON types."""

    def bad(msg: str) -> NoReturn:
        raise InputError([diag("E840", f"chat {msg}")])

    if not isinstance(chat, dict):
        bad(f"must be an object, got {type(chat).__name__}")
    attrs = chat.get("attrs")
    if attrs is not None and not isinstance(attrs, dict):
        bad("attrs must be an object")
    crowds = chat.get("crowds")
    if crowds is not None:
        if not isinstance(crowds, (list, tuple)) or not all(isinstance(c, str) for c in crowds):
            bad("crowds must be a list of strings")
    for f in ("product", "order", "intent", "message"):
        v = chat.get(f)
        if v is not None and not isinstance(v, str):
            bad(f"{f} must be a string or null, got {type(v).__name__}")


def intent_env(attrs: dict[str, Any] | None, message: Any) -> dict[str, Any]:
    """The environment intent predicates see: attrs, with `message` set to the chat's message."""
    env = dict(attrs or {})
    env["message"] = message
    return env


def _crowds(body: Body, chat: Chat, missing: list[str] | None) -> list[str]:
    attrs = chat.get("attrs") or {}
    names = [c["name"] for c in body["crowds"] if evaluate(c["expr"], attrs, missing)]
    for label in chat.get("crowds") or ():
        if label not in names:
            names.append(label)
    return names


def _intents(body: Body, chat: Chat, missing: list[str] | None) -> list[str]:
    env = intent_env(chat.get("attrs"), chat.get("message"))
    names = [c["name"] for c in body["intents"] if evaluate(c["expr"], env, missing)]
    label = chat.get("intent")
    if label is not None and label not in names:
        names.append(label)
    return names


def classify(
    body: Body, chat: Chat, missing: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """The chat's crowds and intents: the predicates over its attrs and message, plus labels."""
    return _crowds(body, chat, missing), _intents(body, chat, missing)


def _steps(groups: list[dict[str, Any]], values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """R5 over the chat's value lists, one step per dimension."""
    cand = list(range(len(groups)))
    steps = []
    for dim in DIMS:
        vals = values[dim]
        wanted = set(vals)  # "a value of the chat is in the group's list", read in C
        hits = [i for i in cand if groups[i][dim] and not wanted.isdisjoint(groups[i][dim])]
        if hits:
            cand = hits
        steps.append(
            {
                "dim": dim,
                "values": list(vals),
                "hits": [groups[i]["name"] for i in hits],
                "candidates": [groups[i]["name"] for i in cand],
                "skipped": not hits,
            }
        )
    return steps


def _values(chat: Chat, crowds: list[str], intents: list[str]) -> dict[str, list[Any]]:
    return {
        "crowd": crowds,
        "intent": intents,
        "product": [chat["product"]] if chat.get("product") is not None else [],
        "order": [chat["order"]] if chat.get("order") is not None else [],
    }


def explain(body: Body, chat: Chat) -> dict[str, Any]:
    """R5 with every step shown: crowds, intents, absent attributes read, candidates per dim."""
    check_chat(chat)
    missing: list[str] = []
    crowds, intents = classify(body, chat, missing)
    steps = _steps(body["groups"], _values(chat, crowds, intents))
    return {
        "crowds": crowds,
        "intents": intents,
        "missing": missing,
        "steps": steps,
        "candidates": steps[-1]["candidates"],
    }


def match(body: Body, chat: Chat, classes: tuple[list[str], list[str]] | None = None) -> list[str]:
    """Candidate group names after R5, in declaration order. `classes`: the chat's
    `classify(body, chat)` when the caller already has it (many chats, same attrs)."""
    if classes is None:
        names: list[str] = explain(body, chat)["candidates"]
        return names
    check_chat(chat)
    names = _steps(body["groups"], _values(chat, *classes))[-1]["candidates"]
    return names
