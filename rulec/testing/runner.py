"""Runs a shop's tests against its table: routing via rulec.Router, outreach via rulec.Planner."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import attrs

from rulec.compiler import model as m
from rulec.errors import RulecError, diag

if TYPE_CHECKING:
    from rulec.compiler.pipeline import CompileResult

DEFAULT_TIME = "2024-01-01T12:00:00+08:00"  # a chat's time when neither it nor the test has one


@attrs.define
class Failure:
    """One chat or consumer whose outcome is not the expected one."""

    where: str  # "chat u1" / "consumer c1"
    line: int | None
    expected: dict
    actual: dict
    trace: list = attrs.Factory(list)


@attrs.define
class CaseResult:
    file: str
    name: str
    line: int | None
    outcome: str  # passed | failed | error
    failures: list = attrs.Factory(list)  # Failure
    errors: list = attrs.Factory(list)  # Diagnostic
    seconds: float = 0.0


@attrs.define
class Suite:
    """The tests of one file, and the compiled rules they run against."""

    file: str  # where the tests are written
    rules: str  # the rules file
    result: CompileResult | None  # of the rules (with the tests checked); None: unreadable
    tests: list = attrs.Factory(list)  # model.TestCase
    diagnostics: list = attrs.Factory(list)  # errors: no test of the file can run

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def _line(span) -> int | None:
    return span.line if span is not None else None


# -- routing ---------------------------------------------------------------------------------
def state_doc(t: m.TestCase) -> dict:
    """The test's state in the contract's `--state` form."""
    agents = {a.id.name: a.state() for a in t.agents}
    contacts = {c.buyer.name: {"agent": c.agent.name, "time": c.time.value} for c in t.contacts}
    return {"agents": agents, "contacts": contacts}


def chat_event(c: m.TestChat, t: m.TestCase) -> dict:
    """The chat as the router's input (the contract's chat event)."""
    time_ = c.time or t.now
    ev = {"type": "chat", "time": time_.value if time_ else DEFAULT_TIME, "buyer": c.buyer.name}
    for key in ("product", "order", "intent", "message", "exclusive_agent"):
        v = getattr(c, key)
        if v is not None:
            ev[key] = v.value
    if c.crowds:
        ev["crowds"] = [r.name for r in c.crowds]
    if c.attrs is not None:
        ev["attrs"] = dict(c.attrs.value)
    return ev


def route_expected(c: m.TestChat) -> dict:
    out = {}
    for key in ("target", "step", "group"):
        v = getattr(c, key)
        if v is not None:
            out[key] = v.value
    if c.candidates is not None:
        out["candidates"] = [r.name for r in c.candidates]
    return out


def _input_error(exc: RulecError, what: str, span) -> list:
    return [diag("U120", f"{what}: {d.message}", span, "error", d.hints) for d in exc.diagnostics]


class _ChatError(Exception):
    """A bad chat of a test: the input error and the chat it is about."""

    def __init__(self, error: RulecError, chat: m.TestChat):
        super().__init__(str(error))
        self.error, self.chat = error, chat


def _routes(router, t: m.TestCase, trace: bool):
    """(chat, event, decision) of the test's chats routed in order from its state on the
    router restarted (InputError for a bad state or chat, with the chat)."""
    from rulec.routing.events import check_event

    router.restart(t.seed.value if t.seed else 0)
    router.load_state(state_doc(t))
    for c in t.chats:
        ev = chat_event(c, t)
        try:
            check_event(ev, router.index)
            yield c, ev, router.route(ev, trace=trace)
        except RulecError as exc:
            raise _ChatError(exc, c) from exc


def run_routing(router, t: m.TestCase, cov, failures: list) -> list:
    """Route the test's chats; returns input errors. Decisions are taken without traces (the
    trace of a large shop costs more than the decision); a failing test is routed again
    with them, which gives the same decisions (same state, same seed)."""
    table, failed = router.table, []
    try:
        for c, ev, d in _routes(router, t, False):
            expected = route_expected(c)
            actual = {k: d[k] for k in ("target", "step", "group") if k in expected}
            if "candidates" in expected:
                actual["candidates"] = table.matcher.match(ev)
            if cov is not None:
                cov.routed(ev, d)
            if actual != expected:
                failed.append((c, expected, actual))
        if failed:
            traces = {id(c): d.get("trace", []) for c, _ev, d in _routes(router, t, True)}
    except _ChatError as exc:
        return _input_error(exc.error, f"chat {exc.chat.buyer.name}", exc.chat.span)
    except RulecError as exc:
        return _input_error(exc, f"test {t.name}: state", t.span)
    for c, expected, actual in failed:
        where = f"chat {c.buyer.name}"
        failures.append(Failure(where, _line(c.span), expected, actual, traces[id(c)]))
    return []


# -- outreach --------------------------------------------------------------------------------
def consumer_record(c: m.TestConsumer) -> dict:
    """The consumer as an audience line (the contract's form). A test writes what a consumer
    has: `exclusive` and `interested` not written are off, no `cart`/`purchase` is none (an
    audience line must carry them all when a promo privilege is due, E886)."""
    rec: dict[str, Any] = {"consumer": c.id.name}
    if c.attrs is not None:
        rec["attrs"] = dict(c.attrs.value)
    if c.crowds:
        rec["crowds"] = [r.name for r in c.crowds]
    for key in ("exclusive", "interested"):
        v = getattr(c, key)
        rec[key] = bool(v.value) if v is not None else False
    rec["cart_adds"] = [{"time": t.value, "item": i.name} for i, t in c.cart_adds]
    rec["purchases"] = [p.value for p in c.purchases]
    return rec


def reason_of(report: dict, campaign: str) -> str | None:
    """Why `campaign` sent nothing to the run's one consumer (the planner report's words)."""
    entry = report["campaigns"].get(campaign)
    if entry is None:
        return None
    if entry["status"] == "not_due":
        return "not_due"
    if entry.get("reason"):
        return entry["reason"]
    skips = [r for r, n in entry.get("skips", {}).items() if n]
    return skips[0] if len(skips) == 1 else ", ".join(sorted(skips)) or None


def _outcome(e: m.SendExpect, sent: bool, copy=None, coupon=None, reason=None) -> str:
    """A consumer's outcome for one campaign, showing what the expectation `e` looks at."""
    if not sent:
        return "not sent" + (f" ({reason})" if reason is not None else "")
    return (
        "sent"
        + (f", copy {copy!r}" if e.copy is not None else "")
        + (f", coupon {coupon}" if e.coupon is not None else "")
    )


def run_outreach(table, t: m.TestCase, cov, failures: list) -> list:
    """Plan each consumer at the test's `now` on a fresh memory ledger (consumers do not
    share anything a planner decides, so one run per consumer says which reason is whose)."""
    from rulec.outreach.planner import Planner

    assert t.now is not None  # consumers without `now` are refused by the check (U108)
    acts = [{"id": a.id.name, **a.fields.value} for a in t.activities]
    for c in t.consumers:
        rec = consumer_record(c)
        try:
            with Planner(table, "memory:") as planner:
                res = planner.plan([rec], t.now.value, activities=acts)
        except RulecError as exc:
            return _input_error(exc, f"consumer {c.id.name}", c.span)
        sends = {s["campaign"]: s for s in res.sends}
        if cov is not None:
            cov.planned(rec, res.report)
        expected, actual = {}, {}
        for e in c.expects:
            if e.campaign is None:
                expected["sends"], actual["sends"] = "none", ", ".join(sends) or "none"
                continue
            name = e.campaign.name
            send = sends.get(name)
            expected[name] = _outcome(
                e,
                e.sent,
                e.copy,
                e.coupon.id if e.coupon else None,
                e.reason.value if e.reason is not None else None,
            )
            why = reason_of(res.report, name) if e.reason is not None or e.sent else None
            if send is None:
                actual[name] = _outcome(e, False, reason=why)
            else:
                actual[name] = _outcome(e, True, send["copy"], send["coupon"])
        if actual != expected:
            trace = [
                f"{n}: {entry['status']}"
                + (f" ({entry['reason']})" if entry.get("reason") else "")
                + (f", skips {entry['skips']}" if entry.get("skips") else "")
                for n, entry in res.report["campaigns"].items()
            ]
            failures.append(
                Failure(f"consumer {c.id.name}", _line(c.span), expected, actual, trace)
            )
    return []


# -- suites ----------------------------------------------------------------------------------
def run_case(suite: Suite, t: m.TestCase, cov=None, router=None) -> CaseResult:
    """One test; `router` (a Router of the suite's table on a memory store) is restarted for
    it, or built when not given."""
    start = time.perf_counter()
    assert suite.result is not None  # only suites that compiled run
    table = suite.result.table
    failures: list[Failure] = []
    if t.chats and router is None:
        from rulec.routing.router import Router

        assert table is not None  # a compiled suite has its table
        router = Router(table, store="memory:")
    errors = run_routing(router, t, cov, failures) if t.chats else []
    if not errors and t.consumers:
        errors = run_outreach(table, t, cov, failures)
    outcome = "error" if errors else ("failed" if failures else "passed")
    return CaseResult(
        suite.file,
        t.name,
        _line(t.span),
        outcome,
        failures,
        errors,
        time.perf_counter() - start,
    )


def run(suites, pattern: str | None = None, cov=None) -> list:
    """[(suite, [CaseResult])]: the tests whose name matches `pattern` (re.search)."""
    rx = re.compile(pattern) if pattern else None
    out: list[tuple[Suite, list[CaseResult]]] = []
    for s in suites:
        chosen = [t for t in s.tests if rx is None or rx.search(t.name)]
        if not s.ok:
            out.append((s, []))
            continue
        if cov is not None:
            cov.add_rules(s.rules, s.result)
        c = cov.for_rules(s.rules) if cov else None
        router = None
        if any(t.chats for t in chosen):
            from rulec.routing.router import Router

            router = Router(s.result.table, store="memory:")  # one per suite, restarted per test
        out.append((s, [run_case(s, t, c, router) for t in chosen]))
    return out
