"""`rulec inspect TABLE`: the header, sizes and the lowered decision tree in readable form."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser, read_key, render
from rulec.errors import RulecError

PREC = {"or": 1, "and": 2, "not": 3}


def expr_text(e, outer=0) -> str:
    """An EXPR (docs/table-format.md) as predicate text."""
    op = e[0]
    if op == "const":
        return "true" if e[1] else "false"
    if op in ("and", "or"):
        text = f" {op} ".join(expr_text(x, PREC[op]) for x in e[1])
        return f"({text})" if PREC[op] < outer else text
    if op == "not":
        return "not " + expr_text(e[1], PREC["not"])
    lit = lambda v: json.dumps(v, ensure_ascii=False)
    if op == "cmp":
        return f"{e[2]} {e[1]} {lit(e[3])}"
    if op in ("in", "not_in"):
        return f"{e[1]} {'not in' if op == 'not_in' else 'in'} {lit(e[2])}"
    return f"{e[1]} {op} {lit(e[2])}"


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
            lines.extend(f"  {p['name']} = {expr_text(p['expr'])}" for p in b[kind])
    if b["campaigns"]:
        lines.append("campaigns:")
        lines.extend(f"  {c['name']} ({c['kind']}) at {c['send_at']}" for c in b["campaigns"])
    return "\n".join(lines) + "\n"


def run(args, out, err) -> int:
    ap = ArgParser("inspect", out, err, description="Show a compiled table.")
    ap.add_argument("table", help="table file")
    ap.add_argument("--sign-key", help="verify the signature with this key file")
    ap.add_argument("--json", action="store_true", help="print the header and body as JSON")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    key = read_key(ns.sign_key, err) if ns.sign_key else None
    if ns.sign_key and key is None:
        return 2
    from rulec.table import format as tables

    try:
        t = tables.load(ns.table, key=key)
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1
    head = {k: v for k, v in t.header.items() if k != "checksum"}
    if ns.json:
        out.write(json.dumps({"header": head, "body": t.body}, ensure_ascii=False, indent=1) + "\n")
    else:
        out.write(f"table {ns.table}\n" + describe(t, head))
    return 0
