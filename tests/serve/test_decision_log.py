"""The decision log writer (rulec/routing/decision_log.py): records, masking, sampling by
buyer, the pairing of decisions with their inputs (pool drains included), clean close."""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "routing"))

import pytest  # noqa: E402
from routing_helpers import at, shop, table_from_rules  # noqa: E402

from rulec.errors import RulecError  # noqa: E402
from rulec.routing.decision_log import DecisionLog, for_route, logged, mask_buyer  # noqa: E402
from rulec.routing.router import Router  # noqa: E402


def records(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_records_masking_and_close(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(str(path), salt=b"s4lt", source="route")
    d = {
        "buyer": "小王",
        "time": at(1),
        "target": "robot",
        "step": "robot_first",
        "group": None,
        "trace": ["R4: robot_first is on → robot"],
    }
    chat = {"type": "chat", "buyer": "小王", "time": at(1)}
    did = log.decision("shop", "ab" * 32, d, chat)
    log.event("shop", "ab" * 32, {"type": "reply", "time": at(2), "agent": "a", "buyer": "小王"})
    log.close()
    recs = records(path)
    assert [r["kind"] for r in recs] == ["decision", "event"]
    r = recs[0]
    assert r["id"] == did and len(did) == 32 and r["v"] == 1 and r["source"] == "route"
    assert r["table"] == "ab" * 32 and r["at"].endswith("+00:00")
    assert r["input"]["buyer"] == r["decision"]["buyer"] == mask_buyer("小王", b"s4lt")
    assert r["decision"]["trace"] == d["trace"]
    assert recs[1]["event"]["buyer"].startswith("h:")
    assert d["buyer"] == "小王" and chat["buyer"] == "小王"  # the caller's dicts are untouched
    assert mask_buyer("小王", b"s4lt") != mask_buyer("小王", b"other")


def test_sampling_keeps_whole_buyers(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(str(path), sample=0.25)
    for i in range(400):
        for t in range(3):
            b = f"b{i}"
            log.decision(
                "s",
                "00",
                {
                    "buyer": b,
                    "time": at(t),
                    "target": "robot",
                    "step": "robot_first",
                    "group": None,
                },
                None,
            )
    log.event("s", "00", {"type": "agent", "time": at(5), "agent": "a", "status": "online"})
    log.close()
    recs = records(path)
    kept = {}
    for r in recs:
        if r["kind"] == "decision":
            kept[r["decision"]["buyer"]] = kept.get(r["decision"]["buyer"], 0) + 1
    assert set(kept.values()) == {3}  # a kept buyer keeps all its records
    assert 50 < len(kept) < 150  # about a quarter of 400
    assert recs[-1]["kind"] == "event"  # events without a buyer are always kept


def test_bad_sample_rate():
    with pytest.raises(ValueError):
        DecisionLog("-", sample=0)


def test_logged_pairs_inputs_and_drains_in_order(tmp_path):
    table = table_from_rules(
        shop({"a1": {}}, {"G": {"agents": ["a1"]}}, drain_pool=True, busy_threshold=0)
    )
    router = Router(table, seed=1)
    events = [
        {"type": "chat", "time": at(1), "buyer": "u1"},  # nobody online: message pool
        {"type": "chat", "time": at(2), "buyer": "u2"},
        {"type": "agent", "time": at(3), "agent": "a1", "status": "online"},  # drains u1
        {"type": "reply", "time": at(4), "agent": "a1", "buyer": "u1"},  # drains u2
        {"type": "chat", "time": at(5), "buyer": "u3"},
    ]
    path = tmp_path / "log.jsonl"
    log = DecisionLog(str(path))

    def decide(evs):  # like rulec route: runs of chats decided together, events one by one
        run = []
        for ev in evs:
            if ev["type"] == "chat":
                run.append(ev)
                continue
            yield from [router.route(c, trace=True) for c in run]
            run.clear()
            yield from router.feed(ev, trace=True)
        yield from [router.route(c, trace=True) for c in run]

    h = table.header["source_hash"]
    printed = list(logged(log, table.shop, h, iter(events), decide))
    log.close()
    recs = records(path)
    kinds = [
        (
            r["kind"],
            (r.get("input") or r.get("event") or {}).get("buyer"),
            r.get("decision", {}).get("step"),
        )
        for r in recs
    ]
    assert kinds == [
        ("decision", "u1", "nobody_online"),
        ("decision", "u2", "nobody_online"),
        ("event", None, None),
        ("decision", None, "pool_drain"),
        ("event", "u1", None),
        ("decision", None, "pool_drain"),
        ("decision", "u3", printed[4]["step"]),
    ]
    assert [r["decision"] for r in recs if r["kind"] == "decision"] == printed
    assert all(r["table"] == h for r in recs)


def test_for_route_opens_writes_and_closes(tmp_path):
    table = table_from_rules(shop({"a1": {}}, {"G": {"agents": ["a1"]}}))
    router = Router(table, seed=1)
    events = [
        {"type": "agent", "time": at(1), "agent": "a1", "status": "online"},
        {"type": "chat", "time": at(2), "buyer": "u1"},
    ]
    path = tmp_path / "route.jsonl"

    def decide(evs):
        for ev in evs:
            yield from router.feed(ev, trace=True)

    out = list(for_route(str(path), table, iter(events), decide))
    recs = records(path)  # complete once the decisions are consumed: the log was closed
    assert [r["kind"] for r in recs] == ["event", "decision"]
    assert recs[1]["decision"] == out[0] and recs[1]["source"] == "route"
    assert recs[1]["table"] == table.header["source_hash"]
    assert list(for_route(None, table, iter(events[1:]), decide))[0]["step"] == "sticky"
    with pytest.raises(RulecError) as info:
        list(for_route(str(tmp_path / "no" / "x.jsonl"), table, iter(events), decide))
    assert info.value.code == "H114"


def test_rulec_route_writes_the_same_log(tmp_path, cli):
    root = os.path.dirname(os.path.dirname(HERE))
    demo = os.path.join(root, "rules", "demo")
    log = tmp_path / "route.jsonl"
    rules = os.path.join(root, "rules", "shop-double12.rules")
    events = os.path.join(demo, "events.jsonl")
    r = cli("route", rules, "--events", events, "--decision-log", log)
    assert r.code == 0, r.err
    printed = [json.loads(line) for line in r.out.splitlines()]
    recs = records(log)
    decisions = [x for x in recs if x["kind"] == "decision"]
    assert [x["decision"] for x in decisions] == printed
    assert all(x["source"] == "route" and len(x["id"]) == 32 for x in decisions)
    with open(events, encoding="utf-8") as fh:
        given = [json.loads(line) for line in fh if line.strip()]
    # the log holds every event in input order: chats as decision inputs, the rest as events
    replayed = [x["input"] if x["kind"] == "decision" else x["event"] for x in recs]
    assert replayed == given
    r = cli("route", rules, "--events", events, "--decision-log", tmp_path / "no" / "x.jsonl")
    assert r.code == 1 and "H114" in r.err
