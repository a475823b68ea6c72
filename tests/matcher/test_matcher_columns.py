"""Columnar R5 entry point: match_columns gives the same candidates as match on the same chats."""

import math
import random
from array import array

import pytest

from rulec.errors import InputError

GROUPS = [
    {"name": "vip", "crowd": ["vip"]},
    {"name": "local", "crowd": ["local", "lab"]},
    {"name": "pa", "product": ["a"], "order": ["unpaid"]},
    {"name": "pb", "product": ["b"]},
    {"name": "refund", "intent": ["refund", "ask"]},
    {"name": "any"},
]
CROWDS = [
    ("vip", ["and", [["cmp", ">=", "level", 3], ["cmp", ">", "spent", 100.5]]]),
    ("local", ["in", "city", ["杭州", "上海"]]),
    ("big", ["or", [["cmp", ">", "n", 2**60], ["contains", "tags", "x"]]]),
]
INTENTS = [("refund", ["contains_any", "message", ["退款", "退货"]])]


def _chats(k):
    rnd = random.Random(7)
    out = []
    for _ in range(k):
        attrs = {}
        if rnd.random() < 0.9:
            attrs["level"] = rnd.randint(0, 5)
        if rnd.random() < 0.8:
            attrs["spent"] = rnd.choice([0.0, 100.5, 100.75, 3000.0])
        if rnd.random() < 0.8:
            attrs["city"] = rnd.choice(["杭州", "上海", "北京", True, ["杭州"]])
        attrs["n"] = rnd.choice([0, 2**60 + 1, -(2**62)])
        if rnd.random() < 0.5:
            attrs["tags"] = rnd.choice([["x", "y"], ["y"], "xx"])
        chat = {
            "attrs": attrs,
            "product": rnd.choice(["a", "b", "zz", None]),
            "order": rnd.choice(["unpaid", "paid", None]),
            "intent": rnd.choice(["ask", None, "nope"]),
            "crowds": rnd.choice([[], ["lab"]]),
            "message": rnd.choice(["我要退款", "hi", None]),
        }
        out.append(chat)
    return out


def _columns(m, chats):
    n = len(chats)

    def codes(dim, get):
        return array("i", [m.code(dim, get(c)) for c in chats])

    def values(name, get):
        vocab = []
        ids = array("i")
        for c in chats:
            v = get(c)
            if v is None:
                ids.append(-1)
            else:
                vocab.append(v)
                ids.append(len(vocab) - 1)
        return ids, vocab

    attrs = [c["attrs"] for c in chats]
    cols = {
        "level": array("q", [a.get("level", 0) for a in attrs]),
        "spent": array("d", [a.get("spent", math.nan) for a in attrs]),
        "n": array("q", [a["n"] for a in attrs]),
        "city": values("city", lambda c: c["attrs"].get("city")),
        "tags": values("tags", lambda c: c["attrs"].get("tags")),
        "message": values("message", lambda c: c["message"]),
    }
    return dict(
        n=n,
        product=codes("product", lambda c: c["product"]),
        order=codes("order", lambda c: c["order"]),
        intent=codes("intent", lambda c: c["intent"]),
        crowd=codes("crowd", lambda c: (c["crowds"] or [None])[0]),
        columns=cols,
    )


def test_r5_match_columns_equals_match(build):
    """R5 over columns: same groups as the dict path (level column has no missing values)."""
    m = build(GROUPS, CROWDS, INTENTS)
    chats = _chats(400)
    for c in chats:
        c["attrs"].setdefault("level", 0)
    out = m.match_columns(**_columns(m, chats))
    names = m.outcomes()
    assert [list(names[i]) for i in out] == m.match_many(chats)
    again = m.match_columns(**_columns(m, chats), out=array("i", [0] * 400))
    assert list(again) == list(out)


def test_match_columns_defaults_and_errors(build):
    """No columns means no values; bad codes and buffers are E841 input errors."""
    m = build(GROUPS, CROWDS, INTENTS)
    out = m.match_columns(
        3, product=array("i", [m.code("product", "a"), 0, m.code("product", "b")])
    )
    assert [m.outcomes()[i] for i in out] == [("pa",), tuple(g["name"] for g in GROUPS), ("pb",)]
    assert list(m.match_columns(0)) == []
    with pytest.raises(InputError) as info:
        m.match_columns(2, product=array("i", [99, 0]))
    assert info.value.code == "E841"
    with pytest.raises(InputError):
        m.match_columns(2, product=array("i", [0]))
    with pytest.raises(InputError):
        m.match_columns(1, columns={"city": (array("i", [5]), ["杭州"])})
    with pytest.raises(InputError):
        m.match_columns(1, columns={"level": array("h", [1])})


def test_match_columns_bad_out_buffer(build):
    """A wrong output buffer is an E841 input error too."""
    m = build(GROUPS, CROWDS, INTENTS)
    with pytest.raises(InputError):
        m.match_columns(2, out=array("d", [0.0, 0.0]))
    with pytest.raises(InputError):
        m.match_columns(3, out=array("i", [0]))
