"""`rulec plan`: print the outreach sends due at --now as JSON Lines and record them in the ledger (O1–O13)."""

from __future__ import annotations

import json
import os

from rulec.cli.common import ArgParser, add_table_options, load_table_or_rules, render
from rulec.errors import RulecError, diag


def _parser(out, err):
    p = ArgParser(
        "plan",
        out,
        err,
        description="Plan the outreach sends due at NOW (O12) and "
        "record them in the ledger, exactly once (O13).",
    )
    p.add_argument("rules", metavar="RULES_OR_TABLE")
    p.add_argument(
        "--audience",
        required=True,
        metavar="AUDIENCE",
        help="consumers: JSON Lines (one object a line) or a Parquet file (by its magic bytes)",
    )
    p.add_argument(
        "--ledger",
        required=True,
        metavar="DB",
        help="SQLite file (or sqlite:///path, redis://host:port/db, redis+cluster://host:port,...)",
    )
    p.add_argument("--now", required=True, metavar="ISO", help="the planning moment, with offset")
    p.add_argument("--activities", metavar="ACTS.jsonl", help="shop promotions for O8")
    p.add_argument("--report", metavar="FILE", help="write a JSON summary of the run")
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="skip malformed audience lines (counted) instead of stopping",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=2000,
        metavar="N",
        help="consumers decided and recorded per transaction (default 2000)",
    )
    add_table_options(p)
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="the audience is shard I of an audience split in N disjoint parts (O12s)",
    )
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an audience without consumers (refused otherwise: O14)",
    )
    p.add_argument(
        "--dask",
        metavar="SCHEDULER",
        help="plan on Dask: each --audience file (a glob) is one shard; a scheduler address "
        "or local:N for N worker processes here (docs/distributed.md)",
    )
    p.add_argument(
        "--out-dir",
        metavar="DIR",
        help="with --dask: where each partition's sends are written (part-I-of-N.jsonl)",
    )
    p.add_argument(
        "--volatile-ledger",
        action="store_true",
        help="accept a Redis ledger on a server that does not persist writes (O14)",
    )
    return p


def _report_writable(path, err) -> bool:
    """O14: a report that cannot be written is refused before anything is recorded."""
    import os

    where = os.path.dirname(os.path.abspath(path))
    why = None
    if not os.path.isdir(where) or not os.access(where, os.W_OK):
        why = f"{where} is not a writable directory"
    elif os.path.lexists(path) and not os.path.isfile(path):
        why = "it names a directory or another non-regular file"
    elif os.path.exists(path) and not os.access(path, os.W_OK):
        why = "it is not writable"
    if why:
        err.write(f"rulec plan: cannot write the report {path}: {why}\n")
    return why is None


def _bytes_under(out):
    """The binary stream under `out` when `out` is UTF-8 text that writes "\n" as it is
    (stdout on POSIX): the planner then writes its sends there as UTF-8 bytes, never encoding
    a second time (issue 15). Anything else (a StringIO, another encoding): `out` itself."""
    from rulec.outreach.campaign import binary_out

    buf = getattr(out, "buffer", None)
    enc = (getattr(out, "encoding", None) or "").lower().replace("_", "-")
    if enc not in ("utf-8", "utf8") or os.linesep != "\n" or not binary_out(buf):
        return out
    out.flush()  # what the text layer holds goes first
    return buf


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
    if ns is None:
        return code
    if ns.batch < 1:
        err.write("rulec plan: --batch must be at least 1\n")
        return 2
    if ns.report and not _report_writable(ns.report, err):
        return 2
    dask = ns.dask is not None or ns.out_dir is not None
    if dask:
        from rulec.cli import plan_dask

        if not plan_dask.usage_ok(ns, err):
            return 2
    from rulec.common import calendar as cal

    try:
        now = cal.parse_time(ns.now)
    except ValueError as exc:
        render([diag("E820", f"--now: {exc}")], err)
        return 1
    table = load_table_or_rules(ns.rules, err, ns)
    if table is None:
        return 1
    if dask:
        return plan_dask.run(ns, table, now, err)
    from rulec.cli.gc_tuning import fewer_collections
    from rulec.cli.progress import Progress
    from rulec.outreach.planner import Planner

    planner = None
    isatty = getattr(err, "isatty", None)
    progress = Progress(err) if isatty and isatty() else None
    try:
        planner = Planner(table, ns.ledger, batch_size=ns.batch, volatile_ledger=ns.volatile_ledger)
        with fewer_collections():
            result = planner.plan(
                ns.audience,
                now,
                activities=ns.activities,
                out=_bytes_under(out),
                keep_going=ns.keep_going,
                on_progress=progress,
                shard=ns.shard,
                allow_empty=ns.allow_empty,
            )
    except RulecError as exc:
        if progress:
            progress.close()
        render(exc.diagnostics, err)
        return 1
    finally:
        if planner is not None:
            planner.close()
    if progress:
        progress.close()
    if result.bad:
        render(result.bad[:20], err)
        more = len(result.bad) - 20
        err.write(
            f"rulec plan: skipped {len(result.bad)} malformed audience line"
            f"{'s' * (len(result.bad) != 1)}" + (f" ({more} not shown)" if more > 0 else "") + "\n"
        )
    explain(result.report, ns, err)
    return write_report(result.report, ns, err)


def explain(report, ns, err) -> None:
    """Why each campaign this run settled without sending was settled so (O7–O12)."""
    for name, entry in report["campaigns"].items():
        if entry["status"] in ("missed", "skipped"):  # decided by this run, for good (O12)
            why = {
                "missed": "first planned more than max_delay after its send time (O12)",
                "no_valid_activity": "no valid activity at send time (O8)"
                + ("" if ns.activities else "; no --activities were given"),
                "not_eligible": "the shop does not meet its thresholds or grant (O7, O9)",
                "not_configured": "its required content is missing (O6, O7)",
                "deadline_passed": "configured after its deadline (O10)",
            }.get(entry["reason"], entry["reason"])
            err.write(f"rulec plan: campaign {name} {entry['status']}: {why}\n")


def write_report(report, ns, err) -> int:
    """--report FILE (O14: a report that cannot be written still exits 1, sends kept)."""
    if ns.report:
        try:
            with open(ns.report, "w", encoding="utf-8") as fh:
                json.dump(report, fh, ensure_ascii=False, indent=1, sort_keys=True)
                fh.write("\n")
        except OSError as exc:
            err.write(
                f"rulec plan: cannot write report {ns.report}: {exc.strerror or exc}; the "
                "sends printed were recorded (O14): keep them\n"
            )
            return 1
    return 0
