"""Incremental .rules parsing: each top-level statement is parsed once and reused while its text
is unchanged, so an edit re-parses only what it touched; the result is the full parser's."""

from __future__ import annotations

import re

import attrs
from lark.exceptions import UnexpectedInput

from rulec.compiler import frontend_rules as fr
from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import MAX_DEPTH, Positions, tree_depth
from rulec.errors import RulecError, Span

STATEMENT_WORDS = frozenset(w.strip("`") for w in fr.STATEMENTS)
_STARTS = re.compile(r"[ \t]*(?:%s)(?=[\s{;]|$)" % "|".join(sorted(STATEMENT_WORDS)))
_PLAIN_TYPES = (str, int, float, bool, type(None))
_FIELDS: dict = {}  # type -> its attrs field names, or None for a type that holds no Span


class _Whole(Exception):
    """This text needs the full parser (a chunk ended mid-statement, or a rare error path)."""


def chunks(text: str) -> list:
    """[(first line, text)]: the file cut before each line that starts a statement at brace
    depth 0. A cut in the wrong place (a statement continued on a line that starts with a
    statement word) leaves a chunk that ends mid-statement, which sends the parse to the
    full parser, so a cut never changes the answer."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start, depth = 1, 0
    for n, line in enumerate(text.split("\n"), 1):
        if depth == 0 and buf and _STARTS.match(line):
            out.append((start, "\n".join(buf)))
            start, buf = n, []
        buf.append(line)
        if "{" in line or "}" in line:
            depth = max(0, depth + _braces(line))
    out.append((start, "\n".join(buf)))
    return out


def _braces(line: str) -> int:
    """Net `{` minus `}` outside strings and comments."""
    net, quote, i = 0, None, 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch == "{":
            net += 1
        elif ch == "}":
            net -= 1
        i += 1
    return net


def shift(obj, lines: int):
    """A copy of a parsed item with every Span moved down by `lines`."""
    if lines == 0 or isinstance(obj, _PLAIN_TYPES):
        return obj
    kind = type(obj)
    if kind is Span:
        end = obj.end_line + lines if obj.end_line is not None else None
        return Span(obj.file, obj.line + lines, obj.col, end, obj.end_col)
    if kind is list or kind is tuple:
        return kind(shift(x, lines) for x in obj)
    if kind is dict:
        return {k: shift(v, lines) for k, v in obj.items()}
    if kind is fr._Word:
        return fr._Word(obj.value, shift(obj.span, lines))
    names = _FIELDS.get(kind, ())
    if names == ():
        names = _FIELDS[kind] = (
            tuple(f.name for f in attrs.fields(kind)) if attrs.has(kind) else None
        )
    if names is None:
        return obj
    return kind(**{name: shift(getattr(obj, name), lines) for name in names})


class IncrementalRules:
    """A parser for one document: `parse(text, file)` as frontend_rules.parse_rules, caching
    each statement chunk's parse by its text (and its placement by text and first line)."""

    def __init__(self):
        self._parsed: dict = {}  # chunk text -> ("ok", items, diags) | ("error", exc)
        self._placed: dict = {}  # (chunk text, first line) -> (items, diags)
        self.reused = 0  # chunks taken from the cache in the last parse (for tests, benches)

    def parse(self, text: str, file: str = "<rules>") -> m.Shop:
        if len(text) > fr.MAX_SOURCE or fr.is_blank(text):
            return fr.parse_rules(text, file)  # its own P104 / P101
        try:
            return self._parse(text, file)
        except _Whole:
            return fr.parse_rules(text, file)

    def _parse(self, text, file):
        parsed, placed, self.reused = {}, {}, 0
        items, diags = [], []
        for first, chunk in chunks(text):
            entry = parsed.get(chunk) or self._parsed.get(chunk)
            if entry is not None:
                self.reused += 1
            else:
                entry = self._parse_chunk(chunk, file)
            parsed[chunk] = entry
            if entry[0] == "error":
                self._parsed, self._placed = parsed, placed
                exc = entry[1]
                if fr.at_end(exc) or fr._LOOKS_LIKE_YAML.search(text):
                    raise _Whole  # the full parser reads on into the next statement
                # Every chunk before parsed, and this one starts a statement in the same
                # parser state, so the full parser stops at this very token.
                raise RulecError([fr.syntax_diagnostic(exc, chunk, Positions(file, first))])
            key = (chunk, first)
            if key not in placed:
                placed[key] = self._placed.get(key) or shift(entry[1:], first - 1)
            chunk_items, chunk_diags = placed[key]
            items.extend(chunk_items)
            diags.extend(chunk_diags)
        self._parsed, self._placed = parsed, placed
        builder = fr.RulesBuilder(Positions(file), text)
        builder.diags = list(diags)
        shop = builder.rules_file(None, items)
        if builder.diags:
            raise RulecError(sorted(builder.diags, key=lambda d: (d.span.line, d.span.col)))
        return shop

    @staticmethod
    def _parse_chunk(chunk, file):
        from rulec.grammar.loader import parser

        try:
            tree = parser().parse(chunk, start="rules_file")
        except UnexpectedInput as exc:
            return ("error", exc)
        for stmt in tree.children:
            if stmt.data in ("crowd", "intent") and tree_depth(stmt.children[-1]) > MAX_DEPTH:
                raise _Whole  # rare: the full parser reports P104 where it stops
        builder = fr.RulesBuilder(Positions(file), chunk)
        try:
            items = [builder.transform(stmt) for stmt in tree.children]
        except Exception as exc:  # a bad literal stops the full parser mid-file
            raise _Whole from exc
        return ("ok", items, builder.diags)
