"""`rulec check PATH... [--now ISO] [--werror] [--format F]`: diagnostics only (exit 1 on errors)."""

from __future__ import annotations

from rulec.cli.common import FORMATS, ArgParser, render, summary
from rulec.errors import RulecError


def _parser(out, err):
    ap = ArgParser("check", out, err, description="Check rules and print diagnostics.")
    ap.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="rules files (.rules, .yaml/.yml/.json, *_test.*), folders (searched "
        "recursively) or - (stdin)",
    )
    ap.add_argument(
        "--now", help="ISO time: also report campaign deadlines passed or within a day of it (O10)"
    )
    ap.add_argument(
        "--events",
        metavar="LOG",
        help="a traffic sample (events JSON Lines): captures also say how much of it they move",
    )
    ap.add_argument("--format", choices=FORMATS, default="text")
    ap.add_argument("--werror", action="store_true", help="warnings count as errors (exit 1)")
    ap.add_argument(
        "--stdin-name",
        default="<stdin>.rules",
        metavar="NAME",
        help="the name of `-` (its extension picks the surface; default <stdin>.rules)",
    )
    return ap


def check_one(src, now=None, events=None) -> list:
    """The diagnostics of one source: a rules file compiled and analysed (A1xx: captures,
    unreachable groups, unbound values), a `*_test.*` file checked against its rules."""
    from rulec.compiler.frontend_rules import is_test_file
    from rulec.compiler.pipeline import compile_source
    from rulec.testing.suites import diagnostics_of

    if is_test_file(src.name) or src.data is None:
        return diagnostics_of(src, now)
    result = compile_source(src.data, src.name, now=now)
    diags = list(result.diagnostics)
    if result.table is not None:
        from rulec.analysis import check_table

        try:
            diags.extend(check_table(result.table, result.shop, events))
        except RulecError as exc:
            diags.extend(exc.diagnostics)
    return diags


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
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
    from rulec.testing.discovery import expand, read

    sources, missing = expand(ns.paths, ns.stdin_name)
    for p in missing:
        err.write(f"rulec check: error: {p}: no such file or folder\n")
    per_file, texts = [], {}
    for src in map(read, sources):
        per_file.append((src.name, check_one(src, now, ns.events)))
        if src.is_stdin and src.data is not None:
            texts[src.name] = src.data.decode("utf-8", "replace")
    every = [d for _, ds in per_file for d in ds]
    render(every, err, ns.format, out, texts)
    if ns.format == "text":
        for name, ds in per_file:
            err.write(f"{name}: {summary(ds)}\n")
    failed = any(d.is_error or ns.werror for d in every)
    return 1 if failed or missing or not sources else 0
