"""`rulec plan` at the command line: bad input gets E8xx/S9xx errors with line numbers, never a traceback."""

import json

import pytest
from outreach_helpers import NOW, RULES, consumer, expected


@pytest.fixture
def shop(tmp_path):
    p = tmp_path / "shop.yaml"
    p.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    return p


def _aud(tmp_path, lines, name="aud.jsonl"):
    p = tmp_path / name
    p.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return p


def _plan(cli, shop, aud, tmp_path, *extra):
    return cli("plan", shop, "--audience", aud, "--ledger", tmp_path / "l.db", "--now", NOW, *extra)


GOOD = [json.dumps(consumer(i)) for i in range(12, 18)]


@pytest.mark.parametrize(
    "line,code",
    [
        ("{oops", "E801"),
        ("[1, 2]", "E801"),
        ('{"attrs": {}}', "E806"),
        ('{"consumer": ""}', "E806"),
        ('{"consumer": "x", "attrs": [1]}', "E806"),
        ('{"consumer": "x", "crowds": "vip"}', "E806"),
        ('{"consumer": "x", "exclusive": "yes"}', "E806"),
        ('{"consumer": "x", "exclusive": true, "purchases": ["2023-12-05 10:00"]}', "E804"),
        ('{"consumer": "x", "exclusive": true, "purchases": ["yesterday"]}', "E804"),
        ('{"consumer": "x", "exclusive": true}', "E886"),  # recall reads purchases (O7)
        ('{"consumer": "x", "purchases": []}', "E886"),  # every line: exclusive (O6-O8)
        ('{"consumer": "x", "exclusive": false, "attrs": {"spend": NaN}}', "E884"),
        ('{"consumer": "x", "exclusive": false, "attrs": {"spend": 1e400}}', "E884"),
        ('{"consumer": "x", "exclusive": false, "attrs": {"spend": -Infinity}}', "E884"),
    ],
)
def test_bad_line_names_line_and_code(cli, shop, tmp_path, line, code):
    aud = _aud(tmp_path, GOOD[:3] + [line] + GOOD[3:])
    r = _plan(cli, shop, aud, tmp_path)
    assert r.code == 1, r
    assert f"[{code}]" in r.err and f"{aud}:4:" in r.err, r.err
    assert "Traceback" not in r.err


def test_keep_going_skips_and_counts(cli, shop, tmp_path):
    aud = _aud(tmp_path, GOOD[:3] + ["{oops", '{"consumer": 5}'] + GOOD[3:])
    rep = tmp_path / "rep.json"
    r = _plan(cli, shop, aud, tmp_path, "--keep-going", "--report", rep)
    assert r.code == 0, r
    assert "skipped 2 malformed audience lines" in r.err
    got = {(s["campaign"], s["consumer"]) for s in map(json.loads, r.out.splitlines())}
    assert got == expected(18) - expected(12)
    report = json.loads(rep.read_text(encoding="utf-8"))
    assert report["bad_lines"] == 2 and report["consumers"] == 6
    channel = {"wk": "regular", "nw": "exempt", "rc": "exempt"}
    counts = {}
    for name, _c in got:
        counts.setdefault(name, {channel[name]: 0})[channel[name]] += 1
    assert report["sends"] == counts and counts["wk"]["regular"] > 0


def test_output_is_utf8_json_lines(cli, tmp_path):
    rules = dict(
        RULES,
        campaigns=[
            {
                "name": "双12",
                "kind": "batch",
                "send_at": "2023-12-12T09:00:00+08:00",
                "targets": [{"crowd": "mid", "copy": "大促 专享"}],
            }
        ],
    )
    shop = tmp_path / "s.yaml"
    shop.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    r = _plan(
        cli, shop, _aud(tmp_path, ['{"consumer": "小王", "attrs": {"spend": 600}}']), tmp_path
    )
    assert r.code == 0, r
    assert '"copy":"大促 专享"' in r.out and '"consumer":"小王"' in r.out


@pytest.mark.parametrize("now", ["2023-12-12T14:00:00", "tomorrow", "2023-13-01T00:00:00+08:00"])
def test_bad_now(cli, shop, tmp_path, now):
    r = cli(
        "plan",
        shop,
        "--audience",
        _aud(tmp_path, GOOD),
        "--ledger",
        tmp_path / "l.db",
        "--now",
        now,
    )
    assert r.code == 1 and "E820" in r.err


def test_usage_errors_exit_2(cli, shop, tmp_path):
    assert cli("plan", shop, "--ledger", tmp_path / "l.db", "--now", NOW).code == 2
    assert (
        cli("plan", shop, "--audience", "a", "--ledger", "l", "--now", NOW, "--batch", "0").code
        == 2
    )


def test_missing_audience_file(cli, shop, tmp_path):
    r = _plan(cli, shop, tmp_path / "nope.jsonl", tmp_path)
    assert r.code == 1 and "E800" in r.err


def test_bad_activities(cli, shop, tmp_path):
    acts = _aud(
        tmp_path,
        ['{"id": "a", "kind": "gift", "created_at": "2023-12-12T10:00:00+08:00"}'],
        "acts.jsonl",
    )
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path, "--activities", acts)
    assert r.code == 1 and "E813" in r.err and "first_effective_at" in r.err


ACT = {
    "id": "a",
    "kind": "multi_buy",
    "created_at": "2023-12-12T09:00:00+08:00",
    "first_effective_at": "2023-12-12T14:00:00+08:00",
    "edited_from_existing": False,
    "crowd_restricted": False,
    "complete": True,
    "in_stock": True,
}


@pytest.mark.parametrize("field", sorted(set(ACT) - {"id"}))
def test_activity_without_a_field_o8_reads_is_bad_input(cli, shop, tmp_path, field):
    """Settled reading: an activity missing `complete` (or any field O8 reads) is bad input,
    not announced with a default."""
    row = {k: v for k, v in ACT.items() if k != field}
    acts = _aud(tmp_path, [json.dumps(row)], "acts.jsonl")
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path, "--activities", acts)
    assert r.code == 1 and "E813" in r.err and f"`{field}`" in r.err and r.out == ""


@pytest.mark.parametrize(
    "change,code",
    [({"complete": "yes"}, "E814"), ({"kind": 3}, "E814"), ({"created_at": 5}, "E815")],
)
def test_activity_field_of_the_wrong_type(cli, shop, tmp_path, change, code):
    acts = _aud(tmp_path, [json.dumps(dict(ACT, **change))], "acts.jsonl")
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path, "--activities", acts)
    assert r.code == 1 and code in r.err and r.out == ""


@pytest.mark.parametrize(
    "lines,code",
    [(["{oops"], "E811"), (["[1]"], "E812"), (["{}"] * 100_001, "E816"), (None, "E817")],
    ids=["not-json", "not-object", "too-many", "unreadable"],
)
def test_bad_activities_file(cli, shop, tmp_path, lines, code):
    acts = tmp_path / "missing.jsonl" if lines is None else _aud(tmp_path, lines, "acts.jsonl")
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path, "--activities", acts)
    assert r.code == 1 and f"error[{code}]" in r.err and r.out == ""
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    "content,code", [(b"this is not sqlite at all" * 100, "S903"), (None, "S902")]
)
def test_bad_ledger(cli, shop, tmp_path, content, code):
    db = tmp_path / "l.db"
    if content is not None:
        db.write_bytes(content)
    else:
        other = tmp_path / "other.yaml"
        other.write_text(json.dumps(dict(RULES, shop="other")), encoding="utf-8")
        assert _plan(cli, other, _aud(tmp_path, GOOD), tmp_path).code == 0
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path)
    assert r.code == 1 and code in r.err and "Traceback" not in r.err
    assert r.out == ""


def test_foreign_sqlite_file_is_refused(cli, shop, tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "l.db")
    db.execute("CREATE TABLE users (id INTEGER)")
    db.commit()
    db.close()
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path)
    assert r.code == 1 and "S903" in r.err


def test_ledger_directory_missing(cli, shop, tmp_path):
    r = cli(
        "plan",
        shop,
        "--audience",
        _aud(tmp_path, GOOD),
        "--ledger",
        tmp_path / "no" / "l.db",
        "--now",
        NOW,
    )
    assert r.code == 1 and "S901" in r.err


def test_rules_with_errors_plan_nothing(cli, tmp_path):
    bad = dict(RULES, facts=dict(RULES["facts"], advanced_relationships_this_month=10000))
    shop = tmp_path / "s.yaml"
    shop.write_text(json.dumps(bad), encoding="utf-8")
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path)
    assert r.code == 1 and "O643" in r.err and r.out == ""
    assert not (tmp_path / "l.db").exists()


def test_no_progress_bar_when_piped(cli, shop, tmp_path):
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path)
    assert r.code == 0 and r.err == ""


def test_ledger_locked_past_the_timeout_is_a_store_error(tmp_path):
    """A ledger held by another writer longer than the busy timeout: S907, not a traceback."""
    import sqlite3

    from outreach_helpers import table

    from rulec.errors import StoreError
    from rulec.outreach.ledger.sqlite_ledger import SqliteLedger
    from rulec.outreach.planner import Planner

    db = tmp_path / "l.db"
    with Planner(table(), SqliteLedger(db, "hx", timeout=0.05)) as p:
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError) as exc:
                p.plan([consumer(14)], NOW)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert exc.value.code == "S907" and "locked" in exc.value.diagnostics[0].message
    with pytest.raises(StoreError) as exc:  # opening waits, then says so
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            SqliteLedger(db, "hx", timeout=0.05)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert exc.value.code == "S907"


def test_ledger_refuses_to_record_a_send_twice(tmp_path):
    """O13: the ledger itself refuses a (campaign, consumer) it holds (S960) and keeps nothing
    of that batch."""
    from rulec.errors import StoreError
    from rulec.outreach.ledger.sqlite_ledger import SqliteLedger

    led = SqliteLedger(tmp_path / "l.db", "hx")
    led.open_campaigns({"wk": ("started", None, 0)})
    assert led.decide_and_record(["a"], lambda h: [("wk", "a", "regular", 5)])
    printed = []
    for records in (
        [("wk", "a", "regular", 5)],
        [("wk", "b", "exempt", 5), ("wk", "b", "exempt", 5)],
    ):
        with pytest.raises(StoreError) as exc:
            led.decide_and_record(["a", "b"], lambda h, r=records: r, lambda: printed.append(1))
        assert exc.value.code == "S960"
    with pytest.raises(StoreError) as exc:
        led.decide_and_record(["c"], lambda h: [("nope", "c", "exempt", 5)])
    assert exc.value.code == "S962"
    assert printed == [] and led.sends() == [("wk", "a", "regular", 5)]
    assert (
        led.decide_and_record(["a"], lambda h: [] if h["a"] == [("wk", "regular", 5)] else 1) == []
    )
    led.close()


def test_campaign_missed_or_skipped_is_said_on_stderr(cli, tmp_path):
    """O8, O12: a super discount without --activities, and a batch planned too late."""
    rules = dict(
        RULES,
        campaigns=[
            RULES["campaigns"][0],
            {
                "name": "sd",
                "kind": "super_discount",
                "promo": "d12",
                "configured_at": "2023-12-11T10:00:00+08:00",
                "copy": "S",
            },
        ],
    )
    shop = tmp_path / "s.yaml"
    shop.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    r = cli(
        "plan",
        shop,
        "--audience",
        _aud(tmp_path, GOOD),
        "--ledger",
        tmp_path / "l.db",
        "--now",
        "2023-12-13T10:00:00+08:00",
    )
    assert r.code == 0 and r.out == ""
    assert "campaign wk missed" in r.err
    assert "campaign sd skipped: no valid activity at send time (O8); no --activities" in r.err


def test_nothing_due_still_checks_and_counts_the_audience(cli, shop, tmp_path):
    """O12: before any send time nothing is planned, but the audience is read and checked."""
    aud = _aud(tmp_path, GOOD + ["{oops"])
    early = ["--ledger", tmp_path / "l.db", "--now", "2023-12-01T00:00:00+08:00"]
    r = cli("plan", shop, "--audience", aud, *early)
    assert r.code == 1 and f"{aud}:7:" in r.err
    rep = tmp_path / "r.json"
    r = cli("plan", shop, "--audience", aud, *early, "--keep-going", "--report", rep)
    assert r.code == 0 and r.out == ""
    report = json.loads(rep.read_text(encoding="utf-8"))
    assert report["consumers"] == 6 and report["bad_lines"] == 1 and report["sends"] == {}
    assert {e["status"] for e in report["campaigns"].values()} == {"not_due"}


def test_unwritable_report_is_refused_before_planning(cli, shop, tmp_path):
    r = _plan(cli, shop, _aud(tmp_path, GOOD), tmp_path, "--report", tmp_path / "no" / "r.json")
    assert r.code == 2 and "cannot write the report" in r.err
    assert not (tmp_path / "l.db").exists()


def test_stdout_gets_the_bytes_a_text_stream_gets(cli, shop, tmp_path):
    """On a real stdout (UTF-8 on POSIX) the sends go to its binary buffer as UTF-8 (issue
    15, no second encoding): the same bytes a text stream gets, both planner loops."""
    import os
    import subprocess
    import sys

    aud = _aud(tmp_path, [json.dumps(consumer(i), ensure_ascii=False) for i in range(60)])
    text = _plan(cli, shop, aud, tmp_path).out
    assert text.count('"campaign"') > 20
    for pure in ("0", "1"):
        led = tmp_path / f"stdout-{pure}.db"
        args = ["plan", shop, "--audience", aud, "--ledger", led, "--now", NOW]
        env = dict(os.environ, RULEC_PURE=pure, PYTHONIOENCODING="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "rulec", *map(str, args)], capture_output=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == text.encode("utf-8")
