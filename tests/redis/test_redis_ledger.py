"""The Redis ledger (O12, O13): same plan as SQLite, concurrent planner processes never
double-send, a Redis crash (AOF, appendfsync always) loses no recorded send and the re-run
completes, batch locks of a dead planner expire."""

import json
import subprocess
import sys
import time

import pytest
from outreach_helpers import NOW, RULES, expected, table, write_audience

from rulec.errors import StoreError
from rulec.outreach.ledger import open_ledger
from rulec.outreach.ledger.redis_ledger import RedisLedger
from rulec.outreach.planner import Planner

pytestmark = pytest.mark.redis

N = 20_000


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("o13redis")
    shop = d / "shop.json"
    shop.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    aud = d / "aud.jsonl"
    write_audience(aud, N)
    lines = aud.read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "rev.jsonl").write_text("".join(reversed(lines)), encoding="utf-8")
    return d, shop, aud, expected(N)


def _cmd(shop, aud, url, *extra):
    return [
        sys.executable,
        "-m",
        "rulec",
        "plan",
        str(shop),
        "--audience",
        str(aud),
        "--ledger",
        url,
        "--now",
        NOW,
        *extra,
    ]


def _keys(text):
    out = []
    for line in text.splitlines():
        try:
            s = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append((s["campaign"], s["consumer"]))
    return out


def _recorded(url):
    with open_ledger(url, RULES["shop"]) as led:
        return [(n, c) for n, c, _ch, _at in led.sends()]


def test_plan_matches_sqlite(tmp_path, redis_url):
    """O12/O13 through the API: the same sends and report as the SQLite ledger; a second run
    sends nothing."""
    write_audience(tmp_path / "a.jsonl", 3000)
    res = {}
    for name, url in (("sqlite", str(tmp_path / "l.db")), ("redis", redis_url)):
        with Planner(table(), url, batch_size=700) as p:
            res[name] = p.plan(str(tmp_path / "a.jsonl"), NOW)
    assert res["redis"].sends == res["sqlite"].sends
    assert res["redis"].report == res["sqlite"].report
    assert {(s["campaign"], s["consumer"]) for s in res["redis"].sends} == expected(3000)
    with Planner(table(), redis_url) as p:
        again = p.plan(str(tmp_path / "a.jsonl"), NOW)
    assert again.sends == []
    with RedisLedger(redis_url, RULES["shop"]) as led:
        assert set(led.campaign_states().values()) == {(1, "finished", None, 1)}
        assert len(led.sends("wk")) == sum(1 for n, _ in expected(3000) if n == "wk")


def _two_planners(d, shop, aud, url):
    """Run 2 planner processes at once on one ledger, over the audience in opposite orders;
    the sends each printed."""
    files = [open(d / f"two{k}.jsonl", "w+", encoding="utf-8") for k in range(2)]
    procs = [
        subprocess.Popen(
            _cmd(shop, src, url, "--batch", "500"),
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
        )
        for src, fh in zip((aud, d / "rev.jsonl"), files)
    ]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-500:] for e in errs]
    outs = []
    for fh in files:
        fh.seek(0)
        outs.append(_keys(fh.read()))
        fh.close()
    return outs


def test_two_planner_processes_never_double_send(work, redis_url):
    """O13: 2 processes × 20,000 consumers on one Redis ledger, walking the audience in
    opposite orders: every owed send printed once across both outputs and recorded once.
    Whether the runs overlap is up to the scheduler (on a loaded machine one process may
    finish before the other starts): a run that did not is checked the same and tried again,
    on an emptied ledger, up to 3 times in all."""
    import redis

    d, shop, aud, want = work
    for _attempt in range(3):
        outs = _two_planners(d, shop, aud, redis_url)
        keys = outs[0] + outs[1]
        assert len(keys) == len(set(keys)), "a send was printed by both planners"
        assert set(keys) == want
        recorded = _recorded(redis_url)
        assert len(recorded) == len(set(recorded)) and set(recorded) == want
        if all(outs):
            break
        redis.Redis.from_url(redis_url.split("?")[0]).flushdb()
    assert all(outs), "one planner sent nothing in 3 tries: the runs never overlapped"


def test_redis_killed_mid_run_loses_no_recorded_send(work, own_server):
    """Redis (AOF, appendfsync always) SIGKILLed while a planner records: the planner stops
    with S911 and exit 1; every send recorded before the kill is there after the restart;
    the re-run completes with each owed send recorded once."""
    import redis

    d, shop, aud, want = work
    url = own_server.url(0, "lock_ttl=1")
    out = open(d / "kill.jsonl", "w+", encoding="utf-8")
    p = subprocess.Popen(
        _cmd(shop, aud, url, "--batch", "200"), stdout=out, stderr=subprocess.PIPE, text=True
    )
    client = redis.Redis(port=own_server.port, decode_responses=True)
    key = "rulec:{hx}:ledger:sends"
    deadline = time.monotonic() + 60
    while client.hlen(key) < N // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    before = client.hgetall(key)  # what Redis has acknowledged as recorded
    own_server.kill()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "S911" in err and "run the same command again" in err, err
    assert "Traceback" not in err
    own_server.start()
    after = redis.Redis(port=own_server.port, decode_responses=True).hgetall(key)
    assert 0 < len(before) < N
    lost = [c for c, h in before.items() if not after.get(c, "").startswith(h)]
    assert lost == [], f"{len(lost)} consumers lost recorded sends"
    out.seek(0)
    printed = _keys(out.read())
    out.close()
    r = subprocess.run(
        _cmd(shop, aud, url, "--batch", "200"), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-800:]
    again = _keys(r.stdout)
    assert set(printed) | set(again) == want  # nothing lost
    assert len({c for _n, c in set(printed) & set(again)}) <= 200  # the batch in flight at most
    recorded = _recorded(url)
    assert len(recorded) == len(set(recorded)) and set(recorded) == want


def test_a_dead_planners_locks_expire(redis_url):
    """A batch lock left by a planner that died is waited for, then taken over after lock_ttl."""
    url = redis_url + "?lock_ttl=0.5"
    dead = RedisLedger(url, "hx")
    dead.open_campaigns({"c": ("started", None, 0)})
    dead._claim(["u1", "u2"])  # claimed, never recorded
    live = RedisLedger(url, "hx")
    live.campaign_states()
    t0 = time.monotonic()
    rec = live.decide_and_record(["u2", "u3"], lambda h: [("c", "u2", "regular", 5)])
    assert time.monotonic() - t0 > 0.3  # it waited for the lock to expire (no upper bound: a
    # loaded machine may take any time; returning at all shows the lock was taken over)
    assert rec == [("c", "u2", "regular", 5)]
    assert live.sends() == [("c", "u2", "regular", 5)]
    with pytest.raises(StoreError) as exc:  # a decision ignoring the history is refused (O13)
        dead.decide_and_record(["u2"], lambda h: [("c", "u2", "regular", 6)])
    assert exc.value.code == "S960" and "recorded twice" in str(exc.value)
    assert live.sends() == [("c", "u2", "regular", 5)]


def test_a_batch_slower_than_lock_ttl_is_not_recorded(redis_url):
    """A planner whose batch outlived its locks (another planner took them over) records
    nothing and says so (S961), instead of recording on top of the other planner."""
    url = redis_url + "?lock_ttl=0.3"
    slow, fast = RedisLedger(url, "hx"), RedisLedger(url, "hx")
    slow.open_campaigns({"c": ("started", None, 0)})
    fast.campaign_states()

    def decide(history):
        time.sleep(0.5)
        fast.decide_and_record(["u7"], lambda h: [] if h else [("c", "u7", "regular", 1)])
        return [("c", "u7", "regular", 2)]

    with pytest.raises(StoreError) as exc:
        slow.decide_and_record(["u7"], decide)
    assert exc.value.code == "S961" and "lock_ttl" in str(exc.value)
    assert slow.sends() == [("c", "u7", "regular", 1)]


def test_a_lock_outliving_lock_ttl_is_S907(redis_url):
    """A lock that stays past the waiting planner's lock_ttl (here: set by a planner with a
    longer one) ends the wait with S907, "try again", not a hang; planners taking turns on
    the same consumers do not (the wait starts again whenever the lock in the way changes)."""
    dead = RedisLedger(redis_url + "?lock_ttl=60", "hy")
    dead.open_campaigns({"c": ("started", None, 0)})
    dead._claim(["u1"])  # claimed for 60 s, never recorded
    live = RedisLedger(redis_url + "?lock_ttl=0.2", "hy")
    live.campaign_states()
    with pytest.raises(StoreError) as exc:
        live.decide_and_record(["u1"], lambda h: [("c", "u1", "regular", 5)])
    assert exc.value.code == "S907" and "'u1' stayed locked" in str(exc.value)
    assert live.sends() == []
