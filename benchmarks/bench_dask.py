"""Planning on Dask: consumers per second with 1 and 2 worker processes against the same
shards planned in one process, and the scheduler's overhead per partition.

Run:  .venv/bin/python -m benchmarks.bench_dask [--consumers 160000] [--parts 8] [--empty 64]
Starts its own redis-server (RDB snapshots configured, loopback) as the shared ledger; the
shop and audience are bench_planner's (8 campaigns). Each configuration plans the same
partition files into a fresh Redis database:

- direct: plan_shard over the partitions one after another in this process (no Dask);
- dask-1 / dask-2: plan_partitions on a LocalCluster of 1 / 2 worker processes (started
  before the clock; its start-up time is shown apart).

Wall-clock consumers/s is what a user sees but on a shared machine it depends on the load
(shown next to each figure); CPU seconds per 100,000 consumers (this process, the workers
and Redis, from getrusage / INFO cpu) is steadier. The overhead per partition is measured
on empty partitions (allow_empty): (dask-1 - direct) / partitions, wall and CPU.
Figures: benchmarks/RESULTS-dask.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import redis

from benchmarks.bench_planner import ACTIVITIES, NOW, table, write_audience

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "redis"))
from redis_server import RedisServer


def load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def split(path, where, parts: int) -> list:
    """The audience dealt line by line into `parts` files (disjoint shards)."""
    os.makedirs(where, exist_ok=True)
    names = [os.path.join(where, f"p{k:03d}.jsonl") for k in range(parts)]
    outs = [open(n, "w", encoding="utf-8") for n in names]
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            outs[i % parts].write(line)
    for o in outs:
        o.close()
    return names


class Meter:
    """Wall and CPU seconds of a block: this process, the Dask workers, the Redis server."""

    def __init__(self, server, client=None):
        self.r = redis.Redis(port=server.port)
        self.client = client

    def cpu(self) -> float:
        info = self.r.info("cpu")
        total = time.process_time() + info["used_cpu_user"] + info["used_cpu_sys"]
        if self.client is not None:
            total += sum(self.client.run(time.process_time).values())
        return total

    def __enter__(self):
        self.c0, self.t0 = self.cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu_s = self.cpu() - self.c0


def run(args):
    from rulec.outreach.distributed import connect, plan_partitions
    from rulec.outreach.shardrun import plan_shard

    tmp = tempfile.mkdtemp(prefix="rulec-bench-dask-")
    server = RedisServer(save="3600 1").start()
    tbl = table()
    dbs = iter(range(16))
    try:
        aud = os.path.join(tmp, "all.jsonl")
        write_audience(aud, args.consumers)
        paths = split(aud, os.path.join(tmp, "parts"), args.parts)
        empty = []
        for k in range(args.empty):
            empty.append(os.path.join(tmp, f"empty-{k:03d}.jsonl"))
            open(empty[-1], "w").close()
        rows = []

        def direct(files, allow_empty=False):
            url, out = server.url(next(dbs)), os.path.join(tmp, f"out-{time.time_ns()}")
            os.makedirs(out)
            with Meter(server) as m:
                for i, p in enumerate(files):
                    plan_shard(p, (i + 1, len(files)), tbl, url, NOW, out_dir=out,
                               activities=ACTIVITIES, allow_empty=allow_empty)  # fmt: skip
            return m

        def on_dask(client, files, allow_empty=False):
            url, out = server.url(next(dbs)), os.path.join(tmp, f"out-{time.time_ns()}")
            with Meter(server, client) as m:
                rep = plan_partitions(files, tbl, url, NOW, out, client=client,
                                      activities=ACTIVITIES, allow_empty=allow_empty)  # fmt: skip
            assert rep["consumers"] == (0 if allow_empty else args.consumers)
            return m

        base = direct(paths)
        rows.append(("direct (1 process, no Dask)", base, load()))
        overhead = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            with connect(f"local:{workers}") as client:
                client.wait_for_workers(workers)
                start = time.perf_counter() - t0
                m = on_dask(client, paths)
                rows.append((f"dask local:{workers} (start-up {start:.1f} s)", m, load()))
                if workers == 1:
                    d = direct(empty, allow_empty=True)
                    e = on_dask(client, empty, allow_empty=True)
                    overhead = {"direct": d, "dask": e, "load": load()}
        report(args, rows, base, overhead)
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def report(args, rows, base, overhead):
    n = args.consumers
    print(f"{n:,} consumers in {args.parts} partitions; Redis ledger on loopback; 2 cores")
    print(f"{'configuration':40} {'consumers/s':>12} {'vs direct':>9} {'CPU s/100k':>11}  load")
    for name, m, ld in rows:
        print(
            f"{name:40} {n / m.wall:12,.0f} {base.wall / m.wall:8.2f}x "
            f"{m.cpu_s * 100_000 / n:11.2f}  {ld}"
        )
    d, e, k = overhead["direct"], overhead["dask"], args.empty
    print(
        f"scheduler overhead per partition ({k} empty partitions, local:1): "
        f"wall {(e.wall - d.wall) / k * 1000:.1f} ms "
        f"(direct {d.wall / k * 1000:.1f} ms, dask {e.wall / k * 1000:.1f} ms per partition), "
        f"CPU {(e.cpu_s - d.cpu_s) / k * 1000:.1f} ms; load {overhead['load']}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consumers", type=int, default=160_000)
    ap.add_argument("--parts", type=int, default=8)
    ap.add_argument("--empty", type=int, default=64)
    run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
