"""O14 on the Redis ledger: a server that persists nothing (S943) and a ledger wiped during a
run (S944) are refused instead of sends being printed twice later."""

import pytest
import redis
from redis_server import RedisServer

from rulec.errors import StoreError
from rulec.outreach.ledger.redis_ledger import RedisLedger


def test_a_server_without_persistence_is_refused_unless_volatile(redis_server):
    server = RedisServer(save="").start()  # no AOF, no RDB snapshots
    try:
        with pytest.raises(StoreError) as exc:
            RedisLedger(server.url(0), "s")
        assert exc.value.code == "S943"
        RedisLedger(server.url(0), "s", volatile=True).close()
        # the planner refuses it too unless told (volatile_ledger, the CLI's --volatile-ledger)
        from outreach_helpers import table

        from rulec.outreach.planner import Planner

        with pytest.raises(StoreError) as exc:
            Planner(table(), server.url(0))
        assert exc.value.code == "S943"
        Planner(table(), server.url(0), volatile_ledger=True).close()
    finally:
        server.cleanup()


def test_a_ledger_wiped_during_the_run_stops_it(redis_url, redis_server):
    ledger = RedisLedger(redis_url, "s")
    ledger.open_campaigns({"c": ("started", None, 0)})
    db = int(redis_url.rsplit("/", 1)[1])
    redis.Redis(port=redis_server.port, db=db).flushdb()
    with pytest.raises(StoreError) as exc:
        ledger.decide_and_record(["u1"], lambda history: [("c", "u1", "regular", 5)])
    assert exc.value.code == "S944"
    ledger.close()
