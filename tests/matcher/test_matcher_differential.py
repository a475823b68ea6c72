"""R5 differential property: Cython, pure Python and the reference agree on random bodies and chats."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matcher_bodies import make_body

from rulec.errors import InputError
from rulec.matching import matcher as M
from rulec.matching import reference
from rulec.table.format import Table

ATTRS = ["a", "b", "message"]
WORDS = ["", "x", "xy", "y", "Z", "退款", "b"]
LITS = [
    0,
    1,
    -1,
    2,
    3,
    2.0,
    0.5,
    -0.0,
    1e300,
    2**53,
    2**53 + 1,
    float(2**53),
    -(2**63),
    10**20,
    True,
    False,
] + WORDS
literals = st.sampled_from(LITS)
values = st.one_of(
    st.sampled_from(LITS + [None, math.nan, math.inf, -math.inf, 2.5, -7, "xyz", "退款了"]),
    st.lists(st.one_of(st.sampled_from(WORDS), st.integers(0, 2)), max_size=3),
    st.dictionaries(st.just("k"), st.integers(), max_size=1),
)
attr = st.sampled_from(ATTRS)
leaves = st.one_of(
    st.tuples(st.just("cmp"), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), attr, literals),
    st.tuples(st.sampled_from(["in", "not_in"]), attr, st.lists(literals, max_size=3)),
    st.tuples(st.just("contains"), attr, st.sampled_from(WORDS)),
    st.tuples(st.just("contains_any"), attr, st.lists(st.sampled_from(WORDS), max_size=3)),
    st.tuples(st.just("const"), st.booleans()),
).map(list)
exprs = st.recursive(
    leaves,
    lambda sub: st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), st.lists(sub, min_size=2, max_size=3)).map(list),
        st.tuples(st.just("not"), sub).map(list),
    ),
    max_leaves=6,
)

CROWDS = ["k0", "k1", "k2", "lab"]
INTENTS = ["i0", "i1", "ilab"]
DIMVALS = {
    "crowd": CROWDS,
    "product": ["p0", "p1", "p2"],
    "intent": INTENTS,
    "order": ["unpaid", "paid", "after_sale"],
}
group = st.fixed_dictionaries(
    {d: st.lists(st.sampled_from(v), max_size=2, unique=True) for d, v in DIMVALS.items()}
)


def chats_for(vals):
    return st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "attrs": st.fixed_dictionaries({}, optional={a: vals for a in ATTRS}),
                "crowds": st.lists(st.sampled_from(CROWDS + ["zz"]), max_size=2),
                "product": st.sampled_from(DIMVALS["product"] + ["p9", None]),
                "order": st.sampled_from(DIMVALS["order"] + [None]),
                "intent": st.sampled_from(INTENTS + ["zz", None]),
                "message": st.one_of(st.none(), st.sampled_from(WORDS + ["我要退款"])),
            },
        ),
        min_size=4,
        max_size=12,
    )


def _lits(expr, out):
    if expr[0] in ("and", "or"):
        for e in expr[1]:
            _lits(e, out)
    elif expr[0] == "not":
        _lits(expr[1], out)
    elif expr[0] == "cmp":
        out.append(expr[3])
    elif expr[0] in ("in", "not_in", "contains_any"):
        out.extend(expr[2])
    elif expr[0] == "contains":
        out.append(expr[2])
    return out


def _near(x):
    """Values next to a literal, and its look-alikes of other kinds (True / 1 / 1.0 / "1")."""
    if isinstance(x, bool):
        return [int(x), float(x), str(x).lower()]
    if isinstance(x, (int, float)):
        out = [x - 1, x + 0.5, str(x)]
        if x in (0, 1):
            out.append(bool(x))
        if isinstance(x, int) and abs(x) < 2**60:
            out.append(float(x))
        return out
    return [x + "y", x[:-1], [x]]


@st.composite
def bodies(draw):
    n = draw(st.sampled_from([0, 1, 3, 8, 65, 130]))
    gs = draw(st.lists(group, min_size=n, max_size=n))
    groups = [{"name": f"g{i}", **g} for i, g in enumerate(gs)]
    crowds = [(name, draw(exprs)) for name in CROWDS[: draw(st.integers(0, 3))]]
    intents = [(name, draw(exprs)) for name in INTENTS[: draw(st.integers(0, 2))]]
    body = make_body(groups, crowds, intents)
    # chat values are mostly the body's own literals, so comparisons sit on their edges
    used = [x for _, e in crowds + intents for x in _lits(e, [])]
    near = [y for x in used for y in _near(x)]
    edge = st.sampled_from(used + near) if used else values
    vals = st.one_of(
        edge, edge, edge, values, st.lists(st.sampled_from(used) if used else literals, max_size=2)
    )
    return body, draw(chats_for(vals))


def matchers(body):
    ms = [M.build_matcher(body, "python")]
    if M._matcher is not None:
        ms.append(M.build_matcher(body, "cython"))
    return ms


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_r5_matchers_agree_with_reference(case):
    """R5 + EXPR runtime meaning: every implementation gives the reference's answers exactly."""
    body, chats = case
    Table.from_body(body)
    chats = chats + chats[:3]  # repeated chats hit the caches
    want = [reference.match(body, c) for c in chats]
    for m in matchers(body):
        assert [m.match(c) for c in chats] == want, m
        assert m.match_many(chats) == want, m
        for c, w in zip(chats, want):
            idx = m.match_indices(c)
            assert [body["groups"][i]["name"] for i in idx] == w
            ex = reference.explain(body, c)
            assert m.crowds_of(c.get("attrs"), c.get("crowds") or ()) == ex["crowds"]
            # the planner's unchecked entry point: same answer, Cython and pure Python alike
            assert m.crowds_of_trusted(c.get("attrs"), c.get("crowds") or ()) == ex["crowds"]
            assert m.intents_of(c.get("message"), c.get("attrs"), c.get("intent")) == ex["intents"]


@st.composite
def leaf_cases(draw):
    expr = draw(st.one_of(leaves, exprs))
    used = _lits(expr, [])
    near = [y for x in used for y in _near(x)]
    pool = st.sampled_from(used + near) if used else values
    vals = draw(st.lists(st.one_of(pool, pool, values), min_size=8, max_size=24))
    return expr, vals


@settings(max_examples=200, deadline=None)
@given(leaf_cases())
def test_expr_matchers_agree_with_reference(case):
    """EXPR runtime meaning, leaf by leaf: crowd and intent truth equals the reference's."""
    expr, vals = case
    body = make_body([{"name": "K", "crowd": ["k0"]}], [("k0", expr)], [("i0", expr)])
    ms = matchers(body)
    for v in vals + vals[:4]:
        for a in ATTRS:
            attrs = {a: v}
            msg = v if a == "message" and isinstance(v, str) else None
            want = reference.evaluate(expr, attrs)
            iwant = reference.evaluate(expr, reference.intent_env(attrs, msg))
            for m in ms:
                assert m.crowds_of(attrs) == (["k0"] if want else []), (m, attrs)
                assert m.crowds_of_trusted(attrs, ()) == (["k0"] if want else []), (m, attrs)
                assert m.intents_of(msg, attrs) == (["i0"] if iwant else []), (m, attrs)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=2), c, max_size=3),
    max_leaves=5,
)
FIELDS = ["attrs", "crowds", "product", "order", "intent", "message", "buyer"]
ODD_BODY = make_body(
    [
        {"name": "A", "crowd": ["k"], "product": ["a"]},
        {"name": "B", "intent": ["i"], "order": ["x"]},
    ],
    [("k", ["cmp", ">", "a", 1])],
    [("i", ["contains", "message", "a"])],
)


def _outcome(f):
    try:
        return "ok", f()
    except InputError as exc:
        return "error", exc.code


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values)
def test_odd_chats_give_the_reference_answer_or_e801(chat):
    """Any JSON value as a chat: the same candidates as the reference, or the same E840."""
    want = _outcome(lambda: reference.match(ODD_BODY, chat))
    for m in matchers(ODD_BODY):
        assert _outcome(lambda: m.match(chat)) == want, m
        many = _outcome(lambda: m.match_many([chat]))
        assert many == (want if want[0] == "error" else ("ok", [want[1]])), m
