"""Group commit (route_many): the same decisions as routing chat by chat (E1), one Redis call
per group when alone, and two processes grouping at once still keep E3/E4 and R2a."""

import json
import random
import subprocess
import sys

import pytest
from routing_helpers import at, shop, table_from_rules

from rulec.routing.router import Router

pytestmark = pytest.mark.redis

RULES = shop(
    {f"a{i}": {"level": 1 + i % 3} for i in range(6)},
    {
        "G": {"agents": ["a0", "a1", "a2"]},
        "H": {"agents": ["a3", "a4", "a5"], "mode": {"conversion": "high"}},
    },
    busy_threshold=2,
)
STATE = {"agents": {f"a{i}": {"status": "online", "conversion": 0.1 * i} for i in range(6)}}


def _chats(n, buyers, seed):
    rnd = random.Random(seed)
    return [{"buyer": f"u{rnd.randrange(buyers)}", "time": at(i)} for i in range(n)]


def test_group_commit_decides_as_one_by_one(redis_url):
    """E1: route_many on Redis gives the decisions (and R10 traces) of route() chat by chat on
    memory:, with the same seed (R2 sticky returns, E2-E4, C1-C4 included), in 1/64 of the
    calls."""
    t = table_from_rules(RULES)
    mem, red = Router(t, "memory:", seed=3), Router(t, redis_url, seed=3)
    for r in (mem, red):
        r.load_state(STATE)
    chats = _chats(640, 80, 1)
    trips = red.store.round_trips
    assert red.route_many(chats) == [mem.route(c) for c in chats]
    assert red.store.round_trips - trips == 10
    assert red.store.export() == mem.store.export()
    more = _chats(200, 80, 2)  # R10: the same traces too
    assert red.route_many(more, trace=True) == [mem.route(c, trace=True) for c in more]
    red.close()


def test_a_stale_group_is_routed_again_one_by_one(redis_url):
    """Another router writes between the group's read and its commit: nothing of the group is
    written, and the chats are decided again on the fresh state (R2a sees the other's
    contact)."""
    t = table_from_rules(RULES)
    r1, r2 = Router(t, redis_url, seed=1), Router(t, redis_url, seed=2)
    r1.load_state(STATE)
    r2.store.agent_state()
    first = r2.route({"buyer": "x", "time": at(0)})  # r1's copy is now stale
    out = r1.route_many([{"buyer": "x", "time": at(1)}, {"buyer": "y", "time": at(2)}])
    assert out[0]["step"] == "sticky" and out[0]["target"] == first["target"]
    pend = r1.store.export()["agents"]
    assert sum(a["pending"] for a in pend.values()) == 3
    r1.close()
    r2.close()


SCRIPT = """
import json, sys
sys.path.insert(0, {helpers!r})
from routing_helpers import at, table_from_rules
from rulec.routing.router import Router
rules = json.loads({rules!r})
r = Router(table_from_rules(rules), {url!r}, seed={seed})
chats = [{{"buyer": "{prefix}%d" % i, "time": at(10 + i)}} for i in range({n})]
print(json.dumps(r.route_many(chats, group=16)))
"""


def test_two_processes_grouping_at_once_keep_e3_e4(redis_url, tmp_path):
    """Two processes commit groups of 16 at once on one shop: pending stays level (busy
    threshold 0, E3/E4 in one serial order) and every assignment is counted once."""
    import os

    agents = ["a1", "a2", "a3"]
    rules = shop({a: {} for a in agents}, {"G": {"agents": agents}}, busy_threshold=0)
    r = Router(table_from_rules(rules), redis_url)
    r.load_state({"agents": {a: {"status": "online"} for a in agents}})
    r.close()
    n = 4000
    helpers = os.path.join(os.path.dirname(__file__), "..", "routing")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SCRIPT.format(
                    helpers=helpers,
                    rules=json.dumps(rules),
                    url=redis_url,
                    seed=k,
                    prefix=f"p{k}-",
                    n=n,
                ),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (1, 2)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-800:]
        outs.append(json.loads(out))
    assigned = [d["target"] for o in outs for d in o]
    assert len(assigned) == 2 * n
    import redis

    pend = {
        a: int(v)
        for a, v in redis.Redis.from_url(redis_url, decode_responses=True)
        .hgetall("rulec:{s}:pending")
        .items()
    }
    assert sum(pend.values()) == 2 * n
    assert max(pend.values()) - min(pend.values()) <= 1, pend
    assert pend == {a: assigned.count(f"agent:{a}") for a in agents}
