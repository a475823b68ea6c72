"""Planner behaviour that mutation testing found unpinned (docs/mutation.md, mut-outreach):
each test here fails on a surviving mutant of rulec/outreach (offers.py, planner.py,
plan_run.py) and is keyed to the clause it pins. Through the Planner API only."""

import datetime as dt
import json
import pathlib

import pytest
from outreach_helpers import table

from rulec.errors import InputError
from rulec.outreach.planner import Planner

CASES = pathlib.Path(__file__).parent / "cases"


def case(name):
    return json.loads((CASES / f"{name}.json").read_text("utf-8"))


def sends(result):
    return [(s["campaign"], s["consumer"], s["items"]) for s in result.sends]


# O6 + O11: the cart window runs up to the send time itself (20:00 on the eve of 11-11).
CART = case("o6_cart_15_days")
CART_NOW = CART["runs"][0]["now"]  # 20:30, half an hour after the scheduled 20:00


def cart_plan(tmp_path, adds):
    line = {"consumer": "k", "exclusive": True, "purchases": [], "interested": False}
    line["cart_adds"] = [{"time": t, "item": i} for t, i in adds]
    with Planner(table(CART["rules"]), tmp_path / "l.db") as p:
        return p.plan([line], CART_NOW)


def test_o6_an_item_carted_at_the_send_time_itself_is_in_the_window(tmp_path):
    r = cart_plan(tmp_path, [("2023-11-10T20:00:00+08:00", "last")])
    assert sends(r) == [("cart", "k", ["last"])]


def test_o6_an_item_carted_after_the_send_time_is_not(tmp_path):
    r = cart_plan(tmp_path, [("2023-11-10T20:00:01+08:00", "late")])
    assert sends(r) == []
    assert r.report["skips"] == {"not_in_audience": 1}


def test_o6_several_adds_keep_the_window_edges_and_each_item_once(tmp_path):
    """The path for several adds: both window edges in, outside times out, repeats once,
    in the order first carted."""
    adds = [
        ("2023-11-10T20:00:00+08:00", "b"),  # the send time: in
        ("2023-10-26T20:00:00+08:00", "a"),  # 15 days before: in
        ("2023-10-26T19:59:59+08:00", "old"),
        ("2023-11-10T20:00:01+08:00", "late"),
        ("2023-11-01T10:00:00+08:00", "b"),
    ]
    assert sends(cart_plan(tmp_path, adds)) == [("cart", "k", ["b", "a"])]


# O8: "re-validated at send time; with no valid promotion nothing is sent". A super discount
# opened by a run that stopped on a bad line is resumed by the next run (O12), which checks the
# activities again: given none, its consumers are skipped, not sent an empty announcement.
SUPER = case("o8_super_discount")
SUPER_NOW = SUPER["runs"][0]["now"]


def super_line(cid):
    return {"consumer": cid, "exclusive": True, "interested": True, "purchases": []}


def test_o8_a_resumed_super_discount_without_a_valid_activity_sends_nothing(tmp_path):
    ledger = tmp_path / "l.db"
    with Planner(table(SUPER["rules"]), ledger) as p:
        bad = {"consumer": "bad", "exclusive": True, "purchases": []}  # no `interested`: E886
        with pytest.raises(InputError):
            p.plan([super_line("first"), bad], SUPER_NOW, activities=SUPER["activities"])
    with Planner(table(SUPER["rules"]), ledger) as p:
        r = p.plan([super_line("later")], SUPER_NOW, activities=[])
    assert r.report["campaigns"]["super"]["status"] == "resumed"
    assert r.sends == []
    assert r.report["skips"] == {"no_valid_activity": 1}


def test_o8_the_resumed_run_announces_the_activities_valid_now(tmp_path):
    """The other side: resumed with the activities, the consumer gets them."""
    ledger = tmp_path / "l.db"
    with Planner(table(SUPER["rules"]), ledger) as p:
        bad = {"consumer": "bad", "exclusive": True, "purchases": []}
        with pytest.raises(InputError):
            p.plan([super_line("first"), bad], SUPER_NOW, activities=SUPER["activities"])
    with Planner(table(SUPER["rules"]), ledger) as p:
        r = p.plan([super_line("later")], SUPER_NOW, activities=SUPER["activities"])
    assert [(s["consumer"], sorted(s["activities"])) for s in r.sends] == [
        ("later", ["ok-12", "ok-20"])
    ]


def test_o12_a_campaign_not_yet_due_is_reported_without_a_reason(tmp_path):
    """O12: before its time a campaign is `not_due`: no reason (nothing was decided), no
    sends, no skips, no shard counts."""
    with Planner(table(), tmp_path / "l.db") as p:
        r = p.plan([{"consumer": "c1", "attrs": {"spend": 600}}], "2023-12-12T09:10:00+08:00")
    entry = r.report["campaigns"]["nw"]
    assert entry == {
        "kind": "new_arrival",
        "at": "2023-12-12T09:30:00+08:00",
        "status": "not_due",
        "sends": {},
        "skips": {},
    }
    assert r.report["campaigns"]["wk"]["status"] == "sent"


def test_o12_o14_a_campaign_not_yet_due_asks_no_columns_even_when_left_started(tmp_path):
    """O12 + O14: a Parquet audience is asked only for the columns of the campaigns this run
    sends. A run at 14:00 opens the recall (due 14:00) and stops on a bad line, leaving it
    started; a run at 13:00 on the same ledger finds the recall not yet due, so an audience
    without `purchases` / `exclusive` (the recall's fields, O7) is planned, not refused. Once
    the recall is due again (14:30) the same audience is refused whole (E888), nothing sent."""
    pytest.importorskip("pyarrow")
    from outreach_helpers import NOW, to_parquet

    ledger = tmp_path / "l.db"
    with Planner(table(), ledger) as p:
        bad = {"consumer": "bad", "exclusive": True}  # no `purchases`: E886 (O7)
        with pytest.raises(InputError):
            p.plan([{"consumer": "c0", "exclusive": False, "purchases": []}, bad], NOW)
    aud = tmp_path / "a.parquet"
    to_parquet([{"consumer": "c1", "attrs": {"spend": 600}}], aud)
    with Planner(table(), ledger) as p:
        r = p.plan(str(aud), "2023-12-12T13:00:00+08:00")
    assert {n: e["status"] for n, e in r.report["campaigns"].items()} == {
        "wk": "resumed",
        "nw": "resumed",
        "rc": "not_due",
    }
    assert sorted((s["campaign"], s["consumer"]) for s in r.sends) == [("nw", "c1"), ("wk", "c1")]
    with Planner(table(), ledger) as p:
        with pytest.raises(InputError) as ei:
            p.plan(str(aud), "2023-12-12T14:30:00+08:00")
    assert ei.value.diagnostics[0].code == "E888"
    assert "'purchases'" in ei.value.diagnostics[0].message


def test_o12s_a_campaign_due_this_very_second_is_held_to_its_shard_count(tmp_path):
    """O12s: a campaign is due at its time itself (O12), so its shard count is checked then
    too. The recall (14:00) planned at 14:00 as shard 1/2 and finished; at 14:00 again as
    shard 1/3 the run is refused whole (S940, naming the ledger and the N to use), not taken
    for shard 1 of the earlier split and reported done."""
    from outreach_helpers import NOW, RULES

    from rulec.errors import StoreError

    rules = dict(RULES, campaigns=[c for c in RULES["campaigns"] if c["name"] == "rc"])
    line = {"consumer": "c0", "exclusive": True, "purchases": []}
    ledger = tmp_path / "l.db"
    with Planner(table(rules), ledger) as p:
        first = p.plan([line], NOW, shard="1/2")
        assert first.report["campaigns"]["rc"]["status"] == "sent"
        with pytest.raises(StoreError) as ei:
            p.plan([line], NOW, shard="1/3")
    assert ei.value.code == "S940"
    msg = ei.value.diagnostics[0].message
    assert msg.startswith(f"ledger {ledger}: campaign 'rc'") and "--shard I/2" in msg


def test_o12s_the_largest_shard_count_is_allowed_and_one_more_is_e880(tmp_path):
    """O12s: a split in up to 100,000 shards is planned; 100,001 is refused (E880) with the
    rule to follow in the message."""
    line = {"consumer": "c1", "attrs": {"spend": 600}}
    with Planner(table(), tmp_path / "l.db") as p:
        r = p.plan([line], "2023-12-12T09:10:00+08:00", shard="100000/100000")
        assert r.report["shard"] == "100000/100000"
        assert r.report["campaigns"]["wk"]["shards"] == 100_000
        with pytest.raises(InputError) as ei:
            p.plan([line], "2023-12-12T09:10:00+08:00", shard="1/100001")
    d = ei.value.diagnostics[0]
    assert d.code == "E880"
    assert d.message == (
        "shard '1/100001': write I/N with 1 <= I <= N <= 100,000 "
        "(shard I of an audience split in N parts, O12s)"
    )


@pytest.mark.parametrize(
    "now,code,message",
    [
        ("noon", "E820", "now: 'noon' is not an ISO-8601 date-time"),
        (
            "2023-12-12T14:00:00",
            "E820",
            "now: time '2023-12-12T14:00:00' has no UTC offset (write e.g. +08:00)",
        ),
        (dt.datetime(2023, 12, 12, 14), "E820", "now must be a time with a UTC offset"),
        (5, "E820", "now must be a time with a UTC offset"),
        (
            "9999-12-31T20:00:00+00:00",
            "E882",
            "now: 9999-12-31T20:00:00+00:00 lies outside the times rulec can plan with "
            "(0001-02-01 to 9999-11-30, UTC) (O14)",
        ),
    ],
)
def test_o14_a_bad_now_is_refused_saying_what_is_wrong(tmp_path, now, code, message):
    """O14: the planning moment is checked first; each refusal says what is wrong with it."""
    with Planner(table(), tmp_path / "l.db") as p:
        with pytest.raises(InputError) as ei:
            p.plan([{"consumer": "c1"}], now)
    d = ei.value.diagnostics[0]
    assert (d.code, d.message) == (code, message)


def test_sends_are_collected_only_when_neither_out_nor_on_send_takes_them(tmp_path):
    """Planner.plan: sends go to `out` (JSON Lines) or `on_send`; only with neither are they
    collected in the result, so a streamed run holds none of them in memory."""
    import io

    lines = [{"consumer": "c1", "attrs": {"spend": 600}}]
    got: list = []
    with Planner(table(), tmp_path / "l.db") as p:
        r = p.plan(lines, "2023-12-12T09:10:00+08:00", out=io.StringIO())
        assert r.sends is None
        r = p.plan(lines, "2023-12-12T09:40:00+08:00", on_send=got.append)
        assert r.sends is None and [s["campaign"] for s in got] == ["nw"]


def test_o14_an_empty_audience_is_e881_saying_how_to_run_on_it_anyway(tmp_path):
    """O14: an audience without a consumer line is refused (E881), the message naming the
    audience, what the run would do and the flag that allows it; nothing is opened."""
    with Planner(table(), tmp_path / "l.db") as p:
        with pytest.raises(InputError) as ei:
            p.plan([], "2023-12-12T14:00:00+08:00")
        assert p.ledger.campaign_states((1, 1)) == {}
    d = ei.value.diagnostics[0]
    assert (d.code, d.message) == (
        "E881",
        "audience <audience> has no consumer line: a run on it would settle every due "
        "campaign with nobody reached (O14); pass --allow-empty (allow_empty=True) if that "
        "is meant",
    )


def test_the_default_ledger_is_in_memory(tmp_path, monkeypatch):
    """Planner(table) without a ledger records in memory: no file is written, and a second
    Planner starts from an empty ledger (the same sends again)."""
    monkeypatch.chdir(tmp_path)
    lines = [{"consumer": "c1", "attrs": {"spend": 600}}]
    for _ in range(2):
        with Planner(table()) as p:
            r = p.plan(lines, "2023-12-12T09:10:00+08:00")
        assert [(s["campaign"], s["consumer"]) for s in r.sends] == [("wk", "c1")]
    assert list(tmp_path.iterdir()) == []


def test_a_bad_time_zone_and_batch_size_are_refused_saying_what_is_wrong(tmp_path):
    """B706 for a table whose time zone this machine does not know (a table built by hand,
    not compiled here), E883 for a batch size below 1: exact codes and messages."""
    import copy

    from rulec.errors import TableError
    from rulec.table.format import Table

    body = copy.deepcopy(table().body)
    body["timezone"] = "Mars/Olympus"
    with pytest.raises(TableError) as ei:
        Planner(Table.from_body(body), tmp_path / "l.db")
    d = ei.value.diagnostics[0]
    assert (d.code, d.message) == ("B706", "unknown time zone 'Mars/Olympus'")
    with pytest.raises(InputError) as ei:
        Planner(table(), tmp_path / "l.db", batch_size=0)
    d = ei.value.diagnostics[0]
    assert (d.code, d.message) == ("E883", "batch_size 0: a whole number >= 1")


def test_o12s_s940_names_a_callers_own_ledger_by_its_class(tmp_path):
    """A Planner takes a caller's own Ledger object; one with neither a `url` nor a `path`
    is named by its class in S940 (was "ledger : campaign ..." naming nothing)."""
    from outreach_helpers import NOW, RULES

    from rulec.errors import StoreError
    from rulec.outreach.ledger.base import Ledger
    from rulec.outreach.ledger.sqlite_ledger import SqliteLedger

    class Unnamed:  # a caller's Ledger that says nothing of where it lives
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            if name in ("path", "url"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    Ledger.register(Unnamed)
    rules = dict(RULES, campaigns=[c for c in RULES["campaigns"] if c["name"] == "rc"])
    line = {"consumer": "c0", "exclusive": True, "purchases": []}
    tbl = table(rules)
    with Planner(tbl, Unnamed(SqliteLedger(tmp_path / "l.db", tbl.shop))) as p:
        p.plan([line], NOW, shard="1/2")
        with pytest.raises(StoreError) as ei:
            p.plan([line], NOW, shard="1/3")
    assert ei.value.code == "S940"
    assert ei.value.diagnostics[0].message.startswith("ledger <Unnamed>: campaign 'rc'")


def _green(name, at, crowd):
    return {
        "name": name,
        "kind": "green",
        "date": "2023-12-12",
        "created_at": "2023-12-10T10:00:00+08:00",
        "send_at": at,
        "targets": [{"crowd": crowd, "copy": name}],
    }


def test_o5_a_green_send_of_an_earlier_run_takes_the_date_for_a_later_run(tmp_path):
    """O5: at most one green-channel message per consumer per date, across runs: a consumer
    who got the 07:00 green message in the first run is not sent the 09:00 one of the same
    shop date by the next run on that ledger (reason green_taken), while one who got only
    the batch send of the first run is. 07:00 +08:00 is 23:00 UTC of the day before: the
    date is the shop's, not UTC's."""
    from outreach_helpers import RULES

    g7 = _green("g7", "2023-12-12T07:00:00+08:00", "big")  # a only
    g9 = _green("g9", "2023-12-12T09:00:00+08:00", "mid")  # a and b
    wk = dict(RULES["campaigns"][0], send_at="2023-12-12T07:00:00+08:00")  # big and mid
    lines = [
        {"consumer": "a", "attrs": {"spend": 1200}},
        {"consumer": "b", "attrs": {"spend": 600}},
    ]
    with Planner(table(dict(RULES, campaigns=[g7, wk, g9])), tmp_path / "l.db") as p:
        r1 = p.plan(lines, "2023-12-12T08:00:00+08:00")
        assert sorted((s["campaign"], s["consumer"]) for s in r1.sends) == [
            ("g7", "a"),
            ("wk", "a"),
            ("wk", "b"),
        ]
        r2 = p.plan(lines, "2023-12-12T09:30:00+08:00")
    assert [(s["campaign"], s["consumer"]) for s in r2.sends] == [("g9", "b")]
    assert r2.report["campaigns"]["g9"]["skips"] == {"green_taken": 1}


def test_progress_reports_bytes_read_of_the_file_size_and_consumers(tmp_path):
    """`Planner.plan(on_progress=)` (what `rulec plan` draws its progress bar from) is told,
    after each batch and once at the end, the bytes read, the audience file's size and the
    consumers planned so far."""
    from outreach_helpers import NOW

    aud = tmp_path / "a.jsonl"
    aud.write_text(
        "".join(
            json.dumps({"consumer": f"c{i}", "attrs": {"spend": 600}, "exclusive": False}) + "\n"
            for i in range(5)
        )
    )
    calls = []
    with Planner(table(), tmp_path / "l.db", batch_size=2) as p:
        p.plan(str(aud), NOW, on_progress=lambda *a: calls.append(a))
    size = aud.stat().st_size
    assert [total for _done, total, _n in calls] == [size] * len(calls)
    assert [n for _done, _total, n in calls] == [2, 4, 5]
    assert calls[-1][0] == size


def test_o14_purchases_are_checked_only_when_a_due_campaign_reads_them(tmp_path):
    """O14 checks what the run reads: `purchases` is read by the recall and the super
    discount (O7, O8) only, so with just a batch campaign due a line whose `purchases` is not
    a list is planned as any other; with the recall due the same line is refused."""
    from outreach_helpers import RULES

    line = {"consumer": "a", "attrs": {"spend": 600}, "purchases": "yesterday"}
    batch_only = dict(RULES, campaigns=[RULES["campaigns"][0]])
    with Planner(table(batch_only), tmp_path / "l.db") as p:
        r = p.plan([line], "2023-12-12T14:00:00+08:00")
    assert [(s["campaign"], s["consumer"]) for s in r.sends] == [("wk", "a")]
    with_recall = dict(RULES, campaigns=[RULES["campaigns"][2]])
    with Planner(table(with_recall), tmp_path / "m.db") as p, pytest.raises(InputError) as ei:
        p.plan([dict(line, exclusive=True)], "2023-12-12T14:00:00+08:00")
    assert "purchases" in ei.value.diagnostics[0].message


@pytest.mark.parametrize("impl", ["python", "cython"])
def test_sends_printed_and_handed_to_on_send_together_reach_both(tmp_path, impl):
    """`out=` and `on_send=` together: every send is printed and handed to on_send, on both
    loops (the Cython loop prints only, so such a run stays with its pure twin)."""
    import io

    from rulec.outreach import plan_run

    if impl == "cython" and plan_run._plan is None:
        pytest.skip("the Cython loop is not built")
    from outreach_helpers import NOW

    got, out = [], io.StringIO()
    line = {"consumer": "a", "attrs": {"spend": 600}, "exclusive": False}
    with Planner(table(), tmp_path / "l.db", impl=impl) as p:
        p.plan([line], NOW, out=out, on_send=got.append)
    printed = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(s["campaign"], s["consumer"]) for s in got] == [("wk", "a"), ("nw", "a")]
    assert [(s["campaign"], s["consumer"]) for s in printed] == [("wk", "a"), ("nw", "a")]
