"""Errors in .rules files: positioned P1xx diagnostics with hints, never a traceback."""

import unicodedata

import pytest

from rulec.cli.common import format_diagnostic
from rulec.compiler.frontend_rules import parse_rules
from rulec.errors import RulecError


def diags(text):
    with pytest.raises(RulecError) as exc:
        parse_rules(text, "bad.rules")
    return exc.value.diagnostics


def one(text):
    ds = diags(text)
    assert len(ds) == 1, ds
    return ds[0]


@pytest.mark.parametrize(
    "text,line,col,hint",
    [
        ("shop s\ngrop g {}", 2, 1, "`group`"),
        ("shop s\nrouting { robot_first no }", 2, 23, "`on`"),
        ("shop s\nrouting { robot_frist on }", 2, 11, "did you mean `robot_first`?"),
        ("shop s\nagent bob level", 2, 16, "a whole number"),
        ("shop s\ncrowd vip = a >", 2, 16, "a number"),
        ("shop s\ncrowd vip = a ? 3", 2, 15, "a comparison"),
        ("shop s\ngroup g { agents a b }", 2, 20, "`,`"),
        ("shop s\ngroup g { agents a\n\n", 2, 19, "`}`"),
        ("shop s\ngroup g { agents a b }", 2, 20, "`,`"),
        ("shop s\nagent bob xyz", 2, 11, "`level`"),
        ("shop s\ncampaign c { send_at 2023-01-01T00:00:00+08:00 }", 2, 12, "a name"),
        ("shop s\ncampaign c batch { target v { copy x } }", 2, 36, "a quoted string"),
        ("shop s\npromo p last_day 12/12", 2, 18, "a date or time"),
        ("shop s\ntimezone 8", 2, 10, "a time zone"),
        ("shop s\ncrowd vip: a > 1", 2, 10, "`=`"),
        ('shop s\ncrowd c = a == "unterminated', 2, 16, None),
    ],
)
def test_syntax_error_is_positioned_with_expectations(text, line, col, hint):
    """P100 at the offending token, with what would have been accepted there."""
    d = one(text)
    assert d.code == "P100" and d.severity == "error"
    assert (d.span.file, d.span.line, d.span.col) == ("bad.rules", line, col), d
    if hint:
        assert any(hint in h for h in d.hints), d.hints


def test_expected_statements_are_summarised_inside_an_expression():
    d = one("shop s\ncrowd c = a b")
    assert "a new statement" in d.hints[0] and "`and`" in d.hints[0]


def test_bare_number_duration_needs_a_unit():
    """Settled readings: durations are written with a unit; a bare number is an error."""
    d = one("shop s\nrouting { sticky hold 24 }")
    assert d.code == "V402" and "24h" in d.message
    assert (d.span.line, d.span.col, d.span.end_col) == (2, 23, 25)
    d = one("shop s\noutreach { cap_window 7w }")
    assert d.code == "V402" and "7w" in d.message


def test_repeated_settings_are_p103():
    d = one("shop a\nshop b")
    assert d.code == "P103" and "line 1" in d.message and d.span.line == 2
    assert one("shop s\ntimezone UTC\ntimezone Asia/Shanghai").code == "P103"
    d = one("shop s\nrouting { robot_first on }\nrouting { robot_first off }")
    assert d.code == "P103" and "robot_first" in d.message
    assert one("shop s\nrouting { sticky hold 1h hold 2h }").code == "P103"
    assert one("shop s\nfacts { grants a; grants b }").code == "P103"
    assert one("shop s\ngroup g { mode efficiency; mode conversion low }").code == "P103"
    assert one('shop s\ncampaign c batch { copy "a"; copy "b" }').code == "P103"
    assert one("shop s\npromo p last_day 2023-12-12 last_day 2023-12-13").code == "P103"
    assert one('shop s\ncampaign c batch { target v { copy "a"; copy "b" } }').code == "P103"


def test_separate_blocks_may_hold_different_settings():
    shop = parse_rules("shop s\nrouting { robot_first on }\nrouting { drain_pool on }", "x")
    assert set(shop.routing) == {"robot_first", "drain_pool"}


def test_every_repeat_is_reported_at_once():
    ds = diags("shop a\nshop b\ngroup g { agents a; agents b }\nrouting { sticky hold 3 }")
    assert [(d.code, d.span.line) for d in ds] == [("P103", 2), ("P103", 3), ("V402", 4)]


def test_missing_shop_is_p108():
    d = one("agent a\ngroup g { agents a }")
    assert d.code == "P108" and (d.span.line, d.span.col) == (1, 1)


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n  # another\n"])
def test_empty_file_is_p101(text):
    assert one(text).code == "P101"


def test_bad_literals_are_p107():
    d = one('shop s\ncrowd c = a == "\\q"')
    assert d.code == "P107" and (d.span.line, d.span.col) == (2, 17)  # at the escape
    assert one("shop s\nagent a level 99999999999999999999999").code == "P107"
    assert one("shop s\nrouting { busy_threshold 1" + "0" * 5000 + " }").code == "P107"
    assert one("shop s\ncrowd c = a > 1e999").code == "P107"


def test_deep_expression_is_p104_not_a_crash():
    d = one("shop s\ncrowd c = " + "not " * 5000 + "a")
    assert d.code == "P104" and d.span.line == 2


def test_predicate_as_deep_as_yaml_allows_is_accepted():
    from rulec.compiler.frontend_predicate import MAX_DEPTH, parse_predicate

    n = MAX_DEPTH
    while True:  # the deepest `not not ... a` the predicate parser (used for YAML) accepts
        try:
            parse_predicate("not " * n + "a")
            break
        except RulecError:
            n -= 1
    depth_ok = "not " * n + "a"
    assert one("shop s\ncrowd c = not " + depth_ok).code == "P104"
    shop = parse_rules("shop s\ncrowd c = " + depth_ok, "x")
    assert shop.crowds[0].name == "c"


def test_caret_rendering_points_at_the_token(tmp_path):
    path = tmp_path / "bad.rules"
    path.write_text("shop s\ngroup 售前 { agents 小美 小雅 }\n", encoding="utf-8")
    with pytest.raises(RulecError) as exc:
        parse_rules(path.read_text(encoding="utf-8"), str(path))
    text = format_diagnostic(exc.value.diagnostics[0])
    lines = text.splitlines()
    assert lines[0].startswith(f"{path}:2:") and "error[P100]" in lines[0]
    src, caret = lines[1], lines[2]
    assert src.strip() == "group 售前 { agents 小美 小雅 }"
    at = src.index("小雅")  # the caret sits under it on a terminal (CJK is two columns wide)
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in src[:at])
    assert caret.index("^") == width and caret.strip() == "^^"


def test_check_command_reports_and_exits_1(cli, tmp_path):
    path = tmp_path / "x.rules"
    path.write_text("shop s\nrouting { sticky hold 24 }\n", encoding="utf-8")
    r = cli("check", path)
    assert r.code == 1 and "2:23: error[V402]" in r.err and "Traceback" not in r.err


def test_yaml_in_a_rules_file_gets_a_hint():
    d = one("shop: demo\nagents:\n  bob: {}\n")
    assert d.code == "P100" and (d.span.line, d.span.col) == (1, 5)
    assert any("looks like YAML" in h for h in d.hints)
    assert not any("YAML" in h for h in one("shop s\ncrowd x = a : b").hints)


def test_grammar_is_conflict_free_in_strict_mode_and_parses_alike():
    """Strict mode refuses any LALR conflict or terminal collision when the parser is built;
    the parser the commands use (built without the collision analysis) parses the same."""
    from lang_helpers import EXAMPLES

    from rulec.grammar.loader import parser

    strict = parser(strict=True)
    assert strict.options.strict and set(strict.options.start) == {"predicate", "rules_file"}
    for path in sorted(EXAMPLES.glob("*.rules")):
        text = path.read_text(encoding="utf-8")
        assert strict.parse(text, start="rules_file") == parser().parse(text, start="rules_file")
    pred = 'not (a in [1, "x"]) and b contains_any ["y"] or c >= -1.5'
    assert strict.parse(pred, start="predicate") == parser().parse(pred, start="predicate")


def test_target_content_outside_braces_is_refused():
    """`target vip copy "x"` would give the copy to the whole campaign (O1 content per crowd)."""
    d = one('shop s\ncampaign c batch {\n  target vip copy "x" coupon V\n}')
    assert d.code == "P100" and (d.span.line, d.span.col) == (3, 14) and "braces" in d.message
    shop = parse_rules('shop s\ncampaign c recall { segment vip; copy "x" }', "x")
    assert shop.campaigns[0].copy.value == "x" and shop.campaigns[0].segments[0].copy is None
    shop = parse_rules('shop s\ncampaign c recall {\n segment vip\n copy "x"\n}', "x")
    assert shop.campaigns[0].copy.value == "x"
