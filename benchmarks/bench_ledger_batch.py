"""The SQLite ledger's batch step alone (issue 15): CPU seconds of decide_and_record on a fresh file.

python benchmarks/bench_ledger_batch.py 1000000            # the live batch step
RULEC_PURE=1 python benchmarks/bench_ledger_batch.py 1000000  # its pure twin

Each batch of 2000 consumers (the planner's batch size) is handed to `decide_and_record` with
a `decide` that returns Packed rows as the planner's loop does (none for one consumer in
ten, 1 to 7 sends for the others: 3.6 a consumer, as bench_planner.py's audience); the rows are made before the clock
starts, so the figure is the ledger's: BEGIN, history, checks, upsert, COMMIT. Uses only the
ledger's public methods, so the same file measures an older tree (PYTHONPATH=<old tree>).
Wall time means nothing on a shared machine: CPU time (user + system) is printed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from rulec.outreach.ledger.base import Packed
from rulec.outreach.ledger.sqlite_ledger import SqliteLedger

BATCH = 2000
CAMPAIGNS = ["morning", "green", "arrival", "noon", "restock", "cart", "recall", "super"]


def batches(led, n: int) -> list:
    """[(consumer ids, Packed rows)] per batch of the run."""
    led.open_campaigns({c: ("started", None, 1702342800) for c in CAMPAIGNS})
    toks = [led.packed_send(c, "regular", 1702342800) for c in CAMPAIGNS]
    out = []
    for start in range(0, n, BATCH):
        ids = [f"u{i:08d}" for i in range(start, min(n, start + BATCH))]
        rows = []
        for i, c in enumerate(ids):
            k = 0 if i % 10 == 0 else 1 + i % 7
            if k:
                rows.append((c, "".join(toks[:k])))
        out.append((ids, Packed(rows, sum(t.count(";") for _c, t in rows))))
    return out


def run(n: int, path: str) -> float:
    """CPU seconds of the run's batch steps."""
    with SqliteLedger(path, "bench") as led:
        work = batches(led, n)
        c0 = os.times()
        for ids, packed in work:
            led.decide_and_record(ids, lambda history, p=packed: p)
        c1 = os.times()
    return (c1.user - c0.user) + (c1.system - c0.system)


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        cpu = run(n, os.path.join(tmp, "ledger.db"))
    import rulec.outreach.ledger.sqlite_ledger as L

    twin = getattr(getattr(L, "TWIN", None), "implementation", "python (before the C twin)")
    print(
        f"{n:,} consumers: ledger batch step {cpu:.2f} s CPU ({n / cpu:,.0f} consumers per CPU "
        f"second); batch step {twin}; {time.strftime('%H:%M:%S')}"
    )


if __name__ == "__main__":
    main(sys.argv)
