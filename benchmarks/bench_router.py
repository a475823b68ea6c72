"""Router.route decisions per second on a 64-group, 32-crowd shop (issue 3 targets:
>= 200,000/s with the memory store, >= 20,000/s with SQLite).

Run:  .venv/bin/pytest benchmarks/bench_router.py --benchmark-only
      (add --benchmark-timer time.process_time on a shared, loaded machine)
The shop: benchmarks/gen_rules.shop_source(64, 32, agents_per_group=8) — 256 agents, every
4th group in conversion mode — all agents online. The matcher's class cache is warmed with
100,000 chats first (a long-running service's steady state). Each round routes CHATS chats
with pending reset before it, so agents see ~2 chats per round (some become busy; popular
candidate sets saturate). Workloads: fresh buyers (no contact: R1–R6 on every chat),
returning buyers (R2 sticky on most chats), and fresh buyers with R5 precomputed (the
router's own cost). Figures: benchmarks/RESULTS-router.md.
"""

import gc
import json
import random

import pytest

import rulec
from benchmarks.gen_rules import shop_source
from rulec.routing.router import Router

CHATS = 512
CITIES = ["杭州", "上海", "北京", "广州", "深圳", "成都", "武汉", "南京"]
ORDER = ["no_active_order", "unpaid", "paid_unshipped", "shipped", "completed", "after_sale"]
TIMES = [f"2026-11-23T09:{m:02d}:00+08:00" for m in range(60)]


def bench_table():
    rules = json.loads(shop_source(64, 32, seed=7, agents_per_group=8))
    for i, g in enumerate(rules["groups"].values()):
        if i % 4 == 0:
            g["mode"] = {"conversion": "medium"}
    result = rulec.compile_source(json.dumps(rules, ensure_ascii=False), file="bench.json")
    assert result.ok, result.errors[:3]
    return result.table


def chats(prefix, n=CHATS, seed=1, buyers=None):
    rnd = random.Random(seed)
    return [
        {
            "type": "chat",
            "time": TIMES[i % 60],
            "buyer": f"{prefix}{i if buyers is None else rnd.randrange(buyers)}",
            "product": f"p{rnd.randrange(256)}",
            "order": rnd.choice(ORDER),
            "attrs": {
                "level": rnd.randint(1, 5),
                "spent": rnd.randint(0, 20000),
                "orders": rnd.randint(0, 30),
                "city": rnd.choice(CITIES),
            },
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def table():
    t = bench_table()
    m = t.matcher
    for k in range(100_000 // 4096):
        for c in chats(f"warm{k}-", n=4096, seed=1000 + k):
            m.match_indices(c)
    return t


def make_router(table, url):
    r = Router(table, store=url, seed=1)
    rnd = random.Random(2)
    r.load_state(
        {
            "agents": {
                a["id"]: {"status": "online", "conversion": round(rnd.random() * 0.3, 3)}
                for a in table.agents
            }
        }
    )
    return r


def reset_pending(r):
    n = len(r.ids)
    if hasattr(r.store, "flush"):
        for i in range(n):
            r.store.put_agent(i, pending=0)
        r.store.flush()
    else:
        r.store.pending[:] = [0] * n


def run_rounds(benchmark, r, workload, rounds):
    counter = [0]

    def setup():
        reset_pending(r)
        counter[0] += 1
        batch = workload(counter[0])
        gc.collect()  # the benchmark's own garbage (the batch just built) is not the router's
        return (batch,), {}

    def route_all(batch):
        route = r.route
        for c in batch:
            route(c)

    benchmark.pedantic(route_all, setup=setup, rounds=rounds, iterations=1)
    benchmark.extra_info["decisions_per_s"] = round(CHATS / benchmark.stats.stats.mean)
    benchmark.extra_info["matcher"] = rulec.implementation


def test_memory_fresh_buyers(benchmark, table):
    run_rounds(benchmark, make_router(table, "memory:"), lambda k: chats(f"r{k}-", seed=k), 200)


def test_memory_returning_buyers(benchmark, table):
    r = make_router(table, "memory:")
    for c in chats("b", n=4096, buyers=2000):  # every buyer has a recent contact
        r.route(c)
    run_rounds(benchmark, r, lambda k: chats("b", buyers=2000, seed=k), 200)


def test_memory_fresh_buyers_r5_precomputed(benchmark, table):
    """The router's own cost: R5 answered from a dict (no predicate evaluation)."""
    r = make_router(table, "memory:")
    pre = {}
    m = table.matcher

    def workload(k):
        batch = chats(f"p{k}-", seed=k)
        for c in batch:
            pre[c["buyer"]] = m.match_outcome(c)
        return batch

    r._outcome = lambda chat: pre[chat["buyer"]]
    run_rounds(benchmark, r, workload, 200)


@pytest.mark.parametrize("opts", ["", "?sync=off", "?batch=64"])
def test_sqlite_fresh_buyers(benchmark, table, tmp_path, opts):
    r = make_router(table, f"sqlite:///{tmp_path / 'state.db'}{opts}")
    run_rounds(benchmark, r, lambda k: chats(f"r{k}-", seed=k), 20)
    r.close()
