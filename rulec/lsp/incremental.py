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

STATEMENT_WORDS = frozenset(fr.STATEMENT_WORDS)
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


def _spans(obj, out: dict) -> None:
    """Collect (by id) every Span inside a parsed item."""
    stack = [obj]
    while stack:
        obj = stack.pop()
        if isinstance(obj, _PLAIN_TYPES):
            continue
        kind = type(obj)
        if kind is Span:
            out[id(obj)] = obj
        elif kind is list or kind is tuple:
            stack.extend(obj)
        elif kind is dict:
            stack.extend(obj.values())
        elif kind is fr._Word:
            stack.append(obj.span)
        else:
            names = _FIELDS.get(kind, ())
            if names == ():
                names = _FIELDS[kind] = (
                    tuple(f.name for f in attrs.fields(kind)) if attrs.has(kind) else None
                )
            if names is not None:
                stack.extend(getattr(obj, name) for name in names)


class _Chunk:
    """One statement chunk's parse, placed at `line` (its spans are absolute for it)."""

    __slots__ = ("items", "diags", "spans", "line")

    def __init__(self, items, diags, line):
        self.items, self.diags, self.line = items, diags, line
        found: dict = {}
        _spans((items, diags), found)
        self.spans = list(found.values())

    def move_to(self, line: int) -> None:
        """Place the chunk at `line`: its spans are moved in place, not copied, since copying
        the model of every statement below an added line costs as much as parsing it."""
        delta = line - self.line
        if delta:
            put = object.__setattr__  # Span is frozen for everyone else
            for span in self.spans:
                put(span, "line", span.line + delta)
                if span.end_line is not None:
                    put(span, "end_line", span.end_line + delta)
            self.line = line


class IncrementalRules:
    """A parser for one document: `parse(text, file)` as frontend_rules.parse_rules, caching
    each statement chunk's parse by its text. A model returned earlier shares the cached
    objects, so its positions follow the latest parse."""

    def __init__(self):
        self._parsed: dict = {}  # chunk text -> _Chunk
        self.reused = 0  # chunks taken from the cache in the last parse (for tests, benches)

    def parse(self, text: str, file: str = "<rules>") -> m.Shop:
        if len(text) > fr.MAX_SOURCE or fr.is_blank(text):
            return fr.parse_rules(text, file)  # its own P104 / P101
        try:
            return self._parse(text, file)
        except _Whole:
            return fr.parse_rules(text, file)

    def _parse(self, text, file):
        parsed, self.reused = {}, 0
        items, diags = [], []
        for first, chunk in chunks(text):
            entry = None if chunk in parsed else self._parsed.get(chunk)
            if entry is not None:
                self.reused += 1
                entry.move_to(first)
            else:
                try:
                    entry = self._parse_chunk(chunk, first, file)
                except UnexpectedInput as exc:
                    self._parsed = {**self._parsed, **parsed}  # keep what parsed for the fix
                    # A syntax error's message reads what follows (a block left open is
                    # reported where its `}` belongs), so the full parser reports it.
                    raise _Whole from exc
            parsed.setdefault(chunk, entry)  # a second chunk with the same text: not cached
            items.extend(entry.items)
            diags.extend(entry.diags)
        self._parsed = parsed
        builder = fr.RulesBuilder(Positions(file), text)
        builder.diags = diags
        shop = builder.rules_file(None, items)
        if builder.diags:
            raise RulecError(sorted(builder.diags, key=lambda d: (d.span.line, d.span.col)))
        return shop

    @staticmethod
    def _parse_chunk(chunk, first, file):
        """Parse a chunk as if in place: newlines before it give Lark the file's lines."""
        from rulec.grammar.loader import parser

        padded = "\n" * (first - 1) + chunk
        tree = parser().parse(padded, start="rules_file")
        for stmt in tree.children:
            if stmt.data in ("crowd", "intent") and tree_depth(stmt.children[-1]) > MAX_DEPTH:
                raise _Whole  # rare: the full parser reports P104 where it stops
        builder = fr.RulesBuilder(Positions(file), padded)
        try:
            items = [builder.transform(stmt) for stmt in tree.children]
        except Exception as exc:  # a bad literal stops the full parser mid-file
            raise _Whole from exc
        return _Chunk(items, builder.diags, first)
