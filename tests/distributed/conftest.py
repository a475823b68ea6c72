"""Distributed planning tests: a real distributed.LocalCluster (2 worker processes, loopback)
and a private redis-server with RDB snapshots, both shared by the session and stopped after."""

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(TESTS, "redis"), os.path.join(TESTS, "outreach")]

from redis_server import RedisServer  # noqa: E402


@pytest.fixture(scope="session")
def dask_client():
    from rulec.outreach.distributed import connect

    with connect("local:2") as client:
        client.wait_for_workers(2)
        yield client


@pytest.fixture(scope="session")
def ledger_server():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (`make redis` installs it)")
    server = RedisServer(save="3600 1").start()
    yield server
    server.cleanup()


_db = iter(range(16))


@pytest.fixture
def redis_url(ledger_server):
    """A fresh logical database; lock_ttl=1 so a killed worker's batch locks pass quickly."""
    import redis

    db = next(_db) % 16
    redis.Redis(port=ledger_server.port, db=db).flushdb()
    return ledger_server.url(db, "lock_ttl=1")
