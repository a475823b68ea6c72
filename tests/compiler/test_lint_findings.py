"""The lint pass's warnings (W500–W505, docs/diagnostics.md) say what is true of the rules.

W503 "can never hold" is a sound check: every predicate it names is false for every buyer, and
each predicate below that it must not name holds for a witness buyer (checked through the
compiled table's matcher, R5 crowds). W500 names a group only when an earlier one takes all its
chats (R5, R6); W504 and W505 name what they found with hints (settled readings: `x in []`
never holds, `x not in []` always does)."""

import json

import pytest

import rulec

ATTRS = {"x": "int", "y": "int", "s": "string", "tags": "set", "b": "bool"}


def compile_shop(**parts):
    rules = {"shop": "s", "attributes": ATTRS, "agents": {"a1": {}, "a2": {}}}
    rules["groups"] = {"G": {"agents": ["a1", "a2"]}}
    rules.update(parts)
    return rulec.compile_source(json.dumps(rules), file="s.yaml")


def warnings(result, code):
    return [d for d in result.diagnostics if d.code == code]


# Unsatisfiable: W503. Each line keeps one reason for the check to find (equalities, bounds
# tightened in either order, strictness on a shared bound, a value outside the bounds, a
# one-value `in` list, strings, constants, empty lists, and and/or of those).
NEVER = [
    "x == 1 and x == 2",
    "x == 1 and x != 1",
    "x != 1 and x == 1",
    "x > 1 and x > 5 and x < 4",
    "x > 5 and x > 1 and x < 4",
    "x >= 3 and x > 3 and x <= 3",
    "x > 3 and x >= 3 and x <= 3",
    "x < 9 and x < 2 and x > 4",
    "x < 2 and x < 9 and x > 4",
    "x <= 3 and x < 3 and x >= 3",
    "x < 3 and x <= 3 and x >= 3",
    "x > 3 and x < 3",
    "x >= 3 and x < 3",
    "x > 3 and x <= 3",
    "x == 2 and x > 3",
    "x == 3 and x > 3",
    "x == 5 and x < 4",
    "x == 4 and x < 4",
    "x in [3] and x > 5",
    "x in [3] and x in [4]",
    's > "b" and s < "a"',
    "false",
    "x in []",
    "tags contains_any []",
    "x in [] or false",
    "x > 1 and false",
    "y > 0 and (x == 1 and x == 2)",
]

# Satisfiable: no W503, and a buyer for whom the crowd holds.
SOMETIMES = [
    ("x == 1 and x == 1", {"x": 1}),
    ("x >= 3 and x <= 3", {"x": 3}),
    ("x == 3 and x >= 3", {"x": 3}),
    ("x == 4 and x <= 4", {"x": 4}),
    ("x == 3 and x >= 1 and x <= 5", {"x": 3}),
    ("x > 1 and x > 5 and x < 9", {"x": 6}),
    ("x < 9 and x < 5 and x > 1", {"x": 2}),
    ("x != 1 and x != 2 and x == 3", {"x": 3}),
    ("x in [] or x == 2", {"x": 2}),
    ("x not in [3] and x == 4", {"x": 4}),
    ("x in [3, 4] and x == 4", {"x": 4}),
    ("x > 5 and y < 3", {"x": 6, "y": 2}),
    ("x > 5 and y == 1 and y < 3", {"x": 6, "y": 1}),
    ("true", {}),
    ("x not in []", {"x": 1}),
    ('tags contains_any ["a"]', {"tags": ["a"]}),
    ("b == true and x > 1", {"b": True, "x": 2}),
    ("not (x > 5 and x < 3)", {"x": 1}),
]


@pytest.mark.parametrize("pred", NEVER)
def test_w503_names_a_crowd_that_can_never_hold(pred):
    result = compile_shop(crowds={"c": pred})
    assert [d.message for d in warnings(result, "W503")] == ["crowd c can never hold"], pred
    assert result.ok


@pytest.mark.parametrize("pred,buyer", SOMETIMES, ids=[p for p, _ in SOMETIMES])
def test_w503_is_not_given_to_a_crowd_that_holds_for_someone(pred, buyer):
    result = compile_shop(crowds={"c": pred})
    assert warnings(result, "W503") == [], pred
    assert result.table.matcher.crowds_of(buyer) == ["c"]


def test_w503_names_intents_too():
    result = compile_shop(intents={"i": "x == 1 and x == 2"})
    assert [d.message for d in warnings(result, "W503")] == ["intent i can never hold"]


def test_comparisons_of_mixed_literal_types_are_the_types_pass_finding_not_w503():
    result = compile_shop(crowds={"c": 'x > 1 and x < "a"'})
    assert warnings(result, "W503") == []
    assert [d.code for d in result.errors] and all(d.code[0] == "T" for d in result.errors)


def test_w505_says_whether_an_empty_list_always_or_never_holds():
    result = compile_shop(crowds={"never": "x in []", "always": "y not in []"})
    got = sorted(d.message for d in warnings(result, "W505"))
    assert got == ["`x in []` never holds", "`y not in []` always holds"]
    assert [d.message for d in warnings(result, "W503")] == ["crowd never can never hold"]


def test_w505_inside_and_or_not():
    result = compile_shop(crowds={"c": "y > 1 and (x in [] or not (s in []))"})
    got = sorted(d.message for d in warnings(result, "W505"))
    assert got == ["`s in []` never holds", "`x in []` never holds"]


def test_w504_names_each_outside_label_once_with_a_hint():
    groups = {
        "G": {"agents": ["a1"], "crowd": ["vipp"], "intent": ["refnd"]},
        "H": {"agents": ["a2"], "crowd": ["vipp"]},
    }
    result = compile_shop(crowds={"vip": "x > 1"}, intents={"refund": "x > 2"}, groups=groups)
    w = warnings(result, "W504")
    assert [d.message for d in w] == [
        "crowd `vipp` is not defined: it is an outside label, taken from the event's `crowds`",
        "intent `refnd` is not defined: it is an outside label, taken from the event's `intent`",
    ]
    assert [d.hints for d in w] == [("did you mean `vip`?",), ("did you mean `refund`?",)]
    assert all(d.severity == "warning" for d in w) and result.ok


def test_w504_reads_campaign_targets_and_segments():
    rules = {
        "promos": {"d12": {"last_day": "2023-12-12"}},
        "facts": {"advanced_relationships_this_month": 20000},
        "campaigns": [
            {
                "name": "r",
                "kind": "recall",
                "promo": "d12",
                "copy": "c",
                "coupon": {"id": "R1", "kind": "cs_channel"},
                "segments": [{"crowd": "seg_only", "copy": "s"}],
            },
            {
                "name": "n",
                "kind": "new_arrival",
                "send_at": "2023-12-01T10:00:00+08:00",
                "copy": "c",
                "targets": [{"crowd": "target_only"}],
            },
        ],
    }
    result = compile_shop(**rules)
    names = sorted(d.message.split("`")[1] for d in warnings(result, "W504"))
    assert names == ["seg_only", "target_only"]


def _shadowed(groups):
    result = compile_shop(crowds={"c": "x > 1"}, groups=groups)
    return sorted(d.message.split()[1] for d in warnings(result, "W500"))


@pytest.mark.parametrize(
    "first,second,shadowed",
    [
        # H is a candidate whenever G is (R5) when H binds every dimension G binds, with the
        # same or wider values: a dimension only H binds drops G, never H
        ({"product": ["p"]}, {"product": ["p"]}, True),
        ({"product": ["p", "q"]}, {"product": ["p"]}, True),
        ({"product": ["p"]}, {}, True),
        ({"product": ["p"], "crowd": ["c"]}, {"product": ["p"]}, True),
        ({}, {"product": ["p"]}, False),
        ({"product": ["p"]}, {"product": ["p"], "crowd": ["c"]}, False),
        ({"product": ["p"]}, {"product": ["q"]}, False),
        ({"product": ["p"]}, {"product": ["p", "q"]}, False),
        ({"crowd": ["c"]}, {"product": ["p"]}, False),
    ],
)
def test_w500_shadowing_needs_the_same_or_wider_bindings(first, second, shadowed):
    groups = {"H": {"agents": ["a1"], **first}, "G": {"agents": ["a1"], **second}}
    assert _shadowed(groups) == (["G"] if shadowed else [])


def test_w500_shadowing_needs_all_the_agents_and_the_same_robot_setting():
    assert _shadowed({"H": {"agents": ["a1", "a2"]}, "G": {"agents": ["a1"]}}) == ["G"]
    assert _shadowed({"H": {"agents": ["a1"]}, "G": {"agents": ["a1", "a2"]}}) == []
    assert _shadowed({"H": {"agents": ["a1"]}, "G": {"agents": ["a1"], "robot": True}}) == []
    assert _shadowed({"H": {"agents": ["a1"], "robot": True}, "G": {"agents": ["a1"]}}) == []
    # robot-only groups: no agents, no bindings (every earlier group is a possible shadow)
    both = {"H": {"robot": True}, "G": {"robot": True}}
    assert _shadowed(both) == ["G"]


def test_w500_names_the_first_group_that_shadows():
    groups = {
        "A": {"agents": ["a1"], "product": ["p"]},
        "B": {"agents": ["a1"], "product": ["p", "q"]},
        "G": {"agents": ["a1"], "product": ["p"]},
    }
    result = compile_shop(groups=groups)
    assert [d.message.split(" declared")[0] for d in warnings(result, "W500")] == [
        "group G is shadowed by A,"
    ]


def test_w500_a_group_with_no_agents_and_no_robot_is_reported_once():
    result = compile_shop(groups={"G": {"agents": ["a1", "a2"]}, "E": {"mode": "conversion"}})
    w = warnings(result, "W500") + warnings(result, "W502")
    assert [(d.code, d.message.split(":")[0]) for d in w] == [
        ("W500", "group E has no agents and no robot")
    ]


@pytest.mark.parametrize("h_binds", [{}, {"product": ["q"]}])
def test_w500_an_earlier_group_found_by_agent_must_still_bind_the_values(h_binds):
    """The look-up may start from the groups sharing an agent (here H, one group, as short as
    the groups binding product p, A): H does not bind p, so G is not shadowed (R5: a chat
    with product p drops H and keeps G)."""
    groups = {
        "A": {"agents": ["a2"], "product": ["p"]},
        "H": {"agents": ["a1"], **h_binds},
        "G": {"agents": ["a1"], "product": ["p"]},
    }
    assert _shadowed(groups) == []


def test_w500_found_through_the_groups_binding_the_same_value():
    """The look-up may start from the groups binding G's value (here H alone, shorter than the
    three groups of agent a1): H binds p and has a1, so it shadows G."""
    groups = {
        "A": {"agents": ["a1"]},
        "B": {"agents": ["a1", "a2"]},
        "H": {"agents": ["a1"], "product": ["p"]},
        "G": {"agents": ["a1"], "product": ["p"]},
    }
    assert _shadowed(groups) == ["G"]
    robots = {"H": {"robot": True, "product": ["p"]}, "G": {"robot": True, "product": ["p"]}}
    assert _shadowed(robots) == ["G"]


def test_w500_w501_w502_messages_say_why_with_the_clause_at_the_group():
    groups = {
        "H": {"agents": ["a1"]},
        "G": {"agents": ["a1"], "mode": {"conversion": "high"}},
        "E": {"product": ["p"]},
        "Z": {"agents": ["a1"]},  # after a group with no agents: still checked
    }
    rules = {"shop": "s", "agents": {"a1": {}, "lone": {}}, "groups": groups}
    src = json.dumps(rules)
    result = rulec.compile_source(src, file="s.yaml")
    got = [(d.code, src[d.span.col - 1 :].split(":")[0], d.message) for d in result.diagnostics]
    shadowed = (
        "declared earlier with the same or wider bindings and all its agents: it can never be "
        "chosen (R5, R6)"
    )
    assert got == [
        (
            "W501",
            '"lone"',
            "agent lone is in no group: it only gets its own recent buyers (R2) and exclusive "
            "buyers (R3), or fallback chats",
        ),
        ("W500", '"G"', f"group G is shadowed by H, {shadowed}"),
        (
            "W502",
            '{"conversion"',  # at the mode, where the change belongs
            "group G has 1 agents: conversion mode takes no effect with 5 or fewer (C5), "
            "efficiency is used",
        ),
        (
            "W500",
            '"E"',
            "group E has no agents and no robot: it can never be chosen (R6 drops it)",
        ),
        ("W500", '"Z"', f"group Z is shadowed by H, {shadowed}"),
    ]
