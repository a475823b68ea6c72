"""match_columns' inputs (docs in rulec/matching/matcher.py): every bad column is E841 with the
same words from both twins, never a traceback; the accepted buffer forms and the missing-value
markers mean what the dict path means (R5 over the same chats)."""

import math
from array import array

import pytest

from rulec.errors import InputError

GROUPS = [{"name": "a", "crowd": ["k"]}, {"name": "b", "product": ["p"]}, {"name": "c"}]
# `!=` and `not in` hold on a value unlike theirs, never on a missing one (settled readings),
# so they tell a missing value from NaN, 0 or the empty string
CROWDS = [("k", ["or", [["cmp", "!=", "x", 1], ["not_in", "s", ["no"]]]])]


BAD = [
    ({"n": -1}, "column 'n': must be >= 0"),
    ({"n": 1, "out": [0]}, "column 'out': must be a writable int32 buffer"),
    ({"n": 1, "out": array("d", [0.0])}, "column 'out': must be a writable int32 buffer"),
    ({"n": 1, "out": array("I", [0])}, "column 'out': must be a writable int32 buffer"),
    ({"n": 2, "out": array("i", [0])}, "column 'out': has 1 rows, expected 2"),
    ({"n": 1, "product": [1]}, "column 'product': codes must be an int32 buffer"),
    ({"n": 1, "product": array("f", [0.0])}, "column 'product': codes must be an int32 buffer"),
    ({"n": 1, "order": array("q", [0])}, "column 'order': codes must be an int32 buffer"),
    ({"n": 2, "intent": array("i", [0])}, "column 'intent': has 1 rows, expected 2"),
    ({"n": 1, "product": array("i", [2])}, "column 'product': code 2 is not a code of this table"),
    ({"n": 1, "crowd": array("i", [-1])}, "column 'crowd': code -1 is not a code of this table"),
    (
        {"n": 1, "columns": {"x": [1]}},
        "column 'x': use a float64 or int64 buffer, or (int32 codes, vocabulary)",
    ),
    (
        {"n": 1, "columns": {"x": array("Q", [1])}},
        "column 'x': use a float64 or int64 buffer, or (int32 codes, vocabulary)",
    ),
    (
        {"n": 1, "columns": {"x": array("h", [1])}},
        "column 'x': use a float64 or int64 buffer, or (int32 codes, vocabulary)",
    ),
    ({"n": 2, "columns": {"x": array("d", [1.0])}}, "column 'x': has 1 rows, expected 2"),
    ({"n": 2, "columns": {"x": array("q", [1])}}, "column 'x': has 1 rows, expected 2"),
    (
        {"n": 1, "columns": {"s": (array("i", [0]), ["a"], 1)}},
        "column 's': a value column is (codes, vocabulary)",
    ),
    (
        {"n": 1, "columns": {"s": (array("d", [0.0]), ["a"])}},
        "column 's': codes must be an int32 buffer",
    ),
    ({"n": 1, "columns": {"s": ([0], ["a"])}}, "column 's': codes must be an int32 buffer"),
    ({"n": 2, "columns": {"s": (array("i", [0]), ["a"])}}, "column 's': has 1 rows, expected 2"),
    (
        {"n": 1, "columns": {"s": (array("i", [1]), ["a"])}},
        "column 's': code 1 is outside the vocabulary",
    ),
]


@pytest.mark.parametrize(("kw", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_column_is_e841_naming_the_column_and_the_fault(build, kw, message):
    """Bad input gets a coded error: E841 names the column (or `n`, `out`) and what is wrong,
    the same on both twins (a list where a buffer goes was a TypeError traceback in the
    pure twin, a negative n a ValueError)."""
    m = build(GROUPS, CROWDS)
    with pytest.raises(InputError) as exc:
        m.match_columns(**kw)
    assert [(d.code, d.message) for d in exc.value.diagnostics] == [("E841", message)]


def test_accepted_columns_mean_what_the_dict_path_means(build):
    """R5 over columns = R5 over the same chats as dicts: an int64 column of either format
    ("q", "l"), a float64 column whose NaN is a missing value, value codes where 0 is the
    first vocabulary entry and -1 (or any negative code) is missing."""
    m = build(GROUPS, CROWDS)
    xs = [1, 2, 1, 1]
    floats = [1.0, math.nan, 2.0, 1.0]
    s_codes, vocab = [0, 1, -1, -2], ["yes", "no"]
    chats = [
        {"attrs": {"x": x, "s": vocab[c]} if c >= 0 else {"x": x}, "product": "p"}
        for x, c in zip(xs, s_codes)
    ]
    product = array("i", [m.code("product", "p")] * 4)
    want = m.match_many(chats)
    assert want == [["a"], ["a"], ["b"], ["b"]]
    for fmt in ("q", "l"):
        cols = {"x": array(fmt, xs), "s": (array("i", s_codes), vocab)}
        out = m.match_columns(4, product=product, columns=cols)
        assert [list(m.outcomes()[i]) for i in out] == want, fmt
    fchats = [
        {"attrs": {"s": "no"} if x != x else {"x": x, "s": "no"}, "product": "p"} for x in floats
    ]
    cols = {"x": array("d", floats), "s": (array("i", [1] * 4), vocab)}
    out = m.match_columns(4, product=product, columns=cols)
    assert (
        [list(m.outcomes()[i]) for i in out] == m.match_many(fchats) == [["b"], ["b"], ["a"], ["b"]]
    )


def test_a_column_no_predicate_reads_is_ignored(build):
    """Both twins read (and check) only the columns their predicates read."""
    m = build(GROUPS, CROWDS)
    cols = {"zz": [1], "yy": (array("i", [7]), [])}
    out = m.match_columns(1, columns=cols)
    assert [m.outcomes()[i] for i in out] == [("a", "b", "c")]


def test_a_read_only_out_buffer_is_e841(build):
    """`out` must be writable: E841, not a write into someone's bytes or a traceback."""
    m = build(GROUPS, CROWDS)
    with pytest.raises(InputError) as exc:
        m.match_columns(2, out=memoryview(bytes(8)).cast("i"))
    message = "column 'out': must be a writable int32 buffer"
    assert [(d.code, d.message) for d in exc.value.diagnostics] == [("E841", message)]


def test_strided_columns_are_read_like_contiguous_ones(build):
    """A column may be a strided buffer (every other row of a larger one, as a NumPy slice
    with a step gives): both twins read it row by row, the same as its contiguous copy.
    The Cython twin raised BufferError here."""
    m = build(GROUPS, CROWDS)
    xs, s_codes, vocab = [1, 2, 1, 1], [0, 1, -1, 0], ["yes", "no"]
    code_p = m.code("product", "p")

    def every_other(fmt, rows):  # each row followed by a junk row the slice steps over
        return memoryview(array(fmt, [v for r in rows for v in (r, 99)]))[::2]

    chats = [
        {"attrs": {"x": x, "s": vocab[c]} if c >= 0 else {"x": x}, "product": "p"}
        for x, c in zip(xs, s_codes)
    ]
    want = m.match_many(chats)
    for fmt in ("q", "d"):
        cols = {"x": every_other(fmt, xs), "s": (every_other("i", s_codes), vocab)}
        out = m.match_columns(4, product=every_other("i", [code_p] * 4), columns=cols)
        assert [list(m.outcomes()[i]) for i in out] == want, fmt


def test_a_strided_out_buffer_is_e841(build):
    """Results are written in place, so `out` must be one contiguous int32 buffer: a strided
    one is refused by both twins rather than filled through a copy the caller never sees."""
    m = build(GROUPS, CROWDS)
    with pytest.raises(InputError) as exc:
        m.match_columns(2, out=memoryview(array("i", [0] * 4))[::2])
    message = "column 'out': must be a writable int32 buffer"
    assert [(d.code, d.message) for d in exc.value.diagnostics] == [("E841", message)]
