"""JSON fast path: large machine-written rules read with the C json module instead of YAML.

The YAML reader's section logic is reused over plain JSON values; positions are unknown here,
so the pipeline keeps a result only when it is clean and otherwise compiles the source again
through frontend_yaml, which positions every diagnostic."""

from __future__ import annotations

import json

from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import parse_predicate
from rulec.compiler.frontend_yaml import YamlReader, _Stop, parse_duration
from rulec.errors import RulecError


class _Unsure(Exception):
    """The plain reader met something it leaves to the positioned YAML path."""


class PlainReader(YamlReader):
    """YamlReader over json.loads output: dicts, lists and scalars instead of YAML nodes."""

    def span(self, node):
        return None

    def error(self, code, message, node, hints=()):
        raise _Unsure

    def is_mapping(self, node) -> bool:
        return isinstance(node, dict)

    def raw(self, node):
        return node

    def mapping(self, node, what, keys=None):
        if node is None:
            return []
        if not isinstance(node, dict) or (keys is not None and not set(node) <= set(keys)):
            raise _Unsure
        return [(k, k, v) for k, v in node.items()]

    def seq(self, node, what):
        if node is None:
            return []
        if not isinstance(node, list):
            raise _Unsure
        return node

    def scalar(self, node, what):
        if node is None or isinstance(node, (dict, list, bool)):
            raise _Unsure
        return node if isinstance(node, str) else json.dumps(node)

    def text(self, node, what):
        return m.Value(self.scalar(node, what), None)

    def boolean(self, node, what):
        if not isinstance(node, bool):
            raise _Unsure
        return m.Value(node, None)

    def integer(self, node, what):
        if not isinstance(node, int) or isinstance(node, bool):
            raise _Unsure
        return m.Value(node, None)

    def duration(self, node, what):
        secs = parse_duration(node) if isinstance(node, str) else None
        if secs is None:
            raise _Unsure
        return m.Value(secs, None)

    def names(self, node, what):
        return [m.NameRef(self.scalar(x, what), None) for x in self.seq(node, what)]

    def predicate(self, node, what):
        if not isinstance(node, str):
            raise _Unsure
        try:
            return parse_predicate(node, self.file)
        except RulecError:
            raise _Unsure from None


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def parse_json_fast(text: str, file: str = "<rules>") -> m.Shop | None:
    """A Shop read from plain JSON, or None to say "use the YAML path" (not JSON, a repeated
    key, anything unusual): that path then reports what is wrong, with positions."""
    if not text.lstrip().startswith("{"):
        return None
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
