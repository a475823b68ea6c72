"""O12s on Dask: each partition one shard on a real LocalCluster; the union of the partition
files equals one single-process run over the whole audience (O13: once each)."""

import json
import os

import pytest
from dask_helpers import sends_of, single_run, union, write_parts
from outreach_helpers import NOW, expected, table

from rulec.errors import RulecError
from rulec.outreach.distributed import plan_partitions

N = 800


def _keys(counter) -> set:
    return {(json.loads(s)["campaign"], json.loads(s)["consumer"]) for s in counter}


def test_eight_partitions_give_the_single_run_sends(tmp_path, dask_client, redis_url):
    paths = write_parts(tmp_path / "in", 8, N)
    report = plan_partitions(
        paths, table(), redis_url, NOW, tmp_path / "out", client=dask_client, batch_size=37
    )
    got = sends_of(report)
    single = single_run(table(), union(paths), tmp_path / "one.db", NOW)
    assert got == single and max(got.values()) == 1  # the same sends, each once
    assert _keys(got) == expected(N)
    assert report["shards"] == 8 and report["consumers"] == N
    assert report["sends_total"] == sum(got.values())
    for name, c in report["campaigns"].items():  # O12s: finished as a whole, all 8 shards
        assert (c["status"], c["shards"], c["shards_finished"]) == ("finished", 8, 8), name
    assert [p["shard"] for p in report["partitions"]] == [f"{i}/8" for i in range(1, 9)]
    assert not [f for f in os.listdir(tmp_path / "out") if ".attempt-" in f]


def test_the_same_run_again_reuses_the_partitions(tmp_path, dask_client, redis_url):
    paths = write_parts(tmp_path / "in", 3, 90)
    args = (paths, table(), redis_url, NOW, tmp_path / "out")
    first = plan_partitions(*args, client=dask_client)
    again = plan_partitions(*args, client=dask_client)
    assert sends_of(again) == sends_of(first) and _keys(sends_of(first)) == expected(90)
    assert [p["reused"] for p in again["partitions"]] == [True] * 3


def test_a_shard_that_died_before_its_report_keeps_its_file(tmp_path, dask_client, redis_url):
    """A shard whose file was complete but whose report was never written (its worker died
    in between) is planned again: nothing is owed any more, and its file keeps its sends."""
    paths = write_parts(tmp_path / "in", 3, 90)
    args = (paths, table(), redis_url, NOW, tmp_path / "out")
    first = plan_partitions(*args, client=dask_client)
    os.remove(tmp_path / "out" / "part-00002-of-00003.report.json")
    again = plan_partitions(*args, client=dask_client)
    assert sends_of(again) == sends_of(first) and _keys(sends_of(first)) == expected(90)
    assert [p["reused"] for p in again["partitions"]] == [True, False, True]
    assert again["partitions"][1]["recovered"] == first["partitions"][1]["sends_total"] > 0
    assert again["sends"] == first["sends"]


def test_a_bag_and_a_dataframe_are_planned_by_partition(tmp_path, dask_client, redis_url):
    import dask.bag as db
    import dask.dataframe as dd
    import pandas as pd
    from outreach_helpers import consumer

    rows = [consumer(i) for i in range(N)]
    single = single_run(table(), rows, tmp_path / "one.db", NOW)
    bag = db.from_sequence(rows, npartitions=8)
    via_bag = plan_partitions(bag, table(), redis_url, NOW, tmp_path / "bag", client=dask_client)
    assert sends_of(via_bag) == single and via_bag["shards"] == 8
    import dask

    # dict and list cells stay objects (Dask would turn object columns into strings)
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.from_pandas(pd.DataFrame(rows), npartitions=4)
    via_df = plan_partitions(
        frame, table(), tmp_path / "df.db", NOW, tmp_path / "df", client=dask_client
    )
    assert sends_of(via_df) == single and via_df["shards"] == 4


def test_a_bad_line_names_its_shard_and_file(tmp_path, dask_client, redis_url):
    paths = write_parts(tmp_path / "in", 4, 40)
    with open(paths[2], "a", encoding="utf-8") as fh:
        fh.write('{"consumer": 5}\n')
    with pytest.raises(RulecError) as exc:
        plan_partitions(paths, table(), redis_url, NOW, tmp_path / "out", client=dask_client)
    (d,) = exc.value.diagnostics
    assert d.code.startswith("E8") and "shard 3/4" in d.message
    assert d.span is not None and d.span.file == paths[2] and d.span.line == 11


def test_partition_count_must_match_the_ledger(tmp_path, dask_client, redis_url):
    """O12s: a ledger that planned the campaigns in 3 shards refuses a run of 4 partitions
    (K103) before any task runs; nothing is recorded."""
    from rulec.outreach.planner import Planner

    with Planner(table(), redis_url) as p:
        p.plan(union(write_parts(tmp_path / "a", 3, 30)[:1]), NOW, shard="1/3")
        before = p.ledger.sends()
    paths = write_parts(tmp_path / "in", 4, 40)
    with pytest.raises(RulecError) as exc:
        plan_partitions(paths, table(), redis_url, NOW, tmp_path / "out", client=dask_client)
    assert exc.value.code == "K103" and "npartitions=3" in str(exc.value)
    with Planner(table(), redis_url) as p:
        assert p.ledger.sends() == before


def test_refused_ledgers_and_collections(tmp_path, dask_client, redis_url):
    paths = write_parts(tmp_path / "in", 2, 10)
    for ledger in ("memory:", 123):
        with pytest.raises(RulecError) as exc:
            plan_partitions(paths, table(), ledger, NOW, tmp_path / "o", client=dask_client)
        assert exc.value.code == "K104"
    with pytest.raises(RulecError) as exc:
        plan_partitions({"a": 1}, table(), redis_url, NOW, tmp_path / "o", client=dask_client)
    assert exc.value.code == "K109"
    with pytest.raises(RulecError) as exc:
        plan_partitions([], table(), redis_url, NOW, tmp_path / "o", client=dask_client)
    assert exc.value.code == "K112"


def test_an_out_dir_of_another_run_is_refused(tmp_path, dask_client, redis_url):
    paths = write_parts(tmp_path / "in", 2, 20)
    plan_partitions(paths, table(), redis_url, NOW, tmp_path / "out", client=dask_client)
    later = "2023-12-12T15:00:00+08:00"
    with pytest.raises(RulecError) as exc:
        plan_partitions(paths, table(), redis_url, later, tmp_path / "out", client=dask_client)
    assert exc.value.code == "K106"


def test_an_unreachable_scheduler_is_k101(tmp_path, redis_url):
    from redis_server import closed_port

    sock = closed_port()
    try:
        target = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(RulecError) as exc:
            plan_partitions(
                write_parts(tmp_path / "in", 1, 5), table(), redis_url, NOW, tmp_path / "o",
                client=target, timeout=2,
            )  # fmt: skip
        assert exc.value.code == "K101"
    finally:
        sock.close()


@pytest.mark.parametrize("bad", ["local:0", "local:x", "local:", "nope", "http://x/y", ""])
def test_bad_dask_targets_are_k100(bad):
    from rulec.outreach.distributed import parse_target

    with pytest.raises(RulecError) as exc:
        parse_target(bad)
    assert exc.value.code == "K100"
