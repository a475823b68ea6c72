"""R5 group matching on both matchers: the article-000 worked example, narrowing, labels, scale."""

import gc
import os

import pytest

from rulec.errors import InputError
from rulec.matching import matcher as M
from rulec.matching import reference

ARTICLE_000 = [
    {"name": "A", "product": ["a"], "order": ["no_active_order", "unpaid"]},
    {"name": "B", "product": ["a"], "order": ["paid_unshipped", "shipped", "completed"]},
    {"name": "C", "product": ["a"]},
    {"name": "D", "product": ["b"], "order": ["after_sale"]},
]


def test_r5_article_000_worked_example(build):
    """R5: product a + unpaid -> A; a + after_sale -> A, B, C; c + after_sale -> D."""
    m = build(ARTICLE_000)
    assert m.match({"product": "a", "order": "unpaid"}) == ["A"]
    assert m.match({"product": "a", "order": "after_sale"}) == ["A", "B", "C"]
    assert m.match({"product": "c", "order": "after_sale"}) == ["D"]
    assert m.match_indices({"product": "c", "order": "after_sale"}) == [3]
    assert m.match_many([{"product": "a", "order": "unpaid"}, {"product": "b"}, {}]) == [
        ["A"],
        ["D"],
        ["A", "B", "C", "D"],
    ]


def test_r5_priority_crowd_before_product(build):
    """R5: crowd narrows first; a later dim only narrows within the crowd hits."""
    m = build(
        [
            {"name": "vipG", "crowd": ["vip"]},
            {"name": "prodG", "product": ["p"]},
            {"name": "both", "crowd": ["vip"], "product": ["p"]},
        ],
        crowds=[("vip", ["cmp", ">=", "level", 3])],
    )
    assert m.match({"product": "p", "attrs": {"level": 5}}) == ["both"]
    assert m.match({"product": "q", "attrs": {"level": 5}}) == ["vipG", "both"]
    assert m.match({"product": "p", "attrs": {"level": 1}}) == ["prodG", "both"]
    assert m.match({"product": "p"}) == ["prodG", "both"]  # missing attr: vip false


def test_r5_crowd_labels_and_defined_crowds(build):
    """R5 + settled reading: buyer's crowds = given labels plus defined crowds that hold."""
    m = build(
        [
            {"name": "G1", "crowd": ["love_new"]},
            {"name": "G2", "crowd": ["vip"]},
            {"name": "G3", "order": ["unpaid"]},
        ],
        crowds=[("vip", ["cmp", ">", "spent", 1000])],
    )
    assert m.match({"crowds": ["love_new"]}) == ["G1"]
    assert m.match({"crowds": ["love_new"], "attrs": {"spent": 1000.5}}) == ["G1", "G2"]
    assert m.match({"crowds": ["vip"], "attrs": {"spent": 3}}) == ["G2"]
    assert m.match({"crowds": ["nobody"], "order": "unpaid"}) == ["G3"]
    assert m.crowds_of({"spent": 2000}, ["love_new", "vip"]) == ["vip", "love_new"]
    assert m.crowds_of(None) == []
    assert m.crowds_of_trusted({"spent": 2000}, ["love_new", "vip"]) == ["vip", "love_new"]
    assert m.crowds_of_trusted(None, ()) == []


def test_r5_intents_from_message_and_label(build):
    """Settled reading: intents = the intent label plus defined intents over the message."""
    m = build(
        [{"name": "R", "intent": ["refund"]}, {"name": "Q", "intent": ["query"]}, {"name": "X"}],
        intents=[("refund", ["contains_any", "message", ["退款", "退货"]])],
    )
    assert m.match({"message": "我要退货"}) == ["R"]
    assert m.match({"message": "你好"}) == ["R", "Q", "X"]
    assert m.match({"message": "你好", "intent": "query"}) == ["Q"]
    assert m.match({"message": "我想退款", "intent": "query"}) == ["R", "Q"]
    assert m.intents_of("退款", {}, "query") == ["refund", "query"]
    assert m.intents_of(None, {}) == []


def test_r5_intents_read_message_crowds_read_attrs(build):
    """Crowds see attrs only; intents see attrs with message set to the chat's message."""
    m = build(
        [{"name": "C", "crowd": ["k"]}, {"name": "I", "intent": ["i"]}],
        crowds=[("k", ["contains", "message", "hi"])],
        intents=[("i", ["and", [["contains", "message", "hi"], ["cmp", "==", "x", 1]]])],
    )
    assert m.match({"message": "hi", "attrs": {"x": 1}}) == ["I"]
    assert m.match({"message": "no", "attrs": {"message": "hi", "x": 1}}) == ["C"]


def test_r5_many_groups_multiword_bitsets(build):
    """The matcher does not assume 64 groups: 300 groups, hits beyond word boundaries."""
    groups = [
        {"name": f"g{i}", "product": [f"p{i % 7}"], "order": [f"o{i % 3}"]} for i in range(300)
    ]
    m = build(groups)
    want = [f"g{i}" for i in range(300) if i % 7 == 5 and i % 3 == 1]
    assert m.match({"product": "p5", "order": "o1"}) == want
    assert len(m.match({})) == 300


def test_r5_empty_dims_bind_nothing(build):
    """Settled reading: an empty list binds nothing (the dim is skipped for that group)."""
    m = build([{"name": "A", "product": []}, {"name": "B", "product": ["x"]}])
    assert m.match({"product": "x"}) == ["B"]
    assert m.match({"product": "y"}) == ["A", "B"]


def test_r5_no_groups(build):
    assert build([]).match({"product": "a"}) == []


@pytest.mark.parametrize(
    "chat",
    [
        [],
        "x",
        {"attrs": [1]},
        {"crowds": "vip"},
        {"crowds": [1]},
        {"product": 3},
        {"order": ["unpaid"]},
        {"intent": 1},
        {"message": 5},
    ],
)
def test_bad_chat_fields_are_input_errors(build, chat):
    """A chat with wrong field types is an E840 input error, never a traceback."""
    m = build(
        ARTICLE_000,
        crowds=[("k", ["cmp", "==", "x", 1])],
        intents=[("i", ["contains", "message", "a"])],
    )
    with pytest.raises(InputError) as info:
        m.match(chat)
    assert info.value.code == "E840"
    with pytest.raises(InputError):
        m.match_many([{}, chat])
    assert gc.isenabled()  # match_many pauses the collector and must always resume it


def test_explain_r10_trace():
    """R10: the reference explains each dimension step and the attributes it found absent."""
    from matcher_bodies import make_body

    body = make_body(
        ARTICLE_000 + [{"name": "V", "crowd": ["vip"]}],
        crowds=[("vip", ["and", [["cmp", ">=", "level", 3], ["cmp", ">", "spent", 10]]])],
    )
    out = reference.explain(body, {"product": "a", "order": "unpaid", "attrs": {"level": 4}})
    assert out["crowds"] == [] and out["missing"] == ["spent"]
    assert [s["dim"] for s in out["steps"]] == ["crowd", "product", "intent", "order"]
    assert out["steps"][0]["skipped"] and out["steps"][0]["hits"] == []
    assert out["steps"][1]["candidates"] == ["A", "B", "C"]
    assert out["steps"][3] == {
        "dim": "order",
        "values": ["unpaid"],
        "hits": ["A"],
        "candidates": ["A"],
        "skipped": False,
    }
    assert out["candidates"] == ["A"] == reference.match(body, {"product": "a", "order": "unpaid"})


def test_implementation_is_cython_when_extensions_required():
    """CI sets RULEC_REQUIRE_EXTENSIONS=1: then the Cython matcher must be built, and live
    unless RULEC_PURE=1 (`make test-pure`) asks for the pure-Python twin."""
    import rulec

    assert rulec.implementation == M.implementation in ("cython", "python")
    if os.environ.get("RULEC_REQUIRE_EXTENSIONS") == "1":
        assert M._matcher is not None, M.extension_error
        pure = os.environ.get("RULEC_PURE") == "1"
        assert rulec.implementation == ("python" if pure else "cython")


def test_rulec_pure_forces_python():
    """RULEC_PURE=1 makes the pure-Python twin the live matcher."""
    import subprocess
    import sys

    env = dict(os.environ, RULEC_PURE="1")
    out = subprocess.run(
        [sys.executable, "-c", "import rulec; print(rulec.implementation)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "python"


def test_reentrant_call_during_a_cache_miss_is_answered_correctly(build):
    """A call arriving while the matcher is inside a cache miss (another thread, say) gets
    the same R5 answer (from the pure-Python plan) and does not disturb the first call."""
    m = build(
        ARTICLE_000 + [{"name": "V", "crowd": ["vip"]}], crowds=[("vip", ["cmp", ">=", "level", 3])]
    )
    plan = m.py if hasattr(m, "py") else m
    inner, started = [], []
    classify = plan.crowd.classify

    def reenter(s, v):
        if not started:
            started.append(1)
            inner.append(m.match({"product": "a", "order": "unpaid"}))
            inner.append(m.match_many([{"product": "c", "order": "after_sale"}]))
            inner.append(m.crowds_of({"level": 9}))
        return classify(s, v)

    plan.crowd.classify = reenter
    assert m.match({"product": "a", "order": "unpaid", "attrs": {"level": 5}}) == ["V"]
    assert inner == [["A"], [["D"]], ["vip"]]


def test_results_hold_packed_copies_of_the_group_names(build):
    """The names in results are the table's names, as copies the matcher makes side by side
    (pure.packed_names: a result touches each name's reference count, and the table's own
    strings lie scattered through the decoded body); non-ASCII and one-letter names too."""
    names = ["售后组", "g1", "x", "组😀"]
    m = build([{"name": n, "order": ["paid"]} for n in names])
    got = m.match({"order": "paid"})
    assert got == names
    # the body holds these very objects; the results hold new ones (one-letter names are
    # shared singletons either way)
    assert all(a is not b for a, b in zip(got, names) if len(a) > 1)
