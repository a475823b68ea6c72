"""Analysis speed: capture analysis (A1/A2) on growing shops, and `rulec diff` of two large shops
with a replayed traffic log. Targets (issue 12): 1,000 groups + 200 crowds < 5 s; diff of two
10,000-group shops with a 100,000-chat replay < 30 s. Figures are CPU seconds, with the cost per
group, so the curve shows whether work grows linearly.

    .venv/bin/python -m benchmarks.bench_analysis            # the full table (RESULTS-analysis.md)
    .venv/bin/python -m pytest benchmarks/bench_analysis.py  # a small run of each, as a smoke test
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time

from benchmarks.workload import make_body, make_chats
from rulec.table.format import Table


def _table(body):
    return Table(body, {"source_hash": "0" * 64, "compiler_version": "bench"})


def capture(n_groups: int, n_crowds: int):
    from rulec.analysis.capture import analyze

    t = _table(
        make_body(n_groups=n_groups, n_crowds=n_crowds, skewed_groups=False, crowd_share=0.35)
    )
    c0 = time.process_time()
    found = analyze(t)
    return time.process_time() - c0, len(found)


def _changed(body, k, seed=5):
    """The same shop with k groups given other products and orders."""
    rnd = random.Random(seed)
    new = json.loads(json.dumps(body))
    for i in rnd.sample(range(len(new["groups"])), k):
        new["groups"][i]["product"] = new["groups"][(i + 1) % len(new["groups"])]["product"]
        new["groups"][i]["order"] = ["after_sale"]
    from benchmarks.workload import lower

    new["tree"] = lower(new["groups"])
    return new


def diff(n_groups: int, n_chats: int, changed: int = 20):
    from rulec.analysis import diff_report

    body = make_body(
        n_groups=n_groups, n_crowds=max(10, n_groups // 10), skewed_groups=False, crowd_share=0.05
    )
    old, new = _table(body), _table(_changed(body, changed))
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        with open(log, "w", encoding="utf-8") as fh:
            for a in body["agents"]:
                fh.write(
                    json.dumps(
                        {
                            "type": "agent",
                            "time": "2026-01-01T08:00:00+08:00",
                            "agent": a["id"],
                            "status": "online",
                        }
                    )
                    + "\n"
                )
            for i, c in enumerate(make_chats(n=n_chats, n_products=1000)):
                c = dict(
                    c,
                    type="chat",
                    buyer=f"b{i}",
                    time=f"2026-01-01T{9 + i * 12 // n_chats:02d}:00:00+08:00",
                )
                fh.write(json.dumps(c, ensure_ascii=False) + "\n")
        c0 = time.process_time()
        doc = diff_report.build(old, new, events=log)
        cpu = time.process_time() - c0
    return cpu, doc["regions_total"], doc["replay"]["differ"]


def test_capture_small(benchmark):
    benchmark.pedantic(capture, args=(100, 20), rounds=1, iterations=1)


def test_diff_small(benchmark):
    benchmark.pedantic(diff, args=(500, 5_000), rounds=1, iterations=1)


def main(argv):
    print("capture analysis (CPU s): groups, crowds, seconds, findings, ms per group")
    for n, c in ((100, 20), (300, 60), (1000, 200), (3000, 600)):
        s, f = capture(n, c)
        print(f"  {n:6d} {c:5d} {s:8.2f} {f:6d} {1000 * s / n:8.2f}")
    print("diff (CPU s): groups, chats, seconds, regions, decisions that differ")
    for n, ch in ((1000, 10_000), (10_000, 100_000)):
        s, r, d = diff(n, ch)
        print(f"  {n:6d} {ch:7d} {s:8.2f} {r:6d} {d:7d}")


if __name__ == "__main__":
    main(sys.argv[1:])
