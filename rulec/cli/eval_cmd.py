"""`rulec eval RULES (--crowd N | --intent N | --expr E) --attrs JSON [--message T] [--explain]`."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser, painter, render
from rulec.errors import RulecError, diag


def _parser(out, err):
    p = ArgParser(
        "eval",
        out,
        err,
        description="Evaluate a crowd, an intent or a predicate for one buyer, exactly as the "
        "router does (the lowered predicate, the reference evaluator).",
    )
    p.add_argument("rules", metavar="RULES", help="rules file (its attributes type --expr)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--crowd", metavar="NAME")
    what.add_argument("--intent", metavar="NAME")
    what.add_argument("--expr", metavar="PREDICATE")
    p.add_argument("--attrs", default="{}", metavar="JSON", help="the buyer's attributes")
    p.add_argument("--message", help="the chat's first message (intents read it)")
    p.add_argument("--explain", action="store_true", help="the value of every sub-expression")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def explain_tree(node, env) -> dict:
    """{text, value, items}: each sub-expression with the value the reference evaluator gives
    its lowered form (so the top value is the router's)."""
    from rulec.compiler import model as m
    from rulec.compiler.passes.lower import expr as lower
    from rulec.compiler.printer_rules import expr as text
    from rulec.matching.reference import evaluate

    kids = (
        node.items if isinstance(node, m.BoolOp) else [node.item] if isinstance(node, m.Not) else []
    )
    return {
        "text": text(node),
        "value": evaluate(lower(node), env),
        "items": [explain_tree(k, env) for k in kids],
    }


def _lines(tree, paint, depth=0) -> list:
    v = tree["value"]
    mark = paint("true ", "green") if v else paint("false", "red")
    out = [f"{'  ' * depth}{mark}  {tree['text']}"]
    for k in tree["items"]:
        out += _lines(k, paint, depth + 1)
    return out


def _predicate(ns, result):
    """(kind, name, model expression) of what to evaluate; RulecError when unknown/bad."""
    from rulec.errors import did_you_mean

    shop = result.shop
    if ns.expr is not None:
        from rulec.compiler import model as m
        from rulec.compiler.frontend_predicate import parse_predicate
        from rulec.compiler.passes import types

        expr = parse_predicate(ns.expr, "--expr")
        probe = m.Shop(name=shop.name, attributes=shop.attributes)
        probe.intents = [m.PredicateDef("--expr", expr, None, ns.expr)]
        diags = [d for d in types.run(probe) if d.is_error]
        if diags:
            raise RulecError(diags)
        return "expr", ns.expr, expr
    kind, name = ("crowd", ns.crowd) if ns.crowd is not None else ("intent", ns.intent)
    defs = shop.crowds if kind == "crowd" else shop.intents
    for d in defs:
        if d.name == name:
            return kind, name, d.expr
    names = [d.name for d in defs]
    raise RulecError(
        [
            diag(
                "U130",
                f"no {kind} `{name}` in {ns.rules}",
                None,
                "error",
                did_you_mean(name, names),
            )
        ]
    )


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
    if ns is None:
        return code
    try:
        attrs = json.loads(ns.attrs)
    except json.JSONDecodeError as exc:
        err.write(f"rulec eval: error: --attrs is not JSON: {exc.msg}\n")
        return 2
    if not isinstance(attrs, dict):
        err.write("rulec eval: error: --attrs must be a JSON object\n")
        return 2
    from rulec.compiler.pipeline import compile_path
    from rulec.matching.reference import intent_env

    result = compile_path(ns.rules)
    if result.errors:
        render(result.diagnostics, err)
        return 1
    try:
        kind, name, expr = _predicate(ns, result)
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1
    # crowds see the attributes; intents (and --expr) also the message (semantics.md)
    env = dict(attrs) if kind == "crowd" else intent_env(attrs, ns.message)
    tree = explain_tree(expr, env)
    if ns.format == "json":
        doc = {"kind": kind, "name": name, "value": tree["value"]}
        if ns.explain:
            doc["explain"] = tree
        out.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    elif ns.explain:
        out.write("\n".join(_lines(tree, painter(out))) + "\n")
    else:
        out.write(("true" if tree["value"] else "false") + "\n")
    return 0
