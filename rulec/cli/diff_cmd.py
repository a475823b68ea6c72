"""`rulec diff OLD NEW`: what a rule change does (structure, R5 regions, replayed traffic, sends)."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser, load_table_or_rules, render
from rulec.errors import RulecError


def run(args, out, err) -> int:
    ap = ArgParser("diff", out, err, description="Compare two rule sets (sources or tables).")
    ap.add_argument("old", metavar="OLD", help="the rules or table in force")
    ap.add_argument("new", metavar="NEW", help="the changed rules or table")
    ap.add_argument("--events", metavar="LOG.jsonl", help="replay this traffic log under both")
    ap.add_argument("--state", metavar="STATE.json", help="starting state for the replay")
    ap.add_argument("--seed", type=int, default=0, help="PRNG seed of both replays (default 0)")
    ap.add_argument(
        "--audience", metavar="A.jsonl", help="plan this audience under both (needs --now)"
    )
    ap.add_argument("--now", metavar="ISO", help="the planning time for --audience")
    ap.add_argument(
        "--activities", metavar="ACTS.jsonl", help="shop promotions for O8 (with --audience)"
    )
    ap.add_argument("--format", choices=("text", "json", "html"), default="text")
    ap.add_argument("-o", "--output", help="write the report to this file instead of stdout")
    ap.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 when anything changes (a CI gate)"
    )
    ns, code = ap.parse(args)
    if ns is None:
        return code
    if (ns.audience is None) != (ns.now is None):
        err.write("rulec diff: error: --audience and --now go together\n")
        return 2
    old = load_table_or_rules(ns.old, err)
    new = load_table_or_rules(ns.new, err) if old is not None else None
    if old is None or new is None:
        return 1
    from rulec.analysis import diff_report

    try:
        doc = diff_report.build(
            old, new, ns.events, ns.state, ns.seed, ns.audience, ns.now, ns.activities
        )
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1
    if ns.format == "json":
        text = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    elif ns.format == "html":
        text = diff_report.to_html(doc)
    else:
        text = diff_report.to_text(doc)
    if ns.output:
        try:
            with open(ns.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            err.write(f"rulec diff: error: cannot write {ns.output}: {exc.strerror or exc}\n")
            return 1
    else:
        out.write(text)
    return 1 if ns.fail_on_change and diff_report.changed(doc) else 0
