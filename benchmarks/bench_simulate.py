"""Simulation speed: simulated chats per second for a day with 50 agents, at growing chat
counts (the cost should be linear in chats). Target (issue 13): 100,000 chats with 50 agents
in under 20 s on this machine.

    .venv/bin/python -m benchmarks.bench_simulate            # the full curve (RESULTS-simulate.md)
    .venv/bin/python -m pytest benchmarks/bench_simulate.py  # a small run, as a smoke test
"""

from __future__ import annotations

import sys
import time

import rulec
from rulec.sim import engine, metrics, scenario

AGENTS = 50


def rules() -> str:
    lines = ["shop 压测店"] + [f"agent a{i} level {1 + i % 5}" for i in range(AGENTS)]
    lines.append(
        f"group 售前 {{ agents {', '.join(f'a{i}' for i in range(0, 30))}; order no_active_order, unpaid; mode conversion medium }}"
    )
    lines.append(
        f"group 售后 {{ agents {', '.join(f'a{i}' for i in range(30, AGENTS))}; order paid_unshipped, shipped, completed, after_sale }}"
    )
    return "\n".join(lines) + "\n"


def scen(chats: int):
    agents = {
        f"a{i}": {"shift": ["08:00", "23:59"], "conversion": round(0.05 + 0.4 * (i % 10) / 9, 3)}
        for i in range(AGENTS)
    }
    doc = {
        "date": "2026-11-11",
        "chats": chats,
        "rounds": 3,
        "returning": 0.2,
        "mix": {"order": {"no_active_order": 3, "unpaid": 2, "paid_unshipped": 1, "after_sale": 1}},
        "agents": agents,
    }
    return scenario.parse(doc, list(agents))


def run(chats: int):
    res = rulec.compile_source(rules(), "bench.rules")
    table = res.table
    s = scen(chats)
    c0, w0 = time.process_time(), time.perf_counter()
    log = engine.simulate(table, s, seed=1)
    from zoneinfo import ZoneInfo

    metrics.all_metrics(log, ZoneInfo("Asia/Shanghai"), [a["id"] for a in table.body["agents"]], {})
    return time.process_time() - c0, time.perf_counter() - w0


def test_simulate_small(benchmark):
    benchmark.pedantic(run, args=(2_000,), rounds=1, iterations=1)


def main(argv):
    print("chats, CPU s, wall s, chats per CPU second")
    for n in (int(x) for x in (argv or ["10000", "30000", "100000"])):
        cpu, wall = run(n)
        print(f"{n:8d} {cpu:7.2f} {wall:7.2f} {n / cpu:10.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
