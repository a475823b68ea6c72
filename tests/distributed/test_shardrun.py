"""plan_shard, the per-partition entry point (Dask and Spark): an attempt that dies midway
leaves its journal; the next attempt keeps the journal's recorded lines, drops the printed
but unrecorded and the torn ones, and the final file holds each owed send once (O13)."""

import glob
import json

import pytest
from outreach_helpers import NOW, consumer, expected, table

from rulec.errors import RulecError
from rulec.outreach.shardrun import plan_shard

N = 300


class Died(Exception):
    """A worker's death, as far as this process can stage one: the run stops mid-audience."""


def dies_after(k):
    for i in range(N):
        if i == k:
            raise Died()
        yield json.dumps(consumer(i))


def _file_keys(path):
    lines = [json.loads(x) for x in open(path, encoding="utf-8")]
    keys = [(s["campaign"], s["consumer"]) for s in lines]
    assert len(keys) == len(set(keys)), "a send twice in the file"
    return set(keys)


def test_a_dead_attempts_recorded_sends_are_kept_once(tmp_path):
    ledger, out = tmp_path / "l.db", tmp_path / "out"
    out.mkdir()
    with pytest.raises(Died):
        plan_shard(dies_after(170), (2, 3), table(), ledger, NOW, out_dir=out, batch_size=40)
    (journal,) = glob.glob(str(out / "part-00002-of-00003.jsonl.attempt-*"))
    recorded = _file_keys(journal)
    assert recorded and len(recorded) < len(expected(N))
    with open(journal, "a", encoding="utf-8") as fh:  # a batch printed, never recorded
        fh.write(json.dumps({"campaign": "wk", "consumer": "ghost", "channel": "regular"}) + "\n")
        fh.write('{"campaign": "wk", "consu')  # torn by the death
    report = plan_shard(
        [json.dumps(consumer(i)) for i in range(N)], (2, 3), table(), ledger, NOW,
        out_dir=out, batch_size=40,
    )  # fmt: skip
    assert _file_keys(report["file"]) == expected(N)
    assert report["recovered"] == len(recorded) and report["sends_total"] == len(expected(N))
    assert sum(sum(ch.values()) for ch in report["sends"].values()) == len(expected(N))
    assert not glob.glob(str(out / "*.attempt-*"))


def test_a_sink_gets_each_printed_batch(tmp_path):
    got = []
    report = plan_shard(
        [consumer(i) for i in range(N)], "1/1", table(), tmp_path / "l.db", NOW,
        sink=lambda shard, lines: got.append((shard, lines)), batch_size=100,
    )  # fmt: skip
    assert len(got) == 3 and {s for s, _l in got} == {(1, 1)}
    keys = [(json.loads(x)["campaign"], json.loads(x)["consumer"]) for _s, ls in got for x in ls]
    assert len(keys) == len(set(keys)) and set(keys) == expected(N)
    assert report["sends_total"] == len(keys)


def test_out_dir_or_sink_exactly_one(tmp_path):
    for kw in ({}, {"out_dir": tmp_path, "sink": print}):
        with pytest.raises(RulecError) as exc:
            plan_shard([consumer(1)], "1/1", table(), tmp_path / "l.db", NOW, **kw)
        assert exc.value.code == "K109"


def test_an_unwritable_out_dir_is_s946(tmp_path):
    with pytest.raises(RulecError) as exc:
        plan_shard([consumer(1)], "1/1", table(), tmp_path / "l.db", NOW, out_dir=tmp_path / "no")
    assert exc.value.code == "S946"
