"""What a rule change does (`rulec diff OLD NEW`): structural changes, the regions of
crowd × product × intent × order whose R5 candidates change (each with a witness chat), a
replay of a traffic log under both rule sets, and the outreach sends gained and lost.

Regions are found by a walk over the four dimensions in R5 order on both decision trees at
once, with group sets as bitmasks over the union of both shops' group names. States (old
candidates, new candidates) reached by several values merge, and a state whose two sides
agree while the remaining dimensions are identical in both trees is not followed further,
so the cost follows the size of the change rather than of the shops.
"""

from __future__ import annotations

from typing import Any

import attrs

from rulec.analysis import solve
from rulec.analysis.bitset import mask, pick
from rulec.analysis.capture import Witnesses
from rulec.common.vocab import DIMS, ORDER_STATES
from rulec.table.expr import to_text

MAX_REGIONS = 200  # regions listed (the count says how many there are)
OTHER = "<other>"  # a product no group binds
MAX_PAIRS = 12  # crowds up to which buyers in two crowds are compared too


@attrs.frozen
class Change:
    kind: str  # setting | agent | group | crowd | intent | campaign | promo | fact
    name: str
    change: str  # added | removed | changed
    old: object = None
    new: object = None

    def text(self) -> str:
        if self.change == "changed":
            return f"{self.kind} {self.name}: {_show(self.old)} -> {_show(self.new)}"
        return f"{self.kind} {self.name} {self.change}: {_show(self.new if self.change == 'added' else self.old)}"


def _show(v) -> str:
    if (
        isinstance(v, list)
        and v
        and v[0] in ("and", "or", "not", "cmp", "in", "not_in", "contains", "contains_any", "const")
    ):
        return to_text(v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_show(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def structural(old: dict, new: dict) -> list[Change]:
    """Added, removed and changed items of two table bodies (names as keys)."""
    out = []
    for key in ("routing", "outreach"):
        for k in sorted(set(old[key]) | set(new[key])):
            if old[key].get(k) != new[key].get(k):
                out.append(
                    Change("setting", f"{key}.{k}", "changed", old[key].get(k), new[key].get(k))
                )
    if old["timezone"] != new["timezone"]:
        out.append(Change("setting", "timezone", "changed", old["timezone"], new["timezone"]))
    for kind, key, name in (
        ("agent", "agents", "id"),
        ("group", "groups", "name"),
        ("crowd", "crowds", "name"),
        ("intent", "intents", "name"),
        ("campaign", "campaigns", "name"),
    ):
        a = {x[name]: x for x in old[key]}
        b = {x[name]: x for x in new[key]}
        for n in list(a) + [n for n in b if n not in a]:
            if n not in b:
                out.append(Change(kind, n, "removed", _item(kind, a[n]), None))
            elif n not in a:
                out.append(Change(kind, n, "added", None, _item(kind, b[n])))
            elif a[n] != b[n]:
                fields = [f for f in a[n] if f != name and a[n].get(f) != b[n].get(f)]
                if kind in ("crowd", "intent"):
                    out.append(Change(kind, n, "changed", a[n]["expr"], b[n]["expr"]))
                else:
                    out.append(
                        Change(
                            kind,
                            n,
                            "changed",
                            {f: a[n].get(f) for f in fields},
                            {f: b[n].get(f) for f in fields},
                        )
                    )
        if kind == "group" and [n for n in a if n in b] != [n for n in b if n in a]:
            out.append(
                Change(
                    "group",
                    "(order)",
                    "changed",
                    [n for n in a if n in b],
                    [n for n in b if n in a],
                )
            )
    for key, kind in (("promos", "promo"), ("facts", "fact")):
        for k in sorted(set(old[key]) | set(new[key])):
            if old[key].get(k) != new[key].get(k):
                out.append(Change(kind, k, "changed", old[key].get(k), new[key].get(k)))
    return out


def _item(kind, x):
    return (
        x["expr"]
        if kind in ("crowd", "intent")
        else {k: v for k, v in x.items() if k not in ("name", "id")}
    )


# -- semantic regions ----------------------------------------------------------------------------


@attrs.frozen
class Region:
    """Chats with these values change R5 candidates from `old` to `new` (group names)."""

    values: dict  # dim -> the value classes that lead here ("(any)": every class)
    old: tuple
    new: tuple
    chat: dict | None
    combinations: int = 1  # value-class combinations in the region


class _Side:
    def __init__(self, body: dict, names: dict):
        self.index = {
            d: {
                v: mask(names[body["groups"][i]["name"]] for i in ids)
                for v, ids in body["tree"]["index"][d].items()
            }
            for d in DIMS
        }
        self.all = mask(names[g["name"]] for g in body["groups"])


def _classes(old: dict, new: dict, d: str):
    """(description, old values, new values, requirement) per value class of dimension d.
    A requirement says what a witness needs: ("value", v), ("labels", ...) or, for a crowd or
    intent whose predicate changed, ("only_old"/"only_new", name)."""
    if d == "product":
        vals = list(dict.fromkeys([*old["tree"]["index"][d], *new["tree"]["index"][d]]))
        yield from ((v, [v], [v], ("value", v)) for v in vals)
        yield (OTHER, [OTHER], [OTHER], ("value", OTHER))
        yield ("(none)", [], [], ("none", None))
        return
    if d == "order":
        yield from ((v, [v], [v], ("value", v)) for v in ORDER_STATES)
        yield ("(none)", [], [], ("none", None))
        return
    key = "crowds" if d == "crowd" else "intents"
    a = {c["name"]: c["expr"] for c in old[key]}
    b = {c["name"]: c["expr"] for c in new[key]}
    names = list(dict.fromkeys([*old["tree"]["index"][d], *new["tree"]["index"][d], *a, *b]))
    for n in names:
        if n in a and n in b and a[n] != b[n]:
            yield (f"{n} (old predicate only)", [n], [], ("only_old", n))
            yield (f"{n} (new predicate only)", [], [n], ("only_new", n))
        yield (n, [n], [n], ("value", n))
    if d == "crowd" and len(names) <= MAX_PAIRS:  # a buyer in two crowds, while few
        for i, x in enumerate(names):
            for y in names[i + 1 :]:
                yield (f"{x}+{y}", [x, y], [x, y], ("pair", (x, y)))
    yield ("(none)", [], [], ("none", None))


def regions(old_table, new_table, limit: int = MAX_REGIONS):
    """(regions listed, total count) of value combinations whose R5 candidates change."""
    old, new = old_table.body, new_table.body
    names: dict[str, int] = {}
    for g in old["groups"] + new["groups"]:
        names.setdefault(g["name"], len(names))
    order = list(names)
    o, n = _Side(old, names), _Side(new, names)
    classes = [list(_classes(old, new, d)) for d in DIMS]
    # from dimension k on, both trees and all predicates agree: equal states stay equal
    same_after = [
        all(o.index[e] == n.index[e] for e in DIMS[k:])
        and not any(c[3][0] in ("only_old", "only_new") for cs in classes[k:] for c in cs)
        for k in range(len(DIMS))
    ]
    # state (old candidates, new candidates) -> [an example path, combinations, the (state of
    # the previous dimension, class label) pairs that lead to it]; the labels of a state are
    # read back from those pairs only for the regions listed (`_labels`)
    states: dict[tuple[int, int], list[Any]] = {(o.all, n.all): [(), 1, []]}
    for k, d in enumerate(DIMS):
        # each class's hits do not depend on the state: computed once per dimension
        hits = [(cls, _hit(o.index[d], cls[1]), _hit(n.index[d], cls[2])) for cls in classes[k]]
        nxt: dict = {}
        for (co, cn), entry in states.items():
            if co == cn and same_after[k]:
                continue
            path, count = entry[0], entry[1]
            for cls, hit_o, hit_n in hits:
                key = (co & hit_o or co, cn & hit_n or cn)
                st = nxt.get(key)
                if st is None:
                    nxt[key] = [path + (cls,), count, [(entry, cls[0])]]
                else:
                    st[1] += count
                    st[2].append((entry, cls[0]))
        states = nxt
    names_of: dict[
        int, tuple
    ] = {}  # mask -> group names (each state's masks are read several times)

    def named(m):
        got = names_of.get(m)
        if got is None:
            got = names_of[m] = pick(order, m)
        return got

    changed = [(k, v) for k, v in states.items() if k[0] != k[1]]
    changed.sort(key=lambda kv: (named(kv[0][0]), named(kv[0][1])))
    out = []
    wo, wn = Witnesses(old_table), Witnesses(new_table)
    memo: dict = {}
    for (co, cn), (path, count, _) in changed[:limit]:
        labels = _labels(states[(co, cn)], len(DIMS), memo)
        chat = _witness(path, wo, wn)
        if chat is not None and (
            tuple(old_table.matcher.match(chat)) != named(co)
            or tuple(new_table.matcher.match(chat)) != named(cn)
        ):
            chat = None  # the solved attributes brought in other crowds: no witness claimed
        values = {}
        for d, labs, cs in zip(DIMS, labels, classes):
            values[d] = ["(any)"] if len(labs) == len(cs) else list(labs)
        out.append(Region(values, named(co), named(cn), chat, count))
    return out, len(changed)


def _labels(entry, level: int, memo: dict) -> list[dict]:
    """The class labels per dimension that lead to a state (keys of dicts, first seen first):
    in the order the walk reached it, each way's labels after the previous ones."""
    got = memo.get(id(entry))
    if got is None:
        got = memo[id(entry)] = [{} for _ in range(level)]
        for parent, label in entry[2]:
            if level > 1:
                for mine, theirs in zip(got, _labels(parent, level - 1, memo)):
                    mine.update(theirs)
            got[level - 1][label] = None
    return got


def _hit(index: dict, values) -> int:
    h = 0
    for v in values:
        h |= index.get(v, 0)
    return h


def _require(d, v, wo, wn, need, labels):
    exprs_o = wo.crowd_expr if d == "crowd" else wo.intent_expr
    exprs_n = wn.crowd_expr if d == "crowd" else wn.intent_expr
    if v in exprs_n or v in exprs_o:
        need.append(exprs_n.get(v) or exprs_o[v])
    else:
        labels.append(v)


def _witness(path, wo: Witnesses, wn: Witnesses):
    """A chat in the region, with crowd attributes and a message solved from the predicates."""
    vals: dict[str, Any] = {}
    need: list[Any] = []
    labels: list[Any] = []
    intent_label = None
    for d, cls in zip(DIMS, path):
        req, v = cls[3]
        if req == "none":
            continue
        if req == "pair":
            for x in v:
                _require(d, x, wo, wn, need, labels)
            continue
        if d in ("product", "order"):
            vals[d] = "other-product" if v == OTHER else v
            continue
        exprs_o = wo.crowd_expr if d == "crowd" else wo.intent_expr
        exprs_n = wn.crowd_expr if d == "crowd" else wn.intent_expr
        if req == "only_old":
            need += [exprs_o[v], ["not", exprs_n[v]]]
        elif req == "only_new":
            need += [exprs_n[v], ["not", exprs_o[v]]]
        elif d == "intent" and v not in exprs_n and v not in exprs_o:
            intent_label = v
        else:
            _require(d, v, wo, wn, need, labels)
    env = solve.satisfy(["and", need], True, {**wo.types, **wn.types}) if need else {}
    if env is None or env == solve.UNKNOWN:
        return None
    env = dict(env)
    message = env.pop("message", None)
    chat = {
        "buyer": "witness",
        "time": "2026-01-01T10:00:00+08:00",
        "attrs": env,
        "crowds": labels,
        **vals,
    }
    if message is not None:
        chat["message"] = message
    if intent_label is not None:
        chat["intent"] = intent_label
    return chat
