"""A shop's slot moved to another master while routers route and a planner plans (MIGRATING /
IMPORTING, MIGRATE key by key, SETSLOT NODE): the calls caught half-way are redirected (ASK),
told to wait (TRYAGAIN) or moved (MOVED), and nothing is lost or counted twice (R2a, E3/E4,
O13). docs/deploy.md, "Redis Cluster"."""

import json
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
from outreach_helpers import NOW, consumer, expected, table
from routing_helpers import at, router
from test_redis_cluster import _pending
from test_redis_processes import AGENTS, RULES
from test_shards import keys as send_keys

from rulec.common.redis_cluster import key_slot
from rulec.outreach.planner import Planner

pytestmark = pytest.mark.redis

ONLINE = {"agents": {a: {"status": "online"} for a in AGENTS}}


def _prefix(url):
    return parse_qs(urlsplit(url).query)["prefix"][0]


def _move_slot(cluster, slot, first_keys, done):
    """In a thread: start the migration, move `first_keys` (the shop's keys now split across
    two masters), pause, move the rest, pause (every key on the target, the slot still
    migrating), then give the slot to the target."""
    src = cluster.master_of_slot(slot)
    dst = next(m for m in cluster.masters() if m is not src)

    def run():
        try:
            cluster.begin_migration(slot, src, dst)
            cluster.migrate_keys(slot, src, dst, first_keys)
            time.sleep(0.4)
            cluster.migrate_keys(slot, src, dst)
            time.sleep(0.4)
            cluster.end_migration(slot, dst)
        finally:
            done.set()

    t = threading.Thread(target=run)
    t.start()
    return t, src, dst


def test_slot_migration_during_routing_loses_nothing(redis_cluster, cluster_url):
    base = f"{_prefix(cluster_url)}:{{s}}:"
    slot = key_slot(base + "ver")
    routers = [
        router(RULES, ONLINE, seed=1, store=cluster_url),
        router(RULES, seed=2, store=cluster_url),
    ]
    decisions, i = [], 0

    def route(n):
        nonlocal i
        for _ in range(n):
            r = routers[i % 2]
            decisions.append(r.route({"buyer": f"b{i}", "time": at(10 + i)}))
            i += 1

    route(200)
    done = threading.Event()
    t, src, dst = _move_slot(redis_cluster, slot, [base + "ver"], done)
    while not done.is_set():  # route through every stage of the move
        route(1)
    t.join()
    route(200)
    assert redis_cluster.master_of_slot(slot) is dst
    assert redis_cluster.client(src).execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0

    assigned = {d["buyer"]: d["target"] for d in decisions}
    assert len(assigned) == i and all(t.startswith("agent:") for t in assigned.values())
    pending = _pending(cluster_url)
    per_agent = {a: sum(t == f"agent:{a}" for t in assigned.values()) for a in AGENTS}
    assert per_agent == pending and sum(pending.values()) == i  # none lost, none twice
    assert max(pending.values()) - min(pending.values()) <= 1, pending  # one serial order
    for k in range(i):  # every buyer is sticky to its agent, in either router (R2a)
        d = routers[(k + 1) % 2].route({"buyer": f"b{k}", "time": at(20000 + k)})
        assert d["step"] == "sticky" and d["target"] == assigned[f"b{k}"], d
    seen = sum((r.store._conn.seen for r in routers), start=Counter())
    # the calls met each stage: keys split (TRYAGAIN), keys gone from the source (ASK), the
    # slot given away (MOVED), scripts missing on the new master (NOSCRIPT -> EVAL)
    assert seen["TRYAGAIN"] and seen["ASK"] and seen["MOVED"] and seen["NOSCRIPT"], seen
    for r in routers:
        r.close()


def test_slot_migration_during_planning_is_exactly_once(redis_cluster, cluster_url):
    """A plan whose ledger slot moves mid-run (started after 200 consumers; the planner keeps
    deciding batches through every stage of the move): every send once in the output and
    once in the ledger (O13), the same sends as a run on the memory ledger."""
    n = 1500
    lines = [json.dumps(consumer(i)) for i in range(n)]
    base = f"{_prefix(cluster_url)}:{{hx}}:ledger:"
    slot = key_slot(base + "meta")
    done, moving = threading.Event(), []

    def progress(_read, _total, consumers):
        if consumers >= 200 and not moving:
            moving.append(_move_slot(redis_cluster, slot, [base + "sends", base + "camps"], done))
        if moving and not done.is_set():
            time.sleep(0.005)  # batches keep coming while the slot moves

    with Planner(table(), cluster_url, batch_size=20) as p:
        result = p.plan(lines, NOW, on_progress=progress)
        recorded = [(c, k) for c, k, _ch, _at in p.ledger.sends()]
        seen = p.ledger._conn.seen
    thread, _src, dst = moving[0]
    thread.join()
    assert done.is_set() and redis_cluster.master_of_slot(slot) is dst
    reference = Planner(table(), "memory:").plan(lines, NOW).sends
    assert send_keys(result.sends) == send_keys(reference) == expected(n)
    assert len(result.sends) == len(reference)  # nobody twice in the output
    assert len(recorded) == len(set(recorded)) and set(recorded) == expected(n)
    assert seen["TRYAGAIN"] and seen["ASK"] and seen["MOVED"], seen
