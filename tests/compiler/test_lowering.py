"""Lowering predicates to the table's EXPR form: a literal on the left is flipped so the
attribute reads on the left, with the comparison turned round (`3 < level` is `level > 3`),
and the compiled crowd holds exactly when the written comparison does (R5 crowds)."""

import json
import operator

import pytest

import rulec

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
OPS |= {"==": operator.eq, "!=": operator.ne}


def compiled(crowds: dict):
    rules = {
        "shop": "s",
        "attributes": {"member_level": "int"},
        "crowds": crowds,
        "agents": {"a1": {}},
        "groups": {"G": {"agents": ["a1"]}},
    }
    result = rulec.compile_source(json.dumps(rules), file="s.yaml")
    assert result.ok, [d.message for d in result.errors]
    return result


def crowds(predicate: str, level: int) -> list:
    return compiled({"c": predicate}).table.matcher.crowds_of({"member_level": level})


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("level", [1, 3, 5])
def test_literal_on_the_left_means_the_same_comparison(op, level):
    want = ["c"] if OPS[op](3, level) else []
    assert crowds(f"3 {op} member_level", level) == want
    assert crowds(f"member_level {op} 3", level) == (["c"] if OPS[op](level, 3) else [])


def test_literal_on_the_left_is_stored_attribute_first():
    body = compiled({"c": "3 < member_level"}).body
    assert json.dumps(body["crowds"]).count('["cmp", ">", "member_level", 3]') == 1


@pytest.mark.parametrize("op", ["and", "or"])
def test_parentheses_around_the_same_operator_are_flattened(op):
    """EXPR `and`/`or` take 2 or more operands (docs/table-format.md): `a and (b and c)` and
    `(a and b) and c` lower to the same 3-operand form as `a and b and c`, so the table (and
    `rulec diff`, which compares the lowered EXPR) does not change when such parentheses do."""
    a, b, c = "member_level > 1", "member_level < 5", "member_level != 3"
    flat = f"{a} {op} {b} {op} {c}"
    result = compiled(
        {"flat": flat, "right": f"{a} {op} ({b} {op} {c})", "left": f"({a} {op} {b}) {op} {c}"}
    )
    exprs = {x["name"]: x["expr"] for x in result.body["crowds"]}
    want = [
        op,
        [
            ["cmp", ">", "member_level", 1],
            ["cmp", "<", "member_level", 5],
            ["cmp", "!=", "member_level", 3],
        ],
    ]
    assert exprs == {"flat": want, "right": want, "left": want}
    # a different operator inside keeps its own node
    other = "or" if op == "and" else "and"
    [mixed] = compiled({"m": f"{a} {op} ({b} {other} {c})"}).body["crowds"]
    assert mixed["expr"][0] == op and len(mixed["expr"][1]) == 2


@pytest.mark.parametrize("value", [True, False])
def test_true_and_false_are_constant_predicates(value):
    """A bare `true` / `false` predicate lowers to `["const", B]` (docs/table-format.md) and
    holds for every buyer / for none (R5 crowds)."""
    result = compiled({"c": "true" if value else "false"})
    assert result.body["crowds"] == [{"name": "c", "expr": ["const", value]}]
    want = ["c"] if value else []
    assert result.table.matcher.crowds_of({"member_level": 2}) == want
    assert result.table.matcher.crowds_of({}) == want


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("left, right", [(1, 2), (2, 2), (3, 2), ('"a"', '"b"'), ('"b"', '"b"')])
def test_a_comparison_of_two_literals_is_computed_at_compile_time(op, left, right):
    """`2 < 3` has no attribute to read: it lowers to `["const", B]`, B being the comparison's
    value, and the crowd holds for every buyer exactly when B does."""
    value = OPS[op](json.loads(str(left)), json.loads(str(right)))
    result = compiled({"c": f"{left} {op} {right}"})
    assert result.body["crowds"] == [{"name": "c", "expr": ["const", value]}]
    assert result.table.matcher.crowds_of({"member_level": 2}) == (["c"] if value else [])


# predicate, its EXPR, the buyers (member_level; None: missing) it holds for
FORMS = {
    "cmp": ("member_level >= 3", ["cmp", ">=", "member_level", 3], [3]),
    "in": ("member_level in [1, 2]", ["in", "member_level", [1, 2]], [1, 2]),
    "not_in": ("member_level not in [1, 2]", ["not_in", "member_level", [1, 2]], [3]),
    "not": ("not member_level == 2", ["not", ["cmp", "==", "member_level", 2]], [1, 3, None]),
    "const": ("true", ["const", True], [1, 2, 3, None]),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_the_compiler_writes_loads_back(form, tmp_path):
    """The table a compile writes passes the loader's schema (docs/table-format.md, EXPR) and
    the loaded crowd holds for the buyers it should (R5 crowds; a missing attribute makes a
    comparison false, so `not` of it true, and `not_in` false: "Settled readings")."""
    predicate, want, holds = FORMS[form]
    result = compiled({"c": predicate})
    assert result.body["crowds"] == [{"name": "c", "expr": want}]
    (tmp_path / "t.rulec").write_bytes(result.data)
    loaded = rulec.load(tmp_path / "t.rulec")
    for level in (1, 2, 3, None):
        buyer = {} if level is None else {"member_level": level}
        expect = ["c"] if level in holds else []
        assert loaded.matcher.crowds_of(buyer) == result.table.matcher.crowds_of(buyer) == expect
