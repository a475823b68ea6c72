"""Each diagnostic of tests written beside the rules (U100–U120), shown by `rulec check` /
`rulec test` at the test's own line: a test that names, times or counts something wrongly is
a compile error of the rules (docs/language.md, "test"; docs/diagnostics.md, U-codes)."""

import pytest
from test_test_cmd import TINY

import rulec

SHOP = TINY  # groups G1 (agents a, crowd vip) and G2 (agents b, intent refund)
# Line 16 is the `test` line appended to SHOP (a blank line 15 between).
CASES = [
    ("U100", 17, "agent zz online\n  chat u1 {\n    expect group G1\n  }"),
    ("U100", 18, "chat u1 {\n    expect target agent zz\n  }"),
    ("U102", 19, "now 2024-01-01T10:00:00+08:00\n  consumer c1 {\n    expect send week99\n  }"),
    ("U103", 18, "chat u1 {\n    expect step grop\n  }"),
    ("U103", 18, "chat u1 {\n    order unpayed\n    expect group G1\n  }"),
    ("U104", 17, "now 2024-01-01T10:00:00\n  chat u1 {\n    expect group G1\n  }"),
    ("U107", 16, "seed 1"),
    ("U107", 17, "chat u1 {\n    order unpaid\n  }"),
    ("U108", 16, "consumer c1 {\n    expect no send\n  }"),
    ("U109", 17, "agent a online pending -1\n  chat u1 {\n    expect group G1\n  }"),
    ("U109", 17, "agent a online conversion 1.5\n  chat u1 {\n    expect group G1\n  }"),
    (
        "U111",
        18,
        'now 2024-01-01T10:00:00+08:00\n  activity x {kind: "multi_buy"}\n'
        "  consumer c1 {\n    expect no send\n  }",
    ),
    ("U112", 18, "agent a online\n  agent a offline\n  chat u1 {\n    expect group G1\n  }"),
]


def _write(tmp_path, body, name="tiny.rules"):
    p = tmp_path / name
    p.write_text(SHOP + "\n" + body, encoding="utf-8")
    return p


@pytest.mark.parametrize("code,line,items", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_wrong_test_is_a_coded_error_at_its_line(cli, tmp_path, code, line, items):
    p = _write(tmp_path, 'test "t" {\n  ' + items + "\n}\n")
    r = cli("check", p)
    assert r.code == 1, r
    assert f"{p}:{line}:" in r.err and f"error[{code}]" in r.err, r.err


def test_two_tests_of_one_name_is_u105_at_the_second(cli, tmp_path):
    one = 'test "t" {\n  chat u1 {\n    expect group G1\n  }\n}\n'
    p = _write(tmp_path, one + one)
    r = cli("check", p)
    assert r.code == 1 and f"{p}:21:6: error[U105]: test `t` is declared twice" in r.err, r.err


YAML = """\
shop: tiny
attributes:
  level: int
agents:
  a: {}
groups:
  G1:
    agents: [a]
tests:
  - name: t
    chats:
      - buyer: u1
        attrs: {level: ~}
        expect: {group: G1}
"""


def test_a_yaml_test_record_value_that_is_null_is_u110(cli, tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(YAML, encoding="utf-8")
    r = cli("check", p)
    assert r.code == 1 and f"{p}:13:" in r.err and "error[U110]" in r.err, r.err


def test_a_state_the_router_refuses_is_u120_when_the_test_runs(cli, tmp_path):
    """`check` accepts it (a whole number); the router's state check refuses it (R9 pending
    fits in 31 bits), and `rulec test` reports that as the test's error, not a traceback."""
    items = "agent a online pending 99999999999\n  chat u1 {\n    expect group G1\n  }"
    p = _write(tmp_path, 'test "t" {\n  ' + items + "\n}\n")
    assert cli("check", p).code == 0
    r = cli("test", p)
    assert r.code == 1 and "0 passed, 0 failed, 1 errors" in r.out, r
    assert f"{p}:16:6: error[U120]: test t: state:" in r.out and "agents.a.pending" in r.out


# One test block with every finding of the tests pass (docs/diagnostics.md, U100–U112): each
# once, at its own line and column, with its message and hints.
EVERY = """\
shop tiny
attribute level: int
crowd vip = level >= 3
agent a
agent b
group G1 {
  agents a
  crowd vip
}
group G2 {
  agents b
}
campaign week1 batch {
  send_at 2024-01-01T12:00:00+08:00
  target vip { copy "hi" }
}
test "t" {
  now 2024-01-01T13:00:00+08:00
  agent a busy
  agent zz online
  agent b online pending -1 conversion 2
  agent b offline
  contact u1 zz at 2024-01-01T08:00:00+08:00
  contact u1 a at 2024-01-01T09:00:00
  activity x1 {kind: "multi_buy"}
  activity x1 {kind: "gift"}
  chat u1 at 2024-01-01T10:00:00 {
    order unpayed
    expect target agent zz
    expect step grop
    expect group G3
    expect candidates G1, G4
  }
  chat u2 {
    expect target robot x
  }
  chat u3 {
    expect target group_robot
  }
  chat u4 {
    expect target group_robot G9
  }
  chat u5 {
    expect target nobody
  }
  chat u6 {
    expect target agnt a
  }
  chat u7 {
    attrs {level: 1}
  }
  consumer c1 {
    cart sku at 2024-01-01T10:00:00
    purchase 2024-01-01T11:00:00
    expect send week2
    expect no send week1 because capd
  }
  consumer c1 {
    expect no send
  }
  consumer c2 {
  }
}
test "t" {
  seed 1
}
test "u" {
  consumer c3 {
    expect no send
  }
}
"""
EVERY_WANT = [
    ("U103", 19, 11, "unknown agent status `busy`", ("one of: online, suspended, offline",)),
    ("U100", 20, 9, "unknown agent `zz`", ()),
    ("U109", 21, 26, "pending chats cannot be negative", ()),
    ("U109", 21, 40, "a conversion rate is a number in 0..1", ()),
    ("U112", 22, 9, "agent `b` is given twice (first at line 21)", ()),
    ("U100", 23, 14, "unknown agent `zz`", ()),
    ("U112", 24, 11, "contact of buyer `u1` is given twice (first at line 23)", ()),
    (
        "U104",
        24,
        19,
        "contact time: time '2024-01-01T09:00:00' has no UTC offset (write e.g. +08:00)",
        (),
    ),
    ("U111", 25, 3, "activity x1: activity 'x1' needs `created_at` (O8 reads it)", ()),
    ("U111", 26, 3, "activity x1: activity 'x1' needs `created_at` (O8 reads it)", ()),
    ("U112", 26, 12, "activity `x1` is given twice (first at line 25)", ()),
    (
        "U104",
        27,
        14,
        "chat time: time '2024-01-01T10:00:00' has no UTC offset (write e.g. +08:00)",
        (),
    ),
    ("U103", 28, 11, "unknown order state `unpayed`", ("did you mean `unpaid`?",)),
    ("U100", 29, 5, "unknown agent `zz`", ()),
    ("U103", 30, 17, "unknown step `grop`", ("did you mean `group`?",)),
    ("U101", 31, 18, "unknown group `G3`", ("did you mean `G2`?",)),
    ("U101", 32, 27, "unknown group `G4`", ("did you mean `G2`?",)),
    ("U103", 35, 5, "target `robot` takes no name", ()),
    ("U103", 38, 5, "target `group_robot` names one", ()),
    ("U101", 41, 5, "unknown group `G9`", ("did you mean `G2`?",)),
    ("U103", 44, 5, "unknown target `nobody`", ("did you mean `robot`?",)),
    ("U103", 47, 5, "unknown target `agnt`", ("did you mean `agent`?",)),
    ("U107", 49, 3, "chat u7 expects nothing: add an `expect`", ()),
    (
        "U104",
        53,
        17,
        "cart time: time '2024-01-01T10:00:00' has no UTC offset (write e.g. +08:00)",
        (),
    ),
    (
        "U104",
        54,
        14,
        "purchase time: time '2024-01-01T11:00:00' has no UTC offset (write e.g. +08:00)",
        (),
    ),
    ("U102", 55, 17, "unknown campaign `week2`", ("did you mean `week1`?",)),
    ("U103", 56, 34, "unknown reason `capd`", ("did you mean `capped`?",)),
    ("U112", 58, 12, "consumer `c1` is given twice (first at line 52)", ()),
    ("U107", 61, 3, "consumer c2 expects nothing: add an `expect`", ()),
    ("U105", 64, 6, "test `t` is declared twice (first at line 17)", ()),
    ("U107", 64, 6, "test t has no chat and no consumer: it checks nothing", ()),
    ("U108", 67, 6, "test u has consumers but no `now` to plan at", ()),
]


def test_every_finding_in_a_test_block_with_its_position_message_and_hints():
    result = rulec.compile_source(EVERY, file="t.rules")
    got = [(d.code, d.span.line, d.span.col, d.message, d.hints) for d in result.diagnostics]
    assert got == EVERY_WANT


# Values at the edges of what a test may write: no finding.
EDGES = """\
shop tiny
agent a
agent b
group G1 {
  agents a, b
}
test "edges" {
  agent a online pending 0 conversion 0
  agent b suspended conversion 1
  contact u1 a at 2024-01-01T08:00:00+08:00
  chat u1 at 2024-01-01T10:00:00+08:00 {
    order unpaid
    expect target group_robot G1
    expect group none
    expect candidates
  }
  chat u2 {
    expect target message_pool
  }
}
"""


def test_values_at_the_edges_are_no_finding():
    result = rulec.compile_source(EDGES, file="t.rules")
    assert [(d.code, d.message) for d in result.diagnostics] == []


BAD_ACTIVITY = """\
shop s
timezone Asia/Shanghai
test "t" {
  now 2024-01-01T10:00:00+08:00
  activity x {kind: "multi_buy", created_at: "2024-01-01T09:00:00", first_effective_at: \
"2024-01-01T12:00:00+08:00", edited_from_existing: false, crowd_restricted: false, \
complete: true, in_stock: true}
  consumer c {
    expect no send
  }
}
"""


def test_u111_gives_the_activity_checks_message_whole():
    """The activity check's own message (E815's text, which holds `: ` itself) follows the
    activity's name once, without the `<activities>:1:` of a file of activities."""
    result = rulec.compile_source(BAD_ACTIVITY, file="t.rules")
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics] == [
        (
            "U111",
            5,
            "activity x: activity 'x' created_at: time '2024-01-01T09:00:00' has no UTC "
            "offset (write e.g. +08:00)",
        )
    ]


def test_with_an_unknown_time_zone_only_the_zone_is_reported():
    """Activity times are read in the shop's zone: with none known (V404, resolve pass) the
    tests pass does not check them."""
    src = BAD_ACTIVITY.replace("Asia/Shanghai", "Mars/Olympus")
    result = rulec.compile_source(src, file="t.rules")
    assert [d.code for d in result.diagnostics] == ["V404"]


def test_u104_names_the_now_it_is_about():
    src = BAD_ACTIVITY.replace("now 2024-01-01T10:00:00+08:00", "now 2024-01-01T10:00:00")
    result = rulec.compile_source(src, file="t.rules")
    [u104] = [d for d in result.diagnostics if d.code == "U104"]
    assert u104.message == "now: time '2024-01-01T10:00:00' has no UTC offset (write e.g. +08:00)"
