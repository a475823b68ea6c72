"""The Redis router store: the store contract, hash-tagged keys, the validated commit (one
round trip per decision), and routers in one process sharing state (R2 stickiness, pending)."""

import pytest
from routing_helpers import at, router, shop, table_from_rules

from rulec.errors import StoreError
from rulec.routing.router import Router
from rulec.routing.stores import ONLINE, SUSPENDED, open_store
from rulec.routing.stores.base import COMMITTED, REFUSED

pytestmark = pytest.mark.redis

RULES = shop({"a1": {}, "a2": {}}, {"G": {"agents": ["a1", "a2"]}}, drain_pool=True)


def test_store_contract(redis_url):
    """The interface every store keeps: read, atomic assign, reply floor, attach by id."""
    st = open_store(redis_url, "s")
    st.attach(["a", "b"])
    assert st.snapshot("u1") == (None, [0, 0], [0, 0], [None, None])
    st.set_status(1, ONLINE)
    st.assign(1, "u1", 100.0)
    st.reply(0)
    st.set_conversion(0, 0.5)
    contact, status, pending, conv = st.snapshot("u1")
    assert contact == (1, 100.0) and status == [0, ONLINE] and pending == [0, 1]
    assert conv == [0.5, None]
    st.put_agent(0, SUSPENDED, 3, None, clear_conversion=True)
    st.attach(["b", "c", "a"])  # a new table order: state follows the ids
    contact, status, pending, conv = st.snapshot("u1")
    assert contact == (0, 100.0)
    assert status == [ONLINE, 0, SUSPENDED] and pending == [1, 0, 3] and conv == [None] * 3
    st.pool_push("u9", 5.0, '{"buyer": "u9"}')
    st.pool_push("u8", 6.0, '{"buyer": "u8"}')
    assert st.pool_len() == 2 and st.pool_pop()[0] == "u9" and st.pool_pop()[0] == "u8"
    assert st.pool_pop() is None
    assert st.contacts() == [("u1", "b", 100.0)]
    st.close()
    again = open_store(redis_url, "s")  # a new process: the state is in Redis
    again.attach(["a", "b"])
    assert again.export()["agents"] == {
        "a": {"status": "suspended", "pending": 3},
        "b": {"status": "online", "pending": 1},
    }
    again.close()


def test_keys_carry_the_shop_hash_tag(redis_url):
    """Every key of a shop (store and ledger) is `rulec:{shop}:…`: one Cluster slot per shop."""
    import redis

    from rulec.outreach.ledger import open_ledger

    st = open_store(redis_url, "店铺-7")
    st.attach(["a"])
    st.set_status(0, ONLINE)
    st.assign(0, "u", 1.0)
    st.pool_push("u", 1.0, "{}")
    open_ledger(redis_url, "店铺-7").open_campaigns({"c": ("started", None, 1)})
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert len(keys) >= 8
    assert all(k.decode().startswith("rulec:{店铺-7}:") for k in keys), keys
    st.close()


@pytest.mark.parametrize("shop_name", ["", "a{b}", "x}"])
def test_a_shop_that_cannot_be_a_hash_tag_is_refused(redis_url, shop_name):
    with pytest.raises(StoreError) as exc:
        open_store(redis_url, shop_name)
    assert exc.value.code == "S900"


@pytest.mark.parametrize(
    "query", ["on_error=maybe", "timeout=0", "timeout=x", "prefix=a:b", "nosuch=1"]
)
def test_bad_options(redis_url, query):
    with pytest.raises(StoreError) as exc:
        open_store(f"{redis_url}?{query}", "s")
    assert exc.value.code == "S900"


def test_commit_refuses_a_stale_read_and_takes_the_fresh_state(redis_url):
    """Two stores on one shop: A decides on a read, B assigns meanwhile; A's commit is refused
    with B's write taken in (same round trip), and succeeds once decided again."""
    a, b = open_store(redis_url, "s"), open_store(redis_url, "s")
    for st in (a, b):
        st.attach(["x", "y"])
    a.set_status(0, ONLINE)
    b.agent_state()
    contact, status, pending, _ = a.snapshot("u1")
    assert (contact, status, pending) == (None, [ONLINE, 0], [0, 0])
    assert b.commit(0, "u1", 10.0) == COMMITTED  # B (current) wins the race for buyer u1
    trips = a.round_trips
    assert a.commit(0, "u1", 11.0) == REFUSED
    assert a.round_trips == trips + 1
    contact, status, pending, _ = a.snapshot("u1")  # the fresh state came with the refusal
    assert contact == (0, 10.0) and pending == [1, 0]
    assert a.commit(0, "u1", 11.0)
    assert b.commit(-1, "u2", 12.0) == REFUSED  # a decision without assignment is checked too
    assert b.snapshot("u2")[2] == [2, 0]
    for st in (a, b):
        st.close()


def test_one_round_trip_per_decision(redis_url):
    """A router alone on a shop: each decision (assigning or not) is one call to Redis."""
    r = router(
        RULES, {"agents": {"a1": {"status": "online"}, "a2": {"status": "online"}}}, store=redis_url
    )
    before = r.store.round_trips
    for i in range(50):
        r.route({"buyer": f"u{i % 20}", "time": at(i)})
    assert r.store.round_trips - before == 50
    r.close()


def test_two_routers_share_contacts_and_pending(redis_url):
    """R2a across routers: a buyer assigned by one router is sticky in the other, and the
    other sees the pending count (no lost increment)."""
    state = {"agents": {"a1": {"status": "online"}, "a2": {"status": "online"}}}
    r1 = router(RULES, state, store=redis_url)
    r2 = Router(table_from_rules(RULES), store=redis_url, seed=5)
    first = {f"u{i}": r1.route({"buyer": f"u{i}", "time": at(i)})["target"] for i in range(20)}
    for i in range(20):
        d = r2.route({"buyer": f"u{i}", "time": at(30 + i)})
        assert d["step"] == "sticky" and d["target"] == first[f"u{i}"], d
    exported = r1.store.export()
    assert sum(a["pending"] for a in exported["agents"].values()) == 40
    assert len(exported["contacts"]) == 20
    r2.feed({"type": "agent", "time": at(60), "agent": "a1", "status": "offline"})
    d = r1.route({"buyer": "new", "time": at(61)})
    assert d["target"] == "agent:a2"  # r1 saw r2's status event at its commit
    r1.close()
    r2.close()


def test_pool_drain_across_routers(redis_url):
    """drain_pool: a chat queued by one router is drained by the other's agent event."""
    r1 = router(RULES, store=redis_url)
    r2 = Router(table_from_rules(RULES), store=redis_url)
    d = r1.route({"buyer": "q1", "time": at(0)})
    assert d["step"] == "nobody_online"
    out = r2.feed({"type": "agent", "time": at(5), "agent": "a2", "status": "online"})
    assert [(x["buyer"], x["target"], x["step"]) for x in out] == [("q1", "agent:a2", "pool_drain")]
    assert r1.route({"buyer": "q1", "time": at(6)})["step"] == "sticky"
    r1.close()
    r2.close()
