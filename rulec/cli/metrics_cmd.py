"""`rulec metrics affiliate LOG.jsonl`: M4 affiliate counts (引流人数, 点击人数) of a link and
coupon event log (`{"type": "visit"|"click"|"claim", "user", "via"}` per line)."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser, render
from rulec.errors import InputError, RulecError, Span, diag

KINDS = ("visit", "click", "claim")


def _records(path):
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError([diag("E800", f"cannot read {path}: {exc.strerror or exc}")]) from None
    with fh:
        for n, line in enumerate(iter(lambda: fh.readline(1 << 20), ""), 1):
            if not line.strip():
                continue
            where = Span(str(path), n, 1)
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise InputError([diag("M106", f"line {n}: not JSON", where)]) from None
            if (
                not isinstance(rec, dict)
                or rec.get("type") not in KINDS
                or not isinstance(rec.get("user"), str)
            ):
                raise InputError(
                    [
                        diag(
                            "M106",
                            f"line {n}: needs type visit|click|claim and a user string",
                            where,
                        )
                    ]
                )
            yield rec


def run(args, out, err) -> int:
    ap = ArgParser("metrics", out, err, description="Metrics of recorded logs.")
    ap.add_argument("metric", choices=("affiliate",))
    ap.add_argument("log", metavar="LOG.jsonl")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    from rulec.sim.metrics import affiliate

    try:
        counts = affiliate(_records(ns.log))
    except (RulecError, UnicodeDecodeError) as exc:
        diags = (
            exc.diagnostics
            if isinstance(exc, RulecError)
            else [diag("M106", f"{ns.log}: not UTF-8")]
        )
        render(diags, err)
        return 1
    if ns.format == "json":
        out.write(json.dumps(counts, ensure_ascii=False) + "\n")
    else:
        out.write("".join(f"{k}: {v}\n" for k, v in counts.items()))
    return 0
