"""Runs that fail on Dask for want of Dask, of workers, or of a worker that lives: each a coded
error (docs/diagnostics.md, K1xx), never a traceback from rulec. K108: dask not installed;
K114: the worker processes of local:N do not start; K107: a shard's workers keep dying;
K110: a shard fails for a reason of its own (a worker out of memory)."""

import os
import subprocess
import sys

import dask
import dask.bag as db
import pytest
from dask_helpers import write_parts
from outreach_helpers import NOW, RULES, table

from rulec.errors import RulecError
from rulec.outreach.distributed import plan_partitions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _plan_args(tmp_path, dask_target="local:1"):
    import json

    rules = tmp_path / "shop.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    write_parts(tmp_path / "in", 2, 10)
    return [
        "plan", rules, "--audience", tmp_path / "in" / "*.jsonl", "--ledger",
        tmp_path / "l.db", "--now", NOW, "--dask", dask_target, "--out-dir", tmp_path / "out",
    ]  # fmt: skip


def test_without_dask_installed_is_K108(tmp_path, cli, monkeypatch):
    """`pip install rulec` without the dask extra: --dask says which extra to install."""
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # `import dask` raises ImportError
        r = cli(*_plan_args(tmp_path))
        assert r.code == 1, r
        assert "error[K108]" in r.err and "pip install 'rulec[dask]'" in r.err
        assert "Traceback" not in r.err
        monkeypatch.undo()
    assert not (tmp_path / "out").exists()


def test_workers_that_cannot_start_are_K114(tmp_path):
    """The worker processes of --dask local:N fail as they start (here: a worker preload,
    set through Dask's own configuration, that cannot be imported): K114, exit 1."""
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__PRELOAD='["rulec_test_no_such_module"]')
    done = subprocess.run(
        [sys.executable, "-m", "rulec", *map(str, _plan_args(tmp_path))],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("rulec: error[K114]: --dask local:1: the worker processes did not")
    assert "rulec_test_no_such_module" in done.stderr  # the reason, from the worker's log
    assert done.stdout == ""


@pytest.fixture(scope="module")
def fragile_client():
    """A LocalCluster whose scheduler gives up on a task at the first worker that dies
    running it (allowed-failures 0; rulec's own local:N allows 20)."""
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=50,
        )
    with cluster, Client(cluster) as client:
        yield client


def _partition_failure(tmp_path, client, partition) -> RulecError:
    """The error of a plan over one partition that `partition` (a Delayed) computes."""
    with pytest.raises(RulecError) as exc:
        plan_partitions(
            db.from_delayed([partition]), table(), tmp_path / "l.db", NOW, tmp_path / "out",
            client=client,
        )  # fmt: skip
    return exc.value


def test_a_shard_whose_workers_keep_dying_is_K107(tmp_path, fragile_client):
    """Reading the partition kills the worker process (as the kernel's OOM killer would),
    once more than the scheduler allows: K107, with the count the scheduler allowed."""
    err = _partition_failure(tmp_path, fragile_client, dask.delayed(os._exit)(17))
    assert [d.code for d in err.diagnostics] == ["K107"]
    assert err.diagnostics[0].message.startswith("shard 1/1: its workers died 1 time;")
    assert "run the same command again" in err.diagnostics[0].message
    assert fragile_client.wait_for_workers(1, timeout=120) is None  # the nanny restarted it


def test_a_shard_failing_for_its_own_reason_is_K110(tmp_path, fragile_client):
    """A partition that cannot be held in memory (MemoryError on the worker): K110 with the
    exception's type; the worker lives on."""
    err = _partition_failure(tmp_path, fragile_client, dask.delayed(bytearray)(1 << 62))
    assert [d.code for d in err.diagnostics] == ["K110"]
    assert err.diagnostics[0].message.startswith("shard 1/1 failed on Dask: MemoryError")
