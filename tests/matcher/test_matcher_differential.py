"""R5 differential property: Cython, pure Python and the reference agree on random bodies and chats."""
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulec.runtime import matcher as M
from rulec.runtime import reference
from rulec.runtime.table import Table

from matcher_bodies import make_body

ATTRS = ["a", "b", "c", "message"]
WORDS = ["", "x", "xy", "y", "Z", "退款", "b"]
numbers = st.one_of(st.integers(-3, 3), st.sampled_from([2 ** 53, 2 ** 53 + 1, -(2 ** 63), 10 ** 20]),
                    st.sampled_from([0.5, -0.0, 2.0, 1e300, float(2 ** 53)]))
literals = st.one_of(numbers, st.booleans(), st.sampled_from(WORDS))
values = st.one_of(literals, st.none(), st.sampled_from([math.nan, math.inf, -math.inf]),
                   st.lists(st.one_of(st.sampled_from(WORDS), st.integers(0, 2)), max_size=3),
                   st.dictionaries(st.just("k"), st.integers(), max_size=1))
attr = st.sampled_from(ATTRS)
leaves = st.one_of(
    st.tuples(st.just("cmp"), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), attr, literals),
    st.tuples(st.sampled_from(["in", "not_in"]), attr, st.lists(literals, max_size=3)),
    st.tuples(st.just("contains"), attr, st.sampled_from(WORDS)),
    st.tuples(st.just("contains_any"), attr, st.lists(st.sampled_from(WORDS), max_size=3)),
    st.tuples(st.just("const"), st.booleans()),
).map(list)
exprs = st.recursive(leaves, lambda sub: st.one_of(
    st.tuples(st.sampled_from(["and", "or"]), st.lists(sub, min_size=2, max_size=3)).map(list),
    st.tuples(st.just("not"), sub).map(list)), max_leaves=6)

CROWDS = ["k0", "k1", "k2", "lab"]
INTENTS = ["i0", "i1", "ilab"]
DIMVALS = {"crowd": CROWDS, "product": ["p0", "p1", "p2"], "intent": INTENTS,
           "order": ["unpaid", "paid", "after_sale"]}
group = st.fixed_dictionaries({d: st.lists(st.sampled_from(v), max_size=2, unique=True)
                               for d, v in DIMVALS.items()})
chat = st.fixed_dictionaries({}, optional={
    "attrs": st.dictionaries(attr, values, max_size=4),
    "crowds": st.lists(st.sampled_from(CROWDS + ["zz"]), max_size=2),
    "product": st.sampled_from(DIMVALS["product"] + ["p9", None]),
    "order": st.sampled_from(DIMVALS["order"] + [None]),
    "intent": st.sampled_from(INTENTS + ["zz", None]),
    "message": st.one_of(st.none(), st.sampled_from(WORDS + ["我要退款"])),
})


@st.composite
def bodies(draw):
    n = draw(st.sampled_from([0, 1, 3, 8, 65, 130]))
    gs = draw(st.lists(group, min_size=n, max_size=n))
    groups = [{"name": f"g{i}", **g} for i, g in enumerate(gs)]
    crowds = [(name, draw(exprs)) for name in CROWDS[:draw(st.integers(0, 3))]]
    intents = [(name, draw(exprs)) for name in INTENTS[:draw(st.integers(0, 2))]]
    return make_body(groups, crowds, intents)


def matchers(body):
    ms = [M.build_matcher(body, "python")]
    if M._matcher is not None:
        ms.append(M.build_matcher(body, "cython"))
    return ms


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.lists(chat, min_size=1, max_size=12))
def test_r5_matchers_agree_with_reference(body, chats):
    """R5 + EXPR runtime meaning: every implementation gives the reference's answers exactly."""
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
            assert m.intents_of(c.get("message"), c.get("attrs"), c.get("intent")) == ex["intents"]
