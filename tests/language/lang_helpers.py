"""Helpers for the language tests: model comparison without positions, leak walking."""

import pathlib

import attrs

from rulec.compiler import model as m
from rulec.errors import Span

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "rules"
POSITION_FIELDS = {"span", "level_span", "mode_span", "text", "file", "tests_lines"}


def plain(obj):
    """The model as nested dicts/lists, without spans, source text or file name."""
    return attrs.asdict(obj, filter=lambda a, v: a.name not in POSITION_FIELDS)


def leaks(obj, path="shop"):
    """Paths of every value in the model that is not a model node, Span or plain value."""
    bad = []
    stack = [(obj, path)]
    while stack:
        node, where = stack.pop()
        if type(node) in (str, int, float, bool, type(None), Span):
            continue
        if type(node) is list:
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))
        elif type(node) is dict:
            for k, v in node.items():
                if type(k) is not str:
                    bad.append(f"{where} key {type(k).__name__}")
                stack.append((v, f"{where}.{k}"))
        elif attrs.has(type(node)) and type(node).__module__ == m.__name__:
            stack.extend(
                (getattr(node, a.name), f"{where}.{a.name}") for a in attrs.fields(type(node))
            )
        else:
            bad.append(f"{where}: {type(node).__module__}.{type(node).__name__}")
    return bad
