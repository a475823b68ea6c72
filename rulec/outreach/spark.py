"""Planning on Spark (O12s): each partition of a Spark DataFrame one shard, through mapInPandas.

The same per-shard entry point as Dask (`shardrun.plan_shard`); Spark runs a failed task
again (`spark.task.maxFailures`) and the ledger and journals keep the retry exactly-once as
on Dask (docs/distributed.md). pyspark is the caller's: this module does not import it.
"""

from __future__ import annotations

import importlib
import itertools
import json

from rulec.outreach import frames, runreport
from rulec.outreach.planner import BATCH, check_now
from rulec.outreach.shardrun import run_shard


def shard_planner(n: int, spec: dict):
    """The mapInPandas function: its partition (an iterator of pandas frames) is shard
    (partition id + 1) of `n`; yields one row, the shard's report as JSON text."""

    def plan(batches):
        # imported by name: pyspark (and pandas' stubs) need not be where mypy runs
        pd = importlib.import_module("pandas")
        i = importlib.import_module("pyspark").TaskContext.get().partitionId() + 1
        rows = itertools.chain.from_iterable(frames.records(b) for b in batches)
        report = run_shard(rows, (i, n), spec)
        yield pd.DataFrame({"report": [json.dumps(report, ensure_ascii=False)]})

    return plan


def plan_dataframe(
    df,
    table,
    ledger,
    now,
    out_dir,
    activities=None,
    batch_size: int = BATCH,
    keep_going: bool = False,
    allow_empty: bool = False,
    volatile_ledger: bool = False,
) -> dict:
    """Plan every partition of the Spark DataFrame `df` as one shard of N (its partition
    count); sends in `out_dir` (a path every executor writes); the aggregated run report.
    The ledger must be one every executor opens (Redis; SQLite only with a local master)."""
    now = check_now(now)
    n = df.rdd.getNumPartitions()
    local = df.sparkSession.sparkContext.master.startswith("local")
    table, ledger, spec = runreport.prepare(
        table, ledger, now, n, out_dir, local, activities=activities,
        volatile_ledger=volatile_ledger, batch_size=batch_size, keep_going=keep_going,
        allow_empty=allow_empty,
    )  # fmt: skip
    rows = df.mapInPandas(shard_planner(n, spec), "report string").collect()
    replies = [json.loads(row["report"]) for row in rows]
    results = runreport.split(replies, lambda i: None)
    return runreport.aggregate(table, ledger, now, results, volatile_ledger)
