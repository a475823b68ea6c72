"""Round trips: .rules -> model -> .rules, and YAML <-> .rules give the same model (contract)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lang_helpers import EXAMPLES, plain
from test_lang_parse import CONTRACT, CONTRACT_YAML

from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import parse_predicate
from rulec.compiler.frontend_rules import parse_rules
from rulec.compiler.frontend_yaml import parse_yaml
from rulec.compiler.printer_rules import duration, expr, print_rules
from rulec.compiler.printer_yaml import print_yaml

RULES = sorted(p for p in EXAMPLES.glob("*.rules") if not p.stem.endswith("_test"))


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_examples_print_back_to_the_same_model_and_are_canonical(path):
    text = path.read_text(encoding="utf-8")
    shop = parse_rules(text, str(path))
    printed = print_rules(shop)
    assert plain(parse_rules(printed, "p.rules")) == plain(shop)
    assert print_rules(parse_rules(printed, "p.rules")) == printed  # a fixed point


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_examples_through_yaml_and_back(path):
    shop = parse_rules(path.read_text(encoding="utf-8"), str(path))
    via_yaml = parse_yaml(print_yaml(shop), "p.yaml")
    assert plain(via_yaml) == plain(shop)
    assert plain(parse_rules(print_rules(via_yaml), "q.rules")) == plain(shop)


def test_yaml_twin_is_what_the_printer_makes():
    shop = parse_rules((EXAMPLES / "shop-double12.rules").read_text(encoding="utf-8"), "x")
    assert (EXAMPLES / "shop-double12.yaml").read_text(encoding="utf-8") == print_yaml(shop)


def test_contract_yaml_to_rules_and_back():
    shop = parse_yaml(CONTRACT_YAML, "c.yaml")
    rules = print_rules(shop)
    assert plain(parse_rules(rules, "c.rules")) == plain(shop)
    assert plain(parse_yaml(print_yaml(parse_rules(rules, "c.rules")), "d.yaml")) == plain(shop)
    assert plain(parse_rules(CONTRACT, "c.rules")) == plain(shop)


def test_yaml_printer_keeps_the_contract_key_order():
    text = print_yaml(parse_yaml(CONTRACT_YAML, "c.yaml"))
    tops = [ln.split(":")[0] for ln in text.splitlines() if ln and not ln[0].isspace()]
    assert tops == [
        "shop",
        "timezone",
        "routing",
        "attributes",
        "crowds",
        "intents",
        "agents",
        "groups",
        "promos",
        "facts",
        "outreach",
        "campaigns",
    ]
    assert "  sticky: {hold: 24h, window: 72h}" in text
    assert '  refund: \'message contains_any ["退款", "退货"]\'' in text
    assert '  vip: "member_level >= 3 and total_spent > 1000"' in text
    assert '      - {crowd: vip, copy: "VIP 专享", coupon: VIP10}' in text


@pytest.mark.parametrize(
    "seconds,text",
    [
        (90, "90s"),
        (1800, "30m"),
        (86400, "24h"),
        (259200, "72h"),
        (604800, "7d"),
        (1209600, "14d"),
        (5400, "90m"),
        (0, "0s"),
        (3601, "3601s"),
    ],
)
def test_durations_print_as_operators_write_them(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    "src,want",
    [
        ("a or b and c", "a or b and c"),
        ("(a or b) and c", "(a or b) and c"),
        ("a and (b or c)", "a and (b or c)"),
        ("(a and b) or c", "a and b or c"),
        ("((a and b)) and c", "(a and b) and c"),  # the tree is kept: nested `and` stays nested
        ("a and (b and c)", "a and (b and c)"),
        ("not (a and b)", "not (a and b)"),
        ("not not a", "not not a"),
        ("(not a) and b", "not a and b"),
        ("not (a > 1)", "not a > 1"),
        ('a not in [1, 2.5, "x", true]', 'a not in [1, 2.5, "x", true]'),
        ("message contains 'it''s'".replace("''", "\\'"), 'message contains "it\'s"'),
        ('x == "a\\"b\\\\c\\n"', 'x == "a\\"b\\\\c\\n"'),
        ("3 < x", "3 < x"),
        ("true", "true"),
        ("-1.5e3 >= y", "-1500.0 >= y"),
    ],
)
def test_expressions_print_with_minimal_parentheses(src, want):
    e = parse_predicate(src)
    assert expr(e) == want
    assert plain(parse_predicate(expr(e))) == plain(e)


# -- properties ------------------------------------------------------------------------------
names = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True).filter(
    lambda s: s not in {"and", "or", "not", "in", "contains", "contains_any", "true", "false"}
)
literals = st.one_of(
    st.integers(-(10**18), 10**18),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=6),
).map(m.Literal)
lists = st.lists(literals, max_size=3).map(m.ListLit)
atoms = st.one_of(
    st.builds(
        m.Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), names.map(m.Attr), literals
    ),
    st.builds(m.InList, names.map(m.Attr), lists, st.booleans()),
    st.builds(m.Contains, names.map(m.Attr), st.text(max_size=5).map(m.Literal), st.just(False)),
    st.builds(
        m.Contains,
        names.map(m.Attr),
        st.lists(st.text(max_size=4).map(m.Literal), max_size=3).map(m.ListLit),
        st.just(True),
    ),
    st.booleans().map(m.Const),
    names.map(m.Attr),
)
exprs = st.recursive(
    atoms,
    lambda kids: st.one_of(
        kids.map(m.Not),
        st.builds(m.BoolOp, st.sampled_from(["and", "or"]), st.lists(kids, min_size=2, max_size=3)),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(exprs)
def test_any_expression_prints_and_parses_back(e):
    """The printer keeps precedence (or < and < not) and literals exactly."""
    assert plain(parse_predicate(expr(e))) == plain(e)


weird = st.text(min_size=1, max_size=8)
special = st.sampled_from(
    [
        "yes",
        "no",
        "on",
        "off",
        "null",
        "~",
        "true",
        "100",
        "1e3",
        "a b",
        "x: y",
        "#tag",
        "- dash",
        "[x]",
        "{y}",
        "it's",
        'say "hi"',
        "group",
        "agents",
        "sku-100",
        "小美",
        "a\tb",
        "\u2028",
        "-",
        "",
    ]
)
ident = st.one_of(special.filter(bool), weird)


@settings(max_examples=150, deadline=None)
@given(
    shop=ident,
    agent=ident,
    group=ident,
    crowd=ident,
    product=st.one_of(special, weird),
    copy=st.one_of(special, st.text(max_size=12)),
    coupon=ident,
    kind=ident,
    tz=ident,
)
def test_any_names_survive_both_printers(
    shop, agent, group, crowd, product, copy, coupon, kind, tz
):
    s = m.Shop(name=shop, timezone=m.Value(tz))
    s.attributes.append(m.AttributeDecl(agent, kind))
    s.agents.append(m.Agent(agent, 4))
    s.crowds.append(m.PredicateDef(crowd, m.Compare(">", m.Attr("lvl"), m.Literal(2))))
    s.groups.append(
        m.Group(
            group,
            agents=[m.NameRef(agent)],
            crowd=[m.NameRef(crowd)],
            product=[m.NameRef(product)],
            mode=kind,
            strength=kind,
        )
    )
    s.facts["grants"] = m.Value([coupon, kind])
    s.campaigns.append(
        m.Campaign(
            coupon,
            m.Value(kind),
            send_at=m.Value(copy),
            copy=m.Value(copy),
            coupon=m.Coupon(coupon, kind),
            targets=[m.Target(m.NameRef(crowd), copy, m.Coupon(coupon))],
        )
    )
    assert plain(parse_rules(print_rules(s), "x.rules")) == plain(s)
    assert plain(parse_yaml(print_yaml(s), "x.yaml")) == plain(s)


@settings(max_examples=100, deadline=None)
@given(seconds=st.integers(0, 10**9))
def test_any_duration_prints_and_parses_back(seconds):
    s = m.Shop(name="s")
    s.routing["sticky_hold"] = m.Value(seconds)
    s.outreach["cap_window"] = m.Value(seconds)
    for back in (parse_rules(print_rules(s), "d.rules"), parse_yaml(print_yaml(s), "d.yaml")):
        assert back.routing["sticky_hold"].value == seconds
        assert back.outreach["cap_window"].value == seconds


def test_printer_token_patterns_match_the_grammar():
    """The printer decides bare vs quoted with the grammar's own terminal patterns."""
    from rulec.compiler import printer_rules as pr
    from rulec.grammar.loader import parser

    for term, regex in (
        ("ID", pr.ID_RE),
        ("NUMID", pr.NUMID_RE),
        ("TIMEISH", pr.TIMEISH_RE),
        ("TZNAME", pr.TZNAME_RE),
        ("NAME", pr.NAME_RE),
    ):
        assert parser().get_terminal(term).pattern.value == regex.pattern
    words = {
        t.pattern.value
        for t in parser().terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    }
    assert words == pr.KEYWORDS
