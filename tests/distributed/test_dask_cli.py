"""`rulec plan --dask`: audience files as shards on a LocalCluster the command starts, and
every bad --dask / --out-dir / --shard / --audience combination coded (K1xx)."""

import json
import os

from dask_helpers import union, write_parts
from outreach_helpers import NOW, RULES, expected

N = 300


def _rules(tmp_path):
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(RULES), encoding="utf-8")
    return path


def test_plan_on_local_dask_with_a_sqlite_ledger(tmp_path, cli):
    """local:N is one machine, so a SQLite ledger is sound: 4 files, 4 shards."""
    write_parts(tmp_path / "in", 4, N)
    r = cli(
        "plan", _rules(tmp_path), "--audience", tmp_path / "in" / "*.jsonl",
        "--ledger", tmp_path / "l.db", "--now", NOW, "--dask", "local:2",
        "--out-dir", tmp_path / "out", "--report", tmp_path / "rep.json",
    )  # fmt: skip
    assert r.code == 0, r
    assert r.out == "" and "4 shards, 300 consumers" in r.err
    files = sorted((tmp_path / "out").glob("part-*.jsonl"))
    assert [f.name for f in files] == [f"part-{i:05d}-of-00004.jsonl" for i in range(1, 5)]
    sends = union(files)
    assert len(sends) == len(expected(N))
    assert {(s["campaign"], s["consumer"]) for s in sends} == expected(N)
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["shards"] == 4 and rep["sends_total"] == len(sends)
    assert {c["status"] for c in rep["campaigns"].values()} == {"finished"}


def test_plan_parquet_partitions_on_dask_with_redis(tmp_path, cli, redis_url):
    """--audience 'in/*.parquet': each Parquet file one shard, read on its worker."""
    import pandas as pd
    from outreach_helpers import consumer

    (tmp_path / "in").mkdir()
    for k in range(3):
        rows = [consumer(i) for i in range(k, N, 3)]
        pd.DataFrame(rows).to_parquet(tmp_path / "in" / f"p{k}.parquet")
    r = cli(
        "plan", _rules(tmp_path), "--audience", tmp_path / "in" / "*.parquet",
        "--ledger", redis_url, "--now", NOW, "--dask", "local:2", "--out-dir", tmp_path / "out",
    )  # fmt: skip
    assert r.code == 0, r
    sends = union(sorted((tmp_path / "out").glob("part-*-of-00003.jsonl")))
    assert len(sends) == len(expected(N))
    assert {(s["campaign"], s["consumer"]) for s in sends} == expected(N)


def test_bad_dask_usage_is_coded(tmp_path, cli):
    rules = _rules(tmp_path)
    write_parts(tmp_path / "in", 2, 10)
    base = ["plan", rules, "--ledger", tmp_path / "l.db", "--now", NOW]
    aud = ["--audience", tmp_path / "in" / "*.jsonl"]
    cases = [
        (aud + ["--dask", "local:zero", "--out-dir", tmp_path / "o"], 2, "K100"),
        (aud + ["--dask", "local:2"], 2, "K111"),
        (aud + ["--out-dir", tmp_path / "o"], 2, "K111"),
        (aud + ["--dask", "local:2", "--out-dir", tmp_path / "o", "--shard", "1/2"], 2, "K105"),
        (["--audience", tmp_path / "none-*.jsonl", "--dask", "local:1", "--out-dir", "o"], 1, "K102"),
        (aud + ["--dask", "local:1", "--out-dir", tmp_path / "o", "--ledger", "memory:"], 1, "K104"),
    ]  # fmt: skip
    for args, code, diag in cases:
        r = cli(*base, *args)
        assert (r.code, diag in r.err) == (code, True), (args, r)
        assert "Traceback" not in r.err
    assert not os.path.exists(tmp_path / "o")
