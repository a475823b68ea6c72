"""`rulec test` through the CLI: passing, failing with a diff, compile errors, no tests, --run,
JSON, JUnit read back by junitparser, and coverage figures known by hand."""

import json
import textwrap

import pytest

# A shop whose coverage is counted by hand (docs/testing.md, "Coverage"):
#   groups 2 (G1, G2); steps 4 (nobody_online, sticky, group, fallback_any: exclusive_direct
#   and robot_first are off, no robot group, no group of two agents for R2c); bindings 2
#   (G1 crowd vip, G2 intent refund); crowds 1; intents 1; branches 6 (vip: 2 leaves x
#   true/false, refund: 1 leaf x true/false); campaigns 0. Total 16.
TINY = """\
shop tiny
attribute level: int
crowd vip = level >= 3 and level < 9
intent refund = message contains "退款"
agent a
agent b
group G1 {
  agents a
  crowd vip
}
group G2 {
  agents b
  intent refund
}
"""

PASSING = """
test "vip goes to G1" {
  agent a online
  chat u1 {
    attrs {level: 5}
    expect group G1
    expect step group
  }
}
"""


@pytest.fixture
def shop(tmp_path):
    def make(tests="", name="tiny.rules"):
        p = tmp_path / name
        p.write_text(TINY + textwrap.dedent(tests), encoding="utf-8")
        return p

    return make


def test_passing(cli, shop):
    r = cli("test", shop(PASSING))
    assert r.code == 0, r
    assert "tiny.rules ." in r.out and "1 passed, 0 failed" in r.out


def test_failing_shows_expected_and_actual_as_a_diff_with_the_trace(cli, shop):
    r = cli("test", shop(PASSING.replace("expect group G1", "expect group G2")))
    assert r.code == 1, r
    assert "tiny.rules F" in r.out and "0 passed, 1 failed" in r.out
    assert '- group: "G2"' in r.out and '+ group: "G1"' in r.out
    assert '  step: "group"' in r.out  # an expectation that held is shown unmarked
    assert "R5: candidates [G1]" in r.out and "chosen: a" in r.out  # the decision's trace


def test_a_test_naming_an_unknown_group_is_a_compile_error(cli, shop):
    p = shop(PASSING.replace("expect group G1", "expect group G3"))
    r = cli("test", p)
    assert r.code == 1 and "1 errors" in r.out
    assert f"{p}:20:18: error[U101]: unknown group `G3`" in r.out, r.out
    assert "did you mean `G1`?" in r.out or "did you mean `G2`?" in r.out
    r = cli("check", p)  # the same diagnostic from check: tests compile with the rules
    assert r.code == 1 and "U101" in r.err


def test_no_tests_found_is_exit_1_unless_allowed(cli, shop, tmp_path):
    p = shop()
    r = cli("test", p)
    assert r.code == 1 and "rulec: error[U121]: no tests found in" in r.err
    assert "= help: rules without tests:" in r.err
    r = cli("test", "--allow-empty", p)
    assert r.code == 0 and "warning[U121]" in r.err
    assert cli("test", tmp_path / "missing").code == 1


def test_test_file_beside_the_rules_and_run_filter(cli, shop, tmp_path):
    shop()
    (tmp_path / "tiny_test.rules").write_text(
        PASSING + PASSING.replace('"vip goes to G1"', '"other"'), encoding="utf-8"
    )
    r = cli("test", tmp_path)
    assert r.code == 0 and "tiny_test.rules .." in r.out and "2 passed" in r.out
    r = cli("test", tmp_path, "--run", "^vip")
    assert r.code == 0 and "1 passed" in r.out
    assert cli("test", tmp_path, "--run", "(").code == 2


def test_a_test_file_may_hold_only_tests(cli, shop, tmp_path):
    shop()
    (tmp_path / "tiny_test.rules").write_text("agent c\n" + PASSING, encoding="utf-8")
    r = cli("test", tmp_path / "tiny_test.rules")
    assert r.code == 1 and "U106" in r.out


def test_json_report(cli, shop):
    r = cli("test", "--format", "json", shop(PASSING.replace("expect group G1", "expect group G2")))
    doc = json.loads(r.out)
    assert doc["summary"] == {"passed": 0, "failed": 1, "error": 0}
    (f,) = doc["files"][0]["tests"][0]["failures"]
    assert f["expected"] == {"step": "group", "group": "G2"}
    assert f["actual"] == {"step": "group", "group": "G1"}


def test_junit_is_read_back_by_junitparser(cli, shop, tmp_path):
    from junitparser import Error, Failure, JUnitXml

    p = shop(PASSING + PASSING.replace('"vip goes to G1"', '"wrong"').replace("G1", "G2"))
    out = tmp_path / "junit.xml"
    r = cli("test", "--junit", out, p)
    assert r.code == 1
    xml = JUnitXml.fromfile(str(out))
    suites = list(xml)
    assert len(suites) == 1 and suites[0].tests == 2 and suites[0].failures == 1
    cases = {c.name: c for c in suites[0]}
    assert cases["vip goes to G1"].is_passed
    (res,) = cases["wrong"].result
    assert isinstance(res, Failure) and '+ group: "G1"' in res.text
    bad = shop(PASSING.replace("group G1", "group G9"), "bad.rules")
    cli("test", "--junit", out, bad)
    (suite,) = list(JUnitXml.fromfile(str(out)))
    (case,) = list(suite)
    assert isinstance(case.result[0], Error) and "U101" in case.result[0].text


def test_coverage_figures_on_a_shop_counted_by_hand(cli, shop):
    p = shop(PASSING)
    r = cli("test", "--coverage", "--format", "json", p)
    cov = json.loads(r.out)["coverage"]["files"][0]
    figures = {k: (v["covered"], v["total"]) for k, v in cov["categories"].items()}
    # the chat {level: 5} routed to G1: vip holds (both of its comparisons true, so neither
    # is ever false); refund is evaluated on no message: false
    assert figures == {
        "groups": (1, 2),
        "steps": (1, 4),
        "bindings": (1, 2),
        "crowds": (1, 1),
        "intents": (0, 1),
        "branches": (3, 6),
        "campaigns": (0, 0),
    }
    assert (cov["covered"], cov["total"], cov["percent"]) == (7, 16, 43.8)
    missing = {u["item"]: u["line"] for u in cov["uncovered"]}
    assert missing["group G2"] == 11 and missing["intent refund"] == 4
    assert missing["crowd vip: level >= 3 never false"] == 3
    assert "step group" not in missing and "step fallback_any" in missing
    r = cli("test", "--fail-under", "50", p)
    assert r.code == 1 and "error[U122]: coverage 43.8% is below --fail-under 50%" in r.err
    assert cli("test", "--fail-under", "40", p).code == 0
    text = cli("test", "--coverage", p).out
    assert "groups        1/2     50.0%" in text and f"{p}:11:7: group G2" in text


def test_outreach_expectations(cli, tmp_path):
    rules = tmp_path / "o.rules"
    rules.write_text(
        textwrap.dedent(
            """\
            shop o
            crowd vip = level >= 3
            crowd all = true
            campaign a batch {
              send_at 2024-01-01T12:00:00+08:00
              target vip { copy "hi vip" }
            }
            campaign b batch {
              send_at 2024-01-02T10:00:00+08:00
              target all { copy "hi" }
            }
            test capped {
              now 2024-01-02T10:30:00+08:00
              consumer c1 {
                attrs {level: 5}
                expect send a { copy "hi vip" }
                expect no send b because capped
              }
              consumer c2 {
                attrs {level: 1}
                expect no send a because not_in_audience
                expect send b
              }
            }
            """
        ),
        encoding="utf-8",
    )
    r = cli("test", rules)
    assert r.code == 0, r
    rules.write_text(
        rules.read_text(encoding="utf-8").replace("because capped", "because missed"),
        encoding="utf-8",
    )
    r = cli("test", rules)
    assert (
        r.code == 1 and '- b: "not sent (missed)"' in r.out and '+ b: "not sent (capped)"' in r.out
    )
