"""Builds the Lark LALR parser from rules.lark once and caches it."""

from __future__ import annotations

import functools
import pathlib
import threading

from lark import Lark

GRAMMAR = pathlib.Path(__file__).with_name("rules.lark")
START = ["predicate", "rules_file"]
_BUILD = threading.Lock()


def _open(strict: bool) -> Lark:
    return Lark.open(
        str(GRAMMAR),
        parser="lalr",
        propagate_positions=True,
        strict=strict,
        start=START,
        maybe_placeholders=False,
    )


@functools.cache
def parser(strict: bool = False) -> Lark:
    """The parser. `strict=True` also proves the grammar free of LALR conflicts and terminal
    collisions (tests/language checks it); that analysis costs about a second, so the parser
    every command uses is built without it, from the same grammar and to the same tables."""
    if strict:
        return _open(True)
    import lark.lexer as lexer

    with _BUILD:
        saved = lexer.has_interegular
        lexer.has_interegular = False  # skip only the (already proven) collision analysis
        try:
            return _open(False)
        finally:
            lexer.has_interegular = saved
