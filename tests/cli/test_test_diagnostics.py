"""Each diagnostic of tests written beside the rules (U100–U120), shown by `rulec check` /
`rulec test` at the test's own line: a test that names, times or counts something wrongly is
a compile error of the rules (docs/language.md, "test"; docs/diagnostics.md, U-codes)."""

import pytest
from test_test_cmd import TINY

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
