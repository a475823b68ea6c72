"""Shared helpers for the outreach tests: a small shop, audiences, running `rulec plan`."""

import json

import rulec

RULES = {
    "shop": "hx",
    "attributes": {"spend": "number"},
    "crowds": {"big": "spend >= 1000", "mid": "spend >= 500"},
    "promos": {"d12": {"presale_start": "2023-12-01", "last_day": "2023-12-12"}},
    "facts": {
        "tool_level": "advanced",
        "relationships_last_month_end": 12000,
        "advanced_relationships_this_month": 15000,
        "grants": ["green_channel", "cart_coupon", "super_discount"],
    },
    "campaigns": [
        {
            "name": "wk",
            "kind": "batch",
            "send_at": "2023-12-12T09:00:00+08:00",
            "targets": [{"crowd": "big", "copy": "BIG"}, {"crowd": "mid", "copy": "MID"}],
        },
        {
            "name": "nw",
            "kind": "new_arrival",
            "send_at": "2023-12-12T09:30:00+08:00",
            "targets": [{"crowd": "mid", "copy": "NEW"}],
        },
        {
            "name": "rc",
            "kind": "recall",
            "promo": "d12",
            "configured_at": "2023-12-11T10:00:00+08:00",
            "copy": "R",
            "coupon": {"id": "R1", "kind": "cs_channel"},
        },
    ],
}
NOW = "2023-12-12T14:00:00+08:00"


def table(rules=None):
    res = rulec.compile_source(json.dumps(rules or RULES, ensure_ascii=False), file="shop.yaml")
    assert not res.errors, res.errors
    return res.table


def consumer(i: int) -> dict:
    """Deterministic consumers: every third is exclusive, spend cycles through the crowds."""
    return {
        "consumer": f"c{i}",
        "attrs": {"spend": (i * 37) % 2000},
        "exclusive": i % 3 == 0,
        "purchases": ["2023-12-05T10:00:00+08:00"] if i % 7 == 0 else [],
    }


def write_audience(path, n: int):
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(consumer(i)) + "\n")


def expected(n: int) -> set:
    """The (campaign, consumer) sends RULES owes audience(n) at NOW, by the clauses."""
    out = set()
    for i in range(n):
        c = consumer(i)
        spend = c["attrs"]["spend"]
        if spend >= 500:
            out.add(("wk", c["consumer"]))
            out.add(("nw", c["consumer"]))
        if c["exclusive"] and not c["purchases"]:
            out.add(("rc", c["consumer"]))
    return out
