"""`rulec simulate RULES --scenario S.yaml`: a simulated shop day routed by the real router,
with metrics M1–M3, variants compared on common random numbers, report.json and report.html."""

from __future__ import annotations

import json
import sys

from rulec.cli.common import ArgParser, load_table_or_rules, render
from rulec.errors import RulecError


class _Progress:
    """`simulated N chats` on a terminal's stderr, updated every 2,000 chats."""

    def __init__(self, err, total):
        self.err, self.total, self.n = err, total, 0

    def __call__(self):
        self.n += 1
        if self.n % 2000 == 0:
            self.err.write(f"\rsimulated {self.n:,} of {self.total:,} chats")
            self.err.flush()

    def close(self):
        if self.n >= 2000:
            self.err.write("\n")


def run(args, out, err) -> int:
    ap = ArgParser("simulate", out, err, description="Simulate a shop day through the router.")
    ap.add_argument("rules", nargs="?", metavar="RULES_OR_TABLE")
    ap.add_argument("--scenario", metavar="SCENARIO.yaml")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out",
        default="simulate-out",
        metavar="DIR",
        help="folder for report.json and report.html",
    )
    ap.add_argument(
        "--variant",
        action="append",
        metavar="FILE_OR_OVERRIDE",
        help="other rules, or e.g. 'group 售前A mode conversion high' (repeatable)",
    )
    ap.add_argument("--replications", type=int, default=1, metavar="K")
    ap.add_argument("--store", default="memory:", metavar="URL")
    ap.add_argument("--schema", choices=("scenario", "report"), help="print a JSON Schema and exit")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    from rulec.sim import report, scenario
    from rulec.sim import run as runs

    if ns.schema:
        doc = scenario.SCHEMA if ns.schema == "scenario" else report.REPORT_SCHEMA
        out.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        return 0
    if ns.rules is None or ns.scenario is None:
        err.write("rulec simulate: error: RULES and --scenario are required\n")
        return 2
    if not 1 <= ns.replications <= 1000:
        err.write("rulec simulate: error: --replications takes 1..1000\n")
        return 2
    table = load_table_or_rules(ns.rules, err)
    if table is None:
        return 1
    try:
        scen = scenario.load(ns.scenario, [a["id"] for a in table.body["agents"]])
        tables = runs.variants(table, ns.variant, lambda p: load_table_or_rules(p, err))
        if tables is None:
            return 1
        tick = _Progress(err, scen.chats * ns.replications * len(tables)) if err.isatty() else None
        try:
            vs = runs.simulate(tables, scen, ns.seed, ns.replications, ns.store, tick)
        finally:
            if tick is not None:
                tick.close()
        doc = report.document("simulate", str(ns.rules), ns.seed, vs, str(ns.scenario))
        return runs.write(doc, ns.out, out)
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))
