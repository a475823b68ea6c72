"""Outreach checks (O5–O10, O6xx codes): promo privileges' content, thresholds, dates and deadlines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from rulec.common import calendar as cal
from rulec.common.vocab import DEFAULT_ZONE, KINDS
from rulec.compiler import model as m
from rulec.errors import Diagnostic, Span, diag
from rulec.outreach import privileges as priv

SOON = dt.timedelta(days=1)  # `check --now`: deadlines within a day are reported
T = TypeVar("T")


class _Add(Protocol):
    """Reports one diagnostic about the campaign being checked."""

    def __call__(
        self, code: str, msg: str, span: Span | None = None, severity: str = "error"
    ) -> None: ...


def _v(x: m.Value | None) -> Any:
    return None if x is None else x.value


def _span(x: object, fallback: Span | None) -> Span | None:
    return getattr(x, "span", None) or fallback


def _time(x: m.Value | None, parse: Callable[[Any], T]) -> T | None:
    """The parsed time, or None when absent, bad or outside the calendar (resolve reports)."""
    try:
        t = parse(x.value) if x is not None and x.value is not None else None
        if t is not None:
            cal.check_representable(t)
        return t
    except (ValueError, TypeError):
        return None


def check(shop: m.Shop, now: dt.datetime | str | None = None) -> list[Diagnostic]:
    """Diagnostics for every campaign; `now` (a datetime or ISO string) enables O10 look-ahead.

    Names, kinds, time syntax and required fields are the resolve pass's; this pass checks
    what the outreach clauses add, and is silent where resolve already reported."""
    try:
        tz = cal.zone(_v(shop.timezone) or DEFAULT_ZONE)
    except ValueError:
        return []  # resolve reports the zone
    at: dt.datetime | None = None
    if isinstance(now, str):
        try:
            at = cal.parse_time(now)
        except ValueError:
            at = None
    else:
        at = now
    facts = {k: _v(v) for k, v in shop.facts.items()}
    promos = {p.name: p for p in shop.promos}
    out: list[Diagnostic] = []
    for c in shop.campaigns:
        out.extend(_campaign(c, tz, facts, promos, shop, at))
    return out


def _send_at(
    c: m.Campaign, kind: str, tz: dt.tzinfo, promos: dict[str, m.Promo]
) -> dt.datetime | None:
    """The scheduled send (computed for promo kinds, as lowering does), or None if unknown."""
    if kind in priv.PROMO_KINDS:
        p = promos.get(c.promo.name) if c.promo else None
        last = _time(p.last_day, cal.parse_date) if p else None
        return cal.scheduled_send(kind, last, tz) if last else None
    return _time(c.send_at, cal.parse_time)


def schedule(
    shop: m.Shop, c: m.Campaign
) -> tuple[dt.datetime | None, dt.datetime | None, dt.tzinfo | None]:
    """(send time, configuration deadline, zone) of a campaign as these checks compute them
    (for the language server's hover); None for what the rules leave unknown."""
    try:
        tz = cal.zone(_v(shop.timezone) or DEFAULT_ZONE)
    except ValueError:
        return None, None, None
    kind = _v(c.kind)
    if kind not in KINDS:
        return None, None, tz
    send_at = _send_at(c, kind, tz, {p.name: p for p in shop.promos})
    day = _time(c.date, cal.parse_date) if kind == "green" else None
    at = cal.at_local(day, 12, 0, tz) if day else send_at  # O5: the deadline follows the date
    return send_at, priv.deadline(kind, at, tz) if at else None, tz


def _campaign(
    c: m.Campaign,
    tz: dt.tzinfo,
    facts: dict[str, Any],
    promos: dict[str, m.Promo],
    shop: m.Shop,
    now: dt.datetime | None,
) -> list[Diagnostic]:
    kind = _v(c.kind)
    if kind not in KINDS:
        return []
    d: list[Diagnostic] = []
    here = _span(c.kind, c.span)

    def add(code: str, msg: str, span: Span | None = None, severity: str = "error") -> None:
        d.append(diag(code, f"campaign {c.name}: {msg}", span or here, severity))

    send_at = _send_at(c, kind, tz, promos)
    given = _time(c.send_at, cal.parse_time)
    if kind in priv.PROMO_KINDS and given and send_at and given != send_at:
        add(
            "O604",
            f"{kind} always runs at {cal.show(send_at, tz)} (O6–O8); the send_at "
            f"{cal.show(given, tz)} written here is ignored",
            _span(c.send_at, here),
            "warning",
        )
    for p in priv.eligibility(kind, facts):
        add(p.code, p.message, _fact_span(shop, p.message) or here)
    coupon = (c.coupon.id, c.coupon.kind) if c.coupon else None
    segs = [(t.copy, (t.coupon.id, t.coupon.kind) if t.coupon else None) for t in c.segments]
    spans = {
        "coupon": _span(c.coupon, here),
        "segments": _span(
            c.segments[min(len(c.segments) - 1, priv.MAX_SEGMENTS)] if c.segments else None,
            here,
        ),
        "targets": _span(c.targets[0] if c.targets else None, here),
    }
    spans.update((f"segment {i}", _span(t.coupon, here)) for i, t in enumerate(c.segments))
    for p in priv.content(kind, _v(c.copy), coupon, segs, len(c.targets)):
        add(p.code, p.message, spans.get(p.where, here), p.severity)
    if kind == "green":
        day = _time(c.date, cal.parse_date)
        if day and send_at and cal.local_date(send_at, tz) != day:
            add(
                "O611",
                f"send time {cal.show(send_at, tz)} is not on its date {day} (O5)",
                _span(c.send_at, here),
            )
        if day:  # O5: created before 00:00 of its date, whatever the send time says
            send_at = cal.at_local(day, 12, 0, tz)
    if send_at is None:
        return d
    d.extend(_deadline(c, kind, send_at, tz, now, add, here))
    return d


def _deadline(
    c: m.Campaign,
    kind: str,
    send_at: dt.datetime,
    tz: dt.tzinfo,
    now: dt.datetime | None,
    add: _Add,
    here: Span | None,
) -> list[Diagnostic]:
    limit = priv.deadline(kind, send_at, tz)
    if limit is None:
        return []
    first, second = (
        (c.created_at, c.configured_at) if kind == "green" else (c.configured_at, c.created_at)
    )
    field = first if _v(first) is not None else second
    when = _time(field, cal.parse_time)
    verb = "created" if kind == "green" else "configured"
    late = None
    if when is not None:
        late = priv.late(kind, when, send_at, tz)
        if late:
            add("O650", late, _span(field, here))
    elif field is None and now is not None:  # treated as configured at `now`
        if priv.late(kind, now, send_at, tz):
            add(
                "O651",
                f"not {verb} yet, and its deadline {cal.show(limit, tz)} has passed "
                f"(now {cal.show(now, tz)}) (O10)",
            )
    pending = when is None or when > now if now is not None else False
    if now is not None and pending and not late and now <= limit <= now + SOON:
        state = f"{verb} {cal.show(when, tz)}" if when else f"not {verb} yet"
        add(
            "O652",
            f"its configuration deadline {cal.show(limit, tz)} is within a day "
            f"(now {cal.show(now, tz)}; {state}) (O10)",
            None,
            "warning",
        )
    return []


def _fact_span(shop: m.Shop, message: str) -> Span | None:
    for key, v in shop.facts.items():
        if key in message:
            return v.span
    return None
