"""Planning on Dask (O12s): each partition of an audience is one shard, planned on a worker.

`plan_partitions(collection, table, ledger, now, out_dir=…)` takes a Dask DataFrame, a Dask
Bag (items: dicts or JSON lines) or a list of JSON Lines files, runs `shardrun.plan_shard`
for partition I of N on the cluster (`client`, a scheduler address, or "local:N" for a
LocalCluster of N worker processes on loopback) and returns the aggregated run report.

Worker loss: Dask runs a task whose worker died again elsewhere (up to the scheduler's
`allowed-failures`; a LocalCluster started here allows ALLOWED_FAILURES); the ledger makes
the retry decide only what is still owed and plan_shard's journals keep the sends the dead
attempt recorded, so the partition files hold each recorded send once (docs/distributed.md).
"""

from __future__ import annotations

import contextlib
import os
import re

from rulec.errors import RulecError, diag
from rulec.outreach import runreport
from rulec.outreach.planner import BATCH, check_now
from rulec.outreach.shardrun import run_shard

ALLOWED_FAILURES = 20  # worker deaths one task survives on a LocalCluster started here
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
START_TIMEOUT = 180  # seconds for the worker processes of local:N to start (a loaded machine)
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+$|^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def _fail(code, message) -> RulecError:
    return RulecError([diag(code, message)])


def _need_dask():
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise _fail(
            "K108",
            f"planning on Dask needs dask and distributed: pip install 'rulec[dask]' ({exc})",
        ) from None


def parse_target(target) -> tuple:
    """("local", N) for "local:N", ("address", ADDR) for a scheduler address; K100 otherwise."""
    if isinstance(target, str):
        if target.startswith("local:"):
            n = target[len("local:") :]
            if n.isdigit() and 1 <= int(n) <= 64:
                return "local", int(n)
        elif _ADDRESS.match(target):
            return "address", target
    raise _fail(
        "K100",
        f"--dask {target!r}: write local:N (a LocalCluster of N worker processes, 1 <= N <= 64) "
        "or a scheduler address such as tcp://10.0.0.5:8786",
    )


def _no_workers(n, exc) -> RulecError:
    return _fail(
        "K114",
        f"--dask local:{n}: the worker processes did not start within {START_TIMEOUT} s "
        f"({type(exc).__name__}: {exc}); the machine may be short of memory or processes",
    )


@contextlib.contextmanager
def connect(target, timeout: float = CONNECT_TIMEOUT):
    """A distributed.Client for `target`: a Client (used as is), "local:N" or an address."""
    _need_dask()
    from distributed import Client

    if isinstance(target, Client):
        yield target
        return
    kind, value = parse_target(target)
    if kind == "local":
        import dask
        from distributed import LocalCluster

        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            try:
                cluster = LocalCluster(
                    n_workers=value,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=40,
                )
            except (OSError, TimeoutError, RuntimeError) as exc:
                raise _no_workers(value, exc) from None
        try:
            with Client(cluster) as client:
                try:  # a run on a cluster without workers would wait for ever
                    client.wait_for_workers(value, timeout=START_TIMEOUT)
                except (OSError, TimeoutError) as exc:
                    raise _no_workers(value, exc) from None
                yield client
        finally:
            # workers and scheduler are stopped first; distributed's status watcher may then
            # trip over a worker its nanny had restarted (KeyError in SpecCluster): harmless
            with contextlib.suppress(KeyError):
                cluster.close()
        return
    try:
        client = Client(value, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise _fail(
            "K101",
            f"cannot reach the Dask scheduler at {value}: {exc}; start it (dask scheduler) "
            "or use --dask local:N",
        ) from None
    with client:
        yield client


def is_local(client) -> bool:
    """Every worker of `client` on this machine's loopback (a SQLite ledger is sound then)."""
    workers = client.scheduler_info().get("workers", {})
    return all(re.match(r"^\w+://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):", w) for w in workers)


def _partitions(collection) -> list:
    """Delayed-able pieces, one per partition: file paths, or a collection's to_delayed()."""
    if isinstance(collection, (list, tuple)):
        return list(collection)
    to_delayed = getattr(collection, "to_delayed", None)
    if to_delayed is None:
        raise _fail(
            "K109",
            f"plan_partitions takes a Dask DataFrame, a Dask Bag or a list of JSON Lines "
            f"files, not {type(collection).__name__}",
        )
    return list(to_delayed())


def plan_partitions(
    collection,
    table,
    ledger,
    now,
    out_dir,
    client="local:2",
    activities=None,
    batch_size: int = BATCH,
    keep_going: bool = False,
    allow_empty: bool = False,
    volatile_ledger: bool = False,
    timeout: float = CONNECT_TIMEOUT,
) -> dict:
    """Plan every partition of `collection` as one shard of N (N = its partition count) on
    Dask; sends in `out_dir` (one final file per partition); returns the run report
    (runreport.aggregate). Raises RulecError: K1xx for the run, or the codes of the failed
    partitions (each message names its shard)."""
    now = check_now(now)
    _need_dask()  # before the out-dir is made: a run that cannot start leaves nothing
    parts = _partitions(collection)
    parts = [os.path.abspath(p) if isinstance(p, (str, os.PathLike)) else p for p in parts]
    opts = dict(activities=activities, volatile_ledger=volatile_ledger, batch_size=batch_size,
                keep_going=keep_going, allow_empty=allow_empty)  # fmt: skip
    # local:N is one machine before a cluster is started: check first, cheaply
    local = isinstance(client, str) and parse_target(client)[0] == "local"
    if local:
        table, ledger, spec = runreport.prepare(
            table, ledger, now, len(parts), out_dir, True, **opts
        )
    with connect(client, timeout) as cl:
        if not local:
            table, ledger, spec = runreport.prepare(
                table, ledger, now, len(parts), out_dir, is_local(cl), **opts
            )
        results = _run(cl, parts, spec)
    return runreport.aggregate(table, ledger, now, results, volatile_ledger)


def _run(client, parts, spec) -> list:
    import asyncio

    import dask

    n = len(parts)
    task = dask.delayed(run_shard, pure=False)
    futures = client.compute([task(p, (i + 1, n), spec) for i, p in enumerate(parts)])
    replies, errors = [], []
    for i, f in enumerate(futures):
        # result() waits, and goes on waiting while a shard is computed again because the
        # worker holding its finished result died (the future is "lost" meanwhile): reading
        # the status after wait() once took such a shard for a failure. A shard run again is
        # still exactly once (its journal and the ledger, O12s/O13), so waiting is safe.
        try:
            replies.append(f.result())
            continue
        except (Exception, asyncio.CancelledError) as exc:
            name = type(exc).__name__
            detail = exc
        if name == "KilledWorker":
            # the scheduler's own limit: a Client given by the caller may allow fewer deaths
            # than a LocalCluster started here
            died = getattr(detail, "allowed_failures", ALLOWED_FAILURES) + 1
            errors.append(
                diag(
                    "K107",
                    f"shard {i + 1}/{n}: its workers died {died} time{'s' * (died > 1)}; what "
                    "was recorded stays recorded - run the same command again to complete it",
                )
            )
        else:
            errors.append(diag("K110", f"shard {i + 1}/{n} failed on Dask: {name}: {detail}"))
    if errors:
        raise RulecError(errors)
    return runreport.split(replies, lambda i: parts[i])
