"""Property (issue 10): generated hostile JSON — lone surrogates, huge and special numbers,
wrong types, deep nesting — fed to `rulec route`, `rulec explain` (in-process) and the
embedding API (Router.route / route_many / feed / load_state) gives rulec's own coded
errors (RulecError subclasses) or decisions, never another exception."""

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import table_from_rules

import rulec
from rulec.cli.main import main
from rulec.routing.router import Router

RULES = {
    "shop": "s",
    "attributes": {"level": "int", "city": "string", "tags": "set"},
    "crowds": {"vip": "level >= 3", "外地": 'city not in ["杭州"]', "t": 'tags contains "x"'},
    "agents": {"bob": {"level": 2}, "小美": {}, "a3": {}, "a4": {}, "a5": {}, "a6": {}},
    "groups": {
        "G": {"agents": ["小美", "bob"], "crowd": ["vip"], "product": ["a"]},
        "H": {"agents": ["bob", "a3", "a4", "a5", "a6", "小美"], "mode": {"conversion": "high"}},
    },
    "routing": {"when_nobody_online": "message_pool", "drain_pool": True},
}
TABLE = table_from_rules(RULES)
T0 = "2026-11-23T09:00:00+08:00"

text = st.one_of(
    st.sampled_from(["u1", "bob", "小美", "a", "", "\ud800x", "\udfff", T0, "2026-13-40T99:00"]),
    st.text(max_size=8),
)
number = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, 2**63 - 1, 1e308, 0.5, 1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalar = st.one_of(st.none(), st.booleans(), number, text)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)


def _nest(n):
    v: list = []
    for _ in range(n):
        v = [v]
    return v


field = value
KEYS = [
    "type",
    "time",
    "buyer",
    "product",
    "order",
    "intent",
    "crowds",
    "attrs",
    "message",
    "exclusive_agent",
    "agent",
    "status",
    "rate",
]


event = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("chat"), "time": st.just(T0), "buyer": text},
        optional={
            k: field
            for k in ["product", "order", "intent", "crowds", "attrs", "message", "exclusive_agent"]
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["agent", "reply", "conversion", "chat", "x"]),
            "time": st.one_of(st.just(T0), field),
        },
        optional={k: field for k in KEYS if k not in ("type", "time")},
    ),
    field,
)
state = st.one_of(
    field,
    st.fixed_dictionaries(
        {},
        optional={
            "agents": st.one_of(
                field,
                st.dictionaries(
                    st.sampled_from(["bob", "小美", "zz", "\ud800"]),
                    st.one_of(
                        field,
                        st.fixed_dictionaries(
                            {}, optional={"status": field, "pending": field, "conversion": field}
                        ),
                    ),
                    max_size=2,
                ),
            ),
            "contacts": st.one_of(
                field,
                st.dictionaries(
                    text,
                    st.one_of(field, st.fixed_dictionaries({"agent": field, "time": field})),
                    max_size=2,
                ),
            ),
        },
    ),
)
CFG = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _only_coded(fn):
    try:
        fn()
    except rulec.RulecError:
        pass


def _deep(depth):
    """A chat and a state nested `depth` deep (built here: printing them would recurse)."""
    chat = {"type": "chat", "time": T0, "buyer": "u", "attrs": {"k": _nest(depth)}}
    return chat, {"agents": {"bob": {"status": _nest(depth)}}}


depths = st.sampled_from([0, 0, 0, 50, 999, 1001, 3000])


@CFG
@given(st.lists(event, min_size=1, max_size=4), state, depths)
def test_the_api_raises_only_coded_errors(events, doc, depth):
    if depth:
        chat, doc = _deep(depth)
        events = [*events, chat]
    r = Router(TABLE, seed=1)
    _only_coded(lambda: r.load_state(doc))
    _only_coded(lambda: r.load_state({"agents": {"bob": {"status": "online"}}}))
    for ev in events:
        _only_coded(lambda ev=ev: r.route(ev, trace=True))
        _only_coded(lambda ev=ev: r.feed(ev, trace=True))
    _only_coded(lambda: r.route_many(events))


def _dump(doc):
    """JSON text as a hostile producer might write it: NaN and Infinity as bare words, lone
    surrogates as escapes (json.dumps does both)."""
    try:
        return json.dumps(doc)
    except RecursionError:  # too deep for the encoder: write the nesting directly
        return '{"type": "chat", "attrs": {"k": ' + "[" * 5000 + "]" * 5000 + "}}"


@CFG
@given(st.lists(event, min_size=1, max_size=4), state, st.booleans(), depths)
def test_route_and_explain_exit_1_with_a_coded_error(
    tmp_path_factory, events, doc, keep_going, depth
):
    if depth:
        chat, doc = _deep(depth)
        events = [*events, chat]
    d = tmp_path_factory.mktemp("h")
    rules = d / "shop.yaml"
    rules.write_text(json.dumps(RULES, ensure_ascii=False), encoding="utf-8")
    evs, st_file, one = d / "e.jsonl", d / "state.json", d / "ev.json"
    lines = [{"type": "agent", "time": T0, "agent": "bob", "status": "online"}, *events]
    evs.write_text("".join(_dump(e) + "\n" for e in lines), encoding="utf-8")
    st_file.write_text(_dump(doc), encoding="utf-8")
    one.write_text(_dump(events[0]), encoding="utf-8")
    for args in (
        ["route", rules, "--events", evs, *(["--keep-going"] if keep_going else [])],
        ["route", rules, "--events", evs, "--state", st_file],
        ["explain", rules, "--event", one],
        ["explain", rules, "--event", one, "--state", st_file],
    ):
        out, err = io.StringIO(), io.StringIO()
        code = main([str(a) for a in args], out, err)  # an uncaught exception fails the test
        assert code in (0, 1), (args, code, err.getvalue())
        if code == 1:
            assert "error[" in err.getvalue(), err.getvalue()
        out.getvalue().encode("utf-8")  # what was printed is Unicode text
