"""The types pass, one predicate at a time: each diagnostic whole (code, position, message,
hints), and the predicates it must let through. The case files check a part of a message."""

import pytest

from rulec.compiler.pipeline import compile_source

# `odd` has an unknown type (V401, resolve's): the types pass must take it as untyped.
ATTRS = "{level: int, price: number, city: string, flag: bool, tags: set, odd: integr}"


def checked(kind, expr, attrs=ATTRS):
    """The diagnostics of one crowd or intent `c` (the V401 of `odd` left out)."""
    head = f"shop: t\nattributes: {attrs}\n" if attrs else "shop: t\n"
    r = compile_source(f"{head}{kind}s:\n  c: '{expr}'\n", "t.yaml")
    return [
        (d.code, (d.span.line, d.span.col), d.message, d.hints)
        for d in r.diagnostics
        if d.code != "V401"
    ]


NUMBER_NOT_CONDITION = "`level` is a number, not a condition: compare it with a value"
ATTR_VS_ATTR = "compare an attribute with a literal value, not with another attribute"
NO_ORDER = "bools have no order: use == or !="


@pytest.mark.parametrize(
    "kind,expr,want",
    [
        # N203: an undeclared attribute; `message` is suggested to intents only (settled reading)
        ("crowd", 'mesage == "x"', [("N203", 7, "unknown attribute `mesage`", "declare")]),
        ("intent", 'mesage == "x"', [("N203", 7, "unknown attribute `mesage`", "message")]),
        (
            "crowd",
            'message contains "x"',
            [("N203", 7, "`message` (the chat's first message) is only available to intents", 0)],
        ),
        ("intent", 'message contains "x"', []),
        # T306: a condition must be a bool
        ("crowd", "flag", []),
        ("crowd", "level", [("T306", 7, NUMBER_NOT_CONDITION, 0)]),
        ("crowd", "3", [("T306", 7, "the literal 3 is not a condition", 0)]),
        # T300 / T301 / T305: comparisons
        (  # under `not` too
            "crowd",
            'not level == "3"',
            [("T300", 11, "`level` is a number but is compared with a string ('3')", 0)],
        ),
        ("crowd", "level > price", [("T305", 7, ATTR_VS_ATTR, 0)]),
        ("crowd", '2 < "x"', [("T300", 7, "cannot compare a number with a string", 0)]),
        ("crowd", "true < false", [("T301", 7, NO_ORDER, 0)]),
        ("crowd", "true == false", []),
        ("crowd", "1 < 2", []),
        ("crowd", "1 > level", []),
        (
            "crowd",
            'tags == "x"',
            [("T300", 7, "`tags` is a set: use `contains` or `contains_any`", 0)],
        ),
        (
            "crowd",
            "flag == 1",
            [("T300", 7, "`flag` is a bool but is compared with a number (1)", 0)],
        ),
        ("crowd", "flag < true", [("T301", 7, NO_ORDER, 0)]),
        ("crowd", "flag == true", []),
        ("crowd", "odd == 1", []),
        # T302: `in` lists
        ("crowd", 'tags in ["a"]', [("T302", 7, "`tags` is a set: use `contains_any`", 0)]),
        (
            "crowd",
            'level in [1, "2"]',
            [("T302", 20, "`level` is a number, but the list holds string '2'", 0)],
        ),
        ("crowd", 'city in ["a", "b"]', []),
        ("crowd", "3 in [3]", [("T305", 7, "the left side of `in` must be an attribute", 0)]),
        (
            "crowd",
            'city in ["a", 1]',
            [("T302", 21, "`city` is a string, but the list holds number 1", 0)],
        ),
        # T303 / T305: contains
        (
            "crowd",
            'tags contains_any ["a", 1]',
            [("T303", 31, "`contains_any` takes strings, not 1", 0)],
        ),
        ("crowd", "tags contains 2", [("T303", 21, "`contains` takes strings, not 2", 0)]),
        ("crowd", "tags contains city", [("T303", 7, "`contains` takes one string", 0)]),
        (
            "crowd",
            'level contains "1"',
            [("T303", 7, "`level` is a number: `contains` needs a string or a set", 0)],
        ),
        ("crowd", 'city contains "x"', []),
        ("crowd", 'tags contains_any ["a", "b"]', []),
        (
            "crowd",
            '3 contains "x"',
            [("T305", 7, "the left side of `contains` must be an attribute", 0)],
        ),
    ],
)
def test_one_predicate(kind, expr, want):
    hints = {0: (), "declare": ("declare it under `attributes`",)}
    hints["message"] = ("did you mean `message`?",)
    assert checked(kind, expr) == [
        (code, (4, col), f"{kind} c: {message}", hints[h]) for code, col, message, h in want
    ]


@pytest.mark.parametrize(
    "expr,want",
    [
        ("x < true", [("T301", 7, NO_ORDER)]),
        ("true < x", [("T301", 7, NO_ORDER)]),
        ("x == true", []),
        ('x in [1, "a"]', [("T302", 12, "the values of an `in` list must all be of one type")]),
        ('x in ["a", "b"]', []),
    ],
)
def test_one_predicate_without_declared_attributes(expr, want):
    """No `attributes`: every attribute is untyped, but literals are still checked."""
    assert checked("crowd", expr, attrs=None) == [
        (code, (3, col), f"crowd c: {message}", ()) for code, col, message in want
    ]
