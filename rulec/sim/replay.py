"""Replay a recorded log through the router and turn it into the metrics log (rulec.sim.metrics).

The input is JSON Lines of contract events (agent, chat, reply, conversion) plus `message`
events (`{"type": "message", "time", "buyer"}`: the buyer wrote after the transfer), or a
decision log written by `rulec serve` / `rulec route --decision-log` (docs/decision-log.md),
whose event and input records are replayed in file order. Lines are read one at a time.
"""

from __future__ import annotations

import json

from rulec.errors import InputError, RulecError, Span, diag
from rulec.routing.events import MAX_LINE, check_event, epoch, read_state


def _events(path):
    """(line number, event dict) for each line; decision-log records become their events."""
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError([diag("E800", f"cannot read log {path}: {exc.strerror or exc}")]) from None
    with fh:
        n = 0
        while True:
            try:
                line = fh.readline(MAX_LINE + 1)
            except UnicodeDecodeError:
                raise InputError(
                    [diag("E801", f"log is not UTF-8 after line {n}", Span(str(path), n + 1, 1))]
                ) from None
            if not line:
                return
            n += 1
            if not line.strip():
                continue
            where = Span(str(path), n, 1)
            if len(line) > MAX_LINE:
                raise InputError(
                    [diag("E801", f"line {n}: longer than {MAX_LINE} characters", where)]
                )
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise InputError([diag("E801", f"line {n}: not JSON", where)]) from None
            if not isinstance(rec, dict):
                raise InputError([diag("E801", f"line {n}: not a JSON object", where)])
            if "kind" in rec and "v" in rec:  # a decision-log record
                ev = rec.get("event") if rec["kind"] == "event" else rec.get("input")
                if ev is None:
                    continue
                rec = ev
            yield n, rec, where


def replay_log(table, path, state_path=None, seed: int = 0, store="memory:"):
    """(metrics log, conversion rates) of a recorded day routed by `table`."""
    from rulec.routing.router import Router

    agents = {a["id"]: i for i, a in enumerate(table.body["agents"])}
    router = Router(table, store, seed=seed)
    rates: dict = {}
    log: list = []
    try:
        if state_path is not None:
            state, diags = read_state(state_path, agents)
            if state is None:  # exactly when there are diagnostics
                raise RulecError(diags)
            router.apply_state(state)
            for i, rec in state["agents"].items():
                if rec.get("conversion") is not None:
                    rates[table.body["agents"][i]["id"]] = rec["conversion"]
        last = None
        for n, ev, where in _events(path):
            try:
                if ev.get("type") == "message":
                    if not isinstance(ev.get("buyer"), str):
                        raise InputError([diag("E801", "a message event needs a buyer string")])
                    t = epoch(ev.get("time"))
                else:
                    t = check_event(ev, agents)
            except (InputError, ValueError, TypeError) as exc:
                msg = exc.diagnostics[0].message if isinstance(exc, InputError) else str(exc)
                code = exc.diagnostics[0].code if isinstance(exc, InputError) else "E801"
                raise InputError([diag(code, f"line {n}: {msg}", where)]) from None
            if last is not None and t < last:
                raise InputError(
                    [
                        diag(
                            "E805",
                            f"line {n}: earlier than the previous event (events must be in time order)",
                            where,
                        )
                    ]
                )
            last = t
            kind = ev["type"]
            if kind == "message":
                log.append({"type": "message", "time": t, "buyer": ev["buyer"]})
                continue
            for d in router.feed(ev):
                log.append(
                    {
                        "type": "route",
                        "time": t,
                        "buyer": d["buyer"],
                        "target": d["target"],
                        "group": d["group"],
                        "step": d["step"],
                    }
                )
            if kind == "reply":
                log.append(
                    {"type": "reply", "time": t, "agent": ev["agent"], "buyer": ev.get("buyer")}
                )
                log.append(
                    {"type": "close", "time": t, "agent": ev["agent"], "buyer": ev.get("buyer")}
                )
            elif kind == "conversion":
                rates[ev["agent"]] = float(ev["rate"])
    finally:
        router.close()
    return log, rates
