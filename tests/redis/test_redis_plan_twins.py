"""The planner's Cython loop records Packed rows on a Redis ledger exactly as the pure-Python loop
records its sends (issue 15): the seeded workload of test_plan_paths, two runs, same bytes."""

import pytest
from test_plan_paths import run_workload

from rulec.outreach import plan_run


@pytest.mark.skipif(plan_run._plan is None, reason="the Cython planner loop is not built")
def test_cython_loop_on_redis_matches_the_pure_loop(tmp_path, redis_url, redis_server):
    import redis

    (tmp_path / "p").mkdir(), (tmp_path / "c").mkdir()
    pure = run_workload(tmp_path / "p", None, "python", redis_url)
    redis.Redis.from_url(redis_url).flushdb()
    fast = run_workload(tmp_path / "c", None, "cython", redis_url)
    assert fast == pure
    assert '"already_sent"' in fast and '"capped"' in fast  # history was decided on


def test_packed_rows_on_redis(redis_url):
    """Packed rows on Redis: the same rows as records; RECORD refuses a send the consumer
    already has (S960) and keeps nothing of that batch; S962 for a campaign never opened."""
    from rulec.errors import StoreError
    from rulec.outreach.ledger.base import Packed
    from rulec.outreach.ledger.redis_ledger import RedisLedger

    led = RedisLedger(redis_url, "hx")
    led.open_campaigns({"wk": ("started", None, 0), "rc": ("started", None, 0)})
    wk, rc = led.packed_send("wk", "regular", 5), led.packed_send("rc", "exempt", 7)
    led.decide_and_record(["a"], lambda h: Packed([("a", wk)], 1))
    with pytest.raises(StoreError) as exc:
        led.decide_and_record(["b", "a"], lambda h: Packed([("b", wk), ("a", rc + wk)], 3))
    assert exc.value.code == "S960"
    led.decide_and_record(["a", "b"], lambda h: Packed([("a", rc), ("b", rc + wk)], 3))
    assert sorted(led.sends()) == [
        ("rc", "a", "exempt", 7),
        ("rc", "b", "exempt", 7),
        ("wk", "a", "regular", 5),
        ("wk", "b", "regular", 5),
    ]
    with pytest.raises(StoreError) as exc:
        led.packed_send("nope", "exempt", 5)
    assert exc.value.code == "S962"
    led.close()
