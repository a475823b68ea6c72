"""Views of the decision table: groups × dimensions (text, Markdown, HTML) and the R5 tree as a
graph (DOT, Mermaid), filtered by group name and dimension so a large shop stays readable."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from rulec.common.vocab import DIMS
from rulec.report import html
from rulec.table.expr import to_text

COLUMNS = ("group", "agents", *DIMS, "mode", "robot")


def select(body: dict, groups: list[str] | None = None, dims: list[str] | None = None):
    """(group indices, dimensions) kept by the filters: `groups` are regular expressions
    matched against group names (any may match), `dims` dimension names."""
    pats = [re.compile(p) for p in groups or ()]
    keep = [
        i
        for i, g in enumerate(body["groups"])
        if not pats or any(p.search(g["name"]) for p in pats)
    ]
    return keep, [d for d in DIMS if not dims or d in dims]


def _predicates(body: dict) -> dict:
    out = {c["name"]: to_text(c["expr"]) for c in body["crowds"]}
    out.update({f"intent:{c['name']}": to_text(c["expr"]) for c in body["intents"]})
    return out


def rows(body: dict, keep, dims) -> list[list[str]]:
    """One row per kept group: name, agents, each kept dimension's values (crowds and intents
    with their predicates written out), mode and robot."""
    preds = _predicates(body)
    out = []
    for i in keep:
        g = body["groups"][i]
        row = [g["name"], ", ".join(g["agents"]) or "-"]
        for d in dims:
            vals = []
            for v in g[d]:
                p = (
                    preds.get(v)
                    if d == "crowd"
                    else preds.get(f"intent:{v}")
                    if d == "intent"
                    else None
                )
                vals.append(f"{v} ({p})" if p else str(v))
            row.append("; ".join(vals) or "*")
        row.append(g["mode"] + (f" {g['strength']}" if g["strength"] else ""))
        row.append("on" if g["robot"] else "off")
        out.append(row)
    return out


def headers(dims) -> list[str]:
    return ["group", "agents", *dims, "mode", "robot"]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def as_text(body: dict, keep, dims) -> str:
    head, data = headers(dims), rows(body, keep, dims)
    widths = [max([_width(h)] + [_width(r[i]) for r in data]) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()

    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in data]
    out.append(
        f"({len(data)} of {len(body['groups'])} groups; * = binds nothing on that dimension)"
    )
    return "\n".join(out) + "\n"


def as_markdown(body: dict, keep, dims) -> str:
    def cell(s):
        return str(s).replace("|", "\\|")

    head = headers(dims)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows(body, keep, dims)]
    return "\n".join(out) + "\n"


def as_html(body: dict, keep, dims, title: str | None = None) -> str:
    note = (
        "R5 matches crowd > product > intent > order: the first dimension with a hit among the "
        "candidates narrows them; * means the group binds nothing on that dimension."
    )
    return html.page(
        title or f"{body['shop']}: decision table",
        html.section(
            "Groups × dimensions", html.table(headers(dims), rows(body, keep, dims)), note=note
        ),
        subtitle=f"{len(keep)} of {len(body['groups'])} groups",
    )


def _q(s: str) -> str:
    return json.dumps(str(s), ensure_ascii=False)


def _edges(body: dict, keep, dims):
    """(dimension, value, group name) for every kept group's binding, in R5 order."""
    for d in dims:
        for i in keep:
            for v in body["groups"][i][d]:
                yield d, v, body["groups"][i]["name"]


def as_dot(body: dict, keep, dims) -> str:
    """Graphviz: one cluster per dimension (in R5 order) with its values, edges value -> group."""
    out = ["digraph rulec {", "  rankdir=LR;", '  node [fontname="Noto Sans CJK SC"];']
    values: dict[Any, Any] = {}
    for d, v, _ in _edges(body, keep, dims):
        values.setdefault(d, {})[v] = None
    for n, d in enumerate(dims):
        out.append(f"  subgraph cluster_{n} {{ label={_q(f'{n + 1}. {d}')};")
        out += [f"    {_q(f'{d}:{v}')} [label={_q(v)}, shape=box];" for v in values.get(d, {})]
        out.append("  }")
    for i in keep:
        out.append(
            f"  {_q('group:' + body['groups'][i]['name'])} [label={_q(body['groups'][i]['name'])}, shape=ellipse];"
        )
    out += [f"  {_q(f'{d}:{v}')} -> {_q('group:' + g)};" for d, v, g in _edges(body, keep, dims)]
    out.append("}")
    return "\n".join(out) + "\n"


def as_mermaid(body: dict, keep, dims) -> str:
    """Mermaid flowchart: a subgraph per dimension, edges value --> group."""
    ids: dict = {}

    def node(key):
        return ids.setdefault(key, f"n{len(ids)}")

    out = ["flowchart LR"]
    seen = set()
    for n, d in enumerate(dims):
        out.append(f"  subgraph d{n}[{_q(f'{n + 1}. {d}')}]")
        for dd, v, _ in _edges(body, keep, [d]):
            if (dd, v) not in seen:
                seen.add((dd, v))
                out.append(f"    {node((dd, v))}[{_q(v)}]")
        out.append("  end")
    for i in keep:
        name = body["groups"][i]["name"]
        out.append(f"  {node(('group', name))}([{_q(name)}])")
    out += [f"  {node((d, v))} --> {node(('group', g))}" for d, v, g in _edges(body, keep, dims)]
    return "\n".join(out) + "\n"


FORMATS = {
    "table": {"text": as_text, "markdown": as_markdown, "html": as_html},
    "graph": {"dot": as_dot, "mermaid": as_mermaid},
}
