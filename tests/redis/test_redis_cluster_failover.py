"""A ledger's master killed (SIGKILL) and replaced by its replica: duplicates and losses
counted against what docs/deploy.md ("Failover") promises.

Replication is asynchronous, so a commit the master acknowledged may not have reached the
replica when the master dies. To make that window certain instead of a race, the replica is
cut off before the commit (SIGSTOP, and its link dropped by the master, so nothing waits in
its socket either) and promoted (CLUSTER FAILOVER TAKEOVER) after the kill:
- without `wait`: the acknowledged batch is gone from the ledger; a later run sends it again
  (the promise: lost commits are those of the replication lag, and only they repeat);
- with `wait=1/S`: the planner does not let the batch go until a replica has it; its master
  lost meanwhile, it records the batch again on the new master: 0 duplicates, 0 losses;
- `wait=N` no replica can meet: refused at start (S975) or stopped (S974), as documented."""

import threading
import time

import pytest

from rulec.errors import StoreError
from rulec.outreach.ledger import open_ledger

pytestmark = pytest.mark.redis

SHOP = "fo"
AT = 1_700_000_000


@pytest.fixture(scope="module")
def cluster():
    """A cluster of this module's own: its masters are killed."""
    from conftest import need_redis
    from redis_cluster import RedisCluster

    need_redis()
    c = RedisCluster().start()
    yield c
    c.cleanup()


@pytest.fixture
def url(cluster):
    """The cluster URL with a prefix of this test's own; the cluster whole again after."""
    yield cluster.url(f"prefix=f{time.monotonic_ns()}&cluster_wait=30")
    for node in cluster.nodes:
        if node.proc is None:
            node.start()  # rejoins as a replica of the master that replaced it
        else:
            node.resume()
    cluster.wait_ok()


def _batch(ledger, consumers, printed, on_emit=None):
    """One planner batch of campaign `c`: a send to each consumer without one, printed
    (`printed`) before it is recorded, as the planner does (O13)."""
    mine = []

    def decide(history):
        mine[:] = [
            ("c", k, "regular", AT)
            for k in consumers
            if not any(e[0] == "c" for e in history.get(k, []))
        ]
        return list(mine)

    def emit():
        printed.extend(k for _c, k, _ch, _at in mine)
        if on_emit is not None:
            on_emit()

    return ledger.decide_and_record(consumers, decide, emit)


def _open(url):
    ledger = open_ledger(url, SHOP)
    ledger.open_campaigns({"c": ("started", None, AT)})
    return ledger


def _cut_off(cluster, master, replica):
    """The replica stalled (SIGSTOP) and its link dropped: the master's next writes reach
    no replica (a stalled process would still find them in its socket buffer)."""
    replica.pause()
    cluster.client(master).execute_command("CLIENT", "KILL", "TYPE", "replica")


def _fail_over(cluster, master, replica):
    """SIGKILL the master; the (stalled) replica resumes and takes its slots over."""
    master.kill()
    replica.resume()
    c = cluster.client(replica)
    c.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    deadline = time.monotonic() + 30
    while c.info("replication")["role"] != "master":
        assert time.monotonic() < deadline, "the replica did not take over"
        time.sleep(0.05)


def _recorded(url):
    with open_ledger(url, SHOP) as ledger:
        return [k for _c, k, _ch, _at in ledger.sends()]


A = [f"a{i}" for i in range(40)]
B = [f"b{i}" for i in range(40)]


def test_without_wait_an_acknowledged_batch_is_lost_and_sent_again(cluster, url):
    printed = []
    ledger = _open(url)
    master = cluster.master_of(ledger.k_meta)
    replica = cluster.replica_of(master)
    _batch(ledger, A, printed)
    assert ledger._conn.replicas(1, 5) == 1  # A (and the campaign) are on the replica
    _cut_off(cluster, master, replica)
    _batch(ledger, B, printed)  # acknowledged by the master; the replica is stalled
    assert sorted(_recorded(url)) == sorted(A + B)
    _fail_over(cluster, master, replica)
    after = _recorded(url)
    lost = set(A + B) - set(after)
    assert lost == set(B)  # what the replication lag held: B, and only B
    _batch(open_ledger(url, SHOP), A + B, printed)  # the same consumers planned again
    duplicates = len(printed) - len(set(printed))
    assert duplicates == len(B) and set(printed) == set(A + B)


def test_with_wait_the_planner_records_again_on_the_new_master(cluster, url):
    printed = []
    ledger = _open(url + "&wait=1/60")
    master = cluster.master_of(ledger.k_meta)
    replica = cluster.replica_of(master)
    _batch(ledger, A, printed)
    _cut_off(cluster, master, replica)
    emitted, outcome = threading.Event(), []

    def run_b():
        try:
            outcome.append(_batch(ledger, B, printed, on_emit=emitted.set))
        except Exception as exc:  # shown by the assertion below
            outcome.append(exc)

    t = threading.Thread(target=run_b)
    t.start()
    assert emitted.wait(30)
    on_master = cluster.client(master)
    key = ledger.k_sends
    deadline = time.monotonic() + 30
    while not on_master.hexists(key, B[-1]):  # B recorded on the master (WAIT is waiting)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    _fail_over(cluster, master, replica)
    master.start()  # back as the new master's replica: WAIT can be met again
    t.join(90)
    assert not t.is_alive() and isinstance(outcome[0], list), outcome
    assert sorted(_recorded(url)) == sorted(A + B)  # B recorded again on the new master
    _batch(open_ledger(url, SHOP), A + B, printed)  # planned again: nothing to send
    assert sorted(printed) == sorted(A + B)  # 0 duplicates, 0 missing
    assert ledger._conn.seen["lost"] >= 1


def test_wait_unmet_stops_the_run_with_S974(cluster, url):
    printed = []
    ledger = _open(url + "&wait=1/0.3")
    master = cluster.master_of(ledger.k_meta)
    replica = cluster.replica_of(master)
    _batch(ledger, A, printed)
    _cut_off(cluster, master, replica)
    with pytest.raises(StoreError) as exc:
        _batch(ledger, B, printed)
    assert exc.value.code == "S974" and "1 replica" in str(exc.value)
    replica.resume()


def test_wait_for_more_replicas_than_there_are_is_refused_at_start(cluster, url):
    with pytest.raises(StoreError) as exc:
        open_ledger(url + "&wait=2", SHOP)
    assert exc.value.code == "S975" and "has 1 connected" in str(exc.value)
