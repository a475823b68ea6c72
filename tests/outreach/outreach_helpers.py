"""Shared helpers for the outreach tests: a small shop, audiences, running `rulec plan`."""

import json

import rulec

RULES = {
    "shop": "hx",
    "attributes": {"spend": "number"},
    "crowds": {"big": "spend >= 1000", "mid": "spend >= 500"},
    "promos": {"d12": {"presale_start": "2023-12-01", "last_day": "2023-12-12"}},
    "facts": {
        "tool_level": "advanced",
        "relationships_last_month_end": 12000,
        "advanced_relationships_this_month": 15000,
        "grants": ["green_channel", "cart_coupon", "super_discount"],
    },
    "campaigns": [
        {
            "name": "wk",
            "kind": "batch",
            "send_at": "2023-12-12T09:00:00+08:00",
            "targets": [{"crowd": "big", "copy": "BIG"}, {"crowd": "mid", "copy": "MID"}],
        },
        {
            "name": "nw",
            "kind": "new_arrival",
            "send_at": "2023-12-12T09:30:00+08:00",
            "targets": [{"crowd": "mid", "copy": "NEW"}],
        },
        {
            "name": "rc",
            "kind": "recall",
            "promo": "d12",
            "configured_at": "2023-12-11T10:00:00+08:00",
            "copy": "R",
            "coupon": {"id": "R1", "kind": "cs_channel"},
        },
    ],
}
NOW = "2023-12-12T14:00:00+08:00"


def table(rules=None):
    res = rulec.compile_source(json.dumps(rules or RULES, ensure_ascii=False), file="shop.yaml")
    assert not res.errors, res.errors
    return res.table


def consumer(i: int) -> dict:
    """Deterministic consumers: every third is exclusive, spend cycles through the crowds."""
    return {
        "consumer": f"c{i}",
        "attrs": {"spend": (i * 37) % 2000},
        "exclusive": i % 3 == 0,
        "purchases": ["2023-12-05T10:00:00+08:00"] if i % 7 == 0 else [],
    }


def write_audience(path, n: int):
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(consumer(i)) + "\n")


def expected(n: int) -> set:
    """The (campaign, consumer) sends RULES owes audience(n) at NOW, by the clauses."""
    out = set()
    for i in range(n):
        c = consumer(i)
        spend = c["attrs"]["spend"]
        if spend >= 500:
            out.add(("wk", c["consumer"]))
            out.add(("nw", c["consumer"]))
        if c["exclusive"] and not c["purchases"]:
            out.add(("rc", c["consumer"]))
    return out


def ledger_dump(path) -> list:
    """A SQLite ledger's content, less the wall-clock columns (opened_at, finished_at): the
    campaigns, each shard's status and every consumer's sends row, in key order."""
    import sqlite3

    db = sqlite3.connect(str(path))
    try:
        return [
            db.execute("SELECT id, name, shards, send_at FROM campaigns ORDER BY id").fetchall(),
            db.execute(
                "SELECT campaign, shard, status, reason FROM shards ORDER BY campaign, shard"
            ).fetchall(),
            db.execute("SELECT consumer, sends FROM consumers ORDER BY consumer").fetchall(),
        ]
    finally:
        db.close()


def to_parquet(rows, path, schema=None, row_group_size=None) -> None:
    """The Parquet form of JSON Lines rows: one column per key any row has (a key a row lacks
    is null there), types inferred per column unless `schema` is given."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = sorted({k for r in rows for k in r})
    if schema is not None:
        tbl = pa.table({k: [r.get(k) for r in rows] for k in schema.names}, schema=schema)
    else:
        tbl = pa.table({k: [r.get(k) for r in rows] for k in keys})
    pq.write_table(tbl, str(path), row_group_size=row_group_size)


def plan_to_null(audience: str, ledger: str) -> int:
    """Plan `audience` for RULES at NOW with the sends discarded; the largest Arrow pool
    allocation seen between batches. (For memory measurements: tests/support/memory.py.)"""
    import io

    import pyarrow as pa

    from rulec.outreach.planner import Planner

    class Null(io.TextIOBase):
        def write(self, s):
            return len(s)

    arrow = [0]

    def progress(_done, _size, _consumers):
        arrow[0] = max(arrow[0], pa.total_allocated_bytes())

    with Planner(table(), ledger) as p:
        p.plan(audience, NOW, out=Null(), on_progress=progress)
    return arrow[0]


def check_packed_rows(led, checked_before_print: bool = True) -> None:
    """O13 on Packed rows, on any ledger (closed at the end): recorded as the same
    ";id,channel,at" rows as records; a send the consumer's history holds is refused (S960)
    with nothing of the batch kept (SQLite checks before printing; Redis's RECORD script
    checks after, under the batch's consumer locks, so there S960 means a decision bug, not
    a race); a campaign never opened has no token (S962)."""
    import pytest

    from rulec.errors import StoreError
    from rulec.outreach.ledger.base import Packed

    led.open_campaigns({"wk": ("started", None, 0), "rc": ("started", None, 0)})
    wk, rc = led.packed_send("wk", "regular", 5), led.packed_send("rc", "exempt", 7)
    assert wk == ";1,0,5" and rc == ";2,2,7"
    assert led.decide_and_record(["a"], lambda h: Packed([("a", wk)], 1)) == Packed([("a", wk)], 1)
    printed = []
    with pytest.raises(StoreError) as exc:
        led.decide_and_record(
            ["b", "a"], lambda h: Packed([("b", wk), ("a", rc + wk)], 3), lambda: printed.append(1)
        )
    assert exc.value.code == "S960" and printed == ([] if checked_before_print else [1])
    assert led.decide_and_record(["a", "b"], lambda h: Packed([("a", rc), ("b", rc + wk)], 3))
    assert sorted(led.sends()) == [
        ("rc", "a", "exempt", 7),
        ("rc", "b", "exempt", 7),
        ("wk", "a", "regular", 5),
        ("wk", "b", "regular", 5),
    ]
    with pytest.raises(StoreError) as exc:
        led.packed_send("nope", "exempt", 5)
    assert exc.value.code == "S962"
    led.close()


def bench_planner_module():
    """benchmarks/bench_planner.py as a module (its shop and seeded audience writer)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "benchmarks" / "bench_planner.py"
    spec = importlib.util.spec_from_file_location("bench_planner", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
