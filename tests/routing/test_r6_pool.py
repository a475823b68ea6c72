"""R6: when several robot-off candidate groups remain, the pool is the available agents of
all of them and the mode is efficiency (article 003), whatever mode one group has; only a
single remaining group brings its own mode."""

from routing_helpers import at, router, shop

CONVERSION = {f"b{i}": {} for i in range(1, 7)}  # six agents: C5 lets conversion take effect
RULES = shop(
    {"a1": {}, **CONVERSION},
    {
        "Plain": {"agents": ["a1"]},
        "Convert": {"agents": list(CONVERSION), "mode": {"conversion": "high"}},
    },
    busy_threshold=10_000,  # nobody busy: E2 shares are proportional to level
)
ONLINE = {"agents": {a: {"status": "online"} for a in ["a1", *CONVERSION]}}


def shares(rules, state, chats=300):
    r = router(rules, state, seed=3)
    got: dict = {}
    for i in range(chats):
        d = r.route({"buyer": f"u{i}", "time": at(i)})
        got[d["target"]] = got.get(d["target"], 0) + 1
    r.close()
    return got


def test_two_groups_left_share_one_efficiency_pool():
    """Both groups are candidates (no bindings): a1 of the efficiency group is in the pool
    with the six of the conversion group, and gets about 1/7 of the chats (E2)."""
    got = shares(RULES, ONLINE)
    assert sum(got.values()) == 300
    assert 20 <= got.get("agent:a1", 0) <= 70, got


def test_one_group_left_uses_its_own_mode():
    """a1 offline: only the conversion group remains, so it alone takes every chat."""
    state = {"agents": {**ONLINE["agents"], "a1": {"status": "offline"}}}
    got = shares(RULES, state)
    assert "agent:a1" not in got and sum(got.values()) == 300
