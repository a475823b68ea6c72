"""Router processes on one Redis (real `rulec route` subprocesses): they share pending counts
(E3/E4 hold across processes: no agent pushed past what the rules allow) and contacts (R2a:
a buyer assigned by one process is sticky in the other)."""

import json
import random
import subprocess
import sys

import pytest
from routing_helpers import at, shop

pytestmark = pytest.mark.redis

N = 2000  # chats per process and phase: long enough to overlap, and not a multiple of 3
AGENTS = ["a1", "a2", "a3"]
RULES = shop({a: {} for a in AGENTS}, {"G": {"agents": AGENTS}}, busy_threshold=0)


def _route(tmp_path, name, events, url):
    """Start `rulec route` on an events file; returns the Popen (stdout: decisions)."""
    ev = tmp_path / f"{name}.jsonl"
    ev.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rulec",
            "route",
            str(tmp_path / "shop.json"),
            "--events",
            str(ev),
            "--store",
            url,
            "--seed",
            name[-1],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _decisions(procs):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-800:]
        outs.append([json.loads(line) for line in out.splitlines()])
    return outs


def _pending(url):
    import redis

    r = redis.Redis.from_url(url, decode_responses=True)
    return {a: int(r.hget("rulec:{s}:pending", a) or 0) for a in AGENTS}


def test_two_router_processes_share_pending_and_contacts(tmp_path, redis_url):
    (tmp_path / "shop.json").write_text(json.dumps(RULES), encoding="utf-8")
    online = [{"type": "agent", "time": at(0), "agent": a, "status": "online"} for a in AGENTS]
    assert _decisions([_route(tmp_path, "setup0", online, redis_url)]) == [[]]

    # phase 1: two processes, fresh buyers, at the same time
    fresh = [
        [{"type": "chat", "buyer": f"p{k}-{i}", "time": at(10 + i)} for i in range(N)]
        for k in (1, 2)
    ]
    outs = _decisions([_route(tmp_path, f"fresh{k}", fresh[k - 1], redis_url) for k in (1, 2)])
    assigned = {d["buyer"]: d["target"] for out in outs for d in out}
    assert len(assigned) == 2 * N and all(t.startswith("agent:") for t in assigned.values())
    pending = _pending(redis_url)
    # every assignment counted once; E3/E4 in one serial order keep the agents level
    # (busy_threshold 0: each chat goes to the lowest pending, ties to a1 first). Two
    # processes deciding on their own views would each end (667, 667, 666): together 2 apart,
    # and an overlap of stale views puts two chats on one agent.
    assert sum(pending.values()) == 2 * N
    assert max(pending.values()) - min(pending.values()) <= 1, pending
    per_agent = {a: sum(t == f"agent:{a}" for t in assigned.values()) for a in AGENTS}
    assert per_agent == pending

    # phase 2: every buyer comes back, to the other process (and shuffled): R2a sticky
    back = [
        [{"type": "chat", "buyer": f"p{3 - k}-{i}", "time": at(5000 + i)} for i in range(N)]
        for k in (1, 2)
    ]
    for k, evs in enumerate(back):
        random.Random(k).shuffle(evs)
        for i, e in enumerate(evs):
            e["time"] = at(5000 + i)
    outs = _decisions([_route(tmp_path, f"back{k}", back[k - 1], redis_url) for k in (1, 2)])
    for out in outs:
        assert len(out) == N
        for d in out:
            assert d["step"] == "sticky" and d["target"] == assigned[d["buyer"]], d
    assert sum(_pending(redis_url).values()) == 4 * N
