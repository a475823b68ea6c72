"""Several server processes on one Redis (a real redis-server on 127.0.0.1): state is shared,
so a buyer's sticky contact made through one process is honoured by the other (R2), and
`--workers 2` shares it too; the memory store says at start that it is per process."""

import shutil

import pytest
from serve_helpers import SHOP, Server, chat, online, table_bytes

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


@pytest.fixture(scope="module")
def redis_server():
    from redis_server import RedisServer

    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "shop.rtbl"
    path.write_bytes(table_bytes(SHOP)[0])
    return str(path)


def test_sticky_contact_across_two_processes(redis_server, table):
    url = redis_server.url(3)
    with Server(table, "--store", url) as one, Server(table, "--store", url) as two:
        status, _ = one.post("/v1/events", {"events": online()})
        assert status == 200
        for i in range(10):  # buyers assigned through one, then routed through the other
            _, a = one.post("/v1/route", {"chat": chat(f"b{i}", 1 + i)})
            _, b = two.post("/v1/route", {"chat": chat(f"b{i}", 20 + i), "trace": True})
            assert a["decision"]["step"] == "group"
            assert b["decision"]["step"] == "sticky", b["decision"]["trace"]
            assert b["decision"]["target"] == a["decision"]["target"]
        # an event applied through the second process is seen by the first: all offline
        off = [{**e, "status": "offline", "time": "2023-12-11T10:00:00+08:00"} for e in online()]
        two.post("/v1/events", {"events": off})
        _, c = one.post("/v1/route", {"chat": chat("late", 61)})
        assert c["decision"]["step"] == "nobody_online"
        _, tables = one.get("/v1/tables")
        assert tables["tables"][0]["store"].startswith("redis://")


def test_two_workers_share_redis(redis_server, table):
    url = redis_server.url(4)
    with Server(table, "--store", url, "--workers", "2") as srv:
        srv.post("/v1/events", {"events": online()})
        first = {}
        for i in range(20):  # fresh connections: the kernel spreads them over both workers
            _, doc = srv.post("/v1/route", {"chat": chat(f"w{i}", 1)})
            first[f"w{i}"] = doc["decision"]["target"]
        for i in range(20):
            _, doc = srv.post("/v1/route", {"chat": chat(f"w{i}", 30)})
            assert doc["decision"]["step"] == "sticky"
            assert doc["decision"]["target"] == first[f"w{i}"]
        status, text = srv.get("/metrics")  # summed over the workers
        assert status == 200 and "rulec_decisions_total" in text
        total = sum(
            float(ln.rsplit(" ", 1)[1])
            for ln in text.splitlines()
            if ln.startswith("rulec_decisions_total{")
        )
        assert total == 40
    assert srv.stop() == 0 and "worker" in srv.stderr()


def test_memory_store_with_workers_says_so(table):
    with Server(table, "--workers", "2") as srv:
        assert srv.get("/healthz")[0] == 200
    assert "memory: store is per process" in srv.stderr()
