"""`rulec replay RULES --events LOG.jsonl`: metrics M1–M3 of a recorded day (contract events
or a decision log) routed by these rules; variants compared on the same log."""

from __future__ import annotations

from rulec.cli.common import ArgParser, load_table_or_rules, render
from rulec.errors import RulecError


def run(args, out, err) -> int:
    ap = ArgParser("replay", out, err, description="Replay a recorded log and report its metrics.")
    ap.add_argument("rules", metavar="RULES_OR_TABLE")
    ap.add_argument("--events", required=True, metavar="LOG.jsonl", help="events or a decision log")
    ap.add_argument("--state", metavar="STATE.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="replay-out", metavar="DIR")
    ap.add_argument("--variant", action="append", metavar="FILE_OR_OVERRIDE")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    from zoneinfo import ZoneInfo

    from rulec.sim import metrics, report
    from rulec.sim import run as runs
    from rulec.sim.replay import replay_log

    table = load_table_or_rules(ns.rules, err)
    if table is None:
        return 1
    try:
        tables = runs.variants(table, ns.variant, lambda p: load_table_or_rules(p, err))
        if tables is None:
            return 1
        vs = []
        for name, t in tables:
            log, rates = replay_log(t, ns.events, ns.state, ns.seed)
            agents = [a["id"] for a in t.body["agents"]]
            vs.append(
                report.aggregate(
                    name, [metrics.all_metrics(log, ZoneInfo(t.body["timezone"]), agents, rates)]
                )
            )
        return runs.write(report.document("replay", str(ns.rules), ns.seed, vs), ns.out, out)
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1
