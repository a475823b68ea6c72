"""`rulec inspect TABLE_OR_RULES`: the header, sizes and the decision tree; `--view table|graph`
for the groups × dimensions table (text, Markdown, HTML) or the R5 tree (DOT, Mermaid)."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser, add_table_options, load_table, load_table_or_rules
from rulec.table.expr import to_text


def describe(table, head: dict) -> str:
    b = table.body
    names = table.group_names
    lines = []
    if head:
        lines.append(
            f"format {head['format_version']}, compiler {head['compiler_version']}, "
            f"signed: {'yes' if head['signed'] else 'no'}"
        )
        lines.append(f"source sha256 {head['source_hash']}")
        lines.append(f"size {head['size']} bytes (body {head['body_length']} bytes compressed)")
    lines.append(
        f"shop {b['shop']} ({b['timezone']}): {len(b['agents'])} agents, "
        f"{len(b['groups'])} groups, {len(b['crowds'])} crowds, {len(b['intents'])} "
        f"intents, {len(b['campaigns'])} campaigns"
    )
    lines.append("routing: " + ", ".join(f"{k}={v}" for k, v in sorted(b["routing"].items())))
    lines.append(
        "decision tree (R5: crowd > product > intent > order; first dimension with a "
        "hit narrows the candidates):"
    )
    for dim in b["tree"]["dims"]:
        index = b["tree"]["index"][dim]
        lines.append(
            f"  {dim}: {len(index)} values, bound by {len(b['tree']['bound'][dim])} groups"
        )
        for value in sorted(index)[:50]:
            lines.append(f"    {value} -> {', '.join(names[i] for i in index[value])}")
        if len(index) > 50:
            lines.append(f"    ... {len(index) - 50} more values")
    bound = {i for ids in b["tree"]["bound"].values() for i in ids}
    free = [n for i, n in enumerate(names) if i not in bound]
    if free:
        lines.append(f"  bind nothing (candidates when no dimension hits): {', '.join(free)}")
    lines.append("groups (declaration order, R6):")
    for i, g in enumerate(b["groups"], 1):
        mode = g["mode"] + (f" {g['strength']}" if g["strength"] else "")
        lines.append(
            f"  {i}. {g['name']}: agents {', '.join(g['agents']) or '-'}; mode {mode}; "
            f"robot {'on' if g['robot'] else 'off'}"
        )
    for kind in ("crowds", "intents"):
        if b[kind]:
            lines.append(f"{kind}:")
            lines.extend(f"  {p['name']} = {to_text(p['expr'])}" for p in b[kind])
    if b["campaigns"]:
        lines.append("campaigns:")
        lines.extend(f"  {c['name']} ({c['kind']}) at {c['send_at']}" for c in b["campaigns"])
    return "\n".join(lines) + "\n"


def run(args, out, err) -> int:
    ap = ArgParser(
        "inspect", out, err, description="Show a compiled table (or the rules compiled)."
    )
    ap.add_argument("table", help="table file, or a rules source")
    add_table_options(ap)
    ap.add_argument("--json", action="store_true", help="print the header and body as JSON")
    ap.add_argument(
        "--view",
        choices=("summary", "table", "graph"),
        default="summary",
        help="summary (default), the groups × dimensions table, or the R5 tree as a graph",
    )
    ap.add_argument(
        "--format",
        choices=("text", "markdown", "html", "dot", "mermaid"),
        help="table: text (default), markdown, html; graph: dot (default), mermaid",
    )
    ap.add_argument(
        "--group", action="append", metavar="REGEX", help="only groups whose name matches"
    )
    ap.add_argument(
        "--dimension",
        action="append",
        choices=("crowd", "product", "intent", "order"),
        help="only these dimensions",
    )
    ap.add_argument("-o", "--output", help="write the view to this file instead of stdout")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    from rulec.table import format as tables

    # sources by their suffix; anything else is read as a table, so a damaged table gets the
    # table's own diagnostics (B7xx)
    if not tables.is_table(ns.table) and str(ns.table).endswith(
        (".rules", ".yaml", ".yml", ".json")
    ):
        t = load_table_or_rules(ns.table, err, ns)
        if t is None:
            return 1
        head = {}
    else:
        t = load_table(ns.table, err, ns)
        if t is None:
            return 1
        head = {k: v for k, v in t.header.items() if k != "checksum"}
    if ns.json:
        text = json.dumps({"header": head, "body": t.body}, ensure_ascii=False, indent=1) + "\n"
    elif ns.view == "summary":
        text = f"table {ns.table}\n" + describe(t, head)
    else:
        text = _view(t.body, ns, err)
        if text is None:
            return 2
    return _write(text, ns.output, out, err)


def _view(body, ns, err):
    import re

    from rulec.analysis import views

    formats = views.FORMATS[ns.view]
    fmt = ns.format or next(iter(formats))
    if fmt not in formats:
        err.write(f"rulec inspect: error: --view {ns.view} takes --format {'|'.join(formats)}\n")
        return None
    try:
        keep, dims = views.select(body, ns.group, ns.dimension)
    except re.error as exc:
        err.write(f"rulec inspect: error: --group: bad regular expression: {exc}\n")
        return None
    return formats[fmt](body, keep, dims)


def _write(text, path, out, err) -> int:
    if path is None:
        out.write(text)
        return 0
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        err.write(f"rulec inspect: error: cannot write {path}: {exc.strerror or exc}\n")
        return 1
    return 0
