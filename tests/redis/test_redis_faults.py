"""Redis faults: down at start (S910, exit 1), lost mid-run (fail fast with S911, or degrade
with every affected decision flagged), bounded timeouts on a hung server, and recovery.

No wall-clock assertions: each test checks what the caller is told (code, message, exit
status) and how many attempts were made, not how long it took."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from redis_server import closed_port
from routing_helpers import at, router, shop

from rulec.errors import StoreError
from rulec.outreach.ledger import open_ledger
from rulec.routing.stores import open_store

pytestmark = pytest.mark.redis

RULES = shop({"a1": {}, "a2": {}}, {"G": {"agents": ["a1", "a2"]}})
ONLINE = {"agents": {"a1": {"status": "online"}, "a2": {"status": "online"}}}


@pytest.fixture
def closed_url():
    """A Redis URL whose port refuses connections (held for the test: no server can appear)."""
    with closed_port() as sock:
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def test_down_at_start_is_a_clear_store_error(closed_url):
    for opener in (open_store, open_ledger):
        with pytest.raises(StoreError) as exc:
            opener(closed_url + "?on_error=degrade", "s")  # degrade: for a lost server only
        assert exc.value.code == "S910" and "cannot reach Redis at" in str(exc.value)


def test_cli_down_at_start_exits_1(tmp_path, cli, closed_url):
    shop_file = tmp_path / "shop.json"
    shop_file.write_text(json.dumps(RULES), encoding="utf-8")
    ev = tmp_path / "ev.jsonl"
    ev.write_text(json.dumps({"type": "chat", "buyer": "u", "time": at(0)}) + "\n")
    url = closed_url
    r = cli("route", shop_file, "--events", ev, "--store", url)
    assert r.code == 1 and "S910" in r.err and "cannot reach Redis" in r.err, r
    assert "Traceback" not in r.err
    from outreach_helpers import NOW, write_audience
    from outreach_helpers import RULES as PLAN_RULES

    plan_shop = tmp_path / "plan.json"
    plan_shop.write_text(json.dumps(PLAN_RULES), encoding="utf-8")
    write_audience(tmp_path / "aud.jsonl", 10)
    r = cli("plan", plan_shop, "--audience", tmp_path / "aud.jsonl", "--ledger", url, "--now", NOW)
    assert r.code == 1 and "S910" in r.err and r.out == "", r


def test_lost_mid_run_fails_fast_by_default(own_server):
    r = router(RULES, ONLINE, store=own_server.url(0))
    assert r.route({"buyer": "u1", "time": at(0)})["step"] == "group"
    own_server.kill()
    with pytest.raises(StoreError) as exc:
        r.route({"buyer": "u2", "time": at(1)})
    assert exc.value.code == "S911" and "connection to Redis lost" in str(exc.value)
    r.close()


def test_degraded_mode_is_flagged_and_recovers(own_server):
    """on_error=degrade: while Redis is away every decision says "degraded": true and is taken
    without stickiness or pending; once Redis is back (retry interval) decisions are normal
    again, with the state Redis kept (AOF)."""
    r = router(RULES, ONLINE, store=own_server.url(0, "on_error=degrade&retry=0.2"))
    d = r.route({"buyer": "u1", "time": at(0)})
    assert d["step"] == "group" and "degraded" not in d
    own_server.kill()
    for i in range(1, 6):
        d = r.route({"buyer": "u1", "time": at(i)})  # u1 would be sticky (R2a)
        assert d["degraded"] is True and d["step"] == "group", d
    r.feed({"type": "agent", "time": at(7), "agent": "a2", "status": "offline"})
    assert r.route({"buyer": "u9", "time": at(8)})["target"] == "agent:a1"  # local status kept
    own_server.start()
    time.sleep(0.3)
    d = r.route({"buyer": "u1", "time": at(10)})
    assert "degraded" not in d and d["step"] == "sticky", d
    r.close()


def test_hung_server_times_out(own_server):
    """A server that stops answering (SIGSTOP): the call gives up after `timeout` seconds."""
    r = router(RULES, ONLINE, store=own_server.url(0, "timeout=0.3"))
    os.kill(own_server.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(StoreError) as exc:
            r.route({"buyer": "u1", "time": at(0)})
        assert exc.value.code == "S911" and "timed out" in str(exc.value)
    finally:
        os.kill(own_server.proc.pid, signal.SIGCONT)
    r.close()


def test_cli_route_fails_fast_when_redis_goes_away(tmp_path, own_server):
    """`rulec route` with on_error=fail: Redis killed while it routes → exit 1, S911, no
    traceback; the decisions made before were printed."""
    shop_file = tmp_path / "shop.json"
    shop_file.write_text(json.dumps(RULES), encoding="utf-8")
    ev = tmp_path / "ev.jsonl"
    lines = [{"type": "agent", "time": at(0), "agent": "a1", "status": "online"}]
    lines += [{"type": "chat", "buyer": f"u{i}", "time": at(1 + i // 10)} for i in range(100_000)]
    ev.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    out_file = open(tmp_path / "out.jsonl", "w+", encoding="utf-8")  # a pipe would fill up
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rulec",
            "route",
            str(shop_file),
            "--events",
            str(ev),
            "--store",
            own_server.url(0),
        ],
        stdout=out_file,
        stderr=subprocess.PIPE,
        text=True,
    )
    import redis

    client = redis.Redis(port=own_server.port)
    deadline = time.monotonic() + 60
    while int(client.get("rulec:{s}:ver") or 0) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    own_server.kill()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "S911" in err and "Traceback" not in err, err[-800:]
    out_file.seek(0)
    printed = out_file.read().splitlines()
    out_file.close()
    assert 150 <= len(printed) < 100_000  # ver counts the agent event too


def test_an_error_reply_is_a_store_error(redis_url, redis_server):
    """State keys of the wrong type (someone else's data at rulec's keys): Redis answers an
    error, reported as S912 with Redis's words, not a traceback."""
    import redis

    r = router(RULES, store=redis_url)
    r.feed({"type": "agent", "time": at(0), "agent": "a1", "status": "online"})
    r.route({"type": "chat", "buyer": "u1", "time": at(1)})
    db = redis.Redis(port=redis_server.port, db=int(redis_url.rsplit("/", 1)[1]))
    for key in db.keys("*pending*"):
        db.delete(key)
        db.sadd(key, "not a hash")
    with pytest.raises(StoreError) as exc:
        r.route({"type": "chat", "buyer": "u2", "time": at(2)})
    assert exc.value.code == "S912" and "WRONGTYPE" in str(exc.value)
