"""The rules model: attrs classes both frontends (.rules, YAML) produce, every node with a span."""

from __future__ import annotations

import attrs

from rulec.common.vocab import EFFICIENCY, MESSAGE_POOL
from rulec.errors import Span

# --- predicates ---------------------------------------------------------------------------


@attrs.define
class Attr:
    name: str
    span: Span | None = None


@attrs.define
class Literal:
    value: object  # int | float | str | bool
    span: Span | None = None


@attrs.define
class ListLit:
    items: list  # of Literal
    span: Span | None = None


@attrs.define
class Compare:
    op: str  # == != < <= > >=
    left: object  # Attr | Literal
    right: object  # Attr | Literal
    span: Span | None = None


@attrs.define
class InList:
    attr: object  # Attr | Literal
    values: ListLit
    negated: bool = False
    span: Span | None = None


@attrs.define
class Contains:
    attr: object  # Attr | Literal
    value: object  # Literal (contains) | ListLit (contains_any)
    any: bool = False
    span: Span | None = None


@attrs.define
class BoolOp:
    op: str  # "and" | "or"
    items: list
    span: Span | None = None


@attrs.define
class Not:
    item: object
    span: Span | None = None


@attrs.define
class Const:
    """A bare `true` / `false` predicate."""

    value: bool
    span: Span | None = None


# --- shop -----------------------------------------------------------------------------------


@attrs.define
class Value:
    """A setting's value with where it was written (for diagnostics on settings)."""

    value: object
    span: Span | None = None


@attrs.define
class AttributeDecl:
    name: str
    type: str  # int number string bool set
    span: Span | None = None


@attrs.define
class PredicateDef:
    """A crowd or an intent: name -> predicate."""

    name: str
    expr: object
    span: Span | None = None
    text: str | None = None  # the predicate as written (for fmt and messages)


@attrs.define
class Agent:
    id: str
    level: int = 3
    span: Span | None = None
    level_span: Span | None = None


@attrs.define
class NameRef:
    name: str
    span: Span | None = None


@attrs.define
class Group:
    name: str
    agents: list = attrs.Factory(list)  # NameRef
    crowd: list = attrs.Factory(list)  # NameRef
    product: list = attrs.Factory(list)  # NameRef (product ids)
    intent: list = attrs.Factory(list)  # NameRef
    order: list = attrs.Factory(list)  # NameRef (order states)
    mode: str = EFFICIENCY
    strength: str | None = None
    robot: bool = False
    span: Span | None = None
    mode_span: Span | None = None


@attrs.define
class Promo:
    name: str
    presale_start: Value | None = None  # date string YYYY-MM-DD
    last_day: Value | None = None
    span: Span | None = None


@attrs.define
class Coupon:
    id: str
    kind: str | None = None
    span: Span | None = None


@attrs.define
class Target:
    """A crowd with its own copy and coupon (campaign targets, recall segments)."""

    crowd: NameRef
    copy: str | None = None
    coupon: Coupon | None = None
    span: Span | None = None


@attrs.define
class Campaign:
    name: str
    kind: Value
    send_at: Value | None = None  # ISO datetime string
    promo: NameRef | None = None
    date: Value | None = None  # green channel date
    configured_at: Value | None = None
    created_at: Value | None = None
    copy: Value | None = None
    coupon: Coupon | None = None
    targets: list = attrs.Factory(list)  # Target
    segments: list = attrs.Factory(list)  # Target
    span: Span | None = None


ROUTING_DEFAULTS = {
    "when_nobody_online": MESSAGE_POOL,
    "robot_first": False,
    "exclusive_direct": False,
    "busy_threshold": 4,
    "sticky_hold": 24 * 3600,
    "sticky_window": 72 * 3600,
    "drain_pool": False,
}
OUTREACH_DEFAULTS = {"cap_window": 7 * 24 * 3600, "max_delay": 24 * 3600}
FACT_KEYS = (
    "tool_level",
    "relationships_last_month_end",
    "advanced_relationships_this_month",
    "grants",
)


@attrs.define
class Shop:
    """One shop's rules. Settings dicts map a key to a Value (only keys that were written)."""

    name: str
    file: str = "<rules>"
    span: Span | None = None
    timezone: Value | None = None
    routing: dict = attrs.Factory(dict)  # key -> Value (durations already in seconds)
    outreach: dict = attrs.Factory(dict)  # key -> Value (seconds)
    attributes: list = attrs.Factory(list)  # AttributeDecl
    crowds: list = attrs.Factory(list)  # PredicateDef
    intents: list = attrs.Factory(list)  # PredicateDef
    agents: list = attrs.Factory(list)  # Agent
    groups: list = attrs.Factory(list)  # Group
    promos: list = attrs.Factory(list)  # Promo
    facts: dict = attrs.Factory(dict)  # key -> Value
    campaigns: list = attrs.Factory(list)  # Campaign
