"""JSON fast path: large machine-written rules read with the C json module instead of YAML.

The YAML reader's section logic is reused over plain JSON values; positions are unknown here,
so the pipeline keeps a result only when it is clean and otherwise compiles the source again
through frontend_yaml, which positions every diagnostic."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import parse_predicate
from rulec.compiler.frontend_yaml import YamlReader, _Stop, parse_duration
from rulec.errors import RulecError, Span

# a high surrogate escape not followed by a low one, or a low one not after a high one
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


class _Unsure(Exception):
    """The plain reader met something it leaves to the positioned YAML path."""


class PlainReader(YamlReader):
    """YamlReader over json.loads output: dicts, lists and scalars instead of YAML nodes."""

    def span(self, node: Any) -> Span | None:
        return None

    def error(self, code: str, message: str, node: Any, hints: Iterable[str] = ()) -> NoReturn:
        raise _Unsure

    def is_mapping(self, node: Any) -> bool:
        return isinstance(node, dict)

    def raw(self, node: Any) -> Any:
        return node

    def mapping(
        self, node: Any, what: str, keys: Iterable[str] | None = None
    ) -> list[tuple[str, str, Any]]:
        if node is None:
            return []
        if not isinstance(node, dict) or (keys is not None and not set(node) <= set(keys)):
            raise _Unsure
        return [(k, k, v) for k, v in node.items()]

    def seq(self, node: Any, what: str) -> list[Any]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise _Unsure
        return node

    def scalar(self, node: Any, what: str) -> str:
        if node is None or isinstance(node, (dict, list, bool)):
            raise _Unsure
        return node if isinstance(node, str) else json.dumps(node)

    def text(self, node: Any, what: str) -> m.Value:
        return m.Value(self.scalar(node, what), None)

    def boolean(self, node: Any, what: str) -> m.Value:
        if not isinstance(node, bool):
            raise _Unsure
        return m.Value(node, None)

    def integer(self, node: Any, what: str) -> m.Value:
        if not isinstance(node, int) or isinstance(node, bool):
            raise _Unsure
        return m.Value(node, None)

    def duration(self, node: Any, what: str) -> m.Value:
        secs = parse_duration(node) if isinstance(node, str) else None
        if secs is None:
            raise _Unsure
        return m.Value(secs, None)

    def names(self, node: Any, what: str) -> list[m.NameRef]:
        return [m.NameRef(self.scalar(x, what), None) for x in self.seq(node, what)]

    def predicate(self, node: Any, what: str) -> m.Expr:
        if not isinstance(node, str):
            raise _Unsure
        try:
            return parse_predicate(node, self.file)
        except RulecError:
            raise _Unsure from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def parse_json_fast(text: str, file: str = "<rules>") -> m.Shop | None:
    """A Shop read from plain JSON, or None to say "use the YAML path" (not JSON, a repeated
    key, anything unusual): that path then reports what is wrong, with positions."""
    if not text.lstrip().startswith("{") or _LONE_SURROGATE.search(text):
        return None  # json.loads would accept a lone "\ud800"; the YAML path refuses it
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and "tests" in data:
        return None  # tests are read by the YAML path only (they are small)
    try:  # the reader descends only the known shape, so depth is bounded by the code
        return PlainReader(file).shop(data)
    except (_Unsure, _Stop, RecursionError):
        return None
