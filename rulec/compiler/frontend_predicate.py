"""Predicate frontend: Lark parse tree -> model expressions, with positions in the source file."""

from __future__ import annotations

from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta

from rulec.compiler import model as m
from rulec.errors import Diagnostic, RulecError, Span, diag
from rulec.grammar.direct import TOKEN_TYPES, Fallback, Node, direct

MAX_DEPTH = 64
MAX_PREDICATE = 64 * 1024

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "0": "\0"}

TOKEN_NAMES = {
    "COMP_OP": "a comparison (== != < <= > >=)",
    "NAME": "an attribute name",
    "SIGNED_NUMBER": "a number",
    "STRING": "a string",
    "_AND": "`and`",
    "_OR": "`or`",
    "_NOT": "`not`",
    "_IN": "`in`",
    "_CONTAINS": "`contains`",
    "_CONTAINS_ANY": "`contains_any`",
    "_TRUE": "`true`",
    "_FALSE": "`false`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "$END": "end of input",
}


def unescape(body: str) -> str:
    """Decode a quoted literal's inside: \\n \\t \\r \\\\ \\" \\' \\uXXXX (never eval). A UTF-16
    surrogate pair (\\ud83d\\ude00) is one character; a lone surrogate is not text (ValueError)."""
    out, i, n = [], 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and i + 6 <= n:
            code = _hex4(body, i)
            i += 6
            if 0xD800 <= code <= 0xDBFF and body[i : i + 2] == "\\u" and i + 6 <= n:
                low = _hex4(body, i)
                if 0xDC00 <= low <= 0xDFFF:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
            if 0xD800 <= code <= 0xDFFF:
                raise EscapeError(
                    i - 6,
                    f"\\u{code:04x} is a lone UTF-16 surrogate, not a character "
                    "(write the character itself, or a high and low pair)",
                )
            out.append(chr(code))
        else:
            raise EscapeError(i, f"unknown escape \\{nxt}")
    return "".join(out)


class EscapeError(ValueError):
    """A bad escape at `offset` in the literal's inside."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset = offset


def _hex4(body: str, i: int) -> int:
    digits = body[i + 2 : i + 6]
    if not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise EscapeError(i, f"bad escape \\u{digits}")
    return int(digits, 16)


class Positions:
    """Maps a (line, col) inside a snippet to the (line, col) in the file it came from."""

    def __init__(self, file: str, line: int = 1, col: int = 1):
        self.file, self.line, self.col = file, line, col
        self.whole = line == 1 and col == 1  # a whole file: its places are the snippet's

    def tokens(self, first: Any, last: Any) -> Span:
        """From the start of token `first` to the end of token `last` (the same token for
        one token's span): `span` without the look-ups, a parse makes one per name."""
        if self.whole:
            return Span(self.file, first.line, first.column, last.end_line, last.end_column)
        return self.span(first.line, first.column, last.end_line, last.end_column)

    def span(
        self, line: int, col: int, end_line: int | None = None, end_col: int | None = None
    ) -> Span:
        if self.line == 1 and self.col == 1 and end_line is not None and end_col is not None:
            return Span(self.file, line, col, end_line, end_col)  # a whole file's own places

        def at(ln: int, c: int) -> tuple[int, int]:
            return (self.line + ln - 1, c + self.col - 1 if ln == 1 else c)

        fl, fc = at(line, col)
        if end_line is None or end_col is None:
            return Span(self.file, fl, fc)
        el, ec = at(end_line, end_col)
        return Span(self.file, fl, fc, el, ec)

    def of(self, item: Any) -> Span | None:
        if isinstance(item, TOKEN_TYPES):  # tokens from our parser always carry positions
            line, col = item.line or 1, item.column or 1
            return self.span(line, col, item.end_line, item.end_column)
        meta = getattr(item, "meta", None)
        if meta is not None and not meta.empty:
            return self.span(meta.line, meta.column, meta.end_line, meta.end_column)
        return None


@v_args(meta=True)
class PredicateBuilder(Transformer[Token, Any]):
    """One method per predicate rule of rules.lark; the .rules frontend extends this class."""

    def __init__(self, pos: Positions) -> None:
        super().__init__()
        self.pos = pos

    def _span(self, meta: Meta | Node) -> Span | None:
        if type(meta) is Node:  # the direct parser's meta: its first and last tokens
            first = meta.first
            return None if first is None else self.pos.tokens(first, meta.last)
        return (
            None
            if meta.empty
            else self.pos.span(meta.line, meta.column, meta.end_line, meta.end_column)
        )

    def predicate(self, meta: Meta, items: list[Any]) -> m.Expr:
        e: m.Expr = items[0]
        return e

    def or_expr(self, meta: Meta, items: list[Any]) -> m.BoolOp:
        return m.BoolOp("or", list(items), self._span(meta))

    def and_expr(self, meta: Meta, items: list[Any]) -> m.BoolOp:
        return m.BoolOp("and", list(items), self._span(meta))

    def not_(self, meta: Meta, items: list[Any]) -> m.Not:
        return m.Not(items[0], self._span(meta))

    def compare(self, meta: Meta, items: list[Any]) -> m.Compare:
        left, op, right = items
        return m.Compare(str(op), left, right, self._span(meta))

    def in_(self, meta: Meta, items: list[Any]) -> m.InList:
        return m.InList(items[0], items[1], False, self._span(meta))

    def not_in(self, meta: Meta, items: list[Any]) -> m.InList:
        return m.InList(items[0], items[1], True, self._span(meta))

    def contains(self, meta: Meta, items: list[Any]) -> m.Contains:
        return m.Contains(items[0], items[1], False, self._span(meta))

    def contains_any(self, meta: Meta, items: list[Any]) -> m.Contains:
        return m.Contains(items[0], items[1], True, self._span(meta))

    def bare(self, meta: Meta, items: list[Any]) -> m.Expr:
        v: m.Expr = items[0]
        if isinstance(v, m.Literal) and isinstance(v.value, bool):
            return m.Const(v.value, v.span)
        return v  # a bare attribute; the type pass accepts it only when it is a bool

    def attr(self, meta: Meta, items: list[Any]) -> m.Attr:
        return m.Attr(str(items[0]), self.pos.of(items[0]))

    def number(self, meta: Meta, items: list[Any]) -> m.Literal:
        tok = items[0]
        text = str(tok)
        if any(c in text for c in ".eE"):
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise _literal_error(self.pos.of(tok), f"number {text} is out of range")
        else:
            if len(text.lstrip("-")) > 19:
                raise _literal_error(self.pos.of(tok), f"integer {text} is too large")
            value = int(text)
        return m.Literal(value, self.pos.of(tok))

    def string(self, meta: Meta, items: list[Any]) -> m.Literal:
        tok = items[0]
        try:
            value = unescape(str(tok)[1:-1])
        except EscapeError as exc:  # point at the escape (a string token is on one line)
            col = tok.column + 1 + exc.offset
            span = self.pos.span(tok.line, col, tok.line, col + 2)
            raise _literal_error(span, str(exc)) from None
        return m.Literal(value, self.pos.of(tok))

    def true(self, meta: Meta, items: list[Any]) -> m.Literal:
        return m.Literal(True, self._span(meta))

    def false(self, meta: Meta, items: list[Any]) -> m.Literal:
        return m.Literal(False, self._span(meta))

    def list(self, meta: Meta, items: list[Any]) -> m.ListLit:
        return m.ListLit(list(items), self._span(meta))


class _LiteralError(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


def _literal_error(span: Span | None, message: str) -> _LiteralError:
    return _LiteralError(diag("P107", message, span))


def tree_depth(tree: Tree[Token]) -> int:
    """Depth of a Lark tree, computed without recursion."""
    best = 0
    stack: list[tuple[Tree[Token] | Token, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if isinstance(node, Tree):
            stack.extend((c, d + 1) for c in node.children)
    return best


def syntax_error(exc: UnexpectedInput, pos: Positions, what: str) -> Diagnostic:
    """A P100 diagnostic for a Lark error, saying what was expected."""
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        line, col = exc.token.line or line, exc.token.column or col
    if isinstance(exc, UnexpectedCharacters):
        msg = f"unexpected character {exc.char!r} in {what}"
    elif isinstance(exc, UnexpectedEOF):
        msg = f"{what} ends too early"
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        got = "end of input" if tok.type == "$END" else f"`{tok}`"
        msg = f"unexpected {got} in {what}"
    else:
        msg = f"syntax error in {what}"
    expected = sorted(
        {
            TOKEN_NAMES.get(t, t)
            for t in (getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
            if not t.startswith("__")
        }
    )
    hints = (f"expected {', '.join(expected[:8])}",) if expected else ()
    return diag("P100", msg, pos.span(line, col), "error", hints)


def parse_predicate(text: str, file: str = "<predicate>", line: int = 1, col: int = 1) -> m.Expr:
    """Parse one predicate; raises RulecError (P100 syntax, P104 too deep/long, P107 literal)."""
    pos = Positions(file, line, col)
    if len(text) > MAX_PREDICATE:
        raise RulecError(
            [diag("P104", f"predicate is longer than {MAX_PREDICATE} characters", pos.span(1, 1))]
        )
    if not text.strip():
        raise RulecError([diag("P100", "empty predicate", pos.span(1, 1))])
    try:  # no tree for a clean predicate (rulec/grammar/direct.py)
        e: m.Expr = direct("predicate", MAX_PREDICATE, MAX_DEPTH).parse(text, PredicateBuilder(pos))
        return e
    except (UnexpectedInput, Fallback, _LiteralError, RulecError):
        return parse_predicate_tree(text, pos)


def parse_predicate_tree(text: str, pos: Positions) -> m.Expr:
    """The tree parser's reading of a predicate: what parse_predicate gives for anything but
    a clean one, so that every diagnostic is written here."""
    from rulec.grammar.loader import parser

    try:
        tree = parser().parse(text, start="predicate")
    except UnexpectedInput as exc:
        raise RulecError([syntax_error(exc, pos, "predicate")]) from None
    e: m.Expr
    if len(text) < MAX_DEPTH:  # each level of nesting takes a character: no deep tree here
        e = _transform(tree, PredicateBuilder(pos))
    else:
        e = build(tree, PredicateBuilder(pos), pos)
    return e


def build(tree: Tree[Token], builder: PredicateBuilder, pos: Positions) -> Any:
    """Depth-check a parse tree, then transform it with `builder`."""
    if tree_depth(tree) > MAX_DEPTH:
        raise RulecError(
            [
                diag(
                    "P104",
                    f"expression is nested deeper than {MAX_DEPTH} levels",
                    pos.of(tree) or pos.span(1, 1),
                )
            ]
        )
    return _transform(tree, builder)


def _transform(tree: Tree[Token], builder: PredicateBuilder) -> Any:
    try:
        return builder.transform(tree)
    except _LiteralError as exc:
        raise RulecError([exc.diag]) from None
    except Exception as exc:  # lark wraps callback errors in VisitError
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, _LiteralError):
            raise RulecError([inner.diag]) from None
        if isinstance(inner, RulecError):
            raise inner from None
        raise
