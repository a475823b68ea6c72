"""Compiler positions (1-based lines, columns in code points) <-> LSP positions (0-based, columns
in the negotiated units: UTF-16 by default, where a Chinese character is one unit and a
character outside the BMP two; UTF-8 bytes or code points when the client asks for them)."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

_WORD = re.compile(r"[\w\-]+")


def units(text: str, encoding: str = "utf-16") -> int:
    """Code units of `text` in an LSP position encoding ("utf-16", "utf-8" or "utf-32")."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


class Lines:
    """The lines of one document, for converting positions both ways."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.lines = text.split("\n")
        self.encoding = encoding

    def line(self, n: int) -> str:
        """Line `n` (1-based), '' beyond the end."""
        return self.lines[n - 1] if 0 < n <= len(self.lines) else ""

    def to_lsp(self, line: int, col: int) -> lsp.Position:
        before = self.line(line)[: max(col - 1, 0)]
        return lsp.Position(max(line - 1, 0), units(before, self.encoding))

    def from_lsp(self, pos: lsp.Position) -> tuple:
        """(line, col) in compiler terms for an LSP position (a column inside a character's
        units counts as the character's start)."""
        text = self.line(pos.line + 1)
        used = 0
        for i, ch in enumerate(text):
            used += units(ch, self.encoding)
            if used > pos.character:
                return pos.line + 1, i + 1
        return pos.line + 1, len(text) + 1

    def range(self, line: int, col: int, end_line: int | None, end_col: int | None) -> lsp.Range:
        """An LSP range; without an end, the word at the start (or one character)."""
        if end_line is None or end_col is None or (end_line, end_col) <= (line, col):
            end_line, end_col = line, col + max(1, len(self.word_at(line, col)[0]))
        return lsp.Range(self.to_lsp(line, col), self.to_lsp(end_line, end_col))

    def span_range(self, span) -> lsp.Range:
        if span is None:
            return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        return self.range(span.line, span.col, span.end_line, span.end_col)

    def word_at(self, line: int, col: int) -> tuple:
        """(word, first col) of the name-like word touching (line, col), or ('', col)."""
        text = self.line(line)
        for mt in _WORD.finditer(text):
            if mt.start() + 1 <= col <= mt.end() + 1:
                return mt.group(), mt.start() + 1
        return "", col

    def full_range(self) -> lsp.Range:
        last = len(self.lines)
        return lsp.Range(lsp.Position(0, 0), self.to_lsp(last, len(self.line(last)) + 1))
