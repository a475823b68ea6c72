"""Matcher behaviour that mutation testing found unpinned (docs/mutation.md, mut-outreach):
each test here fails on a surviving mutant of rulec/matching (pure.py, rows.py) and runs on
both twins (the `build` fixture), keyed to the clause it pins."""

import pytest
from matcher_bodies import make_body

from rulec.matching import reference
from rulec.table.format import Table

N = 1536  # wide enough that a row of 24+ members is an int bitset and a smaller one a set
FEW = [10, 701]  # a sparse crowd row of two groups
FIVE = [10, 21, 700, 901, 1500]  # and of five
HALF = list(range(0, N, 2))  # a dense product row


def _wide_groups():
    groups = [{"name": f"g{i}"} for i in range(N)]
    for label, ids in (("few", FEW), ("five", FIVE)):
        for i in ids:
            groups[i].setdefault("crowd", []).append(label)
    for i in HALF:
        groups[i]["product"] = ["half"]
    return groups


@pytest.mark.parametrize(
    ("label", "want"),
    [("few", ["g10"]), ("five", ["g10", "g700", "g1500"])],
)
def test_r5_a_sparse_crowd_row_narrowed_by_a_dense_product_row(build, label, want):
    """R5: the crowd dimension leaves a few groups (a sparse row), then the product row (an
    int bitset) narrows them: only the even groups hold "half". Two members take the short
    path of the intersection, five the bitmap path."""
    groups = _wide_groups()
    m = build(groups)
    chat = {"crowds": [label], "product": "half"}
    assert m.match(chat) == want
    body = make_body(groups)
    Table.from_body(body)
    assert reference.match(body, chat) == want
