"""`rulec route RULES_OR_TABLE --events F [--state F] [--seed N] [--store URL] [--keep-going]`."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser, add_table_options, load_table_or_rules, render
from rulec.errors import RulecError


def _parser(out, err):
    p = ArgParser(
        "route",
        out,
        err,
        description="Replay events and print one JSON decision "
        "per chat (JSON Lines), with its trace.",
    )
    p.add_argument("table", metavar="RULES_OR_TABLE")
    p.add_argument("--events", required=True, metavar="EVENTS.jsonl")
    p.add_argument("--state", metavar="STATE.json", help="initial agents and contacts")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (E1; default 0)")
    p.add_argument(
        "--store",
        default="memory:",
        metavar="URL",
        help="memory: (default), sqlite:///path/file.db, redis://host:port/db, "
        "redis+cluster://host:port[,host:port...]",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="report bad event lines, skip them and route the rest (exit 1)",
    )
    p.add_argument(
        "--decision-log",
        metavar="FILE",
        help="also append every decision and event to FILE (JSON Lines, docs/decision-log.md)",
    )
    add_table_options(p)
    return p


def prepare(ns, out, err):
    """Load the table and state and open the events: (table, events, state, state_diags,
    event_diags), `events` an iterator of (event, epoch, line) read as it is consumed, its
    bad lines added to `event_diags` as they come; None after printing the table's errors.
    Without --keep-going the file is checked whole first (nothing is routed from a file with
    a bad line) and read again while routing: memory stays flat in the file's size."""
    from rulec.routing.events import iter_events, read_state

    table = load_table_or_rules(ns.table, err, ns)
    if table is None:
        return None
    agents = {a["id"]: i for i, a in enumerate(table.agents)}
    state, diags, ev_diags = None, [], []
    if ns.state:
        state, diags = read_state(ns.state, agents)
    if not ns.keep_going:
        for _ in iter_events(ns.events, agents, ev_diags):
            pass
        if ev_diags:
            return table, iter(()), state, diags, ev_diags
    return table, iter_events(ns.events, agents, ev_diags, ns.keep_going), state, diags, ev_diags


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
    if ns is None:
        return code
    loaded = prepare(ns, out, err)
    if loaded is None:
        return 1
    table, events, state, state_diags, diags = loaded
    if state_diags or (diags and not ns.keep_going):
        render(state_diags + diags, err)
        return 1
    from rulec.routing.decision_log import for_route
    from rulec.routing.replay import replay
    from rulec.routing.router import Router

    try:
        router = Router(table, store=ns.store, seed=ns.seed)
        try:
            if state is not None:
                router.apply_state(state)
            write = out.write
            decisions = for_route(  # the same decisions, also logged with --decision-log
                ns.decision_log,
                table,
                (ev for ev, _t, _line in events),
                lambda evs: replay(router, evs, trace=True),
            )
            for d in decisions:
                write(json.dumps(d, ensure_ascii=False) + "\n")
        finally:
            router.close()
    except RulecError as exc:
        render(diags + exc.diagnostics, err)
        return 1
    # --keep-going: the bad lines were skipped; reported after the run, exit 1
    if diags:
        render(diags, err)
        return 1
    return 0
