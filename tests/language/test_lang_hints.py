"""Diagnostics that used to mislead (issue 10): each names the real problem at its place."""

import pytest

from rulec.compiler.pipeline import compile_source

GROUP = "shop s\nagent a1 level 3\n"


def one(text, file="t.rules"):
    r = compile_source(text, file)
    (d,) = r.errors
    return d


@pytest.mark.parametrize(
    "text,file,where,hint",
    [
        (
            GROUP + "group A {\n  agents a1\n  mode conversion\n}\n",
            "t.rules",
            (5, 8),
            "mode conversion medium",
        ),
        (
            "shop: s\nagents: {a1: {}}\ngroups: {A: {agents: [a1], mode: conversion}}\n",
            "t.yaml",
            (3, 34),
            "mode: {conversion: medium}",
        ),
    ],
)
def test_conversion_mode_without_strength(text, file, where, hint):
    d = one(text, file)
    assert d.code == "P108" and "conversion mode needs a strength" in d.message
    assert "None" not in d.message
    assert (d.span.line, d.span.col) == where and hint in d.hints[0]


@pytest.mark.parametrize(
    "after,starts",
    [
        ("group B {\n  agents a1\n}\n", "group"),
        ("facts {\n  tool_level advanced\n}\n", "facts"),
        ("crowd vip = x > 3\n", "crowd"),
        ("agent b1\n", "agent"),
        ("", None),
    ],
)
def test_missing_closing_brace_is_reported_where_it_belongs(after, starts):
    text = GROUP + "attribute x: int\ngroup A {\n  agents a1\n  robot on\n\n# next\n" + after
    d = one(text)
    assert d.code == "P100" and d.message.startswith("missing `}` to close `group A {`")
    assert (d.span.line, d.span.col) == (6, 11)  # just after `robot on`
    where = "at the end of the file" if starts is None else f"before the `{starts}` statement"
    assert d.message.endswith(where)
    assert not any("did you mean" in h for h in d.hints)


def test_expected_lists_hold_only_what_fits_there():
    """The LALR table shares states between blocks; the hint lists what the parser would take."""
    d = one(GROUP + "group A {\n  robot on\n  bogus x\n}\n")
    assert d.hints[0] == (
        "expected `;`, `agents`, `crowd`, `intent`, `mode`, `order`, `product`, `robot`, `}`"
    )
    d = one(GROUP + 'campaign c batch {\n  target vip { copy "x" bogus }\n}\n')
    assert d.hints[0] == "expected `;`, `copy`, `coupon`, `}`"
    d = one("shop s\nfacts {\n  grants green_channel\n  bogus 3\n}\n")
    assert "robot" not in d.hints[0] and "`}`" in d.hints[0]


def test_date_and_time_with_a_space():
    d = one(GROUP + "campaign c batch {\n  send_at 2023-12-05 10:00\n}\n")
    assert d.code == "P100" and "`2023-12-05 10:00` is not a time" in d.message
    assert (d.span.line, d.span.col, d.span.end_col) == (4, 11, 27)
    assert d.hints == ("write e.g. `2023-12-05T10:00:00+08:00` (an ISO-8601 time with an offset)",)


@pytest.mark.parametrize(
    "text,word,want",
    [
        ("shop s\nagent a1\ngrup A {\n  agents a1\n}\n", "grup", "group"),
        ("shop s\nagent a1 level 3\ngrup A {\n  agents a1\n}\n", "grup", "group"),
        (GROUP + "group A {\n  agents a1\n  mod efficiency\n}\n", "mod", "mode"),
        (GROUP + 'campaign c batch {\n  target vip { cpy "x" }\n}\n', "cpy", "copy"),
    ],
)
def test_did_you_mean_for_short_and_statement_typos(text, word, want):
    d = one(text)
    assert d.message == f"unexpected `{word}` in the rules"
    assert f"did you mean `{want}`?" in d.hints
