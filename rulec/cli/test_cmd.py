"""`rulec test [PATH...]`: run the tests written beside the rules (exit 0 all pass, 1 otherwise)."""

from __future__ import annotations

import json
import re
import time

from rulec.cli.common import ArgParser, painter, render
from rulec.errors import diag


def _parser(out, err):
    p = ArgParser(
        "test",
        out,
        err,
        description="Run the tests of rules files (`test` statements, `tests:` sections and "
        "*_test.rules files) against the table `rulec compile` builds.",
    )
    p.add_argument(
        "paths", nargs="*", default=["."], metavar="PATH", help="files, folders or - (stdin)"
    )
    p.add_argument("--run", metavar="REGEX", help="only the tests whose name matches REGEX")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    p.add_argument("--coverage", action="store_true", help="report what the tests exercised")
    p.add_argument(
        "--fail-under",
        type=float,
        metavar="PCT",
        help="exit 1 when the total coverage is below PCT (implies --coverage)",
    )
    p.add_argument(
        "--allow-empty", action="store_true", help="exit 0 when no test is found (default: 1)"
    )
    return p


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
    if ns is None:
        return code
    if ns.run is not None:
        try:
            re.compile(ns.run)
        except re.error as exc:
            err.write(f"rulec test: error: --run: bad regular expression: {exc}\n")
            return 2
    if ns.fail_under is not None and not 0 <= ns.fail_under <= 100:
        err.write("rulec test: error: --fail-under takes a percentage 0..100\n")
        return 2
    from rulec.testing import report, runner, suites
    from rulec.testing.coverage import Coverage
    from rulec.testing.discovery import expand

    sources, missing = expand(ns.paths, "<stdin>.rules")
    for p in missing:
        err.write(f"rulec test: error: {p}: no such file or folder\n")
    if missing:
        return 1
    start = time.perf_counter()
    loaded, untested = suites.load(sources)
    want_cov = ns.coverage or ns.fail_under is not None
    cov = Coverage() if want_cov else None
    results = runner.run(loaded, ns.run, cov)
    seconds = time.perf_counter() - start
    figures = cov.report() if cov is not None else None
    n = report.counts(results)
    total = n["passed"] + n["failed"] + n["error"]
    if ns.format == "json":
        out.write(json.dumps(report.as_json(results, figures), ensure_ascii=False, indent=1) + "\n")
    else:
        report.text(results, out, painter(out), seconds)
        if figures is not None:
            report.coverage_text(figures, out)
    if ns.junit:
        try:
            with open(ns.junit, "wb") as fh:
                fh.write(report.junit(results, seconds))
        except OSError as exc:
            err.write(f"rulec test: error: cannot write {ns.junit}: {exc.strerror or exc}\n")
            return 1
    if total == 0:
        where = ", ".join(ns.paths)
        hints = [f"rules without tests: {', '.join(untested[:10])}"] if untested else []
        sev = "warning" if ns.allow_empty else "error"
        render([diag("U121", f"no tests found in {where}", None, sev, hints)], err)
        return 0 if ns.allow_empty else 1
    if n["failed"] or n["error"]:
        return 1
    if ns.fail_under is not None and figures is not None and figures["percent"] < ns.fail_under:
        below = f"coverage {figures['percent']:.1f}% is below --fail-under {ns.fail_under:g}%"
        render([diag("U122", below)], err)
        return 1
    return 0
