"""The Spark path (docs/distributed.md): each partition of a Spark DataFrame one shard via
mapInPandas, on a local-mode Spark (driver and executors on 127.0.0.1). The union of the
partition files equals one single-process run. Skipped only when pyspark is not installed
(it is large: `make test-spark` installs requirements-spark.txt and runs this file)."""

import json
import sys

import pytest
from dask_helpers import sends_of, single_run
from outreach_helpers import NOW, consumer, expected, table

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed: make test-spark")

N = 600


@pytest.fixture(scope="module")
def spark():
    import os

    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors run this venv's Python
    session = (
        SparkSession.builder.master("local[2]")
        .appName("rulec-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_partitions_give_the_single_run_sends(tmp_path, spark, redis_url):
    from rulec.outreach.spark import plan_dataframe

    rows = [consumer(i) for i in range(N)]
    schema = (
        "consumer string, attrs struct<spend:bigint>, exclusive boolean, purchases array<string>"
    )
    df = spark.createDataFrame(
        [(r["consumer"], r["attrs"], r["exclusive"], r["purchases"]) for r in rows], schema
    ).repartition(5)
    report = plan_dataframe(df, table(), redis_url, NOW, tmp_path / "out")
    got = sends_of(report)
    assert got == single_run(table(), rows, tmp_path / "one.db", NOW)
    assert max(got.values()) == 1 and len(got) == len(expected(N))
    assert report["shards"] == 5 and report["consumers"] == N
    assert {c["status"] for c in report["campaigns"].values()} == {"finished"}


def test_a_bad_row_names_its_shard(tmp_path, spark, redis_url):
    from rulec.errors import RulecError
    from rulec.outreach.spark import plan_dataframe

    rows = [("c1", json.dumps({"spend": 1}))]
    df = spark.createDataFrame(rows, "consumer string, attrs string").coalesce(1)
    with pytest.raises(RulecError) as exc:
        plan_dataframe(df, table(), redis_url, NOW, tmp_path / "out")
    assert exc.value.code.startswith("E8") and "shard 1/1" in str(exc.value)
