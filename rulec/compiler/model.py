"""The rules model: attrs classes both frontends (.rules, YAML) produce, every node with a span."""

from __future__ import annotations

import functools
from typing import Any

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
    value: Scalar
    span: Span | None = None


@attrs.define
class ListLit:
    items: list[Literal]
    span: Span | None = None


@attrs.define
class Compare:
    op: str  # == != < <= > >=
    left: Operand
    right: Operand
    span: Span | None = None


@attrs.define
class InList:
    attr: Operand  # an Attr once the types pass accepted it (T305)
    values: ListLit
    negated: bool = False
    span: Span | None = None


@attrs.define
class Contains:
    attr: Operand  # an Attr once the types pass accepted it (T305)
    value: Operand | ListLit  # Literal (contains) | ListLit (contains_any), checked by T303
    any: bool = False
    span: Span | None = None


@attrs.define
class BoolOp:
    op: str  # "and" | "or"
    items: list[Expr]
    span: Span | None = None


@attrs.define
class Not:
    item: Expr
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

    value: Any  # str, int (seconds), bool or a list, by setting
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
    expr: Expr
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
    agents: list[NameRef] = attrs.Factory(list)
    crowd: list[NameRef] = attrs.Factory(list)
    product: list[NameRef] = attrs.Factory(list)  # product ids
    intent: list[NameRef] = attrs.Factory(list)
    order: list[NameRef] = attrs.Factory(list)  # order states
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
    targets: list[Target] = attrs.Factory(list)
    segments: list[Target] = attrs.Factory(list)
    span: Span | None = None


# --- tests (`rulec test`; never lowered into the table) -----------------------------------

# (a field named `attrs` would hide the module inside a class body)
_list = functools.partial(attrs.Factory, list)


@attrs.define
class TestAgent:
    """An agent's state before a test's chats: status, pending chats, conversion rate."""

    id: NameRef
    status: Value
    pending: Value | None = None
    conversion: Value | None = None
    span: Span | None = None

    def state(self) -> dict[str, Any]:
        """The agent's entry in a `--state` document (the contract's form)."""
        rec: dict[str, Any] = {"status": self.status.value}
        if self.pending is not None:
            rec["pending"] = self.pending.value
        if self.conversion is not None:
            rec["conversion"] = self.conversion.value
        return rec


@attrs.define
class TestContact:
    """A buyer's last human contact (R2) before the test."""

    buyer: NameRef
    agent: NameRef
    time: Value
    span: Span | None = None


@attrs.define
class TestChat:
    """One chat of a routing test and what its decision must be (any of the expectations)."""

    buyer: NameRef
    time: Value | None = None
    product: Value | None = None
    order: Value | None = None
    intent: Value | None = None
    crowds: list[NameRef] = _list()  # labels the platform sends
    message: Value | None = None
    exclusive_agent: Value | None = None
    attrs: Value | None = None  # a dict of plain values
    target: Value | None = None  # "agent:ID", "group_robot:NAME", "robot", ...
    step: Value | None = None
    group: Value | None = None  # a group name, or None for "no group"
    candidates: list[NameRef] | None = None  # the groups left after R5
    span: Span | None = None


@attrs.define
class SendExpect:
    """`expect send C` (optionally with its copy and coupon) or, with `sent` False,
    `expect no send [C [because REASON]]` (no campaign: nothing at all)."""

    campaign: NameRef | None
    sent: bool = True
    copy: str | None = None
    coupon: Coupon | None = None
    reason: Value | None = None
    span: Span | None = None


@attrs.define
class TestConsumer:
    """One consumer of an outreach test (an audience line) and the sends it must get."""

    id: NameRef
    attrs: Value | None = None
    crowds: list[NameRef] = _list()
    exclusive: Value | None = None
    interested: Value | None = None
    cart_adds: list[tuple[NameRef, Value]] = _list()  # (item, time)
    purchases: list[Value] = _list()  # times
    expects: list[SendExpect] = _list()
    span: Span | None = None


@attrs.define
class TestActivity:
    """A shop promotion for O8, as the activities file has it (id + a record)."""

    id: NameRef
    fields: Value  # dict of plain values
    span: Span | None = None


@attrs.define
class TestCase:
    name: str
    span: Span | None = None
    seed: Value | None = None
    now: Value | None = None
    agents: list[TestAgent] = _list()
    contacts: list[TestContact] = _list()
    chats: list[TestChat] = _list()
    activities: list[TestActivity] = _list()
    consumers: list[TestConsumer] = _list()


ROUTING_DEFAULTS: dict[str, Any] = {
    "when_nobody_online": MESSAGE_POOL,
    "robot_first": False,
    "exclusive_direct": False,
    "busy_threshold": 4,
    "sticky_hold": 24 * 3600,
    "sticky_window": 72 * 3600,
    "drain_pool": False,
}
# The longest duration rulec accepts (10 years): every window, hold and delay added to a time
# stays inside the calendar (the resolve pass reports a longer one, V410).
MAX_DURATION = 3650 * 86400
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
    routing: dict[str, Value] = attrs.Factory(dict)  # durations already in seconds
    outreach: dict[str, Value] = attrs.Factory(dict)  # seconds
    attributes: list[AttributeDecl] = attrs.Factory(list)
    crowds: list[PredicateDef] = attrs.Factory(list)
    intents: list[PredicateDef] = attrs.Factory(list)
    agents: list[Agent] = attrs.Factory(list)
    groups: list[Group] = attrs.Factory(list)
    promos: list[Promo] = attrs.Factory(list)
    facts: dict[str, Value] = attrs.Factory(dict)
    campaigns: list[Campaign] = attrs.Factory(list)
    tests: list[TestCase] = attrs.Factory(list)  # never in the table
    tests_only: bool = False  # a `*_test.rules` file: tests for the rules beside it
    tests_lines: list[tuple[int, int]] = attrs.Factory(list)  # source lines holding only tests


# The predicate node types (the frontends build them; passes read them).
Scalar = int | float | str | bool
Operand = Attr | Literal
# (a bare Literal parses too; the types pass refuses it as a condition, T306)
Expr = Compare | InList | Contains | BoolOp | Not | Const | Attr | Literal
