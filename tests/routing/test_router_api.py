"""The embedding API (rulec.Router): decisions, pending (settled reading), R3 contacts, traces."""

import pytest
from routing_helpers import T0, at, router, shop, table_from_rules

import rulec
from rulec.errors import InputError

TWO = shop(
    {"a1": {"level": 5}, "x1": {}, "z": {}},
    {"G": {"agents": ["a1"], "product": ["a"]}},
    exclusive_direct=True,
)


def online(*ids):
    return {"agents": {a: {"status": "online"} for a in ids}}


def chat(buyer, i=0, **kw):
    return {"type": "chat", "buyer": buyer, "time": at(i), **kw}


def test_public_api_decision_shape_and_no_trace_unless_asked():
    table = table_from_rules(TWO)
    r = rulec.Router(table, store="memory:", seed=7)
    r.load_state(online("a1"))
    d = r.route(chat("u1", product="a"))
    assert d == {"buyer": "u1", "time": at(0), "target": "agent:a1", "step": "group", "group": "G"}
    d = r.route(chat("u2", 1, product="a"), trace=True)
    assert d["trace"][0].startswith("R1:") and any("chosen: a1" in t for t in d["trace"])


def test_every_assignment_adds_pending_and_records_the_contact():
    """Settled reading: sticky, exclusive, group and fallback each add one pending; R3
    records each assignment as the buyer's last contact."""
    r = router(TWO, online("a1", "x1", "z"))
    steps = [
        r.route(chat("u1", 0, product="a"))["step"],  # group → a1
        r.route(chat("u1", 1))["step"],  # sticky → a1
        r.route(chat("u2", 2, exclusive_agent="x1"))["step"],
    ]  # exclusive → x1
    assert steps == ["group", "sticky", "exclusive"]
    state = r.store.export()
    assert state["agents"]["a1"]["pending"] == 2
    assert state["agents"]["x1"]["pending"] == 1
    assert {b: c["agent"] for b, c in state["contacts"].items()}["u2"] == "x1"


def test_fallback_any_adds_pending():
    rules = shop({"a1": {}, "z": {}}, {"G": {"agents": ["a1"]}})
    r = router(rules, online("z"))
    d = r.route(chat("u1"))
    assert (d["target"], d["step"], d["group"]) == ("agent:z", "fallback_any", None)
    assert r.store.export()["agents"]["z"]["pending"] == 1


def test_reply_lowers_pending_not_below_zero():
    r = router(TWO, {"agents": {"a1": {"status": "online", "pending": 1}}})
    for _ in range(3):
        assert r.feed({"type": "reply", "time": T0, "agent": "a1", "buyer": "u1"}) == []
    assert r.store.export()["agents"]["a1"]["pending"] == 0


def test_nobody_online_records_no_contact_and_no_pending():
    r = router(TWO)
    assert r.route(chat("u1"))["target"] == "message_pool"
    assert r.store.export()["contacts"] == {}


@pytest.mark.parametrize(
    "event, code",
    [
        ({"type": "agent", "time": T0, "agent": "bob", "status": "online"}, "E803"),
        ({"type": "agent", "time": T0, "agent": "a1", "status": "away"}, "E807"),
        ({"type": "conversion", "time": T0, "agent": "a1", "rate": 1.5}, "E808"),
        ({"type": "reply", "time": "2026-11-23T09:00:00", "agent": "a1"}, "E804"),
        ({"type": "typing", "time": T0}, "E802"),
        ({"type": "chat", "time": T0}, "E806"),
    ],
)
def test_feed_rejects_bad_events(event, code):
    r = router(TWO)
    with pytest.raises(InputError) as exc:
        r.feed(event)
    assert exc.value.code == code


def test_route_rejects_a_chat_without_time():
    with pytest.raises(InputError):
        router(TWO).route({"buyer": "u1"})


def test_trace_names_missing_attributes_scores_and_pool():
    """R10: the trace says which attributes were missing, the pool and each agent's score."""
    rules = {
        "shop": "s",
        "attributes": {"member_level": "int"},
        "crowds": {"vip": "member_level >= 3"},
        "agents": {"v": {}, "p1": {"level": 4}, "p2": {"level": 1}},
        "groups": {
            "V": {"agents": ["v"], "crowd": ["vip"]},
            "P": {"agents": ["p1", "p2"], "product": ["a"]},
        },
    }
    r = router(rules, online("v", "p1", "p2"))
    d = r.route(chat("u1", product="a", attrs={}), trace=True)
    text = "\n".join(d["trace"])
    assert d["group"] == "P"
    assert "missing attributes ['member_level']" in text
    assert "p1 level 4 pending 0 weight 4 share 0.80" in text
    assert "p2 level 1 pending 0 weight 1 share 0.20" in text


def test_feed_chat_routes_it_and_drain_reports_pool_drain():
    rules = shop({"a1": {}}, {"G": {"agents": ["a1"]}}, drain_pool=True)
    r = router(rules)
    assert r.feed(chat("u1"))[0]["target"] == "message_pool"
    out = r.feed({"type": "agent", "time": at(5), "agent": "a1", "status": "online"})
    assert [(d["buyer"], d["target"], d["step"], d["via"], d["queued_at"]) for d in out] == [
        ("u1", "agent:a1", "pool_drain", "group", at(0))
    ]
    assert r.store.pool_len() == 0


def test_pool_not_queued_without_drain_pool():
    r = router(shop({"a1": {}}, {"G": {"agents": ["a1"]}}))
    r.route(chat("u1"))
    assert r.store.pool_len() == 0
    assert r.feed({"type": "agent", "time": at(5), "agent": "a1", "status": "online"}) == []


def test_a_shared_store_that_keeps_refusing_the_commit_is_s913():
    """A shared store commits a decision only on the state it was taken on; when every retry
    finds the state changed again, the chat is refused (S913), not assigned on stale state."""
    from rulec.errors import StoreError
    from rulec.routing.router import Router
    from rulec.routing.stores.memory import MemoryStore

    class AlwaysChanged(MemoryStore):
        def commit(self, agent, buyer, time):
            return False  # another router always committed first

    r = Router(table_from_rules(TWO), store=AlwaysChanged("s"))
    r.load_state(online("a1"))
    with pytest.raises(StoreError) as exc:
        r.route(chat("u1", product="a"))
    assert exc.value.code == "S913" and "kept changing" in str(exc.value)
