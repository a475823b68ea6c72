"""Wide tables (R5 over up to 1,500 groups): Cython, pure Python and the reference agree when
values are held by one group, a few, runs, strides, random shares or every group - the group
bitsets of both sides of the matcher's dense/sparse row cut-off, built and narrowed alike."""

from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matcher_bodies import make_body

from rulec.matching import matcher as M
from rulec.matching import reference
from rulec.table.format import Table

DIMVALS = {
    "crowd": ["k0", "k1", "k2", "lab"],
    "product": ["p0", "p1", "p2", "p3", "p4"],
    "intent": ["i0", "i1", "ilab"],
    "order": ["unpaid", "paid", "after_sale"],
}
CROWDS = [
    ("k0", ["cmp", ">=", "a", 2]),
    ("k1", ["in", "a", [1, 4]]),
    ("k2", ["not", ["cmp", "<", "a", 3]]),
]
INTENTS = [("i0", ["contains", "message", "x"]), ("i1", ["contains_any", "message", ["y", "x"]])]
SHARES = ["none", "one", "few", "run", "stride", "p01", "p10", "p50", "all"]


def _members(rnd, n, share):
    """Group indices holding a value: sparse (one, a few, a short run, 1%) to dense."""
    if share == "one":
        return [rnd.randrange(n)]
    if share == "few":
        return rnd.sample(range(n), min(n, rnd.randint(2, 5)))
    if share == "run":
        start = rnd.randrange(n)
        return list(range(start, min(n, start + rnd.randint(1, 300))))
    if share == "stride":  # one bit in every word: few groups, yet every word is set
        step = rnd.choice([63, 64, 65])
        return list(range(rnd.randrange(step), n, step))
    if share == "all":
        return list(range(n))
    p = {"p01": 0.01, "p10": 0.1, "p50": 0.5}.get(share, 0.0)
    return [i for i in range(n) if rnd.random() < p]


@st.composite
def wide_cases(draw):
    n = draw(st.sampled_from([1, 63, 64, 65, 200, 640, 1500]))
    rnd = draw(st.randoms(use_true_random=False))
    groups = [{"name": f"g{i}"} for i in range(n)]
    for d, vals in DIMVALS.items():
        for v in vals:
            for i in _members(rnd, n, draw(st.sampled_from(SHARES))):
                groups[i].setdefault(d, []).append(v)
    body = make_body(groups, CROWDS, INTENTS, {"a": "int"})
    chats = []
    for _ in range(draw(st.integers(4, 14))):
        chats.append(
            {
                "attrs": {"a": rnd.choice([0, 1, 2, 3, 4, 5])} if rnd.random() < 0.9 else {},
                "crowds": rnd.sample(["lab", "k0", "zz"], rnd.randint(0, 2)),
                "product": rnd.choice(DIMVALS["product"] + ["p9", None]),
                "order": rnd.choice(DIMVALS["order"] + [None]),
                "intent": rnd.choice(["ilab", "i1", "zz", None, None]),
                "message": rnd.choice(["x", "y", "xy", "z", None]),
            }
        )
    return body, chats


def matchers(body):
    ms = [M.build_matcher(body, "python")]
    if M._matcher is not None:
        ms.append(M.build_matcher(body, "cython"))
    return ms


def _columns(m, chats):
    def codes(dim, get):
        return array("i", [m.code(dim, get(c)) for c in chats])

    msgs = sorted({c["message"] for c in chats if c["message"] is not None})
    return dict(
        n=len(chats),
        product=codes("product", lambda c: c["product"]),
        order=codes("order", lambda c: c["order"]),
        intent=codes("intent", lambda c: c["intent"]),
        crowd=codes("crowd", lambda c: (c["crowds"] or [None])[0]),
        columns={
            "a": array("d", [c["attrs"].get("a", float("nan")) for c in chats]),
            "message": (
                array("i", [msgs.index(c["message"]) if c["message"] else -1 for c in chats]),
                msgs,
            ),
        },
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_cases())
def test_wide_tables_agree_with_reference(case):
    """R5: match, match_many, match_indices, match_outcome and match_columns give the
    reference's candidates on wide tables, for both implementations."""
    body, chats = case
    Table.from_body(body)
    chats = chats + chats[:3]
    want = [reference.match(body, c) for c in chats]
    names = [g["name"] for g in body["groups"]]
    for m in matchers(body):
        assert [m.match(c) for c in chats] == want, m
        assert m.match_many(chats) == want, m
        assert [[names[i] for i in m.match_indices(c)] for c in chats] == want, m
        ids = [m.match_outcome(c) for c in chats]
        assert [list(m.outcomes()[i]) for i in ids] == want, m
        # the columnar path reads one label per chat: compare it with those chats' answers
        one = [dict(c, crowds=c["crowds"][:1]) for c in chats]
        out = m.match_columns(**_columns(m, one))
        assert [list(m.outcomes()[i]) for i in out] == [reference.match(body, c) for c in one]
        # one id per distinct candidate list, whichever path made it
        assert len(set(m.outcomes())) == len(m.outcomes()), m


def _at_cutoff_body():
    """1,536 groups (24 words): values on both sides of both cut-offs. Cython keeps a row
    dense when more than 24 / 4 = 6 words are non-zero; the pure twin when it has at least
    1,536 / 64 = 24 members."""
    n = 1536
    held = {
        "w6": [64 * w + 5 for w in range(6)],  # Cython sparse (6 words), pure sparse
        "w7": [64 * w + 9 for w in range(7)],  # Cython dense (7 words), pure sparse
        "m24": list(range(100, 124)),  # Cython sparse (1 word), pure dense (24 members)
        "m23": list(range(200, 223)),  # both sparse
        "half": list(range(0, n, 2)),  # both dense
    }
    groups = [{"name": f"g{i}"} for i in range(n)]
    for v, ids in held.items():
        for i in ids:
            groups[i].setdefault("product", []).append(v)
    for i in range(0, n, 3):
        groups[i]["crowd"] = ["k0"]
    for i in (5, 9, 100, 200, 201):
        groups[i]["order"] = ["paid"]
    return make_body(groups, CROWDS[:1], INTENTS[:1], {"a": "int"}), list(held)


def test_rows_on_both_sides_of_the_cutoffs():
    """The row forms really differ (each twin holds dense and sparse rows) and every mix
    of them narrows to the reference's candidates."""
    body, values = _at_cutoff_body()
    Table.from_body(body)
    ms = matchers(body)
    kinds = {type(r).__name__ for r in ms[0].row_list["product"][1:]}
    assert kinds == {"int", "frozenset"}
    if len(ms) > 1:
        dense, sparse = ms[1].row_forms()
        assert dense >= 2 and sparse >= 3, (dense, sparse)
    chats = [
        {"attrs": {"a": a}, "product": p, "order": o, "crowds": labels}
        for a in (0, 5)
        for p in values + ["none", None]
        for o in ("paid", None)
        for labels in ([], ["k0"])
    ]
    want = [reference.match(body, c) for c in chats]
    for m in ms:
        assert m.match_many(chats) == want, m
        ids = [m.match_outcome(c) for c in chats]
        assert [list(m.outcomes()[i]) for i in ids] == want, m
