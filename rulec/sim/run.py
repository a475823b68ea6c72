"""Runs behind `rulec simulate` and `rulec replay`: the variants to compare, replications with
common random numbers, and the report written to a folder."""

from __future__ import annotations

import os

from rulec.errors import InputError, diag
from rulec.sim import metrics, report


def variants(table, specs, load):
    """[(name, table)]: the rules as given, then each --variant (a rules/table file, loaded by
    `load(path)`, or an override such as `group 售前A mode conversion high`)."""
    out = [("rules", table)]
    for spec in specs or ():
        if os.path.exists(spec):
            t = load(spec)
            if t is None:
                return None
            if t.body["shop"] != table.body["shop"]:
                raise InputError(
                    [
                        diag(
                            "M104",
                            f"variant {spec}: shop {t.body['shop']!r} is not {table.body['shop']!r}",
                        )
                    ]
                )
            out.append((spec, t))
        else:
            out.append((spec, report.apply_override(table, spec)))
    return out


def simulate(
    table_variants, scen, seed: int, replications: int, store="memory:", tick=None
) -> list:
    """Aggregated metrics per variant; replication k of every variant uses seed + k (CRN)."""
    from zoneinfo import ZoneInfo

    from rulec.sim.engine import simulate as day

    out = []
    for name, table in table_variants:
        tz = ZoneInfo(table.body["timezone"])
        agents = [a["id"] for a in table.body["agents"]]
        rates = {a: p.conversion for a, p in scen.agents.items() if p.conversion is not None}
        runs = [
            metrics.all_metrics(day(table, scen, seed + k, store, tick), tz, agents, rates)
            for k in range(replications)
        ]
        out.append(report.aggregate(name, runs))
    return out


def write(doc: dict, out_dir, out) -> int:
    """report.json and report.html in `out_dir` (created), and the summary on `out`."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        report.write_json(doc, os.path.join(out_dir, "report.json"))
        report.write_html(doc, os.path.join(out_dir, "report.html"))
    except OSError as exc:
        raise InputError(
            [diag("M105", f"cannot write the report to {out_dir}: {exc.strerror or exc}")]
        ) from None
    out.write(report.summary(doc))
    out.write(
        f"report: {os.path.join(out_dir, 'report.json')}, {os.path.join(out_dir, 'report.html')}\n"
    )
    return 0
