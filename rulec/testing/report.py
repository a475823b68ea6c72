"""Reporters of `rulec test`: pytest-like text, JSON, JUnit XML, and the coverage table."""

from __future__ import annotations

import difflib
import json
from typing import Any
from xml.etree import ElementTree as ET

from rulec.cli.common import format_diagnostic


def counts(results) -> dict:
    n = {"passed": 0, "failed": 0, "error": 0}
    for suite, cases in results:
        if not suite.ok:
            n["error"] += 1
        for c in cases:
            n[c.outcome] += 1
    return n


def _diff(expected: dict, actual: dict) -> list:
    """Expected vs actual decision, one `key: value` line each, as an ndiff."""

    def lines(d):
        return [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in d.items()]

    return [ln for ln in difflib.ndiff(lines(expected), lines(actual)) if not ln.startswith("?")]


def failure_text(case, paint) -> str:
    out = []
    for e in case.errors:
        out.append(format_diagnostic(e).rstrip("\n"))
    for f in case.failures:
        where = f"{case.file}:{f.line}" if f.line else case.file
        out.append(f"{f.where} ({where}): expected (-) vs actual (+)")
        for ln in _diff(f.expected, f.actual):
            colour = {"-": "red", "+": "green"}.get(ln[:1])
            out.append("    " + (paint(ln, colour) if colour else ln))
        if f.trace:
            out.append("  trace:")
            out += [f"    {t}" for t in f.trace]
    return "\n".join(out)


def text(results, out, paint, seconds: float, untested=()) -> None:
    """A line per file (`.` passed, `F` failed, `E` error), then the failures, then the sums."""
    for suite, cases in results:
        if not suite.ok:
            out.write(f"{suite.file} {paint('E', 'red')}\n")
            continue
        marks = "".join(
            paint({"passed": ".", "failed": "F", "error": "E"}[c.outcome], _colour(c.outcome))
            for c in cases
        )
        out.write(f"{suite.file} {marks}\n")
    bad = [(s, c) for s, cases in results for c in cases if c.outcome != "passed"]
    broken = [s for s, _ in results if not s.ok]
    if bad or broken:
        out.write("\n" + paint("=" * 30 + " FAILURES " + "=" * 30, "red") + "\n")
    for s in broken:
        out.write(f"___ {s.file}: cannot run its tests ___\n")
        for d in s.diagnostics:
            if d.is_error:
                out.write(format_diagnostic(d))
    for _s, c in bad:
        head = f"{c.file}:{c.line}" if c.line else c.file
        out.write(f"___ test {c.name} ({head}) ___\n{failure_text(c, paint)}\n")
    n = counts(results)
    parts = [f"{n['passed']} passed", f"{n['failed']} failed"]
    if n["error"]:
        parts.append(f"{n['error']} errors")
    colour = "green" if not (n["failed"] or n["error"]) else "red"
    out.write(paint(", ".join(parts) + f" in {seconds:.2f}s", colour) + "\n")


def _colour(outcome: str) -> str:
    return {"passed": "green", "failed": "red", "error": "red"}[outcome]


def as_json(results, coverage=None) -> dict:
    doc: dict[str, Any] = {"summary": counts(results), "files": []}
    for suite, cases in results:
        doc["files"].append(
            {
                "file": suite.file,
                "rules": suite.rules,
                "errors": [d.as_json() for d in suite.diagnostics if d.is_error],
                "tests": [
                    {
                        "name": c.name,
                        "line": c.line,
                        "outcome": c.outcome,
                        "seconds": round(c.seconds, 6),
                        "errors": [d.as_json() for d in c.errors],
                        "failures": [
                            {
                                "where": f.where,
                                "line": f.line,
                                "expected": f.expected,
                                "actual": f.actual,
                                "trace": f.trace,
                            }
                            for f in c.failures
                        ],
                    }
                    for c in cases
                ],
            }
        )
    if coverage is not None:
        doc["coverage"] = coverage
    return doc


def junit(results, seconds: float) -> bytes:
    """JUnit XML: a <testsuite> per file, a <testcase> per test (failure / error inside)."""
    n = counts(results)
    root = ET.Element(
        "testsuites",
        name="rulec test",
        tests=str(n["passed"] + n["failed"] + n["error"]),
        failures=str(n["failed"]),
        errors=str(n["error"]),
        time=f"{seconds:.3f}",
    )
    for suite, cases in results:
        failed = sum(c.outcome == "failed" for c in cases)
        errs = sum(c.outcome == "error" for c in cases) + (0 if suite.ok else 1)
        ts = ET.SubElement(
            root,
            "testsuite",
            name=suite.file,
            tests=str(len(cases) + (0 if suite.ok else 1)),
            failures=str(failed),
            errors=str(errs),
            time=f"{sum(c.seconds for c in cases):.3f}",
        )
        if not suite.ok:
            tc = ET.SubElement(ts, "testcase", name="(compile)", classname=suite.file)
            msg = "".join(format_diagnostic(d) for d in suite.diagnostics if d.is_error)
            ET.SubElement(tc, "error", message="the rules or tests do not compile").text = msg
        for c in cases:
            tc = ET.SubElement(
                ts,
                "testcase",
                name=c.name,
                classname=suite.file,
                file=suite.file,
                line=str(c.line or 0),
                time=f"{c.seconds:.3f}",
            )
            if c.outcome != "passed":
                tag = "failure" if c.outcome == "failed" else "error"
                first = c.failures[0].where if c.failures else c.errors[0].message
                el = ET.SubElement(tc, tag, message=f"{first}: not as expected")
                el.text = failure_text(c, lambda s, _c: s)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def coverage_text(cov: dict, out) -> None:
    for f in cov["files"]:
        out.write(f"\ncoverage of {f['rules']}:\n")
        for cat, fig in f["categories"].items():
            out.write(f"  {cat:<10} {fig['covered']:>4}/{fig['total']:<4} {fig['percent']:5.1f}%\n")
        out.write(f"  {'total':<10} {f['covered']:>4}/{f['total']:<4} {f['percent']:5.1f}%\n")
        if f["uncovered"]:
            out.write("  not covered:\n")
            for u in f["uncovered"]:
                where = f"{u['file']}:{u['line']}:{u['col']}: " if u["file"] else ""
                out.write(f"    {where}{u['item']}\n")
    if len(cov["files"]) > 1:
        out.write(f"\ntotal coverage {cov['covered']}/{cov['total']} {cov['percent']:.1f}%\n")
