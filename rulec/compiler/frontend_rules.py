"""The .rules frontend: Lark parse tree of a `.rules` file -> model.Shop (docs/language.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lark import Token, Tree, v_args
from lark.exceptions import UnexpectedEOF, UnexpectedInput
from lark.tree import Meta

from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import (
    MAX_DEPTH,
    MAX_PREDICATE,
    TOKEN_NAMES,
    Positions,
    _LiteralError,
    syntax_error,
    tree_depth,
)
from rulec.compiler.frontend_tests import Item, TestsBuilder
from rulec.compiler.frontend_yaml import MAX_INT_DIGITS, parse_duration
from rulec.compiler.printer_rules import Key
from rulec.errors import Diagnostic, RulecError, Span, diag, did_you_mean
from rulec.grammar.direct import Fallback, direct

MAX_SOURCE = 16 * 1024 * 1024
_LOOKS_LIKE_YAML = re.compile(r"^\s*(?:shop|groups|agents|routing)\s*:\s*\S*\s*$", re.M)

FILE_TOKEN_NAMES = {
    "ID": "a name",
    "NUMID": "a name",
    "INT": "a whole number",
    "DURATION": "a duration (24h)",
    "TIMEISH": "a date or time (2023-12-01, 2023-12-01T10:00:00+08:00)",
    "TZNAME": "a time zone (Asia/Shanghai)",
    "STRING": "a quoted string",
}

# The statements, in the order docs/language.md gives them (a test holds them to the grammar's).
STATEMENT_WORDS = (
    "shop",
    "timezone",
    "routing",
    "outreach",
    "attribute",
    "crowd",
    "intent",
    "agent",
    "group",
    "promo",
    "facts",
    "campaign",
    "test",
)
STATEMENTS = {f"`{k}`" for k in STATEMENT_WORDS}


class _Word:
    """A name or value as written, with its span (internal: never reaches the model)."""

    __slots__ = ("value", "span")

    def __init__(self, value: str, span: Span | None) -> None:
        self.value, self.span = value, span


class _Pred:
    __slots__ = ("expr", "text")

    def __init__(self, expr: m.Expr, text: str) -> None:
        self.expr, self.text = expr, text


def _join(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None:
        return a or b
    return Span(a.file, a.line, a.col, b.end_line, b.end_col)


@v_args(meta=True)
class RulesBuilder(TestsBuilder):
    """One method per file-level rule of rules.lark (the predicate and test rules are
    inherited)."""

    def __init__(self, pos: Positions, text: str) -> None:
        super().__init__(pos)
        self.text = text
        self.diags: list[Diagnostic] = []
        self._lines: list[str] | None = None

    def error(self, code: str, message: str, span: Span | None, hints: Iterable[str] = ()) -> None:
        self.diags.append(diag(code, message, span, "error", tuple(hints)))

    def _items(
        self, what: str, items: Iterable[Item], seen: dict[str, Span | None] | None = None
    ) -> list[tuple[str, Any]]:
        """(key, value) pairs of a block, reporting a key written twice (P103)."""
        seen = {} if seen is None else seen
        out = []
        for key, value, span in items:
            if key in seen:
                first = seen[key]
                self.error(
                    "P103",
                    f"`{key}` is written twice in {what} "
                    f"(first at line {first.line if first else '?'})",
                    span,
                )
                continue
            seen[key] = span
            out.append((key, value))
        return out

    def _line(self, line: int) -> str:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def _whole_lines(self, span: Span | None) -> bool:
        """True when a statement has its lines to itself (nothing else before or after it)."""
        if span is None or span.end_line is None or span.end_col is None:
            return False
        first, last = self._line(span.line), self._line(span.end_line)
        return not first[: span.col - 1].strip() and not last[span.end_col - 1 :].strip()

    def _int(self, tok: Token) -> m.Value:
        text = str(tok)
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise _LiteralError(diag("P107", f"number {text[:24]} is too large", self.pos.of(tok)))
        return m.Value(int(text), self.pos.of(tok))

    # -- words ---------------------------------------------------------------------------
    def ident(self, meta: Meta, items: list[Any]) -> _Word:
        tok = items[0]  # a name: the hottest rule of a large file
        return _Word(str(tok), self.pos.tokens(tok, tok))

    def quoted(self, meta: Meta, items: list[Any]) -> _Word:
        return _Word(str(self.string(meta, items).value), self.pos.of(items[0]))

    def names(self, meta: Meta, items: list[Any]) -> list[m.NameRef]:
        return [m.NameRef(w.value, w.span) for w in items]

    def on(self, meta: Meta, items: list[Any]) -> m.Value:
        return m.Value(True, self._span(meta))

    def off(self, meta: Meta, items: list[Any]) -> m.Value:
        return m.Value(False, self._span(meta))

    def duration(self, meta: Meta, items: list[Any]) -> m.Value | None:
        tok = items[0]
        span = self.pos.of(tok)
        text = str(tok)
        secs = parse_duration(text)
        if secs is None:
            if text.isdigit():
                self.error(
                    "V402", f"a duration needs a unit: write e.g. `{text}h` (s, m, h or d)", span
                )
            else:
                self.error("V402", f"`{text}` is not a duration like 90s, 30m, 24h or 7d", span)
            return None
        return m.Value(secs, span)

    # The predicate builder's start rule gives an Expr; inside a `.rules` file the same rule
    # also keeps its source text (crowd and intent definitions print it back).
    def predicate(self, meta: Meta, items: list[Any]) -> _Pred:  # type: ignore[override]
        return _Pred(items[0], self.text[meta.start_pos : meta.end_pos])

    # -- settings ------------------------------------------------------------------------
    def shop(self, meta: Meta, items: list[Any]) -> Item:
        return ("shop", items[0], self._span(meta))

    def timezone(self, meta: Meta, items: list[Any]) -> Item:
        tok = items[0]
        value = self.string(meta, items).value if tok.type == "STRING" else str(tok)
        return ("timezone", m.Value(value, self.pos.of(tok)), self._span(meta))

    def _setting(self, meta: Meta, key: str, value: Any) -> Item:
        return (key, value, self._span(meta))

    def when_nobody_online(self, meta: Meta, items: list[Any]) -> Item:
        w = items[0]
        return self._setting(meta, "when_nobody_online", m.Value(w.value, w.span))

    def robot_first(self, meta: Meta, items: list[Any]) -> Item:
        return self._setting(meta, "robot_first", items[0])

    def exclusive_direct(self, meta: Meta, items: list[Any]) -> Item:
        return self._setting(meta, "exclusive_direct", items[0])

    def drain_pool(self, meta: Meta, items: list[Any]) -> Item:
        return self._setting(meta, "drain_pool", items[0])

    def busy_threshold(self, meta: Meta, items: list[Any]) -> Item:
        return self._setting(meta, "busy_threshold", self._int(items[0]))

    def sticky_part(self, meta: Meta, items: list[Any]) -> Item:
        return (f"sticky_{items[0]}", items[1], self._span(meta))

    def sticky(self, meta: Meta, items: list[Any]) -> Item:
        return ("sticky", list(items), self._span(meta))

    def routing(self, meta: Meta, items: list[Any]) -> Item:
        flat: list[Item] = []
        for key, value, span in items:
            flat.extend(value if key == "sticky" else [(key, value, span)])
        return ("routing", flat, self._span(meta))

    def cap_window(self, meta: Meta, items: list[Any]) -> Item:
        return self._setting(meta, "cap_window", items[0])

    def max_delay(self, meta: Meta, items: list[Any]) -> Item:
        return self._setting(meta, "max_delay", items[0])

    def outreach(self, meta: Meta, items: list[Any]) -> Item:
        return ("outreach", list(items), self._span(meta))

    # -- declarations --------------------------------------------------------------------
    def attribute(self, meta: Meta, items: list[Any]) -> Item:
        tok, typ = items
        name = str(self.string(meta, [tok]).value) if tok.type == "STRING" else str(tok)
        return ("attribute", m.AttributeDecl(name, typ.value, typ.span), self._span(meta))

    def crowd(self, meta: Meta, items: list[Any]) -> Item:
        w, p = items
        return ("crowd", m.PredicateDef(w.value, p.expr, w.span, p.text), self._span(meta))

    def intent(self, meta: Meta, items: list[Any]) -> Item:
        w, p = items
        return ("intent", m.PredicateDef(w.value, p.expr, w.span, p.text), self._span(meta))

    def agent(self, meta: Meta, items: list[Any]) -> Item:
        agent = m.Agent(items[0].value, span=items[0].span)
        if len(items) > 1:
            lv = self._int(items[1])
            agent.level, agent.level_span = lv.value, lv.span
        return ("agent", agent, self._span(meta))

    # -- groups --------------------------------------------------------------------------
    def _list_item(self, key: str, meta: Meta, items: list[Any]) -> Item:
        return (key, items[0], self._span(meta))

    def agents(self, meta: Meta, items: list[Any]) -> Item:
        return self._list_item("agents", meta, items)

    def group_crowd(self, meta: Meta, items: list[Any]) -> Item:
        return self._list_item("crowd", meta, items)

    def product(self, meta: Meta, items: list[Any]) -> Item:
        return self._list_item("product", meta, items)

    def group_intent(self, meta: Meta, items: list[Any]) -> Item:
        return self._list_item("intent", meta, items)

    def order(self, meta: Meta, items: list[Any]) -> Item:
        return self._list_item("order", meta, items)

    def mode(self, meta: Meta, items: list[Any]) -> Item:
        strength = items[1].value if len(items) > 1 else None
        return (
            "mode",
            (items[0].value, strength, _join(items[0].span, items[-1].span)),
            self._span(meta),
        )

    def robot(self, meta: Meta, items: list[Any]) -> Item:
        return ("robot", items[0].value, self._span(meta))

    def group(self, meta: Meta, items: list[Any]) -> Item:
        name = items[0]
        g = m.Group(name.value, span=name.span)
        for key, value in self._items(f"group {name.value}", items[1:]):
            if key == "mode":
                g.mode, g.strength, g.mode_span = value
            else:
                setattr(g, key, value)
        return ("group", g, self._span(meta))

    # -- promos and facts ----------------------------------------------------------------
    def promo_part(self, meta: Meta, items: list[Any]) -> Item:
        key, w = items
        return (str(key), m.Value(w.value, w.span), self._span(meta))

    def promo(self, meta: Meta, items: list[Any]) -> Item:
        name = items[0]
        p = m.Promo(name.value, span=name.span)
        for key, value in self._items(f"promo {name.value}", items[1:]):
            setattr(p, key, value)
        return ("promo", p, self._span(meta))

    def tool_level(self, meta: Meta, items: list[Any]) -> Item:
        return ("tool_level", m.Value(items[0].value, items[0].span), self._span(meta))

    def fact_number(self, meta: Meta, items: list[Any]) -> Item:
        return (str(items[0]), self._int(items[1]), self._span(meta))

    def grants(self, meta: Meta, items: list[Any]) -> Item:
        refs = [m.NameRef(w.value, w.span) for w in items]
        span = _join(refs[0].span, refs[-1].span) if refs else self._span(meta)
        return ("grants", m.Value([r.name for r in refs], span), self._span(meta))

    def facts(self, meta: Meta, items: list[Any]) -> Item:
        return ("facts", list(items), self._span(meta))

    # -- campaigns -----------------------------------------------------------------------
    def _time(self, key: str, meta: Meta, items: list[Any]) -> Item:
        return (key, m.Value(items[0].value, items[0].span), self._span(meta))

    def send_at(self, meta: Meta, items: list[Any]) -> Item:
        return self._time("send_at", meta, items)

    def date(self, meta: Meta, items: list[Any]) -> Item:
        return self._time("date", meta, items)

    def configured_at(self, meta: Meta, items: list[Any]) -> Item:
        return self._time("configured_at", meta, items)

    def created_at(self, meta: Meta, items: list[Any]) -> Item:
        return self._time("created_at", meta, items)

    def campaign_promo(self, meta: Meta, items: list[Any]) -> Item:
        return ("promo", m.NameRef(items[0].value, items[0].span), self._span(meta))

    def copy(self, meta: Meta, items: list[Any]) -> Item:
        lit = self.string(meta, items)
        return ("copy", m.Value(lit.value, lit.span), self._span(meta))

    def coupon(self, meta: Meta, items: list[Any]) -> m.Coupon:
        kind = items[1].value if len(items) > 1 else None
        return m.Coupon(items[0].value, kind, self._span(meta))

    def campaign_coupon(self, meta: Meta, items: list[Any]) -> Item:
        return ("coupon", items[0], self._span(meta))

    def target_body(self, meta: Meta, items: list[Any]) -> list[Any]:
        return list(items)

    def _target(self, what: str, meta: Meta, items: list[Any]) -> m.Target:
        crowd = items[0]
        t = m.Target(m.NameRef(crowd.value, crowd.span), span=self._span(meta))
        return self._content(t, what, items)

    def target(self, meta: Meta, items: list[Any]) -> Item:
        return ("targets", self._target("target", meta, items), self._span(meta))

    def segment(self, meta: Meta, items: list[Any]) -> Item:
        return ("segments", self._target("segment", meta, items), self._span(meta))

    def campaign(self, meta: Meta, items: list[Any]) -> Item:
        name, kind = items[0], items[1]
        c = m.Campaign(name.value, m.Value(kind.value, kind.span), span=name.span)
        for (k1, t, s1), (k2, _v, s2) in zip(items[2:], items[3:]):
            if (
                k1 in ("targets", "segments")
                and t.copy is None
                and t.coupon is None
                and k2 in ("copy", "coupon")
                and s2.line == s1.end_line
                and ";" not in self._line(s2.line)[s1.end_col - 1 : s2.col - 1]
            ):
                # `target vip copy "x"` would silently give the copy to the whole campaign
                what = k1[:-1]
                self.error(
                    "P100",
                    f"a {what}'s {k2} goes in braces after its crowd",
                    s2,
                    (
                        f'write `{what} {t.crowd.name} {{ copy "..."; coupon ... }}`; '
                        f"put the campaign's own {k2} on a line of its own",
                    ),
                )
        singles = [it for it in items[2:] if it[0] not in ("targets", "segments")]
        for key, value in self._items(f"campaign {name.value}", singles):
            setattr(c, key, value)
        for key, value, _span in items[2:]:
            if key in ("targets", "segments"):
                getattr(c, key).append(value)
        return ("campaign", c, self._span(meta))

    # -- the file ------------------------------------------------------------------------
    def rules_file(self, meta: Meta, items: list[Any]) -> m.Shop:
        shop = m.Shop(name="", file=self.pos.file)
        seen: dict[str, Any] = {}
        named = False
        lists: dict[str, list[Any]] = {
            "attribute": shop.attributes,
            "crowd": shop.crowds,
            "intent": shop.intents,
            "agent": shop.agents,
            "group": shop.groups,
            "promo": shop.promos,
            "campaign": shop.campaigns,
            "test": shop.tests,
        }
        shop.tests_only = is_test_file(self.pos.file)
        for kind, value, span in items:
            if shop.tests_only and kind != "test":
                self.error(
                    "U106",
                    f"a test file holds only `test` statements, not `{kind}`",
                    span,
                    (f"move it to {rules_file_of(self.pos.file)}",),
                )
                continue
            if kind in lists:
                lists[kind].append(value)
                if kind == "test" and self._whole_lines(span):
                    shop.tests_lines.append((span.line, span.end_line))
            elif kind == "shop":
                if named:
                    self.error(
                        "P103", f"`shop` is written twice (first at line {seen['shop'].line})", span
                    )
                    continue
                named, seen["shop"] = True, span
                shop.name, shop.span = value.value, value.span
            elif kind == "timezone":
                for _key, v in self._items("the file", [("timezone", value, span)], seen):
                    shop.timezone = v
            else:  # routing, outreach, facts blocks: each setting at most once per file
                target = {"routing": shop.routing, "outreach": shop.outreach, "facts": shop.facts}[
                    kind
                ]
                for key, v in self._items(
                    kind, [s for s in value if s[1] is not None], seen.setdefault(kind, {})
                ):
                    target[key] = v
        if not named and not shop.tests_only:
            self.error(
                "P108",
                "missing `shop NAME` (the shop these rules are for)",
                Span(self.pos.file, 1, 1),
            )
        return shop


TEST_SUFFIXES = ("_test.rules", "_test.yaml", "_test.yml", "_test.json")


def is_test_file(file: object) -> bool:
    """A `*_test.rules` (or `*_test.yaml`) file: tests only, for the rules file beside it."""
    return str(file).lower().endswith(TEST_SUFFIXES)


def rules_file_of(file: object) -> str:
    """The name of the rules a test file is for: `shop_test.rules` -> `shop.rules`."""
    text = str(file)
    cut = text.lower().rfind("_test.")
    return text[:cut] + text[cut + len("_test") :]


def rules_beside(test_file: object) -> str | None:
    """The rules file a `*_test.*` file is for: the same name without `_test`, with its own
    extension first, then .rules, .yaml, .yml, .json; None when there is none on disk."""
    import os

    base = rules_file_of(test_file)
    stem, ext = os.path.splitext(base)
    for e in (ext, ".rules", ".yaml", ".yml", ".json"):
        if os.path.isfile(stem + e):
            return stem + e
    return None


def _acceptable(exc: UnexpectedInput) -> set[str]:
    """The terminals the parser could take where it stopped. The LALR table's own list
    (`exc.expected`) can mix in other blocks' words where states are shared (after `robot on`
    it offers routing's `robot_first`); the interactive parser tries each one for real."""
    ip = getattr(exc, "interactive_parser", None)
    if ip is not None:
        try:
            return set(ip.accepts())
        except Exception:
            pass
    return set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())


def _expected_names(exc: UnexpectedInput) -> tuple[str, ...]:
    from rulec.grammar.loader import parser

    names = set()
    for t in _acceptable(exc):
        if t in FILE_TOKEN_NAMES:
            names.add(FILE_TOKEN_NAMES[t])
        elif t in TOKEN_NAMES:
            names.add(TOKEN_NAMES[t])
        elif not t.startswith("__"):
            try:
                pat = parser().get_terminal(t).pattern
            except KeyError:
                continue
            names.add(f"`{pat.value}`" if pat.type == "str" else t)
    if not names:
        return ()
    # keywords for "did you mean", taken before the statement keywords are summed up
    words = [n[1:-1] for n in names if n.startswith("`") and n[1:-1].isidentifier()]
    if STATEMENTS <= names and names - STATEMENTS - {"`;`", "end of input"}:
        names = (names - STATEMENTS - {"`;`"}) | {"a new statement (shop, agent, group, ...)"}
    shown = sorted(names, key=lambda n: (n.startswith("a new"), n.startswith("`"), n))
    more = f" or {len(shown) - 14} more" if len(shown) > 14 else ""
    tok = getattr(exc, "token", None)
    close = (
        did_you_mean(str(tok), words)
        if tok is not None and str(tok).isidentifier() and len(str(tok)) >= 3
        else ()
    )
    return (f"expected {', '.join(shown[:14])}{more}",) + close


def _unclosed_brace(text: str, upto: int) -> int | None:
    """Offset of the last `{` left open before `upto` (strings and comments skipped)."""
    opened, i, quote = [], 0, None
    while i < upto:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote or ch == "\n":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            j = text.find("\n", i)
            i = upto if j < 0 else j
            continue
        elif ch == "{":
            opened.append(i)
        elif ch == "}" and opened:
            opened.pop()
        i += 1
    return opened[-1] if opened else None


def _after_last_item(text: str, upto: int, pos: Positions) -> Span:
    """Just after the last thing written before `upto` (blank and comment lines skipped)."""
    lines = text[:upto].split("\n")
    while len(lines) > 1 and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    return pos.span(len(lines), len(lines[-1].rstrip()) + 1)


def _misplaced(exc: UnexpectedInput, text: str, pos: Positions) -> Diagnostic | None:
    """A diagnostic for two mistakes whose syntax error points elsewhere: a block left open
    (the parser only notices at the next statement), and a time written `DATE HH:MM`."""
    tok = getattr(exc, "token", None)
    if tok is None or getattr(tok, "start_pos", None) is None:
        return None
    at = tok.start_pos if tok.type != "$END" else len(text)
    is_end = tok.type == "$END"
    line_start = text.rfind("\n", 0, at) + 1
    first = text[line_start:at].split(maxsplit=1)
    # `crowd NAME = ...` read as a group's `crowd NAME` item: the `=` shows it was a statement
    starts = first[0] if str(tok) == "=" and first and first[0] in ("crowd", "intent") else None
    if starts is None and f"`{tok}`" in STATEMENTS:
        starts, line_start = str(tok), at
    if (is_end or starts) and "RBRACE" in _acceptable(exc):
        brace = _unclosed_brace(text, line_start)
        if brace is not None:
            head = text[text.rfind("\n", 0, brace) + 1 : brace + 1].strip()
            head = head if len(head) <= 40 else "..." + head[-37:]
            where = "at the end of the file" if is_end else f"before the `{starts}` statement"
            return diag(
                "P100",
                f"missing `}}` to close `{head}` {where}",
                _after_last_item(text, line_start, pos),
                "error",
                ("add `}` after the block's last item",),
            )
    before = text[:at]
    date = re.search(r"(\d+-\d+-\d+)[ \t]+$", before)
    clock = re.match(r"\d{1,2}:\d{2}(?::\d{2})?", text[at:])
    if date and clock and tok.type != "$END":
        start = date.start(1)
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        end_col = col + (at + clock.end() - start)
        hhmmss = clock.group(0) + (":00" if clock.group(0).count(":") == 1 else "")
        return diag(
            "P100",
            f"`{date.group(1)} {clock.group(0)}` is not a time: join the date and the time with "
            "`T` and give the UTC offset",
            pos.span(line, col, line, end_col),
            "error",
            (f"write e.g. `{date.group(1)}T{hhmmss}+08:00` (an ISO-8601 time with an offset)",),
        )
    return None


def _end_of(text: str, pos: Positions) -> Span:
    body = text.rstrip()
    line = body.count("\n") + 1
    return pos.span(line, len(body) - (body.rfind("\n") + 1) + 1)


def _depth_check(tree: Tree[Token], pos: Positions) -> None:
    """Each crowd/intent predicate may be at most MAX_PREDICATE characters long and nest at
    most MAX_DEPTH levels: the limits of YAML's predicate strings, with the same diagnostic."""
    for stmt in tree.children:
        if isinstance(stmt, Tree) and stmt.data in ("crowd", "intent"):
            pred = stmt.children[-1]
            assert isinstance(pred, Tree)  # the grammar ends a crowd or intent with one
            if pred.meta.end_pos - pred.meta.start_pos > MAX_PREDICATE:
                raise RulecError(
                    [
                        diag(
                            "P104",
                            f"predicate is longer than {MAX_PREDICATE} characters",
                            pos.span(pred.meta.line, pred.meta.column),
                        )
                    ]
                )
            if tree_depth(pred) > MAX_DEPTH:
                raise RulecError(
                    [
                        diag(
                            "P104",
                            f"expression is nested deeper than {MAX_DEPTH} levels",
                            pos.of(pred) or pos.span(1, 1),
                        )
                    ]
                )


def at_end(exc: UnexpectedInput) -> bool:
    """The parser ran out of input (the error is at the end of the text parsed)."""
    return (
        isinstance(exc, UnexpectedEOF)
        or getattr(getattr(exc, "token", None), "type", None) == "$END"
    )


def syntax_diagnostic(exc: UnexpectedInput, text: str, pos: Positions) -> Diagnostic:
    """P100 for a Lark parse error in `text`, with what was expected and a YAML hint."""
    special = _misplaced(exc, text, pos)
    if special is not None:
        return special
    d = syntax_error(exc, pos, "the rules")
    span = _end_of(text, pos) if at_end(exc) else d.span  # just after the last thing written
    hints = _expected_names(exc)
    if _LOOKS_LIKE_YAML.search(text):
        hints += (
            "this looks like YAML: give the file a .yaml name, or see "
            "docs/language.md for the .rules form",
        )
    return diag(d.code, d.message, span, d.severity, hints)


def is_blank(text: str) -> bool:
    """Nothing but whitespace and comments (P101)."""
    return not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    )


def parse_rules(text: str, file: str = "<rules>") -> m.Shop:
    """Parse a `.rules` file into a Shop; raises RulecError with every diagnostic found."""
    shop = _parse_direct(text, file)
    return shop if shop is not None else parse_rules_with_layout(text, file)[0]


def _parse_direct(text: str, file: str) -> m.Shop | None:
    """The Shop of a clean file, parsed without a tree (rulec/grammar/direct.py); None for
    anything else (a syntax error, a diagnostic, a predicate beyond the limits), which the
    tree parser then reports, so every message comes from one place."""
    if len(text) > MAX_SOURCE or is_blank(text):
        return None
    builder = RulesBuilder(Positions(file), text)
    try:
        shop = direct("rules_file", MAX_PREDICATE, MAX_DEPTH).parse(text, builder)
    except (UnexpectedInput, Fallback, _LiteralError, RulecError):
        return None
    return None if builder.diags else shop


def parse_rules_with_layout(
    text: str, file: str = "<rules>"
) -> tuple[m.Shop, list[tuple[Key, int, int]]]:
    """(Shop, [(statement key, first line, last line)]): the layout lets `rulec fmt` keep
    comments beside their statements."""
    from rulec.grammar.loader import parser

    pos = Positions(file)
    if len(text) > MAX_SOURCE:
        raise RulecError(
            [diag("P104", f"source is larger than {MAX_SOURCE // 2**20} MiB", pos.span(1, 1))]
        )
    if is_blank(text):
        raise RulecError([diag("P101", "the rules file is empty", pos.span(1, 1))])
    try:
        tree = parser().parse(text, start="rules_file")
    except UnexpectedInput as exc:
        raise RulecError([syntax_diagnostic(exc, text, pos)]) from None
    _depth_check(tree, pos)
    builder = RulesBuilder(pos, text)
    try:
        shop = builder.transform(tree)
    except _LiteralError as exc:
        raise RulecError(builder.diags + [exc.diag]) from None
    except Exception as exc:  # lark wraps callback errors in VisitError
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, _LiteralError):
            raise RulecError(builder.diags + [inner.diag]) from None
        if isinstance(inner, RulecError):
            raise RulecError(builder.diags + inner.diagnostics) from None
        raise
    if builder.diags:
        raise RulecError(
            sorted(builder.diags, key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
        )
    return shop, _statements(tree, text)


_WORD = re.compile(r"[^\W\d]\w*")


def _statements(tree: Tree[Token], text: str = "") -> list[tuple[Key, int, int]]:
    """(key, first line, last line) of each statement, keyed as printer_rules.sections keys
    its items (for keeping comments in `rulec fmt`), then one entry per item of a block
    statement written over several lines: key + (first word, n-th item with that word)."""
    out: list[tuple[Key, int, int]] = []
    counts: dict[str, int] = {}
    lines = text.splitlines()
    for stmt in tree.children:
        assert isinstance(stmt, Tree)  # rules_file holds statements only
        kind = stmt.data
        key: Key
        if kind in ("shop", "timezone", "routing", "facts", "outreach"):
            key = (kind,)
        else:
            n = counts.get(kind, 0)
            key, counts[kind] = (kind, n), n + 1
        out.append((key, stmt.meta.line, stmt.meta.end_line))
        if stmt.meta.line == stmt.meta.end_line or not lines:
            continue
        seen: dict[str, int] = {}
        for item in stmt.children:
            if not isinstance(item, Tree) or item.data in ("ident", "quoted") or item.meta.empty:
                continue
            w = _WORD.match(lines[item.meta.line - 1], item.meta.column - 1)
            if w is None:
                continue
            n = seen[w.group()] = seen.get(w.group(), -1) + 1
            out.append((key + (w.group(), n), item.meta.line, item.meta.end_line))
    return out
