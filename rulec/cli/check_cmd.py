"""`rulec check SRC [--now ISO]`: diagnostics only (exit 1 when there are errors)."""

from __future__ import annotations

from rulec.cli.common import ArgParser, render, summary
from rulec.errors import RulecError


def run(args, out, err) -> int:
    ap = ArgParser("check", out, err, description="Check rules and print diagnostics.")
    ap.add_argument("src", help="rules file (.rules, or .yaml/.yml/.json)")
    ap.add_argument(
        "--now", help="ISO time: also report campaign deadlines passed or within a day of it (O10)"
    )
    ap.add_argument(
        "--events",
        metavar="LOG",
        help="a traffic sample (events JSON Lines): captures also say how much of it they move",
    )
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    now = None
    if ns.now is not None:
        from rulec.common.calendar import parse_time

        try:
            now = parse_time(ns.now)
        except ValueError as exc:
            err.write(f"rulec check: error: --now: {exc}\n")
            return 2
    from rulec.compiler.pipeline import compile_path

    result = compile_path(ns.src, now=now)
    if result.table is not None:
        from rulec.analysis import check_table

        try:
            result.diagnostics.extend(check_table(result.table, result.shop, ns.events))
        except RulecError as exc:
            result.diagnostics.extend(exc.diagnostics)
    render(result.diagnostics, err, ns.format, out)
    if ns.format == "text":
        err.write(f"{ns.src}: {summary(result.diagnostics)}\n")
    return 1 if result.errors else 0
