"""Parsing without a parse tree: Lark's terminals and LALR tables call a Transformer's methods
at each reduction, with the positions Lark's `propagate_positions` gives (issue 15).

Lark's own inline transformer (`Lark(transformer=...)`) passes no positions, and building the
tree then walking it costs 3-4 times the parse itself. Here each reduction builds one small
`Node` that is both the method's `meta` (line, column, start_pos, end_line, end_column,
end_pos, empty: the same values the tree's meta would hold) and the holder of its result.
Tree shaping follows Lark's: tokens filtered out (`"kw"`, `_TERM`), `_rule`s spliced into
their parent, `?rule`s with one child passing it through (their span widening only the
child's "container", as in Lark), and `_rule`s that stand for one child passing it on.
The lexer is rulec/grammar/lexer.py (Lark's contextual lexer, one match a token); the parser
loop is lark-cython's when that is installed, Lark's own otherwise; the tokens differ in
class, not in values.

Callers fall back to the tree parser for anything but a clean parse (see `Fallback`)."""

from __future__ import annotations

import copy
import functools
import operator
import os
import threading
from collections.abc import Callable
from typing import Any

from lark import Token
from lark.lexer import LexerThread
from lark.parse_tree_builder import _should_expand
from lark.parsers.lalr_parser import _Parser
from lark.visitors import _vargs_meta

from rulec.common.gc_pause import gc_paused
from rulec.grammar.lexer import LC as _lc
from rulec.grammar.lexer import CyRun, PlainRun, Tables

# RULEC_PURE=1 (no compiled code: the matcher's pure twin) also keeps Lark's own loops
PURE = os.environ.get("RULEC_PURE") == "1"
TOKEN_TYPES: tuple[type[Token], ...] = (Token,) if _lc is None else (Token, _lc.Token)
_BUILD = threading.Lock()


class Fallback(Exception):
    """The direct parse cannot give the tree parser's answer on its own (a rule without a
    method, a predicate deeper than the limit): parse with the tree parser instead."""


class Node:
    """A reduced rule: its result (`value`), its own first and last tokens (the meta the
    method sees) and its container's (what the parent's span takes), its tree depth."""

    __slots__ = ("value", "first", "last", "cfirst", "clast", "depth")

    def __init__(self, first, last, depth=0):
        self.first = self.cfirst = first
        self.last = self.clast = last
        self.depth = depth
        self.value = None

    @property
    def empty(self) -> bool:
        return self.first is None

    @property
    def line(self) -> int:
        return self.first.line

    @property
    def column(self) -> int:
        return self.first.column

    @property
    def start_pos(self) -> int:
        return self.first.start_pos

    @property
    def end_line(self) -> int:
        return self.last.end_line

    @property
    def end_column(self) -> int:
        return self.last.end_column

    @property
    def end_pos(self) -> int:
        return self.last.end_pos


def _extent(children: list) -> tuple:
    """First and last token of the children's containers (Lark's `_pp_get_meta`)."""
    first = last = None
    c = children[0] if children else None  # the usual case first: a token or a node with one
    if c is not None and (type(c) is not Node or c.cfirst is not None):
        c2 = children[-1]
        if type(c2) is not Node:
            return (c if type(c) is not Node else c.cfirst), c2
        if c2.clast is not None:
            return (c if type(c) is not Node else c.cfirst), c2.clast
    for c in children:
        if type(c) is Node:
            if c.cfirst is not None:
                first = c.cfirst
                break
        else:
            first = c
            break
    if first is None:
        return None, None
    for c in reversed(children):
        if type(c) is Node:
            if c.clast is not None:
                last = c.clast
                break
        else:
            last = c
            break
    return first, last


def _kept(children: list, keep: tuple) -> list:
    """The children a tree would hold: filtered tokens dropped, `_rule`s spliced in. The
    first spliced list is reused, as Lark does, so a `(...)*` stays linear."""
    out = None
    for i, splice in keep:
        c = children[i]
        if splice:
            if out:
                out += c.value
            else:
                out = c.value
        elif out is None:
            out = [c]
        else:
            out.append(c)
    return [] if out is None else out


class _Rule:
    """What a reduction of one grammar rule does, worked out once from the grammar."""

    __slots__ = (
        "rule",
        "name",
        "keep",
        "all_kept",
        "inline",
        "passes",
        "expand1",
        "depth",
        "limit",
    )

    def __init__(self, rule, depth: bool, limit: tuple | None, passing: frozenset = frozenset()):
        """`passing`: the `_rule`s that are passed through (see `_passing`)."""
        self.rule = rule
        self.name = rule.alias or rule.origin.name
        self.keep = _keep(rule, passing)
        self.all_kept = len(self.keep) == len(rule.expansion) and not any(s for _, s in self.keep)
        self.inline = rule.origin.name.startswith("_")
        self.passes = rule.origin.name in passing
        self.expand1 = bool(rule.options.expand1) and not rule.alias
        self.depth = depth
        self.limit = limit  # (longest text, deepest tree) this rule may take, or None

    def callback(self, method: Callable | None) -> Callable:
        """The reduction, specialised for the common shapes (each a fixed cost per rule
        reduced, and a large file reduces a few hundred thousand times)."""
        keep, all_kept = self.keep, self.all_kept
        if self.passes:
            return _first  # `_statement: agent`: the agent node itself, spliced by its parent
        if self.inline:
            if len(keep) > 1 and keep[0] == (0, True) and not any(s for _, s in keep[1:]):
                # `__x_star: __x_star item`: the list grows in place, its container widens
                rest = tuple(i for i, _ in keep[1:])

                def append(children):
                    node = children[0]
                    node.value.extend([children[i] for i in rest])
                    node.cfirst, node.clast = _extent(children)
                    return node

                return append

            def splice(children):
                first, last = _extent(children)
                node = Node(first, last)
                node.value = children if all_kept else _kept(children, keep)
                return node

            return splice
        one = keep == ((0, False),) and len(self.rule.expansion) == 1
        if one and self.expand1:
            return _first  # `?rule: child`: the child itself, its container unchanged
        expand1, depth = self.expand1, self.depth
        longest, deepest = self.limit or (None, None)
        name = self.name
        if one and self.rule.expansion[0].is_term and method is not None and not depth:

            def token(children):  # `name: ID -> ident`: the token is the whole span
                tok = children[0]
                node = Node(tok, tok)
                node.value = method(node, children)
                return node

            return token

        def reduce(children):
            first, last = _extent(children)
            items = children if all_kept else _kept(children, keep)
            if expand1 and len(items) == 1:
                child = items[0]
                if type(child) is Node and first is not None:
                    if child.first is None:  # Lark fills an empty child's own span here too
                        child.first, child.last = first, last
                    child.cfirst, child.clast = first, last
                return child
            if method is None:
                raise Fallback(name)
            node = Node(first, last)
            if depth:
                node.depth = 1 + max((c.depth if type(c) is Node else 1 for c in items), default=0)
                if longest is not None and (
                    node.depth > deepest
                    or (first is not None and last.end_pos - first.start_pos > longest)
                ):
                    raise Fallback(f"{name} beyond its limits")  # the tree parser says P104
            node.value = method(node, [c.value if type(c) is Node else c for c in items])
            return node

        return reduce


_first = operator.itemgetter(0)  # a reduction to the first child, with no Python frame


def _keep(rule, passing: frozenset) -> tuple:
    """(index, splice) of each child a tree would hold: filtered tokens dropped, `_rule`s
    spliced in (those in `passing` stand for their one child: nothing to splice)."""
    return tuple(
        (i, _should_expand(sym) and sym.name not in passing)
        for i, sym in enumerate(rule.expansion)
        if not (sym.is_term and sym.filter_out)
    )


def _passing(rules) -> frozenset:
    """The `_rule`s each of whose alternatives is one kept child (`_statement: shop | ...`):
    a tree splices that child in where the rule stood, with the child's own span as the
    container, so the reduction can hand the child itself to the parent, which keeps it
    as it is: no node, no list, no extent to work out for each of these reductions."""
    by_origin: dict = {}
    for r in rules:
        by_origin.setdefault(r.origin.name, []).append(r)
    passing: frozenset = frozenset()
    while True:  # a `_rule` of passing `_rule`s passes too
        more = frozenset(
            name
            for name, alts in by_origin.items()
            if name.startswith("_")
            and all(len(r.expansion) == 1 and _keep(r, passing) == ((0, False),) for r in alts)
        )
        if more == passing:
            return passing
        passing = more


class _Reduce:
    """A grammar rule as the LALR loops read it (`len(rule.expansion)`, `rule.origin.name`, a
    dict key): Lark's Rule hashes and compares in Python, and its names are Lark Tokens whose
    `==` is Python too, which cost more per reduction than the reduction's own work."""

    __slots__ = ("origin", "expansion", "name")

    def __init__(self, rule):
        self.origin = self  # `rule.origin.name` is the rule's name
        self.name = str(rule.origin.name)
        self.expansion = rule.expansion


def _plain_table(table) -> tuple[Any, dict]:
    """A copy of an LALR parse table for the direct parser, its symbol names plain `str`s and
    its rules `_Reduce`s (identity hash and equality, done in C), and Lark Rule -> `_Reduce`.
    The states, actions and lookups are the table's own, so the parse is the same."""
    by_rule: dict = {}
    states = {}
    for i, actions in table.states.items():
        plain = {}
        for sym, (action, arg) in actions.items():
            if not isinstance(arg, int):
                arg = by_rule.get(arg) or by_rule.setdefault(arg, _Reduce(arg))
            plain[str(sym)] = (action, arg)
        states[i] = plain
    out = copy.copy(table)
    out.states = states
    return out, by_rule


class DirectParser:
    """One start symbol of a Lark LALR parser, run with reductions calling a builder."""

    def __init__(self, lark, start: str, limits: dict | None = None, compiled: bool = True):
        """`limits`: rule name -> (longest text, deepest tree): a reduction of that rule beyond
        either raises Fallback (the tree depth is counted in the rules below such a rule).
        `compiled`: lark-cython's loops when installed, else Lark's own."""
        frontend = lark.parser
        table = frontend.parser._parse_table
        limits = limits or {}
        self.start = start
        deep = set().union(*(_reachable(lark.rules, name) for name in limits))
        reach = _reachable(lark.rules, start)
        rules = [r for r in lark.rules if r.origin.name in reach]
        passing = _passing(rules)
        self.rules = [
            _Rule(r, r.origin.name in deep, limits.get(r.origin.name), passing) for r in rules
        ]
        self.compiled = compiled and _lc is not None
        self._lexer = Tables(frontend.lexer)  # Lark's contextual lexer, one match a token
        self._parser = _lc._Parser if self.compiled else _Parser
        self._table, by_rule = _plain_table(table)
        for r in self.rules:
            r.rule = by_rule.get(r.rule, r.rule)

    def tokens(self, text: str) -> Any:
        """The lexer thread the parser loop reads `text` from."""
        if self.compiled:
            return _lc.LexerThread.from_text(CyRun(self._lexer, text), text)
        return LexerThread(PlainRun(self._lexer, text), text)  # type: ignore[arg-type]

    def parse(self, text: str, builder: Any) -> Any:
        """The builder's result for the start rule. Raises lark's UnexpectedInput on a syntax
        error, Fallback, or whatever a builder method raises."""
        methods = _methods(type(builder))
        callbacks = {}
        for r in self.rules:
            base = methods.get(r.name)
            callbacks[r.rule] = r.callback(
                None if base is None else functools.partial(base, builder)
            )
        parser = self._parser(self._table, callbacks)
        with gc_paused():  # a parse allocates an object or more per token, and frees none
            node = parser.parse(self.tokens(text), self.start)
        return node.value if type(node) is Node else node


_METHODS: dict[type, dict[str, Callable]] = {}


def _methods(cls: type) -> dict[str, Callable]:
    """name -> function of each `v_args(meta=True)` method of a Transformer class (looking one
    up on the class builds a wrapper each time: a predicate's parse would cost twice as much)."""
    found = _METHODS.get(cls)
    if found is None:
        found = {}
        for name in dir(cls):
            wrapper = getattr(cls, name, None)
            if getattr(wrapper, "visit_wrapper", None) is _vargs_meta:
                found[name] = wrapper.base_func  # type: ignore[union-attr]
        _METHODS[cls] = found
    return found


def _reachable(rules, start: str) -> set:
    """Rule names reachable from `start`."""
    by_origin: dict = {}
    for r in rules:
        by_origin.setdefault(r.origin.name, []).append(r)
    seen, todo = {start}, [start]
    while todo:
        for r in by_origin.get(todo.pop(), ()):
            for sym in r.expansion:
                if not sym.is_term and sym.name not in seen:
                    seen.add(sym.name)
                    todo.append(sym.name)
    return seen


@functools.cache
def direct(start: str, longest: int, deepest: int, compiled: bool = not PURE) -> DirectParser:
    """The direct parser for a start symbol of rules.lark (built once), with the limits of
    a `predicate`: its text length and its tree depth."""
    from rulec.grammar.loader import parser

    with _BUILD:
        return DirectParser(parser(), start, {"predicate": (longest, deepest)}, compiled)
