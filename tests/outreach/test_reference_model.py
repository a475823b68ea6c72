"""O1–O5, O12, O13 against a brute-force model: random shops, audiences and runs, seeded.

The model decides one consumer line at a time, campaigns in (send time, declaration) order,
with the plain rules; the planner (batches, crowd-combination cache, ledger) must agree."""

import datetime as dt
import json
import random

import pytest

import rulec
from rulec.outreach.planner import Planner

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2024, 3, 1, 0, 0, tzinfo=TZ)
CROWDS = {
    "big": lambda a: a["spend"] >= 1000,
    "mid": lambda a: a["spend"] >= 500,
    "hz": lambda a: a["city"] == "杭州",
}
WINDOW, MAX_DELAY = 7 * 86400, 3 * 86400


def _shop(rnd):
    camps = []
    for i in range(rnd.randrange(3, 9)):
        kind = rnd.choice(["batch", "batch", "batch", "green", "green", "new_arrival", "restock"])
        # few distinct times: ties (O4), exactly 7x24h apart (O2) and same-date greens (O5)
        at = T0 + dt.timedelta(days=rnd.randrange(0, 11), hours=rnd.choice([10, 10, 14]))
        names = rnd.sample(list(CROWDS) + ["vipl"], rnd.randrange(1, 4))
        c = {
            "name": f"c{i}",
            "kind": kind,
            "send_at": at.isoformat(),
            "targets": [{"crowd": n, "copy": f"{i}-{n}"} for n in names],
        }
        if kind == "green":
            c["date"], c["created_at"] = (
                at.date().isoformat(),
                (at - dt.timedelta(days=2)).isoformat(),
            )
        camps.append(c)
    return {
        "shop": "model",
        "attributes": {"spend": "number", "city": "string"},
        "crowds": {"big": "spend >= 1000", "mid": "spend >= 500", "hz": 'city == "杭州"'},
        "facts": {"grants": ["green_channel"]},
        "outreach": {"cap_window": "7d", "max_delay": "3d"},
        "campaigns": camps,
    }


def _audience(rnd, n):
    people = []
    for _ in range(rnd.randrange(1, 60)):
        k = rnd.randrange(n)
        people.append(
            {
                "consumer": f"p{k}",
                "attrs": {"spend": (k * 131) % 1500, "city": "杭州" if k % 4 == 0 else "上海"},
                "crowds": ["vipl"] if k % 5 == 0 else [],
            }
        )
    return people


class Model:
    def __init__(self, rules):
        self.camps = [
            dict(c, idx=i, at=dt.datetime.fromisoformat(c["send_at"]).timestamp())
            for i, c in enumerate(rules["campaigns"])
        ]
        self.opened, self.state = set(), {}

    def run(self, now, people):
        t = now.timestamp()
        due = [c for c in self.camps if c["at"] <= t and c["name"] not in self.opened]
        self.opened.update(c["name"] for c in due)
        active = sorted(
            (c for c in due if t - c["at"] <= MAX_DELAY), key=lambda c: (c["at"], c["idx"])
        )
        out = {}
        for p in people:
            crowds = {n for n, f in CROWDS.items() if f(p["attrs"])} | set(p["crowds"])
            sent, regs, greens = self.state.setdefault(p["consumer"], (set(), [], set()))
            for c in active:
                hit = next((tg for tg in c["targets"] if tg["crowd"] in crowds), None)
                if hit is None or c["name"] in sent:
                    continue
                if c["kind"] == "batch":
                    if any(abs(c["at"] - r) < WINDOW for r in regs):
                        continue
                    regs.append(c["at"])
                if c["kind"] == "green":
                    if c["date"] in greens:
                        continue
                    greens.add(c["date"])
                sent.add(c["name"])
                out[(c["name"], p["consumer"])] = hit["copy"]
        return out


@pytest.mark.parametrize("seed", range(40))
def test_planner_agrees_with_the_model(tmp_path, seed):
    rnd = random.Random(seed)
    rules = _shop(rnd)
    res = rulec.compile_source(json.dumps(rules, ensure_ascii=False), file="m.yaml")
    assert not res.errors, res.errors
    model = Model(rules)
    now = T0
    with Planner(res.table, tmp_path / "l.db", batch_size=rnd.choice([1, 3, 7, 50])) as p:
        for _ in range(rnd.randrange(2, 7)):
            now += dt.timedelta(hours=rnd.randrange(1, 80))
            people = _audience(rnd, 25)
            got = {(s["campaign"], s["consumer"]): s["copy"] for s in p.plan(people, now).sends}
            assert got == model.run(now, people), (seed, now)
