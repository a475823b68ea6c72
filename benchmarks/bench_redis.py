"""Routing decisions per second through the Redis store, with 1 and 2 router processes on
one shop, and the round trips each decision costs (issue 5 target: >= 20,000/s per process).

Run:  .venv/bin/python -m benchmarks.bench_redis [--chats N] [--aof] [--unix] [--group 64]
      .venv/bin/python -m benchmarks.bench_redis --cluster [--chats N] [--consumers N]
      .venv/bin/pytest benchmarks/bench_redis.py --benchmark-only   (1 process, pytest-benchmark)
`--cluster`: one redis-server against a Redis Cluster of three masters with a replica each
(tests/redis/redis_cluster.py), in the same session: routing as below, and planning
(bench_planner's shop and audience) with the ledger on one Redis, on the cluster, and on the
cluster with `wait=1` (WAIT for the replica after each commit).
Starts its own redis-server on a free loopback port (no persistence unless --aof, which uses
appendfsync always). The shop is bench_router's (64 groups, 256 agents, all online) with a
high busy threshold so pending growth does not change the routing work. Each process routes
fresh buyers (R1-R6 on every chat, an assignment each), with `route` (one validated call per
decision) and with group commit (`Router.route_many`, one call per group of chats when
no other process wrote meanwhile). Round trips are counted twice: by
the store (calls it sent) and by the server (INFO commandstats deltas). Figures:
benchmarks/RESULTS-redis.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

import pytest

import rulec
from benchmarks.bench_router import chats
from benchmarks.gen_rules import shop_source

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "redis"))
from redis_cluster import RedisCluster
from redis_server import RedisServer


def table(shop=None):
    rules = json.loads(shop_source(64, 32, seed=7, agents_per_group=8))
    if shop:
        rules["shop"] = shop
    for i, g in enumerate(rules["groups"].values()):
        if i % 4 == 0:
            g["mode"] = {"conversion": "medium"}
    rules.setdefault("routing", {})["busy_threshold"] = 10_000
    result = rulec.compile_source(json.dumps(rules, ensure_ascii=False), file="bench.json")
    assert result.ok, result.errors[:3]
    t = result.table
    for c in chats("warm", n=20_000, seed=99):
        t.matcher.match_indices(c)
    return t


def make_router(t, url):
    from rulec.routing.router import Router

    r = Router(t, store=url, seed=os.getpid())
    r.load_state({"agents": {a["id"]: {"status": "online"} for a in t.agents}})
    return r


def server_counters(ports):
    """(EVALSHA calls, all commands incl. those run inside scripts, server CPU seconds),
    summed over the servers on `ports` (one port, or every node of a cluster)."""
    import redis

    out = [0, 0, 0.0]
    for port in [ports] if isinstance(ports, int) else ports:
        r = redis.Redis(port=port)
        stats, cpu = r.info("commandstats"), r.info("cpu")
        out[0] += stats.get("cmdstat_evalsha", {}).get("calls", 0)
        out[1] += sum(v["calls"] for v in stats.values())
        out[2] += cpu["used_cpu_user"] + cpu["used_cpu_sys"]
    return tuple(out)


def worker(url, t, prefix, n, ready, start, out, group):
    r = make_router(t, url)
    batch = chats(prefix, n=n, seed=hash(prefix) & 0xFFFF)
    trips0 = r.store.round_trips
    ready.wait()  # every worker set up (state loaded) before the server counters are read
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    if group > 1:
        r.route_many(batch, group=group)
    else:
        for c in batch:
            r.route(c)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out.put((n / dt, (r.store.round_trips - trips0) / n, cpu / n))
    r.close()


def run(url, port, tables, procs, n, group=1, replicas=()):
    """`procs` router processes; process k uses tables[k % len(tables)] (one shop each, or
    all on one shop)."""
    ctx = mp.get_context("fork")
    ready, start, out = ctx.Barrier(procs + 1), ctx.Event(), ctx.Queue()
    ps = [
        ctx.Process(
            target=worker,
            args=(url, tables[k % len(tables)], f"p{procs}-{k}-", n, ready, start, out, group),
        )
        for k in range(procs)
    ]
    for p in ps:
        p.start()
    ready.wait(timeout=300)
    ev0, calls0, cpu0 = server_counters(port)
    rep0 = server_counters(list(replicas))[2]
    start.set()
    res = [out.get(timeout=600) for _ in ps]
    for p in ps:
        p.join()
    ev1, calls1, cpu1 = server_counters(port)
    rep1 = server_counters(list(replicas))[2]
    total = procs * n
    return {
        "url": url.split("?")[0].split("://")[0]
        + ("" if isinstance(port, int) else f" x{len(port)}"),
        "processes": procs,
        "shops": len({tables[k % len(tables)].shop for k in range(procs)}),
        "api": f"route_many(group={group})" if group > 1 else "route",
        "chats_per_process": n,
        "decisions_per_s_per_process": [round(r[0]) for r in res],
        "decisions_per_s_total": round(sum(r[0] for r in res)),
        "round_trips_per_decision": [round(r[1], 3) for r in res],
        "evalsha_per_decision_server": round((ev1 - ev0) / total, 3),
        "redis_commands_per_decision_incl_in_scripts": round((calls1 - calls0) / total, 2),
        "router_cpu_us_per_decision": [round(r[2] * 1e6, 1) for r in res],
        "redis_cpu_us_per_decision": round((cpu1 - cpu0) / total * 1e6, 1),
        "replicas_cpu_us_per_decision": round((rep1 - rep0) / total * 1e6, 1),
    }


def memory_rate(t, n):
    r = make_router(t, "memory:")
    batch = chats("mem", n=n, seed=5)
    t0 = time.perf_counter()
    for c in batch:
        r.route(c)
    return round(n / (time.perf_counter() - t0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chats", type=int, default=20_000, help="chats per process")
    ap.add_argument("--aof", action="store_true", help="appendonly yes, appendfsync always")
    ap.add_argument("--unix", action="store_true", help="also through the unix socket")
    ap.add_argument("--group", type=int, default=64, help="route_many group size")
    ap.add_argument("--cluster", action="store_true", help="one Redis against a Redis Cluster")
    ap.add_argument("--consumers", type=int, default=50_000, help="--cluster: audience size")
    ns = ap.parse_args(argv)
    if ns.cluster:
        return cluster_main(ns)
    t, t2 = table(), table("bench-2")
    server = RedisServer(aof=ns.aof).start()
    try:
        print(
            json.dumps(
                {
                    "memory_store_decisions_per_s": memory_rate(t, ns.chats),
                    "aof": ns.aof,
                    "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
            )
        )
        import redis

        urls = [server.url(1)] + ([server.unix_url(1)] if ns.unix else [])
        for url in urls:
            for group in (1, ns.group):
                for procs, tables in ((1, [t]), (2, [t]), (2, [t, t2])):
                    print(json.dumps(run(url, server.port, tables, procs, ns.chats, group)))
                    redis.Redis(port=server.port, db=1).flushdb()
        print(json.dumps({"load_avg_1m_after": round(os.getloadavg()[0], 2)}))
    finally:
        server.cleanup()


def shop_on_another_master(cluster, shop):
    """A shop name whose slot another master serves than `shop`'s (2 shops = 2 masters)."""
    first = cluster.master_of(f"rulec:{{{shop}}}:ver")
    for k in range(1000):
        if cluster.master_of(f"rulec:{{{shop}-{k}}}:ver") is not first:
            return f"{shop}-{k}"
    raise LookupError("every name hashed to one master")


def plan_rate(url, consumers, tmp):
    """Consumers planned (and recorded) per second with the ledger at `url`: wall, planner
    CPU, and the Redis servers' CPU (`ports`) per consumer."""
    from benchmarks import bench_planner as bp

    aud = bp._workload(consumers, tmp)
    tbl = bp.table()
    tbl.matcher  # built outside the timed region
    ports = url_ports(url)
    if not isinstance(ports, int):  # the cluster's masters
        ports = [p for p in ports if redis_role(p) == "master"]
    _, _, rcpu0 = server_counters(ports)
    c0, t0 = time.process_time(), time.perf_counter()
    report = bp.plan_once(tbl, aud, url, bp._Null())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    _, _, rcpu1 = server_counters(ports)
    assert report["consumers"] == consumers
    return {
        "ledger": url.split("://")[0] + ("?" + url.split("?")[1] if "?" in url else ""),
        "consumers": consumers,
        "consumers_per_s_wall": round(consumers / wall),
        "planner_cpu_us_per_consumer": round(cpu / consumers * 1e6, 1),
        "redis_cpu_us_per_consumer_masters": round((rcpu1 - rcpu0) / consumers * 1e6, 1),
        "consumers_per_planner_cpu_s": round(consumers / cpu),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def redis_role(port):
    import redis

    return redis.Redis(port=port).info("replication")["role"]


def url_ports(url):
    hosts = url.split("://")[1].split("/")[0].split("?")[0]
    ports = [int(h.rpartition(":")[2]) for h in hosts.split(",")]
    return ports[0] if not url.startswith("redis+cluster") else ports


def cluster_main(ns):
    """One redis-server and a 3-master cluster, same session: routing, then planning."""
    import tempfile

    import redis

    single = RedisServer(save="3600 1").start()
    cluster = RedisCluster().start()
    try:
        t = table()
        t2 = table(shop_on_another_master(cluster, t.shop))
        print(json.dumps({"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}))
        masters = [m.port for m in cluster.masters()]
        replicas = [n.port for n in cluster.nodes if n.port not in masters]
        # Redis CPU: the masters' (what one server does alone); the replicas' apart
        targets = [(single.url(1), single.port, []), (cluster.url(), masters, replicas)]
        for group in (1, ns.group):
            for procs, tables in ((1, [t]), (2, [t, t2])):
                for url, ports, reps in targets:
                    print(json.dumps(run(url, ports, tables, procs, ns.chats, group, reps)))
                    for port in [ports] if isinstance(ports, int) else ports:
                        redis.Redis(port=port).flushall()
        with tempfile.TemporaryDirectory() as tmp:
            for k, url in enumerate(
                [single.url(2), cluster.url(), cluster.url("wait=1/5")] * 2
            ):  # twice, alternating: the second round shows the spread
                sep = "&" if "?" in url else "?"
                print(json.dumps(plan_rate(f"{url}{sep}prefix=p{k}", ns.consumers, tmp)))
        print(json.dumps({"load_avg_1m_after": round(os.getloadavg()[0], 2)}))
    finally:
        cluster.cleanup()
        single.cleanup()


@pytest.fixture(scope="module")
def redis_url():
    try:
        server = RedisServer().start()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server.url(0)
    server.cleanup()


@pytest.mark.parametrize("group", [1, 64])
def test_redis_fresh_buyers(benchmark, redis_url, group):
    """512 fresh buyers per round: route() one by one (group 1) or route_many(group=64)."""
    t = table()
    r = make_router(t, redis_url)
    counter = [0]

    def setup():
        counter[0] += 1
        return (chats(f"b{group}-{counter[0]}-", n=512, seed=counter[0]),), {}

    def route_all(batch):
        if group > 1:
            r.route_many(batch, group=group)
        else:
            for c in batch:
                r.route(c)

    benchmark.pedantic(route_all, setup=setup, rounds=20, iterations=1)
    benchmark.extra_info["decisions_per_s"] = round(512 / benchmark.stats.stats.mean)
    r.close()


if __name__ == "__main__":
    main()
