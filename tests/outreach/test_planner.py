"""Planner API and rules that scenarios cannot reach: O2 symmetry across runs, O12 resume, O13 keys, reports."""

import json

import pytest
from outreach_helpers import NOW, RULES, consumer, expected, table

import rulec
from rulec.errors import InputError
from rulec.outreach.planner import Planner


def test_planner_is_lazily_exported():
    assert rulec.Planner is Planner


def test_api_collects_sends_and_matches_the_clauses(tmp_path):
    """O1, O3, O7: the API run decides exactly the owed sends, with contract fields."""
    with Planner(table(), tmp_path / "l.db") as p:
        r = p.plan([consumer(i) for i in range(300)], NOW)
    assert {(s["campaign"], s["consumer"]) for s in r.sends} == expected(300)
    s = next(s for s in r.sends if s["campaign"] == "wk" and s["consumer"] == "c14")
    assert s == {
        "campaign": "wk",
        "consumer": "c14",
        "channel": "regular",
        "at": "2023-12-12T09:00:00+08:00",
        "copy": "MID",
        "coupon": None,
        "items": [],
        "activities": [],
    }


def test_o2_cap_is_symmetric_across_runs(tmp_path):
    """O2: a regular send recorded for a LATER time still blocks an earlier one added later."""
    later = dict(
        RULES,
        outreach={"max_delay": "48h"},
        campaigns=[
            {
                "name": "later",
                "kind": "batch",
                "send_at": "2024-01-10T10:00:00+08:00",
                "targets": [{"crowd": "mid", "copy": "L"}],
            }
        ],
    )
    both = dict(
        later,
        campaigns=later["campaigns"]
        + [
            {
                "name": "earlier",
                "kind": "batch",
                "send_at": "2024-01-04T10:00:01+08:00",
                "targets": [{"crowd": "mid", "copy": "E"}],
            },
            {
                "name": "week",
                "kind": "batch",
                "send_at": "2024-01-03T10:00:00+08:00",
                "targets": [{"crowd": "mid", "copy": "W"}],
            },
        ],
    )
    aud = [{"consumer": "u", "attrs": {"spend": 600}}]
    db = tmp_path / "l.db"
    with Planner(table(later), db) as p:
        assert [s["campaign"] for s in p.plan(aud, "2024-01-10T10:00:00+08:00").sends] == ["later"]
    with Planner(table(both), db) as p:
        r = p.plan(aud, "2024-01-04T10:30:00+08:00")
    # earlier is 6d23h59m59s before `later`: capped; week is exactly 7x24h before: allowed
    assert [s["campaign"] for s in r.sends] == ["week"]
    assert r.report["campaigns"]["earlier"]["skips"] == {"capped": 1}


def test_o12_interrupted_run_is_completed_by_the_next(tmp_path):
    """O12, O13: a run that stops on a bad line leaves the campaign open; the re-run completes it
    and nothing is decided twice."""
    lines = [json.dumps(consumer(i)) for i in range(50)]
    bad = lines[:30] + ["{not json"] + lines[30:]
    db = tmp_path / "l.db"
    with Planner(table(), db, batch_size=10) as p:
        first = []
        with pytest.raises(InputError) as exc:
            p.plan(bad, NOW, on_send=first.append)
        assert exc.value.code == "E801" and ":31:" in exc.value.diagnostics[0].message
        assert p.ledger.campaign_states()["wk"].status == "started"
        second = p.plan(lines, NOW).sends
        assert p.ledger.campaign_states()["wk"].status == "finished"
        recorded = {(n, c) for n, c, _ch, _at in p.ledger.sends()}
    keys = [(s["campaign"], s["consumer"]) for s in first + second]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected(50)
    assert recorded == expected(50)


def test_o12_finished_campaign_ignores_new_consumers(tmp_path):
    db = tmp_path / "l.db"
    with Planner(table(), db) as p:
        p.plan([consumer(1)], NOW)
        r = p.plan([consumer(i) for i in range(100)], "2023-12-12T15:00:00+08:00")
    assert r.sends == []
    assert r.report["campaigns"]["wk"]["status"] == "done"


def test_duplicate_lines_in_one_batch_send_once(tmp_path):
    with Planner(table(), tmp_path / "l.db") as p:
        r = p.plan([consumer(14)] * 5, NOW)
    assert sorted(s["campaign"] for s in r.sends) == ["nw", "wk"]
    assert r.report["skips"]["already_sent"] == 8


def test_report_counts_sends_and_skips(tmp_path):
    """--report: sends per campaign and channel, skips per reason."""
    with Planner(table(), tmp_path / "l.db") as p:
        rep = p.plan([consumer(i) for i in range(21)], NOW).report
    exp = expected(21)
    assert rep["consumers"] == 21
    assert rep["sends"]["wk"] == {"regular": sum(1 for k in exp if k[0] == "wk")}
    assert rep["sends"]["rc"] == {"exempt": sum(1 for k in exp if k[0] == "rc")}
    assert rep["skips"]["purchased"] == 1  # c0 is the one exclusive buyer among c0..c20
    assert rep["campaigns"]["rc"]["skips"]["not_exclusive"] == 14


def test_o12_missed_is_reported_once(tmp_path):
    with Planner(table(), tmp_path / "l.db") as p:
        r = p.plan([consumer(14)], "2023-12-13T09:30:01+08:00")
        assert r.report["campaigns"]["wk"]["status"] == "missed"
        assert r.report["skips"]["missed"] == 2  # wk missed (24h+1s); nw missed; rc (19h30) runs
        r2 = p.plan([consumer(14)], "2023-12-13T10:00:00+08:00")
        assert r2.report["campaigns"]["wk"]["status"] == "done"
        assert "missed" not in r2.report["skips"]


def test_ledger_of_another_shop_is_refused(tmp_path, cli):
    from rulec.errors import StoreError

    db = tmp_path / "l.db"
    Planner(table(), db).close()
    with pytest.raises(StoreError) as exc:
        Planner(table(dict(RULES, shop="other")), db)
    assert exc.value.code == "S902"


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"facts": {"advanced_relationships_this_month": 10000}}, "not_eligible"),  # O7
        ({"campaign": {"configured_at": "2023-12-11T22:00:00+08:00"}}, "deadline_passed"),  # O10
        ({"campaign": {"copy": None}}, "not_configured"),  # O7 copy required
    ],
)
def test_runtime_recheck_of_a_table_built_without_checks(tmp_path, change, reason):
    """O7, O9, O10 hold even for a table that skipped `rulec check` (Table.from_body)."""
    import copy

    from rulec.table.format import Table

    body = copy.deepcopy(table().body)
    body["facts"].update(change.get("facts", {}))
    rc = next(c for c in body["campaigns"] if c["name"] == "rc")
    rc.update(change.get("campaign", {}))
    with Planner(Table.from_body(body), tmp_path / "l.db") as p:
        r = p.plan([consumer(i) for i in range(30)], NOW)
    assert not [s for s in r.sends if s["campaign"] == "rc"]
    entry = r.report["campaigns"]["rc"]
    assert (entry["status"], entry["reason"]) == ("skipped", reason)
    assert entry["skips"] == {reason: 30}


def test_targeted_campaign_without_targets_sends_nothing(tmp_path):
    """O1: a table (built without checks) whose batch has no targets reaches nobody."""
    import copy

    from rulec.table.format import Table

    body = copy.deepcopy(table().body)
    body["campaigns"] = [dict(body["campaigns"][0], targets=[])]
    with Planner(Table.from_body(body), tmp_path / "l.db") as p:
        r = p.plan([consumer(14)], NOW)
    assert r.sends == [] and r.report["skips"] == {"not_in_audience": 1}


def test_o13_interleaved_planners_share_the_work_exactly_once(tmp_path):
    """O13: planner B runs in full between two batches of planner A on the same ledger file:
    A's later batches find B's sends, nothing is decided twice and nothing is lost."""
    db = tmp_path / "l.db"
    people = [consumer(i) for i in range(200)]
    b_sends = []

    def audience_of_a():
        for k, c in enumerate(people):
            if k == 60:  # A has recorded 3 batches of 20 and holds no lock now
                with Planner(table(), db, batch_size=20) as b:
                    b_sends.extend(b.plan(people, NOW).sends)
            yield c

    with Planner(table(), db, batch_size=20) as a:
        r = a.plan(audience_of_a(), NOW)
        a_keys = {(s["campaign"], s["consumer"]) for s in r.sends}
        recorded = {(n, c) for n, c, _ch, _at in a.ledger.sends()}
    b_keys = {(s["campaign"], s["consumer"]) for s in b_sends}
    assert a_keys and b_keys and not a_keys & b_keys
    assert a_keys | b_keys == expected(200) == recorded
    assert {c for _n, c in a_keys} <= {f"c{i}" for i in range(60)}
    assert r.report["skips"]["already_sent"] == len(b_keys)


@pytest.mark.parametrize("cid", ['a"b', "back\\slash", "tab\there", "line\u2028sep", "小王"])
def test_consumer_ids_are_escaped_in_json_lines(tmp_path, cid):
    import io

    out = io.StringIO()
    with Planner(table(), tmp_path / "l.db") as p:
        p.plan([{"consumer": cid, "attrs": {"spend": 600}, "exclusive": False}], NOW, out=out)
    sends = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {s["consumer"] for s in sends} == {cid} and len(sends) == 2


def test_check_api_takes_now_as_datetime_or_string():
    """O10 through the lead's pipeline: compile_source(..., now=...) runs outreach.check."""
    import datetime as dt

    from rulec.compiler.pipeline import compile_source

    rules = dict(
        RULES, campaigns=[{k: v for k, v in RULES["campaigns"][2].items() if k != "configured_at"}]
    )
    src = json.dumps(rules, ensure_ascii=False)
    late = dt.datetime(2023, 12, 11, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for now in (late, "2023-12-11T22:00:00+08:00"):
        res = compile_source(src, file="s.yaml", now=now)
        assert [d.code for d in res.errors] == ["O651"], res.diagnostics
    assert compile_source(src, file="s.yaml").ok


@pytest.mark.parametrize(
    "field,value", [("configured_at", "soon"), ("send_at", "2023-12-12"), ("date", "12/12")]
)
def test_table_with_bad_campaign_times_is_a_table_error(tmp_path, field, value):
    import copy

    from rulec.errors import TableError
    from rulec.table.format import Table

    body = copy.deepcopy(table().body)
    body["campaigns"][2][field] = value
    with Planner(Table.from_body(body), tmp_path / "l.db") as p:
        with pytest.raises(TableError) as exc:
            p.plan([consumer(1)], NOW)
    assert exc.value.code == "B706" and "rc" in str(exc.value)


def test_collector_threshold_is_raised_by_the_cli_only(tmp_path):
    """Speed only (no clause): GC tuning is the application's (issue 9). The library leaves the
    collector alone; `rulec plan` raises the first threshold while it plans and restores it
    afterwards, also when a bad line (E801) stops the run."""
    import gc
    import io
    import json

    from outreach_helpers import RULES

    from rulec.cli import gc_tuning, plan_cmd

    before = gc.get_threshold()
    raised = gc_tuning.GC_GEN0 if 0 < before[0] < gc_tuning.GC_GEN0 else before[0]
    seen = []
    with Planner(table(), tmp_path / "l.db") as p:
        p.plan(
            [consumer(i) for i in range(10)],
            NOW,
            on_send=lambda s: seen.append(gc.get_threshold()[0]),
        )
    assert seen and set(seen) == {before[0]}

    class Out(io.StringIO):
        def write(self, s):
            seen.append(gc.get_threshold()[0])
            return super().write(s)

    shop = tmp_path / "shop.yaml"
    shop.write_text(json.dumps(RULES), encoding="utf-8")
    for k, lines in enumerate(([consumer(i) for i in range(10)], [consumer(1), "{not json}"])):
        aud = tmp_path / f"a{k}.jsonl"
        aud.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
        seen.clear()
        args = [
            str(shop),
            "--audience",
            str(aud),
            "--ledger",
            str(tmp_path / f"c{k}.db"),
            "--now",
            NOW,
        ]
        assert plan_cmd.run(args, Out(), io.StringIO()) == k
        assert seen and set(seen) == {raised}
        assert gc.get_threshold() == before
