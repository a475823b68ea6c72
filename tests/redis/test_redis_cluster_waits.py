"""A Redis Cluster that does not serve a shop's slot within `cluster_wait`: coded errors, not
a hang (docs/deploy.md, "Redis Cluster"). S973: a slot migration stuck half-way, so the
store's calls keep getting TRYAGAIN; S972: every node of the slot down when a store or ledger
opens."""

import time

import pytest
from routing_helpers import at, router, shop
from test_redis_processes import AGENTS

from rulec.common.redis_cluster import key_slot
from rulec.errors import StoreError
from rulec.outreach.ledger import open_ledger
from rulec.routing.stores import open_store

pytestmark = pytest.mark.redis

ONLINE = {"agents": {a: {"status": "online"} for a in AGENTS}}


def _url(cluster, wait):
    return cluster.url(f"prefix=w{time.monotonic_ns()}&cluster_wait={wait}")


def test_a_migration_stuck_half_way_is_S973(own_cluster):
    """The shop's keys split between two masters (MIGRATING / IMPORTING, some keys moved):
    a multi-key call is answered TRYAGAIN until the migration ends; past cluster_wait the
    router stops with S973 rather than wait for ever."""
    url = _url(own_cluster, 0.5)
    prefix = url.rsplit("prefix=", 1)[1].split("&")[0]
    r = router(dict(shop({a: {} for a in AGENTS}, {"G": {"agents": AGENTS}}), shop="stuck"),
               ONLINE, store=url)  # fmt: skip
    assert r.route({"buyer": "b0", "time": at(1)})["target"].startswith("agent:")
    slot = key_slot(f"{prefix}:{{stuck}}:ver")
    src = own_cluster.master_of_slot(slot)
    dst = next(m for m in own_cluster.masters() if m is not src)
    keys = own_cluster.client(src).execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
    assert len(keys) > 1, keys
    own_cluster.begin_migration(slot, src, dst)
    try:
        own_cluster.migrate_keys(slot, src, dst, keys[:1])
        with pytest.raises(StoreError) as exc:
            r.route({"buyer": "b1", "time": at(2)})
        assert exc.value.code == "S973", exc.value
        assert "kept answering TRYAGAIN" in str(exc.value)
        assert "past cluster_wait=0.5s" in str(exc.value)
    finally:
        own_cluster.migrate_keys(slot, src, dst)
        own_cluster.end_migration(slot, dst)
        r.close()
    # the migration finished, the same router goes on where it stopped (nothing was decided)
    r = router(dict(shop({a: {} for a in AGENTS}, {"G": {"agents": AGENTS}}), shop="stuck"),
               store=url)  # fmt: skip
    assert r.route({"buyer": "b0", "time": at(3)})["step"] == "sticky"
    r.close()


def test_no_master_for_the_slot_at_start_is_S972(own_cluster):
    """The master of the shop's slot and its replica both down (the cluster still answers
    for its other slots): opening a store or a ledger of that shop waits cluster_wait for a
    master, then S972."""
    url = _url(own_cluster, 1)
    prefix = url.rsplit("prefix=", 1)[1].split("&")[0]
    master = own_cluster.master_of(f"{prefix}:{{down}}:ver")
    replica = own_cluster.replica_of(master)
    try:
        for node in (replica, master):
            node.stop()
        for opener in (open_store, open_ledger):
            with pytest.raises(StoreError) as exc:
                opener(url, "down")
            assert exc.value.code == "S972", exc.value
            assert "has no reachable master for slot" in str(exc.value)
            assert "after cluster_wait=1s" in str(exc.value)
    finally:
        for node in (master, replica):
            node.start()
        own_cluster.wait_ok()
    store = open_store(url, "down")  # served again: the same URL opens
    store.close()
