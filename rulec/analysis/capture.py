"""Capture analysis (semantics A1, A2): chats that R5 sends away from the groups that asked for them.

A chat *fully matches* a group when every dimension the group binds holds the chat's value.
A *capture* is a chat that some group fully matches while no group R5 leaves does: the fully
matching groups are passed over, the groups left take it, and the first dimension whose hits
excluded every fully matching group decided. The search runs on the lowered decision tree
with group sets as bitmasks (one Python int per set), one victim at a time: the victim's own
values on the dimensions it binds, and on one dimension it does not bind, each distinct value
that can still hit a candidate there. Every finding then gets a concrete witness chat (crowd
attributes and a message from `solve`), which is run through the reference evaluator, the
live matcher and a router with every agent online before it is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice, product
from typing import Any

import attrs

from rulec.analysis import solve
from rulec.common.vocab import DIMS, ORDER_STATES
from rulec.matching.reference import explain

MAX_COMBOS = 16  # value combinations of one victim's own bindings that are tried
MAX_PER_DIM = 4  # values per bound dimension in those combinations
# Bounds that keep the search linear in the shop's size: extra crowds/intents a buyer may carry
# besides the victim's own, tried per victim. A shop within them is searched exhaustively (the
# differential test); beyond them, the first ones in declaration order are tried.
MAX_EXTRAS = 4
WITNESS_TIME = "2026-01-01T10:00:00+08:00"


@attrs.frozen
class Finding:
    """One analysis result. `kind`: capture (A1), unreachable (A2) or unbound (a value that
    no group binds). `group` is the group passed over / unreachable; `takers` the groups that
    take its chats; `dim` the dimension that decided; `chat` a verified witness."""

    kind: str
    group: str | None
    dim: str | None
    takers: tuple = ()
    chat: dict | None = None
    value: str | None = None  # for `unbound`: the value bound by no group
    share: tuple | None = None  # (captured, fully matched) chats of a traffic sample

    def key(self) -> tuple:
        return (self.kind, self.group, self.dim, self.takers, self.value)


class Tree:
    """The R5 decision tree of a table body as bitmasks: bit i is group i."""

    def __init__(self, body: dict):
        self.body = body
        self.groups = body["groups"]
        self.names = [g["name"] for g in self.groups]
        self.all = (1 << len(self.groups)) - 1
        self.bound = {d: _mask(body["tree"]["bound"][d]) for d in DIMS}
        self.index = {
            d: {v: _mask(ids) for v, ids in body["tree"]["index"][d].items()} for d in DIMS
        }
        self.intent_labels = set(body["labels"]["intent"])
        self.distinct: dict = {}  # (dim, candidates) -> values with distinct hits (a cache)

    def run(self, vals: dict):
        """R5 on value lists per dimension: (candidates, fully matching, decided dim or None)."""
        cand, full, decided = self.all, self.all, None
        for d in DIMS:
            hit = 0
            for v in vals.get(d, ()):
                hit |= self.index[d].get(v, 0)
            full &= (self.all ^ self.bound[d]) | hit
        for d in DIMS:
            hit = 0
            for v in vals.get(d, ()):
                hit |= self.index[d].get(v, 0)
            hits = cand & hit
            if hits:
                if decided is None and cand & full and not hits & full:
                    decided = d
                cand = hits
        return cand, full, decided

    def names_of(self, mask: int) -> tuple:
        return tuple(self.names[i] for i in _bits(mask))


def _mask(ids: Iterable[int]) -> int:
    m = 0
    for i in ids:
        m |= 1 << i
    return m


def _bits(mask: int) -> list[int]:
    out, i = [], 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return out


def _distinct_values(tree: Tree, d: str, within: int) -> list:
    """One value per distinct hit set among the values of `d` that hit a group of `within`
    (read from the groups' own value lists when `within` is small, else from the index);
    remembered, since many victims reach the same candidates."""
    key = (d, within)
    hit = tree.distinct.get(key)
    if hit is None:
        if len(tree.distinct) > 100_000:
            tree.distinct.clear()
        hit = tree.distinct[key] = _distinct_values_of(tree, d, within)
    return hit


def _distinct_values_of(tree: Tree, d: str, within: int) -> list:
    members = _bits(within) if within != tree.all else None
    values: dict[Any, Any]
    if members is not None and sum(len(tree.groups[i][d]) for i in members) < len(tree.index[d]):
        values = dict.fromkeys(v for i in members for v in tree.groups[i][d])
    else:
        values = tree.index[d]
    seen, out = set(), []
    for v in values:
        hit = tree.index[d][v] & within
        if hit and hit not in seen:
            seen.add(hit)
            out.append(v)
    return out


def _own_combos(g: dict):
    dims = [d for d in DIMS if g[d]]
    choices = [list(dict.fromkeys(g[d]))[:MAX_PER_DIM] for d in dims]
    for combo in islice(product(*choices), MAX_COMBOS):
        yield dict(zip(dims, ([v] for v in combo)))


def _extras(tree: Tree, own: dict, useful: int):
    """Value lists with at most one extra value on each multi-valued dimension (crowd, intent)
    the victim binds: a buyer in two crowds brings in the other crowd's groups, which may
    then take the chat at a later dimension."""
    options = []
    for m in ("crowd", "intent"):
        if m not in own:
            options.append([None])
            continue
        mine = 0
        for v in own[m]:
            mine |= tree.index[m].get(v, 0)
        # only groups that bind a dimension the victim leaves free can take its chats later
        adds = [v for v in _distinct_values(tree, m, (tree.all ^ mine) & useful) if v not in own[m]]
        options.append([None, *adds[:MAX_EXTRAS]])
    for crowd_extra, intent_extra in product(*options):
        vals = dict(own)
        if crowd_extra is not None:
            vals["crowd"] = [*own["crowd"], crowd_extra]
        if intent_extra is not None:
            vals["intent"] = [*own["intent"], intent_extra]
        if len([i for i in vals.get("intent", ()) if i in tree.intent_labels]) > 1:
            continue  # a chat carries one intent label
        yield vals


MAX_PAIRS = 16  # a free crowd/intent dimension with at most this many values is also tried in pairs


def _free_values(tree: Tree, d: str, within: int):
    """Value lists for a dimension the victim does not bind: each distinct value, and on the
    multi-valued dimensions (a buyer in several crowds) pairs of them while few."""
    singles = _distinct_values(tree, d, within)
    yield from ([v] for v in singles)
    if d in ("crowd", "intent") and len(singles) <= MAX_PAIRS:
        for i, a in enumerate(singles):
            for b in singles[i + 1 :]:
                yield [a, b]


def _hit(tree: Tree, d: str, values) -> int:
    hit = 0
    for v in values:
        hit |= tree.index[d].get(v, 0)
    return hit


EXAMPLES = 3  # value lists kept per (victim, deciding dimension) to build a witness from


def _candidate_captures(tree: Tree):
    """(victim index, decided dim, union of the takers masks, example value lists) for every
    capture kind the bitmask search finds. For each state (victim values, free dimension d)
    the candidates before d, the full-match mask without d and the hits after d are computed
    once; each value tried at d then costs a few mask operations."""
    for gi, g in enumerate(tree.groups):
        free = [d for d in DIMS if not g[d]]
        if not free:
            continue
        later_bound = 0
        for d in free:
            later_bound |= tree.bound[d]
        found: dict = {}  # decided dim -> [takers mask, examples]
        states = set()
        for own in _own_combos(g):
            for base in _extras(tree, own, later_bound):
                hits = {k: _hit(tree, k, base.get(k, ())) for k in DIMS}
                for d in free:
                    k = DIMS.index(d)
                    cand = tree.all
                    for e in DIMS[:k]:
                        if cand & hits[e]:
                            cand &= hits[e]
                    after = [hits[e] for e in DIMS[k + 1 :]]
                    state = (d, cand, tuple(after))
                    if state in states:
                        continue
                    states.add(state)
                    full_rest = tree.all
                    for e in DIMS:
                        if e != d:
                            full_rest &= (tree.all ^ tree.bound[e]) | hits[e]
                    if not (full_rest >> gi) & 1:
                        continue
                    unbound_d = tree.all ^ tree.bound[d]
                    for vs in _free_values(tree, d, cand):
                        if d == "intent" and len([i for i in vs if i in tree.intent_labels]) > 1:
                            continue
                        hit_d = _hit(tree, d, vs)
                        full = full_rest & (unbound_d | hit_d)
                        if not cand & full:
                            continue  # every fully matching group was gone before d
                        c = cand & hit_d
                        decided = None if c & full else d
                        for e, h_e in zip(DIMS[k + 1 :], after):
                            h = c & h_e
                            if h:
                                if decided is None and not h & full:
                                    decided = e
                                c = h
                        if decided is None:
                            continue
                        entry = found.get(decided)
                        if entry is None:
                            found[decided] = [c, [dict(base, **{d: vs})]]
                        else:
                            entry[0] |= c
                            if len(entry[1]) < EXAMPLES:
                                entry[1].append(dict(base, **{d: vs}))
        for decided, (takers, examples) in found.items():
            yield gi, decided, takers, examples


class Witnesses:
    """Builds witness chats for value lists and checks them with the reference evaluator, the
    table's live matcher and a router with every agent online."""

    def __init__(self, table):
        self.table = table
        self.body = table.body
        self.types = self.body.get("attributes", {})
        self.crowd_expr = {c["name"]: c["expr"] for c in self.body["crowds"]}
        self.intent_expr = {c["name"]: c["expr"] for c in self.body["intents"]}
        self._router = None
        self._envs: dict = {}

    def chat(self, vals: dict, exclude: Iterable[str] = ()):
        """A chat whose crowds include vals["crowd"], intents vals["intent"], with the given
        product and order; `exclude` names defined crowds/intents that must not hold. None
        when impossible or unknown."""
        crowds = vals.get("crowd", [])
        intents = vals.get("intent", [])
        labels = [c for c in crowds if c not in self.crowd_expr]
        intent_labels = [i for i in intents if i not in self.intent_expr]
        if len(intent_labels) > 1:
            return None
        need = [self.crowd_expr[c] for c in crowds if c in self.crowd_expr]
        need += [self.intent_expr[i] for i in intents if i in self.intent_expr]
        for name in exclude:
            e = self.crowd_expr.get(name) or self.intent_expr.get(name)
            if e is not None:
                need.append(["not", e])
        key = (tuple(crowds), tuple(intents), tuple(exclude))
        env = self._envs.get(key, False)
        if env is False:  # many findings need the same crowds and intents: solve each once
            env = self._envs[key] = solve.satisfy(["and", need], True, self.types) if need else {}
        if env is None or env == solve.UNKNOWN:
            return None
        env = dict(env)
        message = env.pop("message", None)
        chat = {"buyer": "witness", "time": WITNESS_TIME, "attrs": env, "crowds": labels}
        if message is not None:
            chat["message"] = message
        if intent_labels:
            chat["intent"] = intent_labels[0]
        for d in ("product", "order"):
            if vals.get(d):
                chat[d] = vals[d][0]
        return chat

    def actual(self, chat) -> dict:
        """The value lists R5 sees for `chat` (the live matcher's crowds and intents)."""
        m = self.table.matcher
        return {
            "crowd": m.crowds_of(chat.get("attrs"), chat.get("crowds") or ()),
            "intent": m.intents_of(chat.get("message"), chat.get("attrs"), chat.get("intent")),
            "product": [chat["product"]] if chat.get("product") is not None else [],
            "order": [chat["order"]] if chat.get("order") is not None else [],
        }

    def candidates(self, chat) -> list:
        """R5 candidates by the reference evaluator (the independent check)."""
        return explain(self.body, chat)["candidates"]

    def routed_group(self, chat):
        """The group a router with every agent online gives the chat (None: no group)."""
        if self._router is None:
            from rulec.routing.router import Router

            self._router = Router(self.table, "memory:", seed=0)
            for a in self.body["agents"]:
                self._router.feed(
                    {"type": "agent", "time": WITNESS_TIME, "agent": a["id"], "status": "online"}
                )
        d = self._router.route(dict(chat, buyer=f"witness-{id(chat)}"))
        return d["group"]


def analyze(table) -> list[Finding]:
    """Every capture (one finding per passed-over group and deciding dimension, with the union
    of the groups that take its chats), unreachable group and unbound value of a table."""
    tree = Tree(table.body)
    wit = Witnesses(table)
    out = []
    for gi, decided, takers, examples in _candidate_captures(tree):
        for vals in examples:
            f = _capture_finding(tree, wit, gi, vals)
            if f is not None and f.dim == decided:
                out.append(attrs.evolve(f, takers=tree.names_of(takers)))
                break
    out.sort(key=lambda f: (tree.names.index(f.group), DIMS.index(f.dim)))
    out += _unreachable(tree, wit)
    out += _unbound(table.body)
    return out


def _capture_finding(tree, wit, gi, vals):
    chat = wit.chat(vals)
    for _ in range(2):
        if chat is None:
            return None
        actual = wit.actual(chat)
        cand, full, decided = tree.run(actual)
        if full and not cand & full and (full >> gi) & 1:
            break
        extra = [c for d in ("crowd", "intent") for c in actual[d] if c not in vals.get(d, ())]
        chat = wit.chat(vals, exclude=extra) if extra else None
    else:
        return None
    takers = tree.names_of(cand)
    if tuple(wit.candidates(chat)) != takers or tuple(wit.table.matcher.match(chat)) != takers:
        return None  # the reference, the live matcher and the bitmask model must agree
    routed = wit.routed_group(chat)
    if routed is not None and routed not in takers:
        return None
    return Finding("capture", tree.names[gi], decided, takers, chat)


def _unreachable(tree: Tree, wit: Witnesses) -> list[Finding]:
    out = []
    for gi, g in enumerate(tree.groups):
        reason, ok = None, False
        for own in _own_combos(g) if any(g[d] for d in DIMS) else [{}]:
            chat = wit.chat(own)
            if chat is None:
                continue
            actual = wit.actual(chat)
            cands = tree.names_of(tree.run(actual)[0])
            if g["name"] in cands:
                ok = True
                break
            extra = [c for d in ("crowd", "intent") for c in actual[d] if c not in own.get(d, ())]
            retry = wit.chat(own, exclude=extra) if extra else None
            if retry is not None and g["name"] in wit.candidates(retry):
                ok = True
                break
            if retry is None and extra and _forced(wit, own, extra):
                reason = actual
        if not ok and reason is not None:
            actual = reason
            cand, _, _ = tree.run(actual)
            dim = next(
                d
                for d in DIMS
                if tree.run({k: actual[k] for k in DIMS[: DIMS.index(d) + 1]})[0] >> gi & 1 == 0
            )
            out.append(
                Finding("unreachable", g["name"], dim, tree.names_of(cand), wit.chat(_own_first(g)))
            )
    return out


def _own_first(g):
    return next(_own_combos(g), {})


def _forced(wit: Witnesses, own: dict, extra: list) -> bool:
    """True when the extra crowds/intents cannot be avoided (proved, not merely not found)."""
    need = [wit.crowd_expr[c] for c in own.get("crowd", []) if c in wit.crowd_expr]
    need += [wit.intent_expr[i] for i in own.get("intent", []) if i in wit.intent_expr]
    for name in extra:
        e = wit.crowd_expr.get(name) or wit.intent_expr.get(name)
        if e is None:
            return False
        res = solve.satisfy(["and", [*need, ["not", e]]], True, wit.types)
        if res is not None:
            return False  # avoidable (or unknown): no claim
    return True


def _unbound(body: dict) -> list[Finding]:
    """Order states no group binds while some group binds the order dimension, and defined
    crowds/intents that no group binds and no campaign targets."""
    out = []
    index = body["tree"]["index"]
    if body["tree"]["bound"]["order"]:
        for s in ORDER_STATES:
            if s not in index["order"]:
                out.append(Finding("unbound", None, "order", value=s))
    targeted = {
        t["crowd"]
        for c in body["campaigns"]
        for t in (c.get("targets") or []) + (c.get("segments") or [])
    }
    for d, defs in (("crowd", body["crowds"]), ("intent", body["intents"])):
        for c in defs:
            if c["name"] not in index[d] and c["name"] not in targeted:
                out.append(Finding("unbound", None, d, value=c["name"]))
    return out
