"""`rulec serve --store redis+cluster://…`: two server processes share a shop's state through
the cluster (R2 sticky across them, an event through one seen by the other), as on one
Redis (tests/serve/test_serve_redis.py); the URL shown by /v1/tables is the cluster's, with
its password masked."""

import os
import sys

import pytest

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "serve")
)
from serve_helpers import SHOP, Server, chat, online, table_bytes

pytestmark = pytest.mark.redis


def test_two_serve_processes_share_the_cluster(tmp_path, cluster_url):
    table = tmp_path / "shop.rtbl"
    table.write_bytes(table_bytes(SHOP)[0])
    with (
        Server(str(table), "--store", cluster_url) as one,
        Server(str(table), "--store", cluster_url) as two,
    ):
        assert one.post("/v1/events", {"events": online()})[0] == 200
        for i in range(10):
            _, a = one.post("/v1/route", {"chat": chat(f"b{i}", 1 + i)})
            _, b = two.post("/v1/route", {"chat": chat(f"b{i}", 20 + i)})
            assert a["decision"]["step"] == "group"
            assert (
                b["decision"]["step"] == "sticky"
                and b["decision"]["target"] == a["decision"]["target"]
            )
        off = [{**e, "status": "offline", "time": "2023-12-11T10:00:00+08:00"} for e in online()]
        two.post("/v1/events", {"events": off})
        _, c = one.post("/v1/route", {"chat": chat("late", 61)})
        assert c["decision"]["step"] == "nobody_online"
        _, tables = one.get("/v1/tables")
        shown = tables["tables"][0]["store"]  # the cluster's URL, its password masked
        assert shown.startswith("redis+cluster://:***@127.0.0.1:") and "rulec-test-pw" not in shown
