"""O12s on the Redis ledger: shards complete separately, another N is refused (S940)."""

import pytest
from outreach_helpers import NOW, expected, table
from test_shards import N, keys, shard_lines

from rulec.errors import StoreError
from rulec.outreach.planner import Planner


def test_redis_shards_each_complete_and_refuse_another_n(redis_url):
    with Planner(table(), redis_url, batch_size=50) as p:
        one = p.plan(shard_lines(1), NOW, shard="1/2")
        assert one.report["campaigns"]["wk"]["shards_finished"] == 1
        with pytest.raises(StoreError) as exc:
            p.plan(shard_lines(2), NOW, shard="2/3")
        assert exc.value.code == "S940"
        # the message names the ledger by its URL (password hidden), as SQLite's by its path
        assert exc.value.diagnostics[0].message.startswith(f"ledger {p.ledger.url}: campaign ")
        two = p.plan(shard_lines(2), NOW, shard="2/2")
        assert two.report["campaigns"]["wk"]["shards_finished"] == 2
        assert p.plan(shard_lines(2), NOW, shard="2/2").sends == []
        recorded = [(n, c) for n, c, _ch, _at in p.ledger.sends()]
    assert keys(one.sends) | keys(two.sends) == expected(N)
    assert len(recorded) == len(set(recorded)) and set(recorded) == expected(N)


def test_redis_format_1_ledger_is_migrated(redis_url):
    """A ledger written before shards (format 1) reads as shard 1 of 1 of each campaign."""
    import json

    import redis

    from rulec.outreach.ledger.redis_ledger import RedisLedger

    r = redis.Redis.from_url(redis_url)
    base = "rulec:{hx}:ledger:"
    r.hset(base + "meta", mapping={"schema": "1", "shop": "hx", "created": "x"})
    state = {"status": "finished", "reason": None, "send_at": 1702342800, "opened_at": "x"}
    r.hset(base + "camps", "wk", "1|" + json.dumps(state))
    r.hset(base + "cids", "1", "wk")
    r.set(base + "nextid", 1)
    r.hset(base + "sends", "c13", ";1,0,1702342800")
    with RedisLedger(redis_url, "hx") as led:
        assert led.campaign_states()["wk"] == (1, "finished", None, 1)
        assert led.sends() == [("wk", "c13", "regular", 1702342800)]
