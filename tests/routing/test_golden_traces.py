"""`rulec route` and `rulec explain` on the examples give, byte for byte, the decisions and
traces (R10) recorded in tests/routing/golden/ (made by the code before the decision path
moved to Cython). Runs under whichever decision path is live: `make test` (Cython) and
`make test-pure` (RULEC_PURE=1) check both.

The day of events (double12-day.jsonl: chats with messages, attributes, exclusive agents,
status changes, replies, conversion rates) was drawn once by a seeded script; the outputs
were made with `rulec route rules/shop-double12.rules --events ... --seed S [--state ...]`
and `rulec explain ... --event <last demo event> --state rules/demo/state.json`."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "routing" / "golden"
SHOP = ROOT / "rules" / "shop-double12.rules"
STATE = ROOT / "rules" / "demo" / "state.json"
DAY = GOLDEN / "double12-day.jsonl"
DEMO = ROOT / "rules" / "demo" / "events.jsonl"


@pytest.mark.parametrize(
    "name, args",
    [
        ("double12-day.seed7.out.jsonl", ["--events", DAY, "--seed", 7]),
        ("double12-day.state.seed3.out.jsonl", ["--events", DAY, "--seed", 3, "--state", STATE]),
        ("demo.state.seed7.out.jsonl", ["--events", DEMO, "--seed", 7, "--state", STATE]),
    ],
)
def test_route_matches_golden(cli, name, args):
    r = cli("route", SHOP, *args)
    assert r.code == 0, r
    want = (GOLDEN / name).read_text(encoding="utf-8")
    assert r.out.count("\n") == want.count("\n")
    for got_line, want_line in zip(r.out.splitlines(), want.splitlines()):
        assert got_line == want_line
    assert r.out == want


def test_explain_matches_golden(cli, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(DEMO.read_text(encoding="utf-8").splitlines()[-1], encoding="utf-8")
    r = cli("explain", SHOP, "--event", event, "--state", STATE)
    assert r.code == 0, r
    assert r.out == (GOLDEN / "demo-explain.out.txt").read_text(encoding="utf-8")
