"""Statistical properties of the modes over a few thousand decisions: E2, C1, C2, C4, C5.

Every agent stays idle (a reply follows each assignment), so shares show the weights."""

import collections

import pytest
from routing_helpers import at, router, shop

N = 3000


def shares(rules, rates=None, n=N, seed=11):
    agents = rules["agents"]
    state = {
        "agents": {
            a: {"status": "online", **({"conversion": rates[a]} if rates else {})} for a in agents
        }
    }
    r = router(rules, state, seed=seed)
    count = collections.Counter()
    for i in range(n):
        d = r.route({"type": "chat", "buyer": f"u{i}", "time": at(i)})
        agent = d["target"].split(":", 1)[1]
        count[agent] += 1
        r.feed({"type": "reply", "time": at(i), "agent": agent})
    return {a: count[a] / n for a in agents}


def test_e2_shares_follow_levels():
    """E2: idle agents' shares ∝ level, within 10% relative over 3,000 chats."""
    levels = {"l1": 1, "l2": 2, "l3": 3, "l4": 4, "l5": 5}
    rules = shop({a: {"level": v} for a, v in levels.items()}, {"G": {"agents": list(levels)}})
    got = shares(rules)
    total = sum(levels.values())
    for a, lv in levels.items():
        want = lv / total
        assert abs(got[a] - want) / want < 0.10, (a, got[a], want)


def test_e1_same_seed_same_decisions_other_seed_differs():
    rules = shop({f"a{i}": {} for i in range(4)}, {"G": {"agents": [f"a{i}" for i in range(4)]}})
    assert shares(rules, n=300, seed=3) == shares(rules, n=300, seed=3)
    assert shares(rules, n=300, seed=3) != shares(rules, n=300, seed=4)


RATES = {"c0": 0.05, "c1": 0.10, "c2": 0.15, "c3": 0.20, "c4": 0.25, "c5": 0.30}


def conv_rules(strength, levels=None):
    levels = levels or {}
    return shop(
        {a: {"level": levels.get(a, 3)} for a in RATES},
        {"G": {"agents": list(RATES), "mode": {"conversion": strength}}},
    )


def gini(values):
    xs = sorted(values)
    n = len(xs)
    cum = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cum) / (n * sum(xs)) - (n + 1) / n


@pytest.mark.parametrize("strength", ["low", "medium", "high"])
def test_c1_share_rises_with_conversion(strength):
    """C1: among idle agents of equal level, share rises with conversion rate."""
    got = shares(conv_rules(strength), RATES)
    order = sorted(RATES, key=RATES.get)
    assert [got[a] for a in order] == sorted(got[a] for a in order), got


def test_c2_strength_raises_unevenness_and_expected_conversion():
    """C2: higher strength → more uneven shares (Gini) and higher expected conversion."""
    stats = []
    for strength in ("low", "medium", "high"):
        got = shares(conv_rules(strength), RATES)
        expected = sum(got[a] * RATES[a] for a in RATES)
        stats.append((gini(got.values()), expected))
    even = shares(shop({a: {} for a in RATES}, {"G": {"agents": list(RATES)}}), RATES)
    base = (gini(even.values()), sum(even[a] * RATES[a] for a in RATES))
    assert base[0] < stats[0][0] < stats[1][0] < stats[2][0], (base, stats)
    assert base[1] < stats[0][1] < stats[1][1] < stats[2][1], (base, stats)


def test_c4_level_still_counts():
    """C4: raising an agent's level raises its share in conversion mode."""
    before = shares(conv_rules("medium"), RATES)
    after = shares(conv_rules("medium", {"c2": 5}), RATES)
    assert after["c2"] > before["c2"] * 1.3, (before["c2"], after["c2"])


def test_c5_small_group_uses_efficiency():
    """C5: a conversion group of 5 agents ignores conversion rates (efficiency shares)."""
    five = {a: RATES[a] for a in list(RATES)[:5]}
    rules = shop(
        {a: {} for a in five}, {"G": {"agents": list(five), "mode": {"conversion": "high"}}}
    )
    got = shares(rules, five)
    for a in five:
        assert abs(got[a] - 0.2) / 0.2 < 0.10, got
    six = shares(conv_rules("high"), RATES)
    assert six["c5"] > 0.5  # with six agents the model does take effect
