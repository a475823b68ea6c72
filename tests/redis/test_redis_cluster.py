"""Stores and ledgers on a Redis Cluster (`redis+cluster://`): a shop's keys in one slot (no
CROSSSLOT possible), bad URLs refused with codes, two router processes sharing state through
the cluster, and a plan whose ledger lives on it (docs/deploy.md, "Redis Cluster")."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from outreach_helpers import NOW, expected, table, write_audience
from redis_server import closed_port
from routing_helpers import at
from test_redis_processes import AGENTS, RULES, _decisions, _route

from rulec.common.redis_cluster import key_slot
from rulec.errors import StoreError
from rulec.outreach.ledger import open_ledger
from rulec.outreach.ledger.redis_ledger import RedisLedger
from rulec.outreach.planner import Planner
from rulec.routing.stores import open_store
from rulec.routing.stores.redis_store import FETCH, RedisStore

pytestmark = pytest.mark.redis

N = 600  # chats per router process and phase


def _keys_of(cls, shop, prefix):
    """Every key a store or ledger of `shop` names, without connecting (connect() stubbed)."""
    obj = cls.__new__(cls)
    url = f"redis+cluster://127.0.0.1:1?prefix={prefix}"
    seen = []

    class Recorder:
        def __init__(self, *_):
            self.shown, self.opts = (
                url,
                {
                    "on_error": "fail",
                    "prefix": prefix,
                    "lock_ttl": 10.0,
                    "wait": None,
                },
            )

        def bind(self, key):
            seen.append(key)

        def connect(self):
            raise _Stop

    import rulec.outreach.ledger.redis_ledger as ledger_mod
    import rulec.routing.stores.redis_store as store_mod

    mod = store_mod if cls is RedisStore else ledger_mod
    real, mod.open_conn = mod.open_conn, Recorder
    try:
        with pytest.raises(_Stop):
            cls.__init__(obj, url, shop)
    finally:
        mod.open_conn = real
    if cls is RedisStore:
        return [*obj.keys, obj.pool_key, obj.meta_key], seen
    return [obj.k_meta, obj.k_camps, obj.k_cids, obj.k_next, obj.k_sends, obj.k_locks], seen


class _Stop(Exception):
    pass


@pytest.mark.parametrize("shop", ["s", "旗舰店", "a:b", "x" * 200, "sp ace"])
@pytest.mark.parametrize("prefix", ["rulec", "t1", "ü-x"])
def test_every_key_of_a_shop_is_in_the_slot_bound(shop, prefix):
    """Every script declares only the shop's keys; they hash to one slot, the one the
    connection is bound to: a CROSSSLOT reply cannot happen (the scripts take no other key)."""
    for cls in (RedisStore, RedisLedger):
        keys, bound = _keys_of(cls, shop, prefix)
        assert len(bound) == 1 and {key_slot(k) for k in keys} == {key_slot(bound[0])}


def test_a_script_naming_another_slot_is_never_sent(cluster_url):
    """The guard behind CROSSSLOT: keys of two slots in one script call are refused (S976)
    before anything is sent; the shop's own keys pass."""
    store = open_store(cluster_url, "s")
    conn = store._conn
    with pytest.raises(StoreError) as exc:
        conn.script(FETCH, (store.keys[0], "rulec:{other}:ver", *store.keys[2:]), (0, "b"))
    assert exc.value.code == "S976"
    assert conn.script(FETCH, store.keys, (-1, "b"))[0] == 0
    store.close()


def test_names_that_would_split_the_slot_are_refused():
    """A brace in the shop or the prefix would move the hash tag: refused (S900) first."""
    url = "redis+cluster://127.0.0.1:1"
    for opener in (open_store, open_ledger):
        with pytest.raises(StoreError) as exc:
            opener(url, "a{b}")
        assert exc.value.code == "S900"
        with pytest.raises(StoreError) as exc:
            opener(url + "?prefix={x}", "s")
        assert exc.value.code == "S900" and "prefix" in str(exc.value)


@pytest.mark.parametrize(
    "url, code",
    [
        ("redis+cluster://127.0.0.1:7000/3", "S970"),  # a cluster has database 0 only
        ("redis+cluster://127.0.0.1", "S970"),  # no port
        ("redis+cluster://127.0.0.1:7000,nope", "S970"),
        ("redis+cluster://127.0.0.1:7000?health_check_interval=3", "S970"),
        ("redis+cluster://127.0.0.1:7000?wait=0", "S900"),
        ("redis+cluster://127.0.0.1:7000?wait=1/x", "S900"),
        ("redis+cluster://127.0.0.1:7000?cluster_wait=-1", "S900"),
    ],
)
def test_bad_cluster_urls_are_coded(url, code):
    for opener in (open_store, open_ledger):
        with pytest.raises(StoreError) as exc:
            opener(url, "s")
        assert exc.value.code == code, exc.value


def test_cluster_down_at_start_is_S910():
    with closed_port() as a, closed_port() as b:
        url = f"redis+cluster://127.0.0.1:{a.getsockname()[1]},127.0.0.1:{b.getsockname()[1]}"
        for opener in (open_store, open_ledger):
            with pytest.raises(StoreError) as exc:
                opener(url, "s")
            assert exc.value.code == "S910" and "cannot reach Redis Cluster" in str(exc.value)


def test_a_redis_url_at_a_cluster_node_says_use_the_cluster_scheme(redis_cluster):
    """redis://one-node: the node answers MOVED for slots it does not serve; that is S971
    with the way out, not a confusing error reply (S912) in the middle of a run."""
    node = next(
        n for n in redis_cluster.masters() if n is not redis_cluster.master_of("rulec:{s}:ver")
    )
    with pytest.raises(StoreError) as exc:
        open_store(f"redis://:{redis_cluster.password}@127.0.0.1:{node.port}/0", "s")
    assert exc.value.code == "S971" and "redis+cluster://" in str(exc.value)


def test_a_wrong_cluster_password_is_a_clear_error(redis_cluster):
    url = redis_cluster.url().replace(redis_cluster.password, "wrong", 1)
    for opener in (open_store, open_ledger):
        with pytest.raises(StoreError) as exc:
            opener(url, "s")
        assert exc.value.code == "S910" and "wrong" not in str(exc.value), exc.value


def _pending(cluster_url):
    from redis.cluster import ClusterNode, RedisCluster

    parts = urlsplit(cluster_url)
    prefix = parse_qs(parts.query)["prefix"][0]
    host, port = parts.netloc.rpartition("@")[2].split(",")[0].split(":")
    rc = RedisCluster(
        startup_nodes=[ClusterNode(host, int(port))],
        password=parts.password,
        decode_responses=True,
    )
    try:
        return {a: int(rc.hget(f"{prefix}:{{s}}:pending", a) or 0) for a in AGENTS}
    finally:
        rc.close()


def test_two_router_processes_share_state_through_the_cluster(tmp_path, cluster_url):
    """Two `rulec route` processes on redis+cluster://: pending counts shared (E3/E4 hold
    across processes), contacts shared (R2a sticky in the other process), as on one Redis."""
    (tmp_path / "shop.json").write_text(json.dumps(RULES), encoding="utf-8")
    online = [{"type": "agent", "time": at(0), "agent": a, "status": "online"} for a in AGENTS]
    assert _decisions([_route(tmp_path, "setup0", online, cluster_url)]) == [[]]
    fresh = [
        [{"type": "chat", "buyer": f"p{k}-{i}", "time": at(10 + i)} for i in range(N)]
        for k in (1, 2)
    ]
    outs = _decisions([_route(tmp_path, f"fresh{k}", fresh[k - 1], cluster_url) for k in (1, 2)])
    assigned = {d["buyer"]: d["target"] for out in outs for d in out}
    assert len(assigned) == 2 * N and all(t.startswith("agent:") for t in assigned.values())
    pending = _pending(cluster_url)
    assert sum(pending.values()) == 2 * N
    assert max(pending.values()) - min(pending.values()) <= 1, pending  # one serial order
    back = [
        [{"type": "chat", "buyer": f"p{3 - k}-{i}", "time": at(5000 + i)} for i in range(N)]
        for k in (1, 2)
    ]
    outs = _decisions([_route(tmp_path, f"back{k}", back[k - 1], cluster_url) for k in (1, 2)])
    for out in outs:
        assert len(out) == N
        for d in out:
            assert d["step"] == "sticky" and d["target"] == assigned[d["buyer"]], d
    assert sum(_pending(cluster_url).values()) == 4 * N


def test_plan_on_a_cluster_ledger_is_exactly_once(tmp_path, cluster_url, cli):
    """`rulec plan --ledger redis+cluster://…`: the sends of the audience, once; a second
    run sends nothing (O13), and the ledger holds each send once."""
    (tmp_path / "shop.json").write_text(json.dumps(_plan_rules()), encoding="utf-8")
    write_audience(tmp_path / "aud.jsonl", 300)
    args = ("plan", tmp_path / "shop.json", "--audience", tmp_path / "aud.jsonl")
    first = cli(*args, "--ledger", cluster_url, "--now", NOW, "--batch", "40")
    assert first.code == 0, first.err
    sent = {(s["campaign"], s["consumer"]) for s in map(json.loads, first.out.splitlines())}
    assert sent == expected(300)
    again = cli(*args, "--ledger", cluster_url, "--now", NOW)
    assert again.code == 0 and again.out == "", again.err
    with Planner(table(), cluster_url) as p:
        recorded = [(n, c) for n, c, _ch, _at in p.ledger.sends()]
    assert len(recorded) == len(set(recorded)) and set(recorded) == expected(300)


def _plan_rules():
    from outreach_helpers import RULES as PLAN_RULES

    return PLAN_RULES


def test_cli_plan_refuses_a_wait_no_replica_set_can_meet(tmp_path, cluster_url, cli):
    """`rulec plan --ledger 'redis+cluster://…?wait=2'` on one replica per master: exit 1,
    S975, nothing printed (refused before planning); wait=1 plans."""
    (tmp_path / "shop.json").write_text(json.dumps(_plan_rules()), encoding="utf-8")
    write_audience(tmp_path / "aud.jsonl", 50)
    args = ("plan", tmp_path / "shop.json", "--audience", tmp_path / "aud.jsonl", "--now", NOW)
    r = cli(*args, "--ledger", cluster_url + "&wait=2")
    assert r.code == 1 and "S975" in r.err and r.out == "" and "Traceback" not in r.err, r
    r = cli(*args, "--ledger", cluster_url + "&wait=1/5")
    assert r.code == 0 and len(r.out.splitlines()) == len(expected(50)), r.err
