"""Pass: lower a checked model to the table body (docs/table-format.md), with the R5 decision tree."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any

from rulec.common import calendar
from rulec.common.vocab import CONVERSION, DEFAULT_ZONE, DIMS
from rulec.compiler import model as m

FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def expr(e: m.Expr) -> list[Any]:
    """A model predicate as the table's EXPR form (attribute always on the left)."""
    if isinstance(e, m.BoolOp):
        items: list[list[Any]] = []
        for x in e.items:
            lx = expr(x)
            items.extend(lx[1] if lx[0] == e.op else [lx])
        return [e.op, items]
    if isinstance(e, m.Not):
        return ["not", expr(e.item)]
    if isinstance(e, m.Const):
        return ["const", e.value]
    if isinstance(e, m.Attr):
        return ["cmp", "==", e.name, True]
    if isinstance(e, m.Compare):
        left, right, op = e.left, e.right, e.op
        if isinstance(left, m.Literal) and isinstance(right, m.Literal):
            return ["const", bool(OPS[op](left.value, right.value))]
        if isinstance(left, m.Literal):
            left, right, op = right, left, FLIP[op]
        # the types pass refused attribute-attribute comparisons
        assert isinstance(left, m.Attr) and isinstance(right, m.Literal)
        return ["cmp", op, left.name, right.value]
    if isinstance(e, m.InList):
        assert isinstance(e.attr, m.Attr)  # T305 otherwise
        return ["not_in" if e.negated else "in", e.attr.name, [x.value for x in e.values.items]]
    if isinstance(e, m.Contains):
        assert isinstance(e.attr, m.Attr)  # T305 otherwise
        if e.any:
            assert isinstance(e.value, m.ListLit)  # T303 otherwise
            return ["contains_any", e.attr.name, [x.value for x in e.value.items]]
        assert isinstance(e.value, m.Literal)  # T303 otherwise
        return ["contains", e.attr.name, e.value.value]
    raise TypeError(f"cannot lower {type(e).__name__}")


def tree(groups: list[dict[str, Any]]) -> dict[str, Any]:
    bound: dict[str, list[int]] = {d: [] for d in DIMS}
    index: dict[str, dict[str, list[int]]] = {d: {} for d in DIMS}
    for i, g in enumerate(groups):
        for d in DIMS:
            values = g[d]
            if values:
                bound[d].append(i)
            for v in dict.fromkeys(values):
                index[d].setdefault(v, []).append(i)
    return {"dims": list(DIMS), "bound": bound, "index": index}


def _v(value: m.Value | None) -> Any:
    return None if value is None else value.value


def _coupon(c: m.Coupon | None) -> dict[str, str | None] | None:
    return None if c is None else {"id": c.id, "kind": c.kind}


def _targets(ts: list[m.Target]) -> list[dict[str, Any]]:
    return [{"crowd": t.crowd.name, "copy": t.copy, "coupon": _coupon(t.coupon)} for t in ts]


def campaign(c: m.Campaign, promos: dict[str, dict[str, Any]], tz: dt.tzinfo) -> dict[str, Any]:
    kind = c.kind.value
    send_at = _v(c.send_at)
    promo = c.promo.name if c.promo else None
    if kind in calendar.PROMO_SCHEDULE and promo in promos:
        last = calendar.parse_date(promos[promo]["last_day"])
        send_at = calendar.iso(calendar.scheduled_send(kind, last, tz))
    elif send_at is not None:
        send_at = calendar.iso(calendar.parse_time(send_at))
    return {
        "name": c.name,
        "kind": kind,
        "send_at": send_at,
        "promo": promo,
        "date": _v(c.date),
        "configured_at": _v(c.configured_at),
        "created_at": _v(c.created_at),
        "copy": _v(c.copy),
        "coupon": _coupon(c.coupon),
        "targets": _targets(c.targets),
        "segments": _targets(c.segments),
    }


def run(shop: m.Shop) -> dict[str, Any]:
    """The table body of a model that passed every check."""
    tz_name = _v(shop.timezone) or DEFAULT_ZONE
    tz = calendar.zone(tz_name)
    routing = dict(m.ROUTING_DEFAULTS)
    routing.update({k: v.value for k, v in shop.routing.items()})
    outreach = dict(m.OUTREACH_DEFAULTS)
    outreach.update({k: v.value for k, v in shop.outreach.items()})
    groups: list[dict[str, Any]] = [
        {
            "name": g.name,
            "agents": [a.name for a in g.agents],
            "crowd": [x.name for x in g.crowd],
            "product": [x.name for x in g.product],
            "intent": [x.name for x in g.intent],
            "order": [x.name for x in g.order],
            "mode": g.mode,
            "strength": g.strength if g.mode == CONVERSION else None,
            "robot": bool(g.robot),
        }
        for g in shop.groups
    ]
    defined_crowds = {c.name for c in shop.crowds}
    defined_intents = {i.name for i in shop.intents}
    crowd_labels = [x for g in groups for x in g["crowd"] if x not in defined_crowds]
    crowd_labels += [
        t["crowd"]
        for c in shop.campaigns
        for t in _targets(c.targets + c.segments)
        if t["crowd"] not in defined_crowds
    ]
    intent_labels = [x for g in groups for x in g["intent"] if x not in defined_intents]
    promos = {
        p.name: {"presale_start": _v(p.presale_start), "last_day": _v(p.last_day)}
        for p in shop.promos
    }
    f = shop.facts
    facts = {
        "tool_level": _v(f.get("tool_level")),
        "relationships_last_month_end": _v(f.get("relationships_last_month_end")),
        "advanced_relationships_this_month": _v(f.get("advanced_relationships_this_month")),
        "grants": list(_v(f.get("grants")) or []),
    }
    return {
        "shop": shop.name,
        "timezone": tz_name,
        "routing": routing,
        "outreach": outreach,
        "attributes": {a.name: a.type for a in shop.attributes},
        "crowds": [{"name": c.name, "expr": expr(c.expr)} for c in shop.crowds],
        "intents": [{"name": i.name, "expr": expr(i.expr)} for i in shop.intents],
        "labels": {
            "crowd": list(dict.fromkeys(crowd_labels)),
            "intent": list(dict.fromkeys(intent_labels)),
        },
        "agents": [{"id": a.id, "level": a.level} for a in shop.agents],
        "groups": groups,
        "tree": tree(groups),
        "promos": promos,
        "facts": facts,
        "campaigns": [campaign(c, promos, tz) for c in shop.campaigns],
    }
