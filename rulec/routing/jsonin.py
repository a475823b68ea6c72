"""Untrusted JSON in, as routing reads it: JSON only, numbers in range, text that is Unicode.

`loads(text)` parses (NaN/Infinity are not JSON: E801; integers beyond 64 bits, floats
beyond the double range: E851; a lone surrogate escape: E850); `check_json(value)` checks
a value already in Python (the embedding API) the same way, and bounds nesting and size
(E806). Both raise `Bad` (code, message, hints), which callers turn into diagnostics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, NoReturn

MAX_INT = (1 << 63) - 1  # integers a store keeps (SQLite INTEGER)
MAX_ITEMS = 1_000_000  # values in one event or state document
MAX_DEPTH = 64  # nesting of lists and objects in one event or state document


class Bad(Exception):
    """A bad input value: its code, message and hints (events.py makes diagnostics)."""

    def __init__(self, code: str, message: str, hints: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.hints = code, message, tuple(hints)


def _constant(name: str) -> NoReturn:
    raise Bad("E801", f"not JSON: {name} is not a JSON number")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not -MAX_INT - 1 <= int(text) <= MAX_INT:
        raise Bad("E851", f"number {text[:30]}{'…' * (len(text) > 30)} is out of range (64 bits)")
    return int(text)


def _float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise Bad("E851", f"number {text[:30]}{'…' * (len(text) > 30)} is out of range")
    return v


def loads(text: str) -> Any:
    """json.loads for untrusted text: JSON only (NaN/Infinity refused, E801), numbers in
    range (E851), strings Unicode text (a `\\ud800` escape alone is not: E850). Raises _Bad."""
    try:
        doc = json.loads(text, parse_constant=_constant, parse_int=_int, parse_float=_float)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Bad("E801", f"not JSON: {getattr(exc, 'msg', 'nested too deeply')}") from None
    # only an escape can make a lone surrogate out of UTF-8 text, and only that many brackets
    # can nest that deep: the walk is skipped on the common line
    if "\\u" in text or text.count("[") + text.count("{") > MAX_DEPTH:
        check_json(doc)
    return doc


def check_json(value: object) -> None:
    """_Bad unless `value` is plain JSON data: None, bools, strings that are Unicode text
    (E850: no lone surrogate), integers in 64 bits and finite floats (E851; NaN: E801),
    lists and objects with string keys, at most MAX_DEPTH deep and MAX_ITEMS values (E806)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        v, depth = stack.pop()
        seen += 1
        cls = v.__class__
        if cls is str:
            if not v.isascii():
                check_str(v)
        elif v is None or cls is bool:
            continue
        elif cls is int:
            if not -MAX_INT - 1 <= v <= MAX_INT:
                raise Bad("E851", "an integer is out of range (64 bits)")
        elif cls is float:
            if v != v:
                _constant("NaN")
            if not math.isfinite(v):
                raise Bad("E851", f"number {v} is out of range")
        elif cls is dict or cls is list or cls is tuple:
            if depth >= MAX_DEPTH:
                raise Bad("E806", f"a value is nested deeper than {MAX_DEPTH} levels")
            if cls is dict:
                for k, x in v.items():
                    if k.__class__ is not str:
                        raise Bad("E806", f"object keys must be strings, got {type(k).__name__}")
                    stack.append((k, depth))
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        else:
            raise Bad("E806", f"not a JSON value: {type(v).__name__}")
        if seen > MAX_ITEMS:
            raise Bad("E806", f"more than {MAX_ITEMS} values")


def check_str(v: str) -> None:
    """Bad E850 when `v` holds a lone surrogate."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end].encode("unicode_escape").decode()
        raise Bad("E850", f"a string holds {bad}, a lone surrogate (not Unicode text)") from None
