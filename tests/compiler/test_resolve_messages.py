"""The resolve pass's fixed messages and hints, whole: the case files check a part of a message
(`# expect: CODE text` is a substring), which a message grown at either end still passes."""

import pytest

from rulec.compiler.pipeline import compile_source

ONE_AGENT = "agents: {a1: {}}\ngroups: {G: {agents: [a1]"


@pytest.mark.parametrize(
    "text,code,message,hints",
    [
        ('shop: ""\n', "V400", "shop name is empty", ()),
        (
            "shop: t\ntimezone: Asia/Shangai\n",
            "V404",
            "unknown time zone 'Asia/Shangai'",
            ("use an IANA zone name such as Asia/Shanghai",),
        ),
        (
            f"shop: t\n{ONE_AGENT}, mode: {{efficiency: high}}}}}}\n",
            "V401",
            "efficiency mode takes no strength",
            (),
        ),
        (
            "shop: t\nrouting: {when_nobody_online: zzz}\n",
            "V401",
            "unknown when_nobody_online target `zzz`",
            ("one of: main_account, proxy_account, message_pool",),
        ),
    ],
    ids=[
        "V400-empty-shop-name",
        "V404-zone-hint",
        "V401-strength-on-efficiency",
        "V401-no-close-name-lists-the-choices",
    ],
)
def test_the_whole_message_and_hints(text, code, message, hints):
    (d,) = compile_source(text, "t.yaml").diagnostics
    assert (d.code, d.message, d.hints) == (code, message, hints)


@pytest.mark.parametrize(
    "text,file,hint",
    [
        (
            "shop: s\nagents: {a1: {}}\ngroups: {A: {agents: [a1], mode: conversion}}\n",
            "t.yaml",
            "write `mode: {conversion: medium}`",
        ),
        (
            "shop s\nagent a1\ngroup A {\n  agents a1\n  mode conversion\n}\n",
            "t.rules",
            "write `mode conversion medium`",
        ),
    ],
)
def test_conversion_without_strength_hints_the_form_of_its_file(text, file, hint):
    """R9, P108: the hint is written in the surface the operator used."""
    (d,) = compile_source(text, file).errors  # and W502: one agent
    assert d.code == "P108"
    assert d.message == "group A: conversion mode needs a strength (low, medium or high)"
    assert d.hints == (hint,)


def test_an_unknown_grant_is_a_warning_that_lists_the_known_ones():
    """O9: an unknown grant does not stop the compile; it is W507 with severity warning."""
    r = compile_source("shop: t\nfacts: {grants: [green_chanel]}\n", "t.yaml")
    (d,) = r.diagnostics
    assert r.ok and (d.code, d.severity) == ("W507", "warning")
    assert d.message == (
        "unknown grant `green_chanel` (known: green_channel, cart_coupon, super_discount)"
    )
    assert d.hints == ("did you mean `green_channel`?",)


def test_a_name_declared_twice_in_plain_json_gives_both_lines():
    """N204 from a .json source: the fast JSON reader keeps no positions and hands anything
    with a diagnostic to the YAML path, so the checks must take a model without spans too."""
    camp = '{"name": "w", "kind": "batch", "send_at": "2023-12-04T10:00:00+08:00", '
    camp += '"targets": [{"crowd": "vip", "copy": "x"}]}'
    text = '{"shop": "t", "agents": {"a1": {}}, "groups": {"G": {"agents": ["a1"]}},\n'
    text += f' "campaigns": [\n  {camp},\n  {camp}\n ]}}\n'
    (d,) = compile_source(text, "t.json").errors  # and W504: `vip` is an outside label
    assert (d.code, d.span.line, d.span.col) == ("N204", 4, 3)
    assert d.message == "campaign `w` is declared twice (first declared at line 3)"
