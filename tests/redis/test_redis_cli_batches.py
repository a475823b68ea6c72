"""`rulec route --store redis://…` sends runs of consecutive chats through route_many: the
output (decisions and R10 traces) is the memory store's, with one Redis commit per run of up
to 64 chats instead of one per chat (E1 across stores)."""

import json
import random

import pytest
import redis
from routing_helpers import at, shop

pytestmark = pytest.mark.redis

RULES = shop(
    {f"a{i}": {"level": 1 + i % 3} for i in range(6)},
    {
        "G": {"agents": ["a0", "a1", "a2"]},
        "H": {"agents": ["a3", "a4", "a5"], "mode": {"conversion": "high"}},
    },
    busy_threshold=2,
)


def _evalsha_calls(client):
    return client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)


def test_cli_routes_chat_runs_in_groups(tmp_path, cli, redis_url):
    """E1/R10: same lines as memory:; 300 chats in runs split by agent and reply events
    commit in a handful of calls (one-by-one routing would need one per chat)."""
    rnd = random.Random(5)
    events = [
        {"type": "agent", "time": at(0), "agent": f"a{i}", "status": "online"} for i in range(6)
    ]
    for i in range(300):
        events.append({"type": "chat", "buyer": f"u{rnd.randrange(60)}", "time": at(1 + i)})
        if i in (100, 170):
            events.append({"type": "reply", "time": at(1 + i), "agent": "a1"})
        if i == 230:
            events.append({"type": "agent", "time": at(1 + i), "agent": "a4", "status": "offline"})
    (tmp_path / "shop.json").write_text(json.dumps(RULES), encoding="utf-8")
    (tmp_path / "ev.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8"
    )
    args = ["route", tmp_path / "shop.json", "--events", tmp_path / "ev.jsonl", "--seed", "4"]
    mem = cli(*args)
    client = redis.Redis.from_url(redis_url)
    before = _evalsha_calls(client)
    red = cli(*args, "--store", redis_url)
    calls = _evalsha_calls(client) - before
    assert mem.code == red.code == 0, red.err
    assert red.out == mem.out and len(mem.out.splitlines()) == 300
    assert all("trace" in json.loads(line) for line in red.out.splitlines())
    assert calls < 30, calls  # 9 events + 4 runs of chats in groups of 64, not 300
