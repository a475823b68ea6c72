"""Static analysis of compiled rules: captures (A1), unreachable groups (A2), unbound values,
decision-table views and rule diffs."""

from __future__ import annotations


def check_table(table, shop=None, events_path=None) -> list:
    """The analysis warnings of `rulec check` for a compiled table (model `shop` for positions,
    an events log for traffic shares); RulecError when the log is bad."""
    from rulec.analysis import capture, warnings

    findings = capture.analyze(table)
    if events_path is not None:
        findings = warnings.with_shares(findings, table, chats_of(table, events_path))
    return warnings.to_diagnostics(findings, warnings.spans_of(shop) if shop is not None else None)


def chats_of(table, path):
    """The chat events of an events log, checked like `rulec route` checks them."""
    from rulec.errors import RulecError
    from rulec.routing.events import read_events

    agents = {a["id"]: i for i, a in enumerate(table.body["agents"])}
    events, diags = read_events(path, agents)
    if diags:
        raise RulecError(diags)
    return [ev for ev, _t, _line in events if ev.get("type") == "chat"]
