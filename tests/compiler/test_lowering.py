"""Lowering predicates to the table's EXPR form: a literal on the left is flipped so the
attribute reads on the left, with the comparison turned round (`3 < level` is `level > 3`),
and the compiled crowd holds exactly when the written comparison does (R5 crowds)."""

import json
import operator

import pytest

import rulec

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
OPS |= {"==": operator.eq, "!=": operator.ne}


def crowds(predicate: str, level: int) -> list:
    rules = {
        "shop": "s",
        "attributes": {"member_level": "int"},
        "crowds": {"c": predicate},
        "agents": {"a1": {}},
        "groups": {"G": {"agents": ["a1"]}},
    }
    result = rulec.compile_source(json.dumps(rules), file="s.yaml")
    assert result.ok, [d.message for d in result.errors]
    return result.table.matcher.crowds_of({"member_level": level})


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("level", [1, 3, 5])
def test_literal_on_the_left_means_the_same_comparison(op, level):
    want = ["c"] if OPS[op](3, level) else []
    assert crowds(f"3 {op} member_level", level) == want
    assert crowds(f"member_level {op} 3", level) == (["c"] if OPS[op](level, 3) else [])


def test_literal_on_the_left_is_stored_attribute_first():
    rules = {
        "shop": "s",
        "attributes": {"member_level": "int"},
        "crowds": {"c": "3 < member_level"},
        "agents": {"a1": {}},
        "groups": {"G": {"agents": ["a1"]}},
    }
    body = rulec.compile_source(json.dumps(rules), file="s.yaml").body
    assert json.dumps(body["crowds"]).count('["cmp", ">", "member_level", 3]') == 1
