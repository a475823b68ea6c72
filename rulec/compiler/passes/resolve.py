"""Pass: resolve names and check settings values (duplicates, unknown references, enums, ranges)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from rulec.common import calendar
from rulec.common.vocab import (
    ATTR_TYPES,
    CONVERSION,
    GRANTS,
    KINDS,
    MODES,
    NOBODY_TARGETS,
    ORDER_STATES,
    PROMO_KINDS,
    STRENGTHS,
    TARGETED_KINDS,
)
from rulec.compiler import model as m
from rulec.errors import Diagnostic, Span, diag, did_you_mean

RESERVED_ATTRS = ("message",)


YAML_SUFFIXES = (".yaml", ".yml", ".json")


def _err(
    diags: list[Diagnostic], code: str, message: str, span: Span | None, hints: Iterable[str] = ()
) -> None:
    diags.append(diag(code, message, span, "error", tuple(hints)))


def _enum(
    diags: list[Diagnostic], value: Any, span: Span | None, choices: Collection[str], what: str
) -> bool:
    if value not in choices:
        _err(
            diags,
            "V401",
            f"unknown {what} `{value}`",
            span,
            did_you_mean(value, choices) or (f"one of: {', '.join(choices)}",),
        )
        return False
    return True


def _unique(
    diags: list[Diagnostic],
    items: Iterable[Any],  # model nodes with a span (and a name, unless `key` says otherwise)
    what: str,
    key: Callable[[Any], str] = lambda x: x.name,
) -> None:
    seen: dict[str, Any] = {}
    for it in items:
        k = key(it)
        if k in seen:
            first = seen[k].span
            at = f" (first declared at line {first.line})" if first else ""
            _err(diags, "N204", f"{what} `{k}` is declared twice{at}", it.span)
        else:
            seen[k] = it


_DURATIONS = (
    ("routing", "sticky_hold"),
    ("routing", "sticky_window"),
    ("outreach", "cap_window"),
    ("outreach", "max_delay"),
)


def _time(
    diags: list[Diagnostic], v: m.Value | None, what: str, parse: Callable[[Any], object]
) -> None:
    if v is None:
        return
    try:
        t = parse(v.value)
    except (ValueError, TypeError) as exc:
        _err(diags, "V403", f"{what}: {exc}", v.span)
        return
    try:
        calendar.check_representable(t)
    except ValueError as exc:
        _err(diags, "V410", f"{what}: {exc}", v.span)


def run(shop: m.Shop) -> list[Diagnostic]:
    d: list[Diagnostic] = []
    if not shop.name:
        _err(d, "V400", "shop name is empty", shop.span)
    if shop.timezone is not None:
        try:
            calendar.zone(shop.timezone.value)
        except ValueError as exc:
            _err(
                d,
                "V404",
                str(exc),
                shop.timezone.span,
                ("use an IANA zone name such as Asia/Shanghai",),
            )
    r = shop.routing
    if "when_nobody_online" in r:
        _enum(
            d,
            r["when_nobody_online"].value,
            r["when_nobody_online"].span,
            NOBODY_TARGETS,
            "when_nobody_online target",
        )
    if "busy_threshold" in r and not 0 <= r["busy_threshold"].value <= 10_000:
        _err(
            d,
            "V400",
            f"busy_threshold {r['busy_threshold'].value} is out of range 0..10000",
            r["busy_threshold"].span,
        )
    for section, key in _DURATIONS:
        v = getattr(shop, section).get(key)
        if v is not None and v.value > m.MAX_DURATION:
            _err(
                d,
                "V410",
                f"{key} is out of range: the longest duration is {m.MAX_DURATION // 86400}d",
                v.span,
            )
    hold = r.get("sticky_hold")
    window = r.get("sticky_window")
    h = hold.value if hold else m.ROUTING_DEFAULTS["sticky_hold"]
    w = window.value if window else m.ROUTING_DEFAULTS["sticky_window"]
    if h > w and max(h, w) <= m.MAX_DURATION:  # the defaults are in order: one was written
        _err(
            d,
            "V400",
            f"sticky hold ({h // 3600}h) is longer than the window ({w // 3600}h)",
            hold.span if hold else window.span if window else shop.span,
        )

    _unique(d, shop.attributes, "attribute")
    for a in shop.attributes:
        _enum(d, a.type, a.span, ATTR_TYPES, "attribute type")
        if a.name in RESERVED_ATTRS:
            _err(d, "N206", f"`{a.name}` is reserved for the chat's first message", a.span)
    _unique(d, shop.crowds, "crowd")
    _unique(d, shop.intents, "intent")
    _unique(d, shop.agents, "agent", key=lambda a: a.id)
    for ag in shop.agents:
        if not 1 <= ag.level <= 5:
            _err(
                d,
                "V400",
                f"agent {ag.id}: level {ag.level} is out of range 1..5",
                ag.level_span or ag.span,
            )
    _unique(d, shop.groups, "group")
    agent_ids = {a.id: a for a in shop.agents}
    for g in shop.groups:
        seen = set()
        for ref in g.agents:
            if ref.name not in agent_ids:
                _err(
                    d,
                    "N200",
                    f"group {g.name}: unknown agent `{ref.name}`",
                    ref.span,
                    did_you_mean(ref.name, agent_ids),
                )
            elif ref.name in seen:
                _err(d, "N204", f"group {g.name}: agent `{ref.name}` is listed twice", ref.span)
            seen.add(ref.name)
        for ref in g.order:
            _enum(d, ref.name, ref.span, ORDER_STATES, "order state")
        if _enum(d, g.mode, g.mode_span or g.span, MODES, "mode"):
            if g.mode == CONVERSION and g.strength is None:
                span = g.mode_span or g.span
                yaml_form = span is not None and span.file.lower().endswith(YAML_SUFFIXES)
                _err(
                    d,
                    "P108",
                    f"group {g.name}: conversion mode needs a strength (low, medium or high)",
                    span,
                    (
                        "write `mode: {conversion: medium}`"
                        if yaml_form
                        else "write `mode conversion medium`",
                    ),
                )
            elif g.mode == CONVERSION:
                _enum(d, g.strength, g.mode_span or g.span, STRENGTHS, "conversion strength")
            elif g.strength is not None:
                _err(d, "V401", "efficiency mode takes no strength", g.mode_span or g.span)

    _unique(d, shop.promos, "promo")
    for p in shop.promos:
        _time(d, p.presale_start, f"promo {p.name} presale_start", calendar.parse_date)
        if p.last_day is None:
            _err(d, "P108", f"promo {p.name} needs `last_day`", p.span)
        _time(d, p.last_day, f"promo {p.name} last_day", calendar.parse_date)
    f = shop.facts
    if "grants" in f:
        for g in f["grants"].value:
            if g not in GRANTS:
                d.append(
                    diag(
                        "W507",
                        f"unknown grant `{g}` (known: {', '.join(GRANTS)})",
                        f["grants"].span,
                        "warning",
                        did_you_mean(g, GRANTS),
                    )
                )
    for k in ("relationships_last_month_end", "advanced_relationships_this_month"):
        if k in f and f[k].value < 0:
            _err(d, "V400", f"{k} cannot be negative", f[k].span)

    _unique(d, shop.campaigns, "campaign")
    promos = [p.name for p in shop.promos]
    for c in shop.campaigns:
        _campaign(d, c, promos)
    return d


def _campaign(d: list[Diagnostic], c: m.Campaign, promos: Collection[str]) -> None:
    if c.kind is None or not _enum(d, c.kind.value, c.kind.span, KINDS, "campaign kind"):
        return
    kind = c.kind.value
    for field in ("send_at", "configured_at", "created_at"):
        _time(d, getattr(c, field), f"campaign {c.name} {field}", calendar.parse_time)
    _time(d, c.date, f"campaign {c.name} date", calendar.parse_date)
    if kind in PROMO_KINDS:
        if c.promo is None:
            _err(d, "P108", f"campaign {c.name}: a {kind} campaign needs `promo`", c.span)
        elif c.promo.name not in promos:
            _err(
                d,
                "N202",
                f"campaign {c.name}: unknown promo `{c.promo.name}`",
                c.promo.span,
                did_you_mean(c.promo.name, promos),
            )
    else:
        if c.send_at is None:
            _err(d, "P108", f"campaign {c.name}: a {kind} campaign needs `send_at`", c.span)
        if c.promo is not None and c.promo.name not in promos:
            _err(
                d,
                "N202",
                f"campaign {c.name}: unknown promo `{c.promo.name}`",
                c.promo.span,
                did_you_mean(c.promo.name, promos),
            )
    if kind == "green" and c.date is None:
        _err(d, "P108", f"campaign {c.name}: a green campaign needs `date`", c.span)
    if kind in TARGETED_KINDS and not c.targets:
        _err(d, "P108", f"campaign {c.name}: a {kind} campaign needs `targets`", c.span)
