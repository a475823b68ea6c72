"""Simulation and replay reports: variants × replications aggregated with 95% intervals, written
as report.json (fields in docs/simulate.md, schema in REPORT_SCHEMA) and a self-contained
report.html with plots; a summary table for the terminal."""

from __future__ import annotations

import copy
import json
import math
import os
from statistics import mean, stdev

from rulec.errors import InputError, diag
from rulec.report import html, svg
from rulec.table.format import Table

# two-sided 95% Student t quantiles by degrees of freedom (beyond 30: the normal's 1.96)
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    25: 2.060,
    30: 2.042,
}
STRENGTHS = ("low", "medium", "high")


def interval(xs: list) -> dict:
    """Mean and 95% half-width over replications (half-width 0 for one replication)."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"mean": None, "half_width": None, "n": 0}
    if len(xs) < 2:
        return {"mean": xs[0], "half_width": 0.0, "n": 1}
    df = len(xs) - 1
    t = (
        next((v for k, v in sorted(_T95.items(), reverse=True) if df >= k), 1.96)
        if df <= 30
        else 1.96
    )
    return {"mean": mean(xs), "half_width": t * stdev(xs) / math.sqrt(len(xs)), "n": len(xs)}


def apply_override(table, text: str):
    """A copy of `table` with one override applied: `group NAME mode efficiency`,
    `group NAME mode conversion low|medium|high`, `group NAME robot on|off` or
    `busy_threshold N`. InputError (M103) when it does not parse or names no group."""
    words = text.split()
    body = copy.deepcopy(table.body)

    def bad(msg):
        raise InputError([diag("M103", f"variant {text!r}: {msg}")])

    if len(words) == 2 and words[0] == "busy_threshold" and words[1].isdigit():
        body["routing"]["busy_threshold"] = int(words[1])
    elif len(words) >= 4 and words[0] == "group":
        names = [g["name"] for g in body["groups"]]
        if words[1] not in names:
            from rulec.errors import did_you_mean

            raise InputError(
                [
                    diag(
                        "M103",
                        f"variant {text!r}: no group {words[1]!r}",
                        None,
                        "error",
                        did_you_mean(words[1], names),
                    )
                ]
            )
        g = body["groups"][names.index(words[1])]
        if words[2:] == ["mode", "efficiency"]:
            g["mode"], g["strength"] = "efficiency", None
        elif len(words) == 5 and words[2:4] == ["mode", "conversion"] and words[4] in STRENGTHS:
            g["mode"], g["strength"] = "conversion", words[4]
        elif len(words) == 4 and words[2] == "robot" and words[3] in ("on", "off"):
            g["robot"] = words[3] == "on"
        else:
            bad("expected `mode efficiency`, `mode conversion low|medium|high` or `robot on|off`")
    else:
        bad("expected `group NAME mode …`, `group NAME robot on|off` or `busy_threshold N`")
    return Table(body, dict(table.header))


def aggregate(name: str, runs: list) -> dict:
    """One variant's metrics over its replications (each run: rulec.sim.metrics.all_metrics)."""
    first = runs[0]
    agents = list(first["m2"]["per_agent"])
    return {
        "name": name,
        "replications": len(runs),
        "m1_reply_rate": interval([r["m1"]["rate"] for r in runs]),
        "m1_sessions": interval([r["m1"]["sessions"] for r in runs]),
        "m1_by_hour": [interval([r["m1"]["by_hour"][h] for r in runs])["mean"] for h in range(24)],
        "m2_per_agent": {
            a: interval([r["m2"]["per_agent"].get(a, 0) for r in runs])["mean"] for a in agents
        },
        "m2_per_group": {
            g: mean(r["m2"]["per_group"].get(g, 0) for r in runs)
            for g in sorted({g for r in runs for g in r["m2"]["per_group"]})
        },
        "m2_max": interval([r["m2"]["max"] for r in runs]),
        "m2_min": interval([r["m2"]["min"] for r in runs]),
        "m2_gini": interval([r["m2"]["gini"] for r in runs]),
        "m2_top30_share": interval([r["m2"]["top30_share"] for r in runs]),
        "m3_expected_conversions": interval([r["m3"]["expected_conversions"] for r in runs]),
        "over_day": first["over_day"],
    }


def document(kind: str, rules: str, seed: int, variants: list, scenario: str | None = None) -> dict:
    return {
        "report": kind,
        "version": 1,
        "rules": rules,
        "scenario": scenario,
        "seed": seed,
        "variants": variants,
    }


def write_json(doc: dict, path) -> None:
    _write(path, json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def _write(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _ci(i: dict, fmt="{:.3f}") -> str:
    if i["mean"] is None:
        return "-"
    return fmt.format(i["mean"]) + (f" ± {fmt.format(i['half_width'])}" if i["n"] > 1 else "")


def summary(doc: dict) -> str:
    head = ["variant", "3-min reply rate", "conversions", "Gini", "max/min", "top-30% share"]
    rows = [
        [
            v["name"],
            _ci(v["m1_reply_rate"]),
            _ci(v["m3_expected_conversions"], "{:.1f}"),
            _ci(v["m2_gini"]),
            f"{v['m2_max']['mean']:.0f}/{v['m2_min']['mean']:.0f}",
            _ci(v["m2_top30_share"]),
        ]
        for v in doc["variants"]
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines) + "\n"


def write_html(doc: dict, path) -> None:
    vs = doc["variants"]
    hours = [f"{h:02d}" for h in range(24)]
    parts = [
        html.section(
            "Summary",
            html.table(
                [
                    "variant",
                    "3-min reply rate",
                    "expected conversions",
                    "Gini",
                    "max",
                    "min",
                    "top-30% share",
                ],
                [
                    [
                        v["name"],
                        _ci(v["m1_reply_rate"]),
                        _ci(v["m3_expected_conversions"], "{:.1f}"),
                        _ci(v["m2_gini"]),
                        v["m2_max"]["mean"],
                        v["m2_min"]["mean"],
                        _ci(v["m2_top30_share"]),
                    ]
                    for v in vs
                ],
            ),
        ),
        html.section(
            "Reply rate by hour (M1)",
            svg.figure(
                svg.lines(
                    hours,
                    {v["name"]: v["m1_by_hour"] for v in vs},
                    "3-minute reply rate",
                    "share",
                    "hour of transfer",
                )
            ),
        ),
    ]
    for v in vs:
        agents = list(v["m2_per_agent"])
        parts.append(
            html.section(
                f"Load per agent (M2): {v['name']}",
                svg.figure(
                    svg.bars(
                        agents,
                        [v["m2_per_agent"][a] or 0 for a in agents],
                        "chats assigned",
                        "chats",
                    )
                ),
            )
        )
    od = vs[0]["over_day"]
    parts.append(
        html.section(
            "Pending and message pool over the day (first variant, first replication)",
            svg.figure(
                svg.lines(
                    od["times"],
                    {"pending": od["pending"], "message pool": od["pool"]},
                    "sessions",
                    "sessions",
                    "time of day",
                )
            ),
        )
    )
    if len(vs) > 1:
        pts = [
            (v["m2_gini"]["mean"] or 0.0, v["m3_expected_conversions"]["mean"] or 0.0, v["name"])
            for v in vs
        ]
        parts.append(
            html.section(
                "Conversion versus evenness (M2, M3)",
                svg.figure(
                    svg.scatter(
                        pts,
                        "trade-off across variants (95% intervals)",
                        "Gini of load (lower is more even)",
                        "expected conversions",
                        x_err=[v["m2_gini"]["half_width"] or 0.0 for v in vs],
                        y_err=[v["m3_expected_conversions"]["half_width"] or 0.0 for v in vs],
                    )
                ),
            )
        )
    _write(
        path,
        html.page(
            f"rulec {doc['report']}: {doc['rules']}",
            *parts,
            subtitle=f"seed {doc['seed']}, {vs[0]['replications']} replication(s)",
        ),
    )


REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rulec simulate / replay report.json",
    "type": "object",
    "required": ["report", "version", "rules", "seed", "variants"],
    "properties": {
        "report": {"enum": ["simulate", "replay"]},
        "version": {"const": 1},
        "rules": {"type": "string"},
        "scenario": {"type": ["string", "null"]},
        "seed": {"type": "integer"},
        "variants": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "replications",
                    "m1_reply_rate",
                    "m1_by_hour",
                    "m2_per_agent",
                    "m2_gini",
                    "m2_top30_share",
                    "m3_expected_conversions",
                    "over_day",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "replications": {"type": "integer", "minimum": 1},
                    "m1_by_hour": {
                        "type": "array",
                        "minItems": 24,
                        "maxItems": 24,
                        "items": {"type": ["number", "null"]},
                    },
                    "m2_per_agent": {
                        "type": "object",
                        "additionalProperties": {"type": ["number", "null"]},
                    },
                    "m2_per_group": {"type": "object", "additionalProperties": {"type": "number"}},
                    "over_day": {"type": "object", "required": ["times", "pending", "pool"]},
                    **{
                        k: {"$ref": "#/$defs/interval"}
                        for k in (
                            "m1_reply_rate",
                            "m1_sessions",
                            "m2_max",
                            "m2_min",
                            "m2_gini",
                            "m2_top30_share",
                            "m3_expected_conversions",
                        )
                    },
                },
            },
        },
    },
    "$defs": {
        "interval": {
            "type": "object",
            "required": ["mean", "half_width", "n"],
            "properties": {
                "mean": {"type": ["number", "null"]},
                "half_width": {"type": ["number", "null"]},
                "n": {"type": "integer"},
            },
        }
    },
}
