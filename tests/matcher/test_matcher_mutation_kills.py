"""Matcher behaviour that mutation testing found unpinned (docs/mutation.md, mut-outreach and
mut-pure): each test here fails on a surviving mutant of rulec/matching (pure.py, rows.py)
and runs on both twins (the `build` fixture), keyed to the clause it pins."""

from array import array

import pytest
from matcher_bodies import make_body

from rulec.errors import InputError
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


def test_r5_the_union_of_crowd_rows_of_a_wide_table(build):
    """R5 (crowds are the given labels plus the defined crowds that hold): the crowd row of a
    chat is the union of its labels' rows - sparse with sparse, sparse with an int bitset,
    and sparse rows adding up to a dense one - before the product row narrows it."""
    groups = _wide_groups()
    many = list(range(0, 40))  # 40 members: an int bitset
    for i in many:
        groups[i].setdefault("crowd", []).append("many")
    spread = [62 * k + 3 for k in range(25)]  # odd indices, none holds "half"
    for k in range(5):  # five sparse rows of five groups: 25 together, an int bitset
        for i in spread[5 * k : 5 * k + 5]:
            groups[i].setdefault("crowd", []).append(f"s{k}")
    m = build(groups)
    body = make_body(groups)
    Table.from_body(body)
    chats = {
        ("few", "five"): ["g10", "g700", "g1500"],
        ("many", "few"): [f"g{i}" for i in range(0, 40, 2)],
        ("s0", "s1", "s2", "s3", "s4"): [],  # every member is odd: no product narrowing
    }
    for labels, want in chats.items():
        chat = {"crowds": list(labels), "product": "half"}
        want = want or [f"g{i}" for i in sorted(spread)]
        assert reference.match(body, chat) == want, labels
        assert m.match(chat) == want, labels


def test_r5_a_sparse_row_member_just_past_the_dense_row(build):
    """R5: a candidate group whose index is the first one past the last byte of the
    narrowing row's bitset is not in that row (it is dropped, never read out of bounds)."""
    groups = [{"name": f"g{i}"} for i in range(N)]
    for i in range(40):  # product "low": groups 0-39, an int bitset of 5 bytes
        groups[i]["product"] = ["low"]
    for i in (1, 3, 40, 900):  # crowd "edge": group 40 is bit 40, just past those bytes
        groups[i]["crowd"] = ["edge"]
    m = build(groups)
    assert m.match({"crowds": ["edge"], "product": "low"}) == ["g1", "g3"]


@pytest.mark.parametrize(
    ("expr", "values"),
    [
        # the literals of `in` / `not_in` separate numbers into classes: 2 is not 1 or 4
        (["in", "a", [1, 4]], [1, 2, 4, 5, 1.0]),
        (["not_in", "a", [1, 4]], [1, 2, 4, 5]),
        # bools are classed by value: true, then false, then missing
        (["cmp", "==", "a", True], [True, False, None, True]),
        (["cmp", "!=", "a", True], [True, False, None]),
        # a NaN after a number below every literal: NaN < 3 is false (settled readings)
        (["cmp", "<", "a", 3], [1, float("nan"), 2]),
    ],
)
def test_predicate_answers_do_not_leak_between_values_of_one_matcher(build, expr, values):
    """Settled readings (EXPR meaning): one matcher asked about several values in turn gives
    each the reference's answer; its class caches never answer for a different value."""
    m = build([{"name": "g", "crowd": ["k"]}], crowds=[("k", expr)])
    for v in values:
        attrs = {} if v is None else {"a": v}
        want = ["k"] if reference.evaluate(expr, attrs, None) else []
        assert m.crowds_of(attrs) == want, (expr, v)


@pytest.mark.parametrize(
    ("attrs", "labels"),
    [("spend", []), ([1], []), ({}, [1]), ({}, [None]), ({"a": 1}, [{"x": 1}])],
)
def test_crowds_of_refuses_bad_types_with_e840(build, attrs, labels):
    """Every bad input gets a coded error: attrs must be an object, labels strings."""
    m = build([{"name": "g", "crowd": ["k"]}], crowds=[("k", ["cmp", ">", "a", 0])])
    with pytest.raises(InputError) as exc:
        m.crowds_of(attrs, labels)
    assert [d.code for d in exc.value.diagnostics] == ["E840"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hi", "spend"), "chat attrs must be an object"),
        (("hi", [1]), "chat attrs must be an object"),
        ((5, {}), "chat message must be a string or null, got int"),
        ((["x"], None), "chat message must be a string or null, got list"),
        (("hi", {}, 3), "chat intent must be a string or null, got int"),
    ],
)
def test_intents_of_refuses_bad_types_with_e840(build, args, message):
    """Every bad input gets a coded error: attrs an object, message and label strings."""
    m = build([{"name": "g", "intent": ["r"]}], intents=[("r", ["contains", "message", "x"])])
    with pytest.raises(InputError) as exc:
        m.intents_of(*args)
    assert [(d.code, d.message) for d in exc.value.diagnostics] == [("E840", message)]


@pytest.mark.parametrize(
    ("chat", "message"),
    [
        ([1], "chat must be an object, got list"),
        ({"attrs": "x"}, "chat attrs must be an object"),
        ({"message": 5}, "chat message must be a string or null, got int"),
        ({"crowds": "vip"}, "chat crowds must be a list of strings"),
        ({"crowds": ["vip", 1]}, "chat crowds must be a list of strings"),
        ({"intent": ["x"]}, "chat intent must be a string or null, got list"),
        ({"product": 5}, "chat product must be a string or null, got int"),
        ({"order": 1.5}, "chat order must be a string or null, got float"),
        (
            {"intent": "x", "product": 5, "order": "o"},
            "chat product must be a string or null, got int",
        ),
    ],
)
def test_e840_of_a_chat_names_the_field_at_fault(build, chat, message):
    """E840 says which part of the chat has the wrong type (and what it got)."""
    m = build([{"name": "g", "crowd": ["k"]}], crowds=[("k", ["cmp", ">", "a", 0])])
    with pytest.raises(InputError) as exc:
        m.match(chat)
    assert [(d.code, d.message) for d in exc.value.diagnostics] == [("E840", message)]


def test_one_outcome_id_per_candidate_set(build):
    """Outcome ids (match_outcome, match_columns) index outcomes(), one per candidate set:
    the set {g10, g701} reached through a small crowd row and through two large rows'
    intersection (the pure twin keeps one as an index set, the other as a bitset) is one id."""
    groups = [{"name": f"g{i}"} for i in range(N)]
    for i in FEW:
        groups[i]["crowd"] = ["few"]
    for i in FEW + list(range(100, 130)):
        groups[i]["product"] = ["p"]
    for i in FEW + list(range(200, 230)):
        groups[i]["order"] = ["o"]
    m = build(groups)
    a = m.match_outcome({"crowds": ["few"]})
    b = m.match_outcome({"product": "p", "order": "o"})
    assert a == b and m.outcomes()[a] == ("g10", "g701")
    out = m.match_columns(1, crowd=array("i", [m.code("crowd", "few")]))
    assert list(out) == [a]
    assert len(set(m.outcomes())) == len(m.outcomes())


def test_r5_columns_unite_small_label_rows_with_the_predicate_rows(build):
    """R5 over columns: a chat's crowd (intent) label joins the defined crowds (intents) that
    hold; on a wide table the label rows are small index sets, here with no defined crowd
    holding, so the union is the label's row alone."""
    groups = _wide_groups()
    for i in FIVE:
        groups[i]["intent"] = ["ask"]
    m = build(groups, crowds=[("rich", ["cmp", ">", "spent", 100])])
    chats = [{"crowds": ["few"], "intent": "ask"}, {"intent": "ask"}, {"crowds": ["five"]}]
    want = m.match_many(chats)
    assert want == [
        ["g10"],
        ["g10", "g21", "g700", "g901", "g1500"],
        ["g10", "g21", "g700", "g901", "g1500"],
    ]
    crowd = array("i", [m.code("crowd", c.get("crowds", [None])[0]) for c in chats])
    intent = array("i", [m.code("intent", c.get("intent")) for c in chats])
    out = m.match_columns(3, crowd=crowd, intent=intent)
    assert [list(m.outcomes()[i]) for i in out] == want


@pytest.mark.parametrize(
    ("expr", "attrs", "held"),
    [
        (["and", [["const", True], ["cmp", ">", "a", 0]]], {"a": 1}, True),
        (["and", [["const", True], ["cmp", ">", "a", 0]]], {"a": 0}, False),
        (["or", [["const", False], ["cmp", ">", "a", 0]]], {"a": 1}, True),
        (["and", [["cmp", ">", "a", 0], ["not", ["const", False]]]], {"a": 1}, True),
    ],
)
def test_a_constant_inside_a_predicate(build, expr, attrs, held):
    """EXPR: `const` may stand inside and / or / not (the Cython twin runs the postfix
    program the pure twin compiles for it)."""
    m = build([{"name": "g", "crowd": ["k"]}], crowds=[("k", expr)])
    assert reference.evaluate(expr, attrs, None) is held
    assert m.crowds_of(attrs) == (["k"] if held else [])


def test_r5_defined_crowds_and_intents_with_few_groups_on_a_wide_table(build):
    """R5: a defined crowd (intent) that holds narrows to the groups listing it; on a wide
    table those are a small index set, and a chat holding two such crowds (intents) gets
    the union of their groups."""
    groups = _wide_groups()
    for i in (10, 21):
        groups[i]["crowd"] = ["rich"]
        groups[i]["intent"] = ["refund"]
    for i in (701, 1500):
        groups[i]["crowd"] = ["old"]
        groups[i]["intent"] = ["angry"]
    crowds = [("rich", ["cmp", ">", "spent", 100]), ("old", ["cmp", ">", "age", 60])]
    intents = [("refund", ["contains", "message", "退"]), ("angry", ["contains", "message", "!"])]
    m = build(groups, crowds, intents)
    body = make_body(groups, crowds, intents)
    Table.from_body(body)
    for chat in (
        {"attrs": {"spent": 200}},
        {"attrs": {"spent": 200, "age": 70}},
        {"message": "退!"},
        {"message": "退", "attrs": {"age": 70}},
    ):
        assert m.match(chat) == reference.match(body, chat), chat
    assert m.match({"attrs": {"spent": 200, "age": 70}}) == ["g10", "g21", "g701", "g1500"]


def test_r5_a_defined_crowd_no_group_lists_does_not_narrow(build):
    """R5: a crowd that holds but that no group lists has an empty row: no narrowing."""
    groups = [{"name": "a", "crowd": ["vip"]}, {"name": "b"}, {"name": "c"}]
    crowds = [("vip", ["cmp", ">", "level", 3]), ("rich", ["cmp", ">", "spent", 100])]
    m = build(groups, crowds)
    assert m.match({"attrs": {"spent": 200}}) == ["a", "b", "c"]
    assert m.match({"attrs": {"spent": 200, "level": 5}}) == ["a"]


def test_a_group_name_with_a_lone_surrogate_is_kept(build):
    """A table read from JSON may name a group with a \\ud800 escape (the schema takes any
    string): matching returns that name as it is, it does not fail on it."""
    name = "g\ud800"
    m = build([{"name": name, "crowd": ["k"]}, {"name": "h"}])
    assert m.match({"crowds": ["k"]}) == [name]
    oid = m.match_outcome({})
    assert m.outcomes()[oid] == (name, "h")
