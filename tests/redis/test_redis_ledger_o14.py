"""O14 on the Redis ledger: persistence checked at start, a wiped ledger noticed mid-run,
unreadable rows stopping the run."""

import json

import pytest
from outreach_helpers import NOW, RULES, consumer, expected, table
from redis_server import RedisServer, need_redis

from rulec.errors import StoreError
from rulec.outreach.ledger.redis_ledger import RedisLedger
from rulec.outreach.planner import Planner

LINES = [json.dumps(consumer(i)) for i in range(300)]


@pytest.fixture
def memory_only():
    """A server that persists nothing: no AOF, no RDB save rule."""
    need_redis()
    server = RedisServer(save="").start()
    yield server
    server.cleanup()


def test_server_without_persistence_is_refused(memory_only, cli, tmp_path):
    """The defect: after such a server restarted empty, the ledger was silently recreated and
    every send printed again. O14: refused at start unless --volatile-ledger."""
    with pytest.raises(StoreError) as exc:
        Planner(table(), memory_only.url())
    assert exc.value.code == "S943" and "--volatile-ledger" in str(exc.value)
    shop = tmp_path / "shop.yaml"
    shop.write_text(json.dumps(RULES), encoding="utf-8")
    aud = tmp_path / "a.jsonl"
    aud.write_text("".join(x + "\n" for x in LINES), encoding="utf-8")
    args = ["plan", shop, "--audience", aud, "--ledger", memory_only.url(), "--now", NOW]
    r = cli(*args)
    assert r.code == 1 and "S943" in r.err and r.out == ""
    r = cli(*args, "--volatile-ledger")
    assert r.code == 0 and len(r.out.splitlines()) == len(expected(300))


def test_aof_or_rdb_is_accepted(redis_url, own_server):
    """The session server has an RDB save rule; own_server has AOF (appendfsync always)."""
    for url in (redis_url, own_server.url(3)):
        RedisLedger(url, "hx").close()


def test_ledger_wiped_mid_run_stops_the_run(memory_only):
    """The server restarts empty mid-run (no persistence, accepted as volatile): the next batch
    finds the ledger's identity gone and stops (S944) instead of recreating the ledger and
    sending everyone again."""
    sends = []

    def restart_once(s):
        sends.append(s)
        if len(sends) == 1:
            memory_only.kill()
            memory_only.start()

    with Planner(table(), memory_only.url(), batch_size=50, volatile_ledger=True) as p:
        with pytest.raises(StoreError) as exc:
            p.plan(LINES, NOW, on_send=restart_once)
    assert exc.value.code in ("S944", "S911"), exc.value
    if exc.value.code == "S911":  # the restart cut the connection first: the next open...
        with Planner(table(), memory_only.url(), volatile_ledger=True) as p:
            assert p.ledger.campaign_states() == {}  # ...is a new, empty ledger (documented)
    import redis

    r = redis.Redis(port=memory_only.port)
    assert r.hlen("rulec:{hx}:ledger:sends") == 0  # nothing recorded into a recreated ledger


def test_ledger_deleted_under_a_planner_is_noticed(redis_url):
    import redis

    sends = []

    def wipe_once(s):
        sends.append(s)
        if len(sends) == 1:
            redis.Redis.from_url(redis_url).flushdb()

    with Planner(table(), redis_url, batch_size=50) as p:
        with pytest.raises(StoreError) as exc:
            p.plan(LINES, NOW, on_send=wipe_once)
    assert exc.value.code == "S944" and "identity" in str(exc.value)
    assert redis.Redis.from_url(redis_url).keys("rulec:{hx}:*") == []


@pytest.mark.parametrize(
    "value", ["garbage", ";", ";99,0,1702342800", ";1,9,1702342800", ";1,0,x", ";1,0"]
)
def test_unreadable_history_row_stops_the_run(redis_url, value):
    import redis

    with Planner(table(), redis_url) as p:
        p.plan(LINES, NOW)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    sends = "rulec:{hx}:ledger:sends"
    r.hset(sends, "c15", value)
    before = {k: v for k, v in r.hgetall(sends).items() if k != "c15"}
    with Planner(table(), redis_url) as p:
        camps = r.hgetall("rulec:{hx}:ledger:camps")
        for name, v in camps.items():  # reopen every campaign, as after an interrupted run
            r.hset("rulec:{hx}:ledger:camps", name, v.replace('"finished"', '"started"'))
        with pytest.raises(StoreError) as exc:
            p.plan(LINES, NOW)
    assert exc.value.code == "S941" and "'c15'" in str(exc.value)
    assert {k: v for k, v in r.hgetall(sends).items() if k != "c15"} == before


@pytest.mark.parametrize(
    "meta,code",
    [({"schema": "9"}, "S903"), ({"shop": "other"}, "S941"), ({"id": ""}, "S941")],
)
def test_bad_meta_is_refused(redis_url, meta, code):
    import redis

    RedisLedger(redis_url, "hx").close()
    redis.Redis.from_url(redis_url).hset("rulec:{hx}:ledger:meta", mapping=meta)
    with pytest.raises(StoreError) as exc:
        RedisLedger(redis_url, "hx")
    assert exc.value.code == code


def test_damaged_campaign_state_is_refused(redis_url):
    import redis

    with Planner(table(), redis_url) as p:
        p.plan(LINES, NOW)
    redis.Redis.from_url(redis_url).hset("rulec:{hx}:ledger:camps", "wk", "1|{not json")
    with pytest.raises(StoreError) as exc:
        with Planner(table(), redis_url) as p:
            p.plan(LINES, NOW)
    assert exc.value.code == "S941" and "'wk'" in str(exc.value)


def test_two_planners_opening_a_fresh_ledger_at_once(redis_url):
    """The meta record of a fresh ledger is created in one step: a second planner opening it at
    the same moment never sees an identity without a format version (it saw S903 before)."""
    import threading

    for round_ in range(30):
        url, shop = redis_url, f"竞速{round_}"
        errors, idents = [], []
        start = threading.Barrier(4)

        def open_one():
            start.wait()
            try:
                led = RedisLedger(url, shop)
                idents.append(led.ident)
                led.close()
            except StoreError as exc:
                errors.append(exc.code)

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == [] and len(set(idents)) == 1, (errors, idents)
