"""O14: a run never settles a campaign on doubtful input; the API raises coded errors only."""

import json

import pytest
from outreach_helpers import NOW, RULES, consumer, expected, table

from rulec.errors import InputError, RulecError, StoreError, TableError
from rulec.outreach.planner import Planner

GOOD = [json.dumps(consumer(i)) for i in range(12, 18)]


@pytest.fixture
def shop(tmp_path):
    p = tmp_path / "shop.yaml"
    p.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    return p


def _plan(cli, shop, aud, ledger, *extra, now=NOW):
    return cli("plan", shop, "--audience", aud, "--ledger", ledger, "--now", now, *extra)


def _states(ledger):
    from rulec.outreach.ledger.sqlite_ledger import SqliteLedger

    with SqliteLedger(ledger, RULES["shop"]) as led:
        return led.campaign_states(), led.sends()


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_audience_is_refused_unless_allowed(cli, shop, tmp_path, text):
    """The defect: an empty file finished every due campaign with exit 0, and the real
    audience got nothing afterwards."""
    aud = tmp_path / "a.jsonl"
    aud.write_text(text, encoding="utf-8")
    ledger = tmp_path / "l.db"
    r = _plan(cli, shop, aud, ledger)
    assert r.code == 1 and "E881" in r.err and "--allow-empty" in r.err and r.out == ""
    assert _states(ledger) == ({}, [])
    real = tmp_path / "real.jsonl"
    real.write_text("".join(x + "\n" for x in GOOD), encoding="utf-8")
    r = _plan(cli, shop, real, ledger)
    assert r.code == 0 and {tuple(json.loads(x).values())[:2] for x in r.out.splitlines()} == (
        expected(18) - expected(12)
    )
    r = _plan(cli, shop, aud, tmp_path / "l2.db", "--allow-empty")
    assert r.code == 0 and r.out == ""


@pytest.mark.parametrize(
    "now,code",
    [
        ("9999-12-31T20:00:00+00:00", "E882"),
        ("0001-01-01T00:00:00+00:00", "E882"),
        ("9999-12-31T23:59:59-12:00", "E882"),
        ("2023-12-12T14:00:00", "E820"),
        ("2023-12-12 14:00", "E820"),
    ],
)
def test_now_beyond_the_calendar_is_refused_before_recording(cli, shop, tmp_path, now, code):
    """The defect: campaigns were recorded as missed, then an OverflowError traceback."""
    aud = tmp_path / "a.jsonl"
    aud.write_text("".join(x + "\n" for x in GOOD), encoding="utf-8")
    ledger = tmp_path / "l.db"
    r = _plan(cli, shop, aud, ledger, now=now)
    assert r.code == 1 and code in r.err and "Traceback" not in r.err and r.out == ""
    if ledger.exists():
        assert _states(ledger) == ({}, [])
    assert _plan(cli, shop, aud, ledger).code == 0  # the correct run still sends


@pytest.mark.parametrize(
    "change",
    [
        {"send_at": "9999-12-31T23:59:59-12:00"},
        {"send_at": "0001-01-01T00:00:00+14:00"},
        {"configured_at": "9999-12-31T23:00:00+00:00"},
    ],
)
def test_campaign_times_beyond_the_calendar_are_refused(tmp_path, change):
    """A campaign time the calendar cannot plan with: B706 naming the campaign, before the
    ledger records anything, whatever the compiler accepted."""
    from rulec.table.format import Table

    body = json.loads(json.dumps(table().body))
    body["campaigns"][0].update(change)
    with Planner(Table.from_body(body), tmp_path / "l.db") as p:
        with pytest.raises(TableError) as exc:
            p.plan(GOOD, NOW)
        assert exc.value.code == "B706" and "wk" in str(exc.value)
        assert p.ledger.campaign_states() == {}


def test_promo_last_day_beyond_the_calendar_is_refused(tmp_path):
    from rulec.table.format import Table

    body = json.loads(json.dumps(table().body))
    body["promos"]["d12"]["last_day"] = "0001-01-01"
    with Planner(Table.from_body(body), tmp_path / "l.db") as p:
        with pytest.raises(TableError) as exc:
            p.plan(GOOD, NOW)
    assert exc.value.code == "B706"


def test_calendar_bound_is_shared():
    import datetime as dt

    from rulec.common import calendar as cal

    cal.check_representable(cal.parse_time(NOW))
    cal.check_representable(dt.date(2023, 12, 12))
    for bad in (dt.date(1, 1, 1), cal.parse_time("9999-12-31T00:00:00Z"), "2023"):
        with pytest.raises(ValueError):
            cal.check_representable(bad)


def test_three_broken_lines_joining_into_json_are_refused(cli, shop, tmp_path):
    """The defect: the batch fast path decoded lines joined by commas, so broken lines that
    joined into valid JSON swallowed one consumer and gave another two sends; with --batch 1
    the same file was refused. Every line is now checked on its own, whatever the batching."""
    lines = [
        '{"consumer": "c13", "exclusive": false, "attrs": {"spend": 900}, "k": [{}',
        "{}]}",
        '{"consumer": "c14", "exclusive": false, "attrs": {"spend": 900}}, '
        '{"consumer": "c15", "exclusive": false, "attrs": {"spend": 900}}',
    ]
    aud = tmp_path / "a.jsonl"
    aud.write_text("".join(x + "\n" for x in GOOD[:3] + lines + GOOD[3:]), encoding="utf-8")
    for batch in ("1", "2000"):
        ledger = tmp_path / f"l{batch}.db"
        r = _plan(cli, shop, aud, ledger, "--batch", batch)
        assert r.code == 1 and "E801" in r.err and f"{aud}:4:" in r.err, r
        got = {(s["campaign"], s["consumer"]) for s in map(json.loads, r.out.splitlines())}
        assert got == expected(15) - expected(12)  # the three lines before, recorded
        assert {(n, c) for n, c, _ch, _at in _states(ledger)[1]} == got


def test_report_naming_a_directory_is_refused_before_planning(cli, shop, tmp_path):
    """The defect: the sends were recorded and printed, then the report failed (exit 1)."""
    aud = tmp_path / "a.jsonl"
    aud.write_text("".join(x + "\n" for x in GOOD), encoding="utf-8")
    ledger = tmp_path / "l.db"
    (tmp_path / "rep").mkdir()
    for rep in (tmp_path / "rep", tmp_path / "nodir" / "r.json"):
        r = _plan(cli, shop, aud, ledger, "--report", rep)
        assert r.code == 2 and "cannot write the report" in r.err and r.out == ""
        assert not ledger.exists() or _states(ledger) == ({}, [])


@pytest.mark.parametrize("ledger", [123, 1.5, None, b"l.db", ["l.db"]])
def test_api_ledger_of_the_wrong_type(ledger, tmp_path, monkeypatch):
    """The defect: Planner(table, 123) created a SQLite file named `123`."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as exc:
        Planner(table(), ledger)
    assert exc.value.code == "S945"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "audience,code",
    [
        ([None], "E883"),
        ([["c1"]], "E883"),
        ([123], "E883"),
        (None, "E883"),
        (5, "E883"),
        ({"consumer": "c1"}, "E883"),
        ([{"consumer": ["c1"], "exclusive": False}], "E806"),
        ([{"consumer": "c1", "exclusive": "no"}], "E806"),
        (['{"consumer": "c1", "exclusive": false, "attrs": {"spend": NaN}}'], "E884"),
    ],
)
def test_api_bad_audience_is_a_coded_error(tmp_path, audience, code):
    with Planner(table(), tmp_path / "l.db") as p:
        with pytest.raises(InputError) as exc:
            p.plan(audience, NOW)
        assert exc.value.code == code
        assert p.ledger.sends() == []


@pytest.mark.parametrize("kw", [{"batch_size": 0}, {"batch_size": "9"}, {"batch_size": None}])
def test_api_bad_options(tmp_path, kw):
    with pytest.raises(RulecError) as exc:
        Planner(table(), tmp_path / "l.db", **kw)
    assert exc.value.code == "E883"
