"""Planner throughput (O1–O13): consumers planned and recorded per second, 8 campaigns, SQLite ledger.

python benchmarks/bench_planner.py 1000000          # one timed `rulec plan`-equivalent run,
                                                    # then json.loads of the same lines
python benchmarks/bench_planner.py --curve 10000,30000,100000,300000,1000000  # cost curve
pytest benchmarks/bench_planner.py --benchmark-only # 100,000 and 1,000,000 consumers
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import tempfile
import time

import pytest

import rulec

NOW = "2023-12-12T20:00:00+08:00"
SHOP = {
    "shop": "bench",
    "attributes": {"spend": "number", "level": "int", "city": "string"},
    "crowds": {
        "vip": "level >= 4 and spend > 3000",
        "big": "spend >= 1000",
        "mid": "spend >= 300",
        "local": 'city in ["杭州", "上海"]',
    },
    "promos": {"d12": {"presale_start": "2023-12-01", "last_day": "2023-12-12"}},
    "facts": {
        "tool_level": "advanced",
        "relationships_last_month_end": 50000,
        "advanced_relationships_this_month": 40000,
        "grants": ["green_channel", "cart_coupon", "super_discount"],
    },
    "campaigns": [
        {
            "name": "morning",
            "kind": "batch",
            "send_at": "2023-12-12T09:00:00+08:00",
            "targets": [
                {"crowd": "vip", "copy": "VIP", "coupon": "V1"},
                {"crowd": "big", "copy": "BIG"},
            ],
        },
        {
            "name": "green",
            "kind": "green",
            "date": "2023-12-12",
            "created_at": "2023-12-10T10:00:00+08:00",
            "send_at": "2023-12-12T10:00:00+08:00",
            "targets": [{"crowd": "mid", "copy": "大促当天"}],
        },
        {
            "name": "arrival",
            "kind": "new_arrival",
            "send_at": "2023-12-12T11:00:00+08:00",
            "targets": [{"crowd": "local", "copy": "上新"}],
        },
        {
            "name": "noon",
            "kind": "batch",
            "send_at": "2023-12-12T12:00:00+08:00",
            "targets": [{"crowd": "mid", "copy": "午间"}, {"crowd": "local", "copy": "同城"}],
        },
        {
            "name": "restock",
            "kind": "restock",
            "send_at": "2023-12-12T13:00:00+08:00",
            "targets": [{"crowd": "big", "copy": "补货"}],
        },
        {
            "name": "cart",
            "kind": "cart_coupon",
            "promo": "d12",
            "configured_at": "2023-12-09T10:00:00+08:00",
            "copy": "购物车降价",
            "coupon": {"id": "CC1", "kind": "cs_channel"},
        },
        {
            "name": "recall",
            "kind": "recall",
            "promo": "d12",
            "configured_at": "2023-12-10T10:00:00+08:00",
            "copy": "还差一步",
            "coupon": {"id": "R1", "kind": "cs_channel"},
            "segments": [
                {"crowd": "love_new", "copy": "上新", "coupon": {"id": "R2", "kind": "cs_channel"}},
                {"crowd": "vip", "copy": "VIP 回来"},
            ],
        },
        {
            "name": "super",
            "kind": "super_discount",
            "promo": "d12",
            "configured_at": "2023-12-10T10:00:00+08:00",
            "copy": "今晚最后冲刺",
        },
    ],
}
ACTIVITIES = [
    {
        "id": "act-1",
        "kind": "multi_buy",
        "created_at": "2023-12-12T09:00:00+08:00",
        "first_effective_at": "2023-12-12T14:00:00+08:00",
        "edited_from_existing": False,
        "crowd_restricted": False,
        "complete": True,
        "in_stock": True,
    }
]
CITIES = ["杭州", "上海", "北京", "成都", "广州"]


def write_audience(path, n: int, seed: int = 7) -> None:
    """n consumers: about half exclusive, a third with cart adds, a fifth with purchases."""
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            rec = {
                "consumer": f"u{i:08d}",
                "attrs": {
                    "spend": rnd.randrange(0, 6000),
                    "level": rnd.randrange(1, 6),
                    "city": CITIES[rnd.randrange(5)],
                },
            }
            if rnd.random() < 0.2:
                rec["crowds"] = ["love_new"]
            # every field a due promo privilege reads is present (settled reading, E886)
            rec["exclusive"] = rnd.random() < 0.5
            if rec["exclusive"]:
                rec["interested"] = rnd.random() < 0.5
            carts = rnd.random() < 0.33
            if rec["exclusive"] or carts:
                rec["cart_adds"] = []
            if carts:
                rec["cart_adds"] = [
                    {
                        "time": "2023-12-0%dT10:00:00+08:00" % rnd.randrange(1, 10),
                        "item": f"sku-{rnd.randrange(100)}",
                    }
                ]
            bought = rnd.random() < 0.2
            if rec["exclusive"] or bought:
                rec["purchases"] = ["2023-12-05T12:00:00+08:00"] if bought else []
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def table():
    res = rulec.compile_source(json.dumps(SHOP, ensure_ascii=False), file="bench.yaml")
    assert not res.errors, res.errors
    return res.table


def plan_once(tbl, audience_path, ledger_path, out, impl=None) -> dict:
    """As `rulec plan` runs it: the CLI's collector tuning around the library's plan()."""
    from rulec.cli.gc_tuning import fewer_collections
    from rulec.outreach.planner import Planner

    with Planner(tbl, ledger_path, impl=impl) as p, fewer_collections():
        return p.plan(audience_path, NOW, activities=ACTIVITIES, out=out).report


class _Null(io.RawIOBase):
    """A binary sink: the sends as `rulec plan` writes them to stdout (UTF-8 bytes)."""

    def writable(self):
        return True

    def write(self, b):
        return len(b)


def _workload(n, tmp):
    aud = os.path.join(tmp, f"aud-{n}.jsonl")
    if not os.path.exists(aud):
        write_audience(aud, n)
    return aud


@pytest.mark.parametrize("n", [100_000, 1_000_000])
def test_plan_throughput(benchmark, tmp_path_factory, n):
    tmp = str(tmp_path_factory.mktemp("plan"))
    aud, tbl = _workload(n, tmp), table()
    runs = iter(range(1000))

    def setup():
        return (tbl, aud, os.path.join(tmp, f"ledger-{next(runs)}.db"), _Null()), {}

    report = benchmark.pedantic(plan_once, setup=setup, rounds=1 if n > 100_000 else 3)
    assert report["consumers"] == n
    benchmark.extra_info["sends"] = sum(sum(v.values()) for v in report["sends"].values())


def curve(sizes, out_dir) -> int:
    """The cost curve of a run against the audience size, both loops (the pure one to
    300,000): CPU seconds, plots (benchmarks/plots/planner-*.png) and bench_scaling's n log n
    check; 1 when a loop grows faster."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:  # run as a script: the benchmarks package from the root
        sys.path.insert(0, str(root))
    from benchmarks import bench_scaling as bs

    results: dict = {"plan_cython": [], "plan_python": []}
    with tempfile.TemporaryDirectory() as tmp:
        tbl = table()
        tbl.matcher
        for n in sizes:
            aud = _workload(n, tmp)
            for impl in ("cython", "python"):
                if impl == "python" and n > 300_000:
                    continue
                led = os.path.join(tmp, f"l-{impl}-{n}.db")
                c0 = time.process_time()
                with open(os.devnull, "wb") as out:
                    plan_once(tbl, aud, led, out, impl=impl)
                results[f"plan_{impl}"].append((n, time.process_time() - c0))
                print(f"plan_{impl} {n:>9,} consumers: {results[f'plan_{impl}'][-1][1]:.2f} s")
    bad = bs.check(results)
    for p in bs.plot(results, pathlib.Path(out_dir), unit="consumers", prefix="planner"):
        print(f"plot: {p}")
    print("FAIL: " + "; ".join(bad) if bad else "ok: both loops grow at most n log n")
    return 1 if bad else 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--curve":
        sizes = [int(x) for x in (argv[2] if len(argv) > 2 else "10000,100000,1000000").split(",")]
        return curve(sizes, os.path.join(os.path.dirname(__file__), "plots"))
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        aud = _workload(n, tmp)
        tbl = table()
        tbl.matcher  # build outside the timed region, as a loaded service would have
        c0, t0 = os.times(), time.perf_counter()
        with open(os.devnull, "wb") as out:  # bytes, as `rulec plan` writes to stdout
            report = plan_once(tbl, aud, os.path.join(tmp, "ledger.db"), out)
        dt, c1 = time.perf_counter() - t0, os.times()
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        sends = sum(sum(v.values()) for v in report["sends"].values())
        print(
            f"{n:,} consumers, 8 campaigns: {sends:,} sends planned and recorded in {dt:.2f} s "
            f"wall, {cpu:.2f} s CPU ({n / dt:,.0f} consumers/s wall, {n / cpu:,.0f} per CPU "
            f"second); matcher {rulec.implementation}"
        )
        print(json.dumps(report["sends"], ensure_ascii=False))
        # the second yardstick: the json module parsing the same lines, same process
        c0 = os.times()
        with open(aud, encoding="utf-8") as fh:
            for line in fh:
                json.loads(line)
        c1 = os.times()
        js = (c1.user - c0.user) + (c1.system - c0.system)
        print(f"json.loads of the same {n:,} lines: {js:.2f} s CPU; the run is {cpu / js:.2f}x")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
