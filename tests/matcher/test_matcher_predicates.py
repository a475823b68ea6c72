"""EXPR runtime meaning (table-format EXPR, settled readings) on the reference and both matchers."""

import math

import pytest

from rulec.matching import reference

BIG = 2**53 + 1
CASES = [
    # (expr, value or MISSING, expected)
    (["cmp", "==", "x", 1], 1, True),
    (["cmp", "==", "x", 1], 1.0, True),
    (["cmp", "==", "x", 1], True, False),  # True never equals 1
    (["cmp", "!=", "x", 1], True, False),  # mismatched kinds: false, even for !=
    (["cmp", "==", "x", True], 1, False),
    (["cmp", "==", "x", True], True, True),
    (["cmp", "!=", "x", True], False, True),
    (["cmp", "<", "x", True], False, False),  # ordering bools is not defined
    (["cmp", "==", "x", BIG], float(2**53), False),  # exact int/float comparison
    (["cmp", ">", "x", float(2**53)], BIG, True),
    (["cmp", "<", "x", 2.5], 2, True),
    (["cmp", ">=", "x", 3], 2.9999999, False),
    (["cmp", ">", "x", 10**30], 10**30 + 1, True),
    (["cmp", "==", "x", "1"], 1, False),
    (["cmp", "<", "x", "b"], "a", True),
    (["cmp", "<", "x", "Z"], "a", False),  # code point order
    (["cmp", "<", "x", "\uffff"], "\U0001f600", False),
    (["cmp", ">", "x", 0], None, False),
    (["cmp", ">", "x", 0], "MISSING", False),
    (["not", ["cmp", ">=", "x", 3]], "MISSING", True),
    (["cmp", "!=", "x", 3], "MISSING", False),
    (["cmp", "!=", "x", 3], math.nan, True),
    (["cmp", "==", "x", 3], math.nan, False),
    (["cmp", "<", "x", 3], -math.inf, True),
    (["cmp", "==", "x", 1], [1], False),  # a set is not a number
    (["in", "x", [1, 2.5, "a"]], 2.5, True),
    (["in", "x", [1, 2]], True, False),
    (["in", "x", [True]], 1, False),
    (["in", "x", []], 1, False),
    (
        ["not_in", "x", [1, 2]],
        "MISSING",
        False,
    ),  # settled reading: every atom on a missing value is false
    (["not_in", "x", [1, 2]], 3, True),
    (["not_in", "x", [1, 2]], 2.0, False),
    (["contains", "x", "lo"], "hello", True),
    (["contains", "x", ""], "hello", True),
    (["contains", "x", "lo"], ["hello", "lo"], True),
    (["contains", "x", "lo"], ["hello"], False),  # set membership, not substring
    (["contains", "x", "1"], [1], False),
    (["contains", "x", "lo"], 1, False),
    (["contains_any", "x", ["zz", "el"]], "hello", True),
    (["contains_any", "x", []], "hello", False),
    (["and", [["cmp", ">", "x", 1], ["cmp", "<", "x", 5]]], 3, True),
    (["or", [["cmp", "<", "x", 1], ["cmp", ">", "x", 5]]], 3, False),
    (["const", True], "MISSING", True),
]


@pytest.mark.parametrize("expr,value,expected", CASES)
def test_expr_runtime_meaning(build, expr, value, expected):
    """Settled readings: missing -> false, kinds never mix, exact numbers, code points."""
    attrs = {} if value == "MISSING" else {"x": value}
    assert reference.evaluate(expr, attrs) is expected
    m = build(
        [{"name": "K", "crowd": ["k"]}, {"name": "I", "intent": ["i"]}],
        crowds=[("k", expr)],
        intents=[("i", expr)],
    )
    assert m.crowds_of(attrs) == (["k"] if expected else [])
    assert m.intents_of(None, attrs) == (["i"] if expected else [])
    # twice: the second answer comes from the class cache
    assert (
        m.match({"attrs": attrs})
        == m.match({"attrs": attrs})
        == (["K"] if expected else ["K", "I"])
    )
    assert m.match({"attrs": {**attrs, "y": 1}}) == (["K"] if expected else ["K", "I"])


def test_classes_share_cache_soundly(build):
    """Values in one numeric class share a cached result; a new class is evaluated afresh."""
    m = build(
        [{"name": "K", "crowd": ["k"]}, {"name": "O"}],
        crowds=[("k", ["or", [["cmp", ">", "x", 10], ["cmp", "==", "x", 5]]])],
    )
    seq = [11, 12.5, 10, 5, 5.0, 4.99, True, "11", None, 10**40, -(10**40), math.inf]
    want = [
        ["K"],
        ["K"],
        ["K", "O"],
        ["K"],
        ["K"],
        ["K", "O"],
        ["K", "O"],
        ["K", "O"],
        ["K", "O"],
        ["K"],
        ["K", "O"],
        ["K"],
    ]
    assert [m.match({"attrs": {"x": v}}) for v in seq] == want
    assert m.match_many([{"attrs": {"x": v}} for v in seq]) == want
