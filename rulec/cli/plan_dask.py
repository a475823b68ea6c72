"""`rulec plan --dask`: each audience file one shard (O12s), planned on a Dask cluster."""

from __future__ import annotations

import glob
import os

from rulec.cli.common import render
from rulec.errors import RulecError, diag


def _usage(code, message, err) -> bool:
    render([diag(code, message)], err)
    return False


def usage_ok(ns, err) -> bool:
    """--dask, --out-dir and --shard together as they must be (exit 2 otherwise)."""
    from rulec.outreach.distributed import parse_target

    if ns.dask is None:
        return _usage("K111", "--out-dir is for --dask runs (a plain run prints its sends)", err)
    if ns.out_dir is None:
        return _usage("K111", "--dask needs --out-dir DIR: each partition's sends go there", err)
    if ns.shard is not None:
        return _usage(
            "K105",
            "--shard with --dask: the audience files are the shards (file I of N is shard "
            "I/N, O12s); drop --shard",
            err,
        )
    try:
        parse_target(ns.dask)
    except RulecError as exc:
        render(exc.diagnostics, err)
        return False
    return True


def audience_files(pattern) -> list:
    """The files of an audience glob (sorted: file I is shard I); K102 when none match."""
    files = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    if not files:
        why = "a directory" if os.path.isdir(pattern) else "no file"
        raise RulecError(
            [
                diag(
                    "K102",
                    f"--audience {pattern!r} matches {why}: give the partitions as a glob "
                    "such as 'parts/*.jsonl' (quoted, so rulec expands it)",
                )
            ]
        )
    return files


def run(ns, table, now, err) -> int:
    from rulec.cli.plan_cmd import explain, write_report
    from rulec.outreach.distributed import plan_partitions

    try:
        files = audience_files(ns.audience)
        report = plan_partitions(
            files,
            table,
            ns.ledger,
            now,
            ns.out_dir,
            client=ns.dask,
            activities=ns.activities,
            batch_size=ns.batch,
            keep_going=ns.keep_going,
            allow_empty=ns.allow_empty,
            volatile_ledger=ns.volatile_ledger,
        )
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1
    if report["bad_lines"]:
        err.write(f"rulec plan: skipped {report['bad_lines']} malformed audience lines\n")
    explain(report, ns, err)
    err.write(
        f"rulec plan: {report['shards']} shards, {report['consumers']} consumers, "
        f"{report['sends_total']} sends in {os.path.join(ns.out_dir, 'part-*.jsonl')}\n"
    )
    return write_report(report, ns, err)
