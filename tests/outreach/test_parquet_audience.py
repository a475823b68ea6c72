"""Parquet audiences (`rulec plan --audience part.parquet`): the same sends and ledger as the JSON
Lines form of the same consumers (O1–O13), bad input refused with E887–E894 (O14), streamed."""

import io
import json
import pathlib

import pytest
from outreach_helpers import (
    NOW,
    bench_planner_module,
    consumer,
    ledger_dump,
    table,
    to_parquet,
    write_audience,
)
from support.memory import peak_heaps

from rulec.errors import InputError
from rulec.outreach.planner import Planner

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

CASES = sorted((pathlib.Path(__file__).parent / "cases").glob("*.json"))
PLAN_CASES = [p for p in CASES if "runs" in json.loads(p.read_text(encoding="utf-8"))]


def _jsonl(path, rows):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


@pytest.mark.parametrize("path", PLAN_CASES, ids=[p.stem for p in PLAN_CASES])
def test_conformance_cases_send_the_same_from_parquet(path, tmp_path, cli):
    """Every plan scenario of tests/outreach/cases, run once with JSON Lines and once with
    Parquet audiences (each on its own ledger): the same stdout, stderr and ledger."""
    sc = json.loads(path.read_text(encoding="utf-8"))
    rules = tmp_path / "shop.yaml"
    rules.write_text(json.dumps(sc["rules"], ensure_ascii=False), encoding="utf-8")
    acts = []
    if "activities" in sc:
        _jsonl(tmp_path / "acts.jsonl", sc["activities"])
        acts = ["--activities", tmp_path / "acts.jsonl"]
    results = {}
    for form in ("jsonl", "parquet"):
        ledger, outs = tmp_path / f"{form}.db", []
        for k, run in enumerate(sc["runs"], 1):
            aud = tmp_path / f"aud{k}.{form}"
            if form == "jsonl":
                _jsonl(aud, run["audience"])
            else:
                to_parquet(run["audience"], aud)
            r = cli(
                "plan", rules, "--audience", aud, "--ledger", ledger, "--now", run["now"], *acts
            )
            assert r.code == 0, (form, k, r)
            outs.append((r.out, r.err))
        results[form] = outs, ledger_dump(ledger)
    assert results["parquet"] == results["jsonl"]


def test_benchmark_workload_same_output_and_ledger(tmp_path):
    """The benchmark's 8-campaign shop and seeded audience, with repeated consumers and a second
    run on the same ledger (capped, green_taken, already_sent): byte-identical output, report
    and ledger from JSON Lines and Parquet (row groups smaller than a batch)."""
    bp = bench_planner_module()
    bp.write_audience(tmp_path / "a.jsonl", 3000, seed=11)
    lines = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    lines += lines[::7]  # consumers seen twice in one run
    (tmp_path / "a.jsonl").write_text("".join(lines), encoding="utf-8")
    to_parquet([json.loads(x) for x in lines], tmp_path / "a.parquet", row_group_size=700)
    tbl = bp.table()
    got = {}
    for form in ("jsonl", "parquet"):
        outs = []
        with Planner(tbl, str(tmp_path / f"{form}.db"), batch_size=500) as p:
            for now in (bp.NOW, "2023-12-12T23:00:00+08:00"):
                out = io.StringIO()
                r = p.plan(str(tmp_path / f"a.{form}"), now, activities=bp.ACTIVITIES, out=out)
                outs.append((out.getvalue(), json.dumps(r.report, sort_keys=True)))
        got[form] = outs, ledger_dump(tmp_path / f"{form}.db")
    assert got["parquet"] == got["jsonl"]
    assert len(got["parquet"][0][0][0]) > 100_000


def test_timestamps_with_a_zone_equal_iso_text(tmp_path):
    """cart_adds.time and purchases as Arrow timestamps with a zone: the same sends as the
    ISO text with an offset; timestamps without a zone are refused (E894)."""
    import datetime as dt
    import zoneinfo

    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    rows = [consumer(i) for i in range(60)]
    _jsonl(tmp_path / "a.jsonl", rows)
    ts = pa.timestamp("us", tz="Asia/Shanghai")
    schema = pa.schema(
        [
            ("consumer", pa.string()),
            ("attrs", pa.struct([("spend", pa.int64())])),
            ("exclusive", pa.bool_()),
            ("purchases", pa.list_(ts)),
        ]
    )
    conv = [
        dict(r, purchases=[dt.datetime.fromisoformat(t).astimezone(tz) for t in r["purchases"]])
        for r in rows
    ]
    to_parquet(conv, tmp_path / "a.parquet", schema=schema)
    outs = []
    for form in ("jsonl", "parquet"):
        with Planner(table(), str(tmp_path / f"{form}.db")) as p:
            outs.append(p.plan(str(tmp_path / f"a.{form}"), NOW).sends)
    assert outs[0] == outs[1] and any(s["campaign"] == "rc" for s in outs[0])
    naive = schema.set(3, pa.field("purchases", pa.list_(pa.timestamp("us"))))
    conv = [dict(r, purchases=[t.replace(tzinfo=None) for t in r["purchases"]]) for r in conv]
    to_parquet(conv, tmp_path / "naive.parquet", schema=naive)
    _refused(tmp_path, "naive.parquet", "E894")


def _refused(tmp_path, name, code, ledger="refused.db"):
    """Plan the file: InputError with `code`; returns the diagnostic."""
    with Planner(table(), str(tmp_path / ledger)) as p:
        with pytest.raises(InputError) as ei:
            p.plan(str(tmp_path / name), NOW)
    d = ei.value.diagnostics[0]
    assert d.code == code, d
    return d


def _untouched(tmp_path, ledger="refused.db"):
    """O14: nothing recorded, no campaign opened."""
    _camps, shards, consumers = ledger_dump(tmp_path / ledger)
    assert shards == [] and consumers == []


def test_unreadable_and_not_parquet(tmp_path):
    (tmp_path / "junk.parquet").write_text('{"consumer": "c1"}\n', encoding="utf-8")
    assert "no PAR1 magic" in _refused(tmp_path, "junk.parquet", "E887").message
    write_audience(tmp_path / "ok.jsonl", 5)
    to_parquet([consumer(i) for i in range(50)], tmp_path / "ok.parquet")
    data = (tmp_path / "ok.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])  # PAR1 at the start only
    _refused(tmp_path, "cut.parquet", "E887")
    _untouched(tmp_path)


@pytest.mark.parametrize(
    "column,arrow_type,value",
    [
        ("consumer", "int64", 7),
        ("exclusive", "string", "yes"),
        ("crowds", "list<int64>", [1]),
        ("attrs", "string", "{}"),
        ("attrs", "struct<d: decimal128(5, 2)>", {"d": 1}),
        ("purchases", "list<int64>", [1]),
    ],
)
def test_wrong_column_types_E889(tmp_path, column, arrow_type, value):
    types = {
        "int64": pa.int64(),
        "string": pa.string(),
        "list<int64>": pa.list_(pa.int64()),
        "struct<d: decimal128(5, 2)>": pa.struct([("d", pa.decimal128(5, 2))]),
    }
    rows = [dict(consumer(i), **{column: value}) for i in range(3)]
    fields = [("consumer", pa.string()), ("exclusive", pa.bool_())]
    fields = [f for f in fields if f[0] != column] + [(column, types[arrow_type])]
    if column == "attrs":
        rows = [dict(r, attrs={"d": 1}) if arrow_type != "string" else r for r in rows]
    to_parquet(rows, tmp_path / "a.parquet", schema=pa.schema(fields))
    d = _refused(tmp_path, "a.parquet", "E889")
    assert repr(column) in d.message or f"'{column}." in d.message, d.message
    _untouched(tmp_path)


def test_missing_columns_E888_before_anything_is_recorded(tmp_path):
    rows = [consumer(i) for i in range(10)]
    to_parquet(
        [{k: v for k, v in r.items() if k != "consumer"} for r in rows], tmp_path / "a.parquet"
    )
    assert "`consumer`" in _refused(tmp_path, "a.parquet", "E888").message
    # the recall is due: it reads `exclusive` and `purchases` (O7); the JSON Lines form
    # refuses each line (E886), the Parquet form the file, before any campaign is opened
    to_parquet(
        [{k: v for k, v in r.items() if k != "purchases"} for r in rows], tmp_path / "b.parquet"
    )
    assert "'purchases'" in _refused(tmp_path, "b.parquet", "E888").message
    _untouched(tmp_path)
    # a cart_adds struct without `item`
    bad = [dict(r, cart_adds=[{"time": "2023-12-05T10:00:00+08:00"}]) for r in rows]
    to_parquet(bad, tmp_path / "c.parquet")
    assert "`item`" in _refused(tmp_path, "c.parquet", "E888").message


def test_missing_promo_column_is_fine_when_no_promo_is_due(tmp_path):
    """No recall due at 10:00: a file without `exclusive`/`purchases` plans like JSON Lines."""
    rows = [{"consumer": f"c{i}", "attrs": {"spend": 900 + i}} for i in range(5)]
    to_parquet(rows, tmp_path / "a.parquet")
    with Planner(table(), str(tmp_path / "l.db")) as p:
        sends = p.plan(str(tmp_path / "a.parquet"), "2023-12-12T10:00:00+08:00").sends
    assert {(s["campaign"], s["consumer"]) for s in sends} == {
        (c, f"c{i}") for c in ("wk", "nw") for i in range(5)
    }


@pytest.mark.parametrize(
    "row,code,text",
    [
        ({"consumer": None}, "E890", "`consumer` is null"),
        ({"crowds": ["vip", None]}, "E890", "`crowds` holds a null entry"),
        ({"cart_adds": [{"time": None, "item": "x"}]}, "E890", "null `time`"),
        ({"attrs": {"spend": float("nan")}}, "E891", "NaN"),
        ({"attrs": {"spend": float("inf")}}, "E891", "infinite"),
        ({"purchases": ["2023-12-05"]}, "E804", "no UTC offset"),
        ({"consumer": ""}, "E806", "consumer"),
        ({"exclusive": None}, "E886", "`exclusive`"),
    ],
)
def test_bad_row_stops_there_and_keeps_going_counts_it(tmp_path, row, code, text):
    """A bad row (the third) stops the run there, as a bad JSON line does (the two before it
    are recorded); with keep_going it is skipped and counted. The row number stands for the
    line number (file:row:1)."""
    rows = [
        dict(consumer(i), attrs={"spend": 900.5}, crowds=["vip"], cart_adds=[]) for i in range(5)
    ]
    rows[2] = dict(rows[2], **row)
    to_parquet(rows, tmp_path / "a.parquet")
    d = _refused(tmp_path, "a.parquet", code)
    assert text in d.message and d.span.line == 3 and d.span.file.endswith("a.parquet"), d
    sent = {c for c, _s in ledger_dump(tmp_path / "refused.db")[2]}
    assert sent == {"c0", "c1"}
    with Planner(table(), str(tmp_path / "kg.db")) as p:
        r = p.plan(str(tmp_path / "a.parquet"), NOW, keep_going=True)
    assert r.report["bad_lines"] == 1 and r.report["consumers"] == 4
    assert [b.code for b in r.bad] == [code]


def test_nesting_beyond_an_audience_line_E892(tmp_path):
    rows = [dict(consumer(i), attrs={"spend": {"deep": 1}}) for i in range(3)]
    to_parquet(rows, tmp_path / "a.parquet")
    assert "attrs.spend" in _refused(tmp_path, "a.parquet", "E892").message
    rows = [dict(consumer(i), crowds=[["vip"]]) for i in range(3)]
    to_parquet(rows, tmp_path / "b.parquet")
    _refused(tmp_path, "b.parquet", "E892")
    _untouched(tmp_path)


def test_size_bounds_E893(tmp_path, monkeypatch):
    from rulec.outreach import parquet_audience as pqa

    monkeypatch.setattr(pqa, "MAX_LIST", 3)
    monkeypatch.setattr(pqa, "MAX_LINE", 40)
    rows = [consumer(i) for i in range(4)]
    rows[1] = dict(rows[1], purchases=["2023-12-05T10:00:00+08:00"] * 4)
    to_parquet(rows, tmp_path / "a.parquet")
    d = _refused(tmp_path, "a.parquet", "E893")
    assert "more than 3 entries" in d.message and d.span.line == 2
    rows[1] = dict(consumer(1), attrs={"spend": 1, "note": "x" * 41})
    to_parquet(rows, tmp_path / "b.parquet")
    d = _refused(tmp_path, "b.parquet", "E893", ledger="b.db")
    assert "attrs.note" in d.message and d.span.line == 2


def test_empty_parquet_E881_and_map_attrs(tmp_path):
    schema = pa.schema([("consumer", pa.string()), ("exclusive", pa.bool_())])
    to_parquet([], tmp_path / "empty.parquet", schema=schema)
    _refused(tmp_path, "empty.parquet", "E881")
    _untouched(tmp_path)
    # attrs as map<string, double>: the same crowds as the struct / JSON object form
    rows = [consumer(i) for i in range(40)]
    schema = pa.schema(
        [
            ("consumer", pa.string()),
            ("attrs", pa.map_(pa.string(), pa.float64())),
            ("exclusive", pa.bool_()),
            ("purchases", pa.list_(pa.string())),
        ]
    )
    to_parquet(
        [dict(r, attrs=list(r["attrs"].items())) for r in rows], tmp_path / "m.parquet", schema
    )
    write_audience(tmp_path / "m.jsonl", 40)
    outs = []
    for form in ("jsonl", "parquet"):
        with Planner(table(), str(tmp_path / f"m{form}.db")) as p:
            outs.append(p.plan(str(tmp_path / f"m.{form}"), NOW).sends)
    assert outs[0] == outs[1] and outs[0]


def test_cli_plan_with_a_parquet_audience(tmp_path, cli):
    rules = tmp_path / "shop.yaml"
    from outreach_helpers import RULES

    rules.write_text(json.dumps(RULES), encoding="utf-8")
    rows = [consumer(i) for i in range(30)]
    _jsonl(tmp_path / "a.jsonl", rows)
    to_parquet(rows, tmp_path / "a.parquet", row_group_size=8)
    runs = {}
    for form in ("jsonl", "parquet"):
        r = cli(
            "plan",
            rules,
            "--audience",
            tmp_path / f"a.{form}",
            "--ledger",
            tmp_path / f"{form}.db",
            "--now",
            NOW,
            "--report",
            tmp_path / f"{form}.json",
            "--batch",
            "7",
        )
        assert r.code == 0, r
        runs[form] = r.out, (tmp_path / f"{form}.json").read_text(encoding="utf-8")
    assert runs["parquet"] == runs["jsonl"] and runs["jsonl"][0]
    rows[4] = dict(rows[4], consumer=None)
    to_parquet(rows, tmp_path / "bad.parquet")
    r = cli(
        "plan",
        rules,
        "--audience",
        tmp_path / "bad.parquet",
        "--ledger",
        tmp_path / "b.db",
        "--now",
        NOW,
    )
    assert r.code == 1 and "bad.parquet:5:1" in r.err and "E890" in r.err, r
    assert "Traceback" not in r.err


def test_streamed_memory_is_flat_as_the_file_grows(tmp_path):
    """The largest Python heap (tracemalloc) and Arrow pool allocation seen during a run stay
    within a bound set by a row group, not the file: 4x the rows, not 4x the memory."""

    def audience(n):
        path = tmp_path / f"a{n}.parquet"
        to_parquet([consumer(i) for i in range(n)], path, row_group_size=2000)
        return [str(path), str(tmp_path / f"l{n}.db")]

    sizes = (2_000, 10_000, 40_000)  # the first run imports the planner and pyarrow's reader
    runs = peak_heaps("outreach_helpers.plan_to_null", [audience(n) for n in sizes])
    (small_arrow, small_py), (big_arrow, big_py) = runs[1:]
    small, big = (small_py, small_arrow), (big_py, big_arrow)
    assert big[0] < 1.5 * small[0], (small, big)
    assert big[1] < 1.5 * small[1] + (1 << 20), (small, big)
