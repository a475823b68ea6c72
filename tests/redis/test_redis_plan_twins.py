"""The planner's Cython loop records Packed rows on a Redis ledger exactly as the pure-Python loop
records its sends (issue 15): the seeded workload of test_plan_paths, two runs, same bytes."""

import pytest
from outreach_helpers import check_packed_rows
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
    """O13 on Packed rows on Redis: RECORD refuses a send the consumer already has (S960) and
    keeps nothing of that batch (outreach_helpers.check_packed_rows)."""
    from rulec.outreach.ledger.redis_ledger import RedisLedger

    check_packed_rows(RedisLedger(redis_url, "hx"), checked_before_print=False)
