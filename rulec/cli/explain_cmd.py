"""`rulec explain RULES_OR_TABLE --event EVENT.json [--state STATE.json]`: one decision, for a person."""

from __future__ import annotations

from rulec.cli.common import ArgParser, add_table_options, load_table_or_rules, render
from rulec.common.vocab import MATCHED_STEPS
from rulec.errors import Diagnostic, RulecError, diag


def _parser(out, err):
    p = ArgParser(
        "explain", out, err, description="Route one chat and say why it goes where it goes (R10)."
    )
    p.add_argument("table", metavar="RULES_OR_TABLE")
    p.add_argument("--event", required=True, metavar="EVENT.json", help="one chat event")
    p.add_argument("--state", metavar="STATE.json", help="agents and contacts before the chat")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    add_table_options(p)
    return p


def _read_event(path, agents):
    from rulec.routing.events import check_event, read_json_file

    ev, diags = read_json_file(path, "event", 1 << 20, "E801")
    if diags:
        return None, diags
    try:
        check_event(ev, agents)
    except RulecError as exc:
        return None, [
            diag(d.code, f"{path}: {d.message}", None, "error", d.hints) for d in exc.diagnostics
        ]
    if ev["type"] != "chat":
        return None, [diag("E802", f"{path}: explain needs a chat event, got {ev['type']!r}")]
    return ev, []


def losers(table, chat):
    """R5 detail for people: per dimension, the groups that lost and what they bind."""
    try:
        from rulec.matching.reference import explain
    except ImportError:
        return []
    ex = explain(table.body, chat)
    by_name = {g["name"]: g for g in table.groups}
    lines, before = [], list(table.group_names)
    for step in ex.get("steps", []):
        dim, cands = step["dim"], list(step.get("candidates", []))
        values = step.get("values")
        shown = ", ".join(map(str, values)) if isinstance(values, list) else values
        if step.get("skipped"):
            lines.append(
                f"{dim} = {shown or '(none)'}: no candidate group holds it, "
                "so this dimension is skipped"
            )
        else:
            lines.append(f"{dim} = {shown}: matched by {', '.join(map(str, step.get('hits', [])))}")
            for name in before:
                if name in cands:
                    continue
                g = by_name.get(name)
                bound = g[dim] if g else []
                why = f"binds {dim} [{', '.join(bound)}]" if bound else f"does not bind {dim}"
                lines.append(f"  {name} lost: it {why}")
        before = cands
    return lines


def render_text(decision, extra) -> str:
    head = f"{decision['buyer']} at {decision['time']} → {decision['target']}"
    step = f"step: {decision['step']}"
    if decision.get("group"):
        step += f", group: {decision['group']}"
    lines = [head, step, "why:"]
    lines += [f"  {t}" for t in decision.get("trace", [])]
    if extra:
        lines.append("group matching (R5, crowd > product > intent > order):")
        lines += [f"  {x}" for x in extra]
    return "\n".join(lines) + "\n"


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
    if ns is None:
        return code
    table = load_table_or_rules(ns.table, err, ns)
    if table is None:
        return 1
    agents = {a["id"]: i for i, a in enumerate(table.agents)}
    from rulec.routing.events import read_state

    state = None
    diags: list[Diagnostic] = []
    if ns.state:
        state, diags = read_state(ns.state, agents)
    ev, ev_diags = _read_event(ns.event, agents)
    if diags or ev_diags:
        render(diags + ev_diags, err)
        return 1
    from rulec.routing.router import Router

    try:
        router = Router(table, seed=ns.seed)
        if state is not None:
            router.apply_state(state)
        decision = router.route(ev, trace=True)
        extra = losers(table, ev) if decision["step"] in MATCHED_STEPS else []
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1
    out.write(render_text(decision, extra))
    return 0
