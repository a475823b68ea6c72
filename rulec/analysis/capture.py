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

import json
from collections.abc import Iterable
from functools import reduce
from itertools import islice, product
from operator import or_
from typing import Any

import attrs

from rulec.analysis import solve
from rulec.analysis.bitset import bits as _bits
from rulec.analysis.bitset import mask as _mask
from rulec.common.vocab import DIMS, ORDER_STATES
from rulec.matching import reference

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
        self.shortest = {d: min((len(g[d]) for g in self.groups if g[d]), default=0) for d in DIMS}
        self.distinct: dict = {}  # (dim, candidates) -> values with distinct hits (a cache)
        self.states: dict = {}  # search state -> its summary (a cache, `_state`)

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


def _distinct_values(tree: Tree, d: str, within: int) -> list:
    """One value per distinct hit set among the values of `d` that hit a group of `within`."""
    return _distinct(tree, d, within)[0]


def _distinct(tree: Tree, d: str, within: int) -> tuple[list, list]:
    """(values, their hits within `within`): one value per distinct hit set among the values of
    `d` that hit a group of `within` (read from the groups' own value lists when `within` is
    small, else from the index); remembered, since many victims reach the same candidates."""
    key = (d, within)
    hit = tree.distinct.get(key)
    if hit is None:
        if len(tree.distinct) > 100_000:
            tree.distinct.clear()
        hit = tree.distinct[key] = _distinct_of(tree, d, within)
    return hit


def _distinct_of(tree: Tree, d: str, within: int) -> tuple[list, list]:
    values: dict[Any, Any] = tree.index[d]
    bound = within & tree.bound[d]  # the groups within that have values on d
    # the groups' own lists are shorter than the index only when few groups are within (each
    # bound group has at least `shortest` values): listing them is skipped when it cannot be
    if within != tree.all and bound.bit_count() * tree.shortest[d] < len(values):
        members = _bits(bound)
        if sum(len(tree.groups[i][d]) for i in members) < len(values):
            values = dict.fromkeys(v for i in members for v in tree.groups[i][d])
    seen: set = set()
    out: list = []
    hits: list = []
    for v in values:
        hit = tree.index[d][v] & within
        if hit and hit not in seen:
            seen.add(hit)
            out.append(v)
            hits.append(hit)
    return out, hits


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
    once, then every value tried at d is scanned (`_scan`)."""
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
                    after = tuple(hits[e] for e in DIMS[k + 1 :])
                    state = (d, cand, after)
                    if state in states:
                        continue
                    states.add(state)
                    full_rest = tree.all
                    for e in DIMS:
                        if e != d:
                            full_rest &= (tree.all ^ tree.bound[e]) | hits[e]
                    if (full_rest >> gi) & 1:
                        summary = _state(tree, d, cand, after, full_rest)
                        for decided, (takers, examples) in summary.items():
                            entry = found.setdefault(decided, [0, []])
                            entry[0] |= takers
                            for vs in examples[: EXAMPLES - len(entry[1])]:
                                entry[1].append(dict(base, **{d: vs}))
        for decided, (takers, examples) in found.items():
            yield gi, decided, takers, examples


MAX_STATES = 20_000  # state summaries remembered (victims with the same values share them)


def _state(tree: Tree, d: str, cand: int, after: tuple, full_rest: int) -> dict:
    """decided dim -> [takers, first example value lists at d] for one state; it does not
    depend on the victim, so victims that reach the same state share it."""
    key = (d, cand, after, full_rest)
    got = tree.states.get(key)
    if got is None:
        if len(tree.states) > MAX_STATES:
            tree.states.clear()
        got = tree.states[key] = _scan(tree, d, cand, after, full_rest)
    return got


def _scan(tree: Tree, d: str, cand: int, after: tuple, full_rest: int) -> dict:
    """Every value (and, while few, pair of values) of the free dimension `d` in one state.
    A value whose hits hold no group of `fully` (candidates that fully match on every other
    dimension) cannot keep a fully matching group past d: it is decided at d, its takers
    narrowed by the later hits, without the full R5 step; only the values that touch `fully`
    and a later hit take that step."""
    found: dict = {}
    values, hits = _distinct(tree, d, cand)
    unbound_d = tree.all ^ tree.bound[d]
    fully = cand & full_rest
    # a group that fully matches whatever the value at d: without one, a value that keeps no
    # fully matching group leaves none among the candidates at all (no capture)
    keeps_full = fully & unbound_d
    later = [(e, h) for e, h in zip(DIMS[DIMS.index(d) + 1 :], after) if h]
    later_any = 0
    for _, h in later:
        later_any |= h
    touch = fully | later_any
    # a later dimension decides only where its hits leave the fully matching groups: a value
    # whose later hits all fully match cannot be decided after d
    later_out = later_any & ~fully
    ctx = (fully, keeps_full, later, later_any, later_out)
    n = len(values)
    if not keeps_full:
        # only a value that keeps a fully matching group and meets a later hit can be a capture
        for j in [j for j, hv in enumerate(hits) if hv & fully and hv & later_out]:
            _step(found, d, [values[j]], hits[j], later, fully)
    else:
        # a value that touches neither `fully` nor a later hit is decided at d with its hits
        # as takers: once the examples at d are complete, all such values are added in one
        # pass, and only the others are stepped one by one (in order, for the examples)
        # the examples at d come from the first values that keep no fully matching group
        at_d = [j for j, hv in enumerate(hits) if not hv & fully]
        stop = at_d[EXAMPLES - 1] + 1 if len(at_d) >= EXAMPLES else n
        for j in range(stop):
            _value(found, d, values[j], hits[j], ctx)
        if stop < n:
            rest = range(stop, n)
            takers = reduce(or_, [hits[j] for j in rest if not hits[j] & touch], 0)
            for j in [j for j in rest if hits[j] & touch]:
                hv = hits[j]
                if not hv & fully:  # decided at d, takers narrowed by the later hits
                    for _, h_e in later:
                        if hv & h_e:
                            hv &= h_e
                    takers |= hv
                elif hv & later_out:
                    _step(found, d, [values[j]], hv, later, fully)
            found[d][0] |= takers
    if d in ("crowd", "intent") and n <= MAX_PAIRS:
        for i, a in enumerate(values):
            for j in range(i + 1, n):
                vs = [a, values[j]]
                if d == "intent" and len([x for x in vs if x in tree.intent_labels]) > 1:
                    continue
                hv = hits[i] | hits[j]
                full = full_rest & (unbound_d | hv)
                if cand & full:
                    _step(found, d, vs, hv, later, full)
    return found


def _value(found, d, v, hv, ctx):
    """One value at d (hits `hv` among the candidates); ctx: the state's masks (`_scan`)."""
    fully, keeps_full, later, later_any, later_out = ctx
    if hv & fully:
        # a fully matching group stays past d: only a later dimension can decide
        if hv & later_out:
            _step(found, d, [v], hv, later, fully)
    elif keeps_full:
        c = hv
        if hv & later_any:
            for _, h_e in later:
                if c & h_e:
                    c &= h_e
        _record(found, d, c, [v])


def _step(found, d, vs, c, later, full):
    """The rest of R5 from d for candidates `c` (the hits at d), with `full` the groups that
    fully match: which dimension, if any, leaves no fully matching group."""
    decided = None if c & full else d
    for e, h_e in later:
        h = c & h_e
        if h:
            if decided is None and not h & full:
                decided = e
            c = h
    if decided is not None:
        _record(found, decided, c, vs)


def _record(found, decided, takers, vs):
    entry = found.get(decided)
    if entry is None:
        found[decided] = [takers, [vs]]
    else:
        entry[0] |= takers
        if len(entry[1]) < EXAMPLES:
            entry[1].append(vs)


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
        self._classes: dict = {}  # attrs, labels and message -> reference crowds, intents

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
        """R5 candidates by the reference evaluator (the independent check); its crowds and
        intents are evaluated once per distinct attrs and message (witnesses share them)."""
        key = json.dumps(
            [chat.get(k) for k in ("attrs", "crowds", "message", "intent")],
            sort_keys=True,
            ensure_ascii=False,
        )
        classes = self._classes.get(key)
        if classes is None:
            classes = self._classes[key] = reference.classify(self.body, chat)
        return reference.match(self.body, chat, classes)

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
            f = _capture_finding(tree, wit, gi, vals, decided)
            if f is not None:
                out.append(attrs.evolve(f, takers=tree.names_of(takers)))
                break
    out.sort(key=lambda f: (tree.names.index(f.group), DIMS.index(f.dim)))
    out += _unreachable(tree, wit)
    out += _unbound(table.body)
    return out


def _capture_finding(tree, wit, gi, vals, want: str):
    """The capture of victim `gi` decided at `want` that `vals` leads to, verified; or None."""
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
    if decided != want:
        return None  # another kind of capture: not checked (the costly part) for nothing
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
