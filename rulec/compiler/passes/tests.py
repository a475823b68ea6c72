"""Pass: check a shop's tests against its rules (names, values, times; U100–U119), never lowered."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from rulec.common import calendar, vocab
from rulec.common.vocab import ORDER_STATES, STATUSES, STEPS
from rulec.compiler import model as m
from rulec.errors import Diagnostic, Span, diag, did_you_mean

T = TypeVar("T")

# Targets as a test writes them: `agent NAME`, `group_robot NAME`, or a word (contract).
NAMED_TARGETS = ("agent", "group_robot")
TARGETS = NAMED_TARGETS + (vocab.ROBOT,) + vocab.NOBODY_TARGETS
# Why a consumer gets no send of a campaign: the campaign's own state (not due yet, O12 missed,
# O6–O10 skips) or the consumer's (O1–O8, O13); the planner's report uses the same words.
CAMPAIGN_REASONS = (
    "not_due",
    "missed",
    "not_eligible",
    "not_configured",
    "deadline_passed",
    "no_valid_activity",
)
CONSUMER_REASONS = (
    "already_sent",
    "capped",
    "green_taken",
    "not_in_audience",
    "not_exclusive",
    "not_interested",
    "purchased",
)
REASONS = CAMPAIGN_REASONS + CONSUMER_REASONS


class _Check:
    def __init__(self, shop: m.Shop) -> None:
        self.d: list[Diagnostic] = []
        self.agents = [a.id for a in shop.agents]
        self.groups = [g.name for g in shop.groups]
        self.campaigns = [c.name for c in shop.campaigns]
        self.tz = (shop.timezone.value if shop.timezone else None) or vocab.DEFAULT_ZONE

    def err(self, code: str, message: str, span: Span | None, hints: Iterable[str] = ()) -> None:
        self.d.append(diag(code, message, span, "error", tuple(hints)))

    def known(
        self, code: str, what: str, ref_name: str, span: Span | None, choices: Sequence[str]
    ) -> bool:
        if ref_name not in choices:
            self.err(code, f"unknown {what} `{ref_name}`", span, did_you_mean(ref_name, choices))
            return False
        return True

    def enum(self, v: m.Value | None, choices: Sequence[str], what: str) -> None:
        if v is not None and v.value not in choices:
            hints = did_you_mean(str(v.value), choices) or (f"one of: {', '.join(choices)}",)
            self.err("U103", f"unknown {what} `{v.value}`", v.span, hints)

    def time(self, v: m.Value | None, what: str) -> None:
        if v is None:
            return
        try:
            calendar.parse_time(v.value)
        except ValueError as exc:
            self.err("U104", f"{what}: {exc}", v.span)

    def unique(
        self, items: Iterable[T], what: str, key: Callable[[T], tuple[str, Span | None]]
    ) -> None:
        seen: dict[str, Any] = {}
        for it in items:
            k, span = key(it)
            if k in seen:
                self.err("U112", f"{what} `{k}` is given twice (first at line {seen[k]})", span)
            else:
                seen[k] = span.line if span else "?"

    # -- one test ------------------------------------------------------------------------
    def test(self, t: m.TestCase) -> None:
        if not t.chats and not t.consumers:
            self.err(
                "U107", f"test {t.name} has no chat and no consumer: it checks nothing", t.span
            )
        self.unique(t.agents, "agent", lambda a: (a.id.name, a.id.span))
        self.unique(t.contacts, "contact of buyer", lambda c: (c.buyer.name, c.buyer.span))
        self.unique(t.consumers, "consumer", lambda c: (c.id.name, c.id.span))
        self.unique(t.activities, "activity", lambda a: (a.id.name, a.id.span))
        self.time(t.now, "now")
        for a in t.agents:
            self.known("U100", "agent", a.id.name, a.id.span, self.agents)
            self.enum(a.status, STATUSES, "agent status")
            if a.pending is not None and a.pending.value < 0:
                self.err("U109", "pending chats cannot be negative", a.pending.span)
            if a.conversion is not None and not 0 <= a.conversion.value <= 1:
                self.err("U109", "a conversion rate is a number in 0..1", a.conversion.span)
        for c in t.contacts:
            self.known("U100", "agent", c.agent.name, c.agent.span, self.agents)
            self.time(c.time, "contact time")
        for chat in t.chats:
            self.chat(chat)
        if t.consumers and t.now is None:
            self.err("U108", f"test {t.name} has consumers but no `now` to plan at", t.span)
        for act in t.activities:
            self.activity(act)
        for con in t.consumers:
            self.consumer(con)

    def chat(self, c: m.TestChat) -> None:
        self.time(c.time, "chat time")
        self.enum(c.order, ORDER_STATES, "order state")
        if c.target is None and c.step is None and c.group is None and c.candidates is None:
            self.err("U107", f"chat {c.buyer.name} expects nothing: add an `expect`", c.span)
        if c.target is not None:
            kind, _, rest = str(c.target.value).partition(":")
            if kind not in TARGETS:
                self.enum(m.Value(kind, c.target.span), TARGETS, "target")
            elif (kind in NAMED_TARGETS) != bool(rest):
                need = "names one" if kind in NAMED_TARGETS else "takes no name"
                self.err("U103", f"target `{kind}` {need}", c.target.span)
            elif kind == "agent":
                self.known("U100", "agent", rest, c.target.span, self.agents)
            elif kind == "group_robot":
                self.known("U101", "group", rest, c.target.span, self.groups)
        self.enum(c.step, STEPS, "step")
        if c.group is not None and c.group.value is not None:
            self.known("U101", "group", c.group.value, c.group.span, self.groups)
        for ref in c.candidates or ():
            self.known("U101", "group", ref.name, ref.span, self.groups)

    def activity(self, a: m.TestActivity) -> None:
        from rulec.errors import InputError
        from rulec.outreach.audience import read_activities

        try:
            read_activities([{"id": a.id.name, **a.fields.value}], calendar.zone(self.tz))
        except InputError as exc:
            for d in exc.diagnostics:
                text = d.message.split(": ", 1)[-1] if d.message.startswith("<") else d.message
                self.err("U111", f"activity {a.id.name}: {text}", a.span)
        except ValueError:
            pass  # an unknown time zone is reported by the resolve pass

    def consumer(self, c: m.TestConsumer) -> None:
        if not c.expects:
            self.err("U107", f"consumer {c.id.name} expects nothing: add an `expect`", c.span)
        for _item, t in c.cart_adds:
            self.time(t, "cart time")
        for t in c.purchases:
            self.time(t, "purchase time")
        for e in c.expects:
            if e.campaign is not None:
                self.known("U102", "campaign", e.campaign.name, e.campaign.span, self.campaigns)
            self.enum(e.reason, REASONS, "reason")


def run(shop: m.Shop, rules: m.Shop | None = None) -> list[Diagnostic]:
    """Diagnostics of `shop`'s tests, against the rules of `rules` (default: `shop` itself;
    a `*_test.rules` file's tests are checked against the rules beside it)."""
    if not shop.tests:
        return []
    check = _Check(rules or shop)
    seen: dict[str, Any] = {}
    for t in shop.tests:
        if t.name in seen:
            check.err(
                "U105", f"test `{t.name}` is declared twice (first at line {seen[t.name]})", t.span
            )
        else:
            seen[t.name] = t.span.line if t.span else "?"
        check.test(t)
    return check.d
