"""Redis tests: a private redis-server per session (127.0.0.1, free port, temp dir,
RDB snapshots configured), a fresh logical database per test; skipped, with the reason shown, only when
the redis-server binary is missing (`make test` installs it through scripts/ensure-redis.sh)."""

import itertools
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(TESTS, "routing"), os.path.join(TESTS, "outreach")]

from redis_server import RedisServer, need_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_server():
    need_redis()
    server = RedisServer(save="3600 1").start()  # RDB configured: ledgers accept it (O14)
    yield server
    server.cleanup()


_dbs = itertools.cycle(range(16))


@pytest.fixture
def redis_url(redis_server):
    """redis://127.0.0.1:PORT/N for a logical database emptied for this test."""
    import redis

    db = next(_dbs)
    redis.Redis(port=redis_server.port, db=db).flushdb()
    return redis_server.url(db)


@pytest.fixture
def own_server():
    """A server of this test's own (AOF on, appendfsync always), to kill and restart."""
    need_redis()
    server = RedisServer(aof=True).start()
    yield server
    server.cleanup()


def _cluster(password=None):
    need_redis()
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed (it creates the test cluster)")
    from redis_cluster import RedisCluster

    return RedisCluster(password=password).start()


@pytest.fixture(scope="session")
def redis_cluster():
    """A Redis Cluster of this session: three masters, a replica each, a password on every
    node (so every test through it authenticates; the module clusters have none)."""
    cluster = _cluster(password="rulec-test-pw")
    yield cluster
    cluster.cleanup()


@pytest.fixture(scope="module")
def own_cluster():
    """A Redis Cluster of the test module's own, for tests that kill its nodes."""
    cluster = _cluster()
    yield cluster
    cluster.cleanup()


_prefixes = itertools.count()


@pytest.fixture
def cluster_url(redis_cluster):
    """redis+cluster://… (all six nodes) with a key prefix of this test's own: a cluster has
    one database, so tests keep apart by prefix."""
    return redis_cluster.url(f"prefix=t{os.getpid()}n{next(_prefixes)}")
