"""Builds the Lark LALR parser from rules.lark once and caches it."""
from __future__ import annotations

import functools
import pathlib

from lark import Lark

GRAMMAR = pathlib.Path(__file__).with_name("rules.lark")
START = ["predicate", "rules_file"]


@functools.lru_cache(maxsize=None)
def parser() -> Lark:
    return Lark.open(str(GRAMMAR), parser="lalr", propagate_positions=True, strict=True,
                     start=START, maybe_placeholders=False)
