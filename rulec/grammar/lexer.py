"""The direct parser's contextual lexer: Lark's per-state terminals, one regex match a token.

Lark's contextual lexer (and lark-cython's) matches the ignored whitespace and comments as
tokens of their own, so a `.rules` file costs two regex matches, two Python-level token
steps and a line-counter update per token: most of a clean parse (issue 15). Here each
parser state's pattern is Lark's own alternation of that state's terminals (same names, same
order, so the same choice), preceded by the ignored terminals, skipped possessively:

    (?=(?P<_skip>(?:WS|COMMENT)*))(?P=_skip)(?:(?P<ID>...)|(?P<NUMID>...)|...)

(the look-ahead and back-reference make the skip atomic, so a failing match never
backtracks into it). Skipping ignored text first gives Lark's tokens because no terminal of
rules.lark can begin where an ignored one does (whitespace, `#`; tests/language compares the
token streams). Keyword strings a regex terminal also matches (`group` and ID) are Lark's
too: `_create_unless` moved them out of the alternation, and the match is retyped by a dict
look-up where Lark calls a full-match scanner. A character no terminal takes raises Lark's
UnexpectedCharacters, and the caller's tree parser then reports it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import PatternStr

try:  # the Cython lexer and LALR loops (optional: requirements-dev.txt, setup.py extra `fast`)
    from lark_cython import lark_cython as LC  # type: ignore[import-untyped, unused-ignore]
except ImportError:  # pragma: no cover - exercised by the RULEC_NO_LARK_CYTHON runs
    LC = None


class Unsupported(Exception):
    """Lark's lexer configuration has something this lexer does not reproduce (the direct
    parser then keeps Lark's or lark-cython's lexer)."""


class _State:
    """One parser state's pattern, and for each of its groups (by number) the terminal's
    name, its keywords (value -> keyword terminal) or None, and whether it can span lines."""

    __slots__ = ("match", "groups")

    def __init__(self, basic: Any, skip: str) -> None:
        scanner = basic.scanner  # Lark's own: the state's terminals, sorted and combined
        if len(scanner._mres) != 1 or basic.user_callbacks:
            raise Unsupported("a split alternation or a user callback")
        mre = scanner._mres[0]
        pattern = re.compile(rf"(?=(?P<_skip>{skip}))(?P=_skip)(?:{mre.pattern})", mre.flags)
        self.match = pattern.match
        self.groups: list[Any] = [None] * (pattern.groups + 1)
        for name, i in pattern.groupindex.items():
            if name != "_skip":
                self.groups[i] = (name, None, name in basic.newline_types)
        for name, unless in basic.callback.items():
            words = unless.scanner.terminals
            if not all(isinstance(t.pattern, PatternStr) and not t.pattern.flags for t in words):
                raise Unsupported(f"{name}: a keyword with flags")
            i = pattern.groupindex[name]
            self.groups[i] = (name, {t.pattern.value: t.name for t in words}, self.groups[i][2])


class Tables:
    """The patterns of every parser state of a Lark ContextualLexer, built once."""

    def __init__(self, contextual: Any) -> None:
        root = contextual.root_lexer
        ignore = sorted(root.ignore_types)
        if not ignore:
            raise Unsupported("no ignored terminals")
        by_name = root.terminals_by_name
        skip = "(?:%s)*" % "|".join(f"(?:{by_name[n].pattern.to_regexp()})" for n in ignore)
        self.skip = re.compile(skip)
        built: dict[int, _State] = {}
        self.states: dict[int, _State] = {}
        for state, basic in contextual.lexers.items():
            one = built.get(id(basic))
            if one is None:
                one = built[id(basic)] = _State(basic, skip)
            self.states[state] = one


def _run_class(base: type, token: type) -> type:
    """A one-parse lexer class over `base` (lark-cython's Lark interface needs its own
    Lexer class) making `token`s (the class the parser loop takes)."""

    class Run(base):
        """One text being lexed: the tables, the offset, the line and where it starts."""

        __slots__ = ("states", "skip", "text", "pos", "line", "line_start")

        def __init__(self, tables: Tables, text: str) -> None:
            self.states, self.skip, self.text = tables.states, tables.skip, text
            self.pos, self.line, self.line_start = 0, 1, 0

        def make_lexer_state(self, text: str) -> Any:
            """lark-cython's thread holds a state of its class; the position is kept here."""
            return LC.LexerState(text, None)

        def next_token(self, _state: Any, parser_state: Any) -> Any:
            """The next token for the parser's current state; EOFError at the end."""
            lexer = self.states[parser_state.position]
            text, pos = self.text, self.pos
            m: Any = lexer.match(text, pos)
            if m is None:
                at = self.skip.match(text, pos).end()  # type: ignore[union-attr]  # `*`: always
                if at == len(text):
                    raise EOFError(self)
                self._advance(at)
                raise UnexpectedCharacters(text, at, self.line, at - self.line_start + 1)
            i = m.lastindex
            kind, keywords, multiline = lexer.groups[i]
            start, end = m.span(i)
            if start != pos:  # skipped whitespace or comments: inline, as most tokens do
                n = text.count("\n", pos, start)
                if n:
                    self.line += n
                    self.line_start = text.rfind("\n", pos, start) + 1
            value = text[start:end]
            if keywords is not None:
                kind = keywords.get(value, kind)
            line, col = self.line, start - self.line_start + 1
            if multiline and "\n" in value:  # Lark's guess says it could be: is it?
                self.pos = start
                self._advance(end)
                return token(
                    kind, value, start, line, col, self.line, end - self.line_start + 1, end
                )
            self.pos = end
            return token(kind, value, start, line, col, line, col + end - start, end)

        def lex(self, _state: Any, parser_state: Any) -> Iterator[Any]:
            """Lark's interface: the tokens, one per step of its parser loop."""
            try:
                while True:
                    yield self.next_token(None, parser_state)
            except EOFError:
                return

        def _advance(self, to: int) -> None:
            """Move to offset `to`, counting the newlines passed."""
            text, pos = self.text, self.pos
            n = text.count("\n", pos, to)
            if n:
                self.line += n
                self.line_start = text.rfind("\n", pos, to) + 1
            self.pos = to

    return Run


PlainRun: Any = _run_class(object, Token)
CyRun: Any = None if LC is None else _run_class(LC.Lexer, LC.Token)
