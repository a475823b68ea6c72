"""The tree-less parser (rulec/grammar/direct.py, issue 15) gives the tree parser's answer: the
same model, every span included, for clean sources, with lark-cython's loops and with Lark's
own; anything else is left to the tree parser, so diagnostics come from one place."""

import pathlib

import pytest

from benchmarks.gen_rules import shop_sources
from rulec.compiler import frontend_predicate as fp
from rulec.compiler import frontend_rules as fr
from rulec.compiler.frontend_predicate import MAX_DEPTH, MAX_PREDICATE, Positions
from rulec.errors import RulecError
from rulec.grammar import direct as d
from rulec.grammar.loader import parser

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "rules").glob("*.rules"))

# what the examples leave out: a parenthesised predicate, `not in`, drain_pool, a test chat's
# crowds and intent, statements sharing a line, a bare boolean, an empty list
MORE = """shop "more"; timezone "Asia/Shanghai"
routing { drain_pool on; robot_first false }
attribute vip: bool
crowd a = (level >= 2 or city not in ["杭州", 'x']) and not (spent < 1.5e3)
crowd b = vip and tags contains_any [] or tags contains "x"
intent i = ((((message contains "退款"))))
agent x level 3; group g { agents x; crowd a, b; intent i; mode conversion strong }
"""
MORE_TEST = """test "t" {
  agent x online pending 1
  chat c { crowds a, b; intent i; expect group g }
}
"""

LOOPS = [pytest.param(False, id="lark-loops")] + (
    [pytest.param(True, id="lark-cython")] if d._lc is not None else []
)


def _sources():
    out = [(p.name, p.read_text(encoding="utf-8")) for p in EXAMPLES]
    out.append(("bench.rules", shop_sources(300, 60)["rules"]))
    out += [("more.rules", MORE), ("more_test.rules", MORE_TEST)]
    return out


SOURCES = _sources()


def _direct(text, file, compiled):
    parse = d.DirectParser(
        parser(), "rules_file", {"predicate": (MAX_PREDICATE, MAX_DEPTH)}, compiled
    )
    builder = fr.RulesBuilder(Positions(file), text)
    shop = parse.parse(text, builder)
    assert builder.diags == []
    return shop


@pytest.mark.parametrize("compiled", LOOPS)
@pytest.mark.parametrize("name,text", SOURCES, ids=[n for n, _ in SOURCES])
def test_same_model_as_the_tree_parser(name, text, compiled):
    tree_shop = fr.parse_rules_with_layout(text, name)[0]
    assert _direct(text, name, compiled) == tree_shop  # attrs equality: spans are fields
    assert fr.parse_rules(text, name) == tree_shop


def test_the_sources_reduce_every_rule(monkeypatch):
    """Every rule of the grammar that builds a model object is reduced by SOURCES above, so
    the comparison covers every builder method."""
    seen = set()
    callback = d._Rule.callback

    def counting(rule, method):
        f = callback(rule, method)

        def reduce(children):
            seen.add(rule.name)
            return f(children)

        return reduce

    monkeypatch.setattr(d._Rule, "callback", counting)
    for name, text in SOURCES:
        _direct(text, name, False)
    every = {r.name for r in d.direct("rules_file", MAX_PREDICATE, MAX_DEPTH).rules if not r.inline}
    assert every - seen == set()


def test_every_tree_rule_has_a_builder_method():
    """A rule that makes a tree node needs a method, or each parse would fall back."""
    for r in d.direct("rules_file", MAX_PREDICATE, MAX_DEPTH).rules:
        passes_through = r.expand1 and len(r.keep) == 1
        if not r.inline and not passes_through:
            assert getattr(getattr(fr.RulesBuilder, r.name, None), "base_func", None), r.name


@pytest.mark.parametrize("compiled", LOOPS)
@pytest.mark.parametrize(
    "text,line,col",
    [
        ("level >= 3 and spent > 4943", 1, 1),
        ('not level < 5 and (spent <= 3084.5 or city == "杭州")', 7, 12),
        ('city in ["杭州", "深圳"] or orders >= 19', 3, 4),
        ("not (a) and b not in [1, 2.5, -3, true, false] or c contains_any ['x']", 2, 9),
        ("x", 1, 1),
        ("(" * 30 + "x" + ")" * 30, 1, 1),
    ],
)
def test_predicates_as_the_tree_parser_reads_them(text, line, col, compiled):
    pos = Positions("p.yaml", line, col)
    want = fp.parse_predicate_tree(text, pos)
    parse = d.DirectParser(
        parser(), "predicate", {"predicate": (MAX_PREDICATE, MAX_DEPTH)}, compiled
    )
    assert parse.parse(text, fp.PredicateBuilder(pos)) == want
    assert fp.parse_predicate(text, "p.yaml", line, col) == want


@pytest.mark.parametrize(
    "text",
    [
        "shop s\ngroup g { agents a\n",  # a block left open (P100)
        "shop s\nagent a level 99999999999999999999999999\n",  # a literal too large (P107)
        "shop s\nrouting { sticky hold 3 }\n",  # a duration without a unit (V402)
        "shop s\nshop t\n",  # written twice (P103)
        "shop s\ncrowd c = " + "not " * 70 + "x\n",  # nested too deep (P104)
        "agent a\n",  # no shop (P108)
    ],
)
def test_anything_but_a_clean_parse_is_the_tree_parsers(text):
    assert fr._parse_direct(text, "bad.rules") is None
    with pytest.raises(RulecError) as direct_first:
        fr.parse_rules(text, "bad.rules")
    with pytest.raises(RulecError) as tree_only:
        fr.parse_rules_with_layout(text, "bad.rules")
    assert direct_first.value.diagnostics == tree_only.value.diagnostics


def test_a_deep_predicate_falls_back_to_the_tree_parsers_p104():
    text = "not " * 70 + "x"
    with pytest.raises(d.Fallback):
        d.direct("predicate", MAX_PREDICATE, MAX_DEPTH).parse(
            text, fp.PredicateBuilder(Positions("p"))
        )
    with pytest.raises(RulecError) as exc:
        fp.parse_predicate(text, "p")
    assert [x.code for x in exc.value.diagnostics] == ["P104"]
