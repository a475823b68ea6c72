"""Generated hostile JSON (surrogates, huge and special numbers, wrong types, deep nesting) fed
to `rulec plan` (in-process) and the Planner API: only rulec's coded errors come out (O14)."""

import io
import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from outreach_helpers import RULES

import rulec
from rulec.cli.main import main
from rulec.errors import RulecError
from rulec.outreach.planner import Planner

NOW = "2023-12-12T21:00:00+08:00"  # every kind below is due (the recall at 14:00 too)
SHOP = dict(
    RULES,
    campaigns=RULES["campaigns"]
    + [
        {
            "name": "cart",
            "kind": "cart_coupon",
            "promo": "d12",
            "configured_at": "2023-12-09T10:00:00+08:00",
            "coupon": {"id": "CC1", "kind": "cs_channel"},
        },
        {
            "name": "super",
            "kind": "super_discount",
            "promo": "d12",
            "configured_at": "2023-12-10T10:00:00+08:00",
            "copy": "S",
        },
    ],
)
_table = None


def table():
    global _table
    if _table is None:
        res = rulec.compile_source(json.dumps(SHOP), file="shop.yaml")
        assert not res.errors, res.errors
        _table = res.table
    return _table


chars = st.characters(codec=None, exclude_categories=())  # lone surrogates included
text = st.text(chars, max_size=12)
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**63, -(2**63) - 1, 10**308, 1e308, 5e-324, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)
TIMES = st.one_of(
    st.sampled_from(
        [
            "2023-12-05T10:00:00+08:00",
            "2023-12-05T10:00:00",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "",
            "2023-13-45T10:00:00+08:00",
        ]
    ),
    values,
)
FIELDS = {
    "consumer": st.one_of(text, values, st.sampled_from(["c1", "c2", "c1"])),
    "attrs": st.one_of(values, st.dictionaries(st.sampled_from(["spend", "x"]), values)),
    "crowds": st.one_of(values, st.lists(text, max_size=3)),
    "exclusive": st.one_of(st.booleans(), values),
    "interested": st.one_of(st.booleans(), values),
    "purchases": st.one_of(st.lists(TIMES, max_size=3), values),
    "cart_adds": st.one_of(
        st.lists(st.fixed_dictionaries({"time": TIMES, "item": st.one_of(text, values)})),
        values,
    ),
}
records = st.fixed_dictionaries({}, optional=FIELDS)


def _deep(depth):
    return (
        '{"consumer": "d", "exclusive": false, "attrs": {"x": ' + "[" * depth + "]" * depth + "}}"
    )


def _dump(rec, ascii_):
    return json.dumps(rec, ensure_ascii=ascii_, allow_nan=True)


raw_lines = st.one_of(
    st.builds(_dump, records, st.booleans()),
    st.builds(_deep, st.integers(min_value=1, max_value=5000)),
    text,
    st.sampled_from(["{", "[]", "null", "NaN", '{"consumer": "c9", "exclusive": false}']),
)
audiences = st.lists(raw_lines, min_size=1, max_size=6)
activities = st.lists(
    st.builds(
        _dump,
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.one_of(text, values),
                "kind": st.one_of(text, values),
                "created_at": TIMES,
                "first_effective_at": TIMES,
                "edited_from_existing": st.one_of(st.booleans(), values),
                "crowd_restricted": st.one_of(st.booleans(), values),
                "complete": st.one_of(st.booleans(), values),
                "in_stock": st.one_of(st.booleans(), values),
            },
        ),
        st.booleans(),
    ),
    max_size=2,
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_n = itertools.count()


def _utf8_lines(out):
    for line in out.splitlines():
        line.encode("utf-8")  # a lone surrogate here would crash a real stdout
        json.loads(line)


@SETTINGS
@given(lines=audiences, acts=activities, batch=st.sampled_from(["1", "3", "2000"]))
def test_cli_plan_on_hostile_lines(tmp_path_factory, lines, acts, batch):
    d = tmp_path_factory.mktemp("h")
    shop = d / "shop.yaml"
    shop.write_text(json.dumps(SHOP), encoding="utf-8")
    aud = d / "a.jsonl"
    aud.write_bytes("".join(x + "\n" for x in lines).encode("utf-8", "surrogatepass"))
    act = d / "acts.jsonl"
    act.write_bytes("".join(x + "\n" for x in acts).encode("utf-8", "surrogatepass"))
    args = [
        "plan",
        str(shop),
        "--audience",
        str(aud),
        "--ledger",
        str(d / f"l{next(_n)}.db"),
        "--now",
        NOW,
        "--batch",
        batch,
        "--activities",
        str(act),
    ]
    for extra in ([], ["--keep-going"]):
        out, err = io.StringIO(), io.StringIO()
        code = main(args + extra, out, err)  # an exception other than exit codes fails here
        assert code in (0, 1), (code, err.getvalue())
        assert "Traceback" not in err.getvalue()
        if code == 1:
            assert "[E8" in err.getvalue() or "[S9" in err.getvalue(), err.getvalue()
        _utf8_lines(out.getvalue())


@SETTINGS
@given(lines=audiences, as_dicts=st.booleans())
def test_api_plan_on_hostile_lines(lines, as_dicts):
    items = []
    for x in lines:
        if as_dicts:
            try:
                items.append(json.loads(x))
                continue
            except (ValueError, RecursionError):
                pass
        items.append(x)
    out = io.StringIO()
    with Planner(table(), "memory:", batch_size=2) as p:
        try:
            p.plan(items, NOW, out=out)
        except RulecError as exc:
            assert exc.code[:1] in "ES" and exc.diagnostics, exc
    _utf8_lines(out.getvalue())


@SETTINGS
@given(now=st.one_of(text, values, TIMES), shard=st.one_of(text, values))
def test_api_bad_now_and_shard(now, shard):
    with Planner(table(), "memory:") as p:
        try:
            p.plan(['{"consumer": "c1", "exclusive": false}'], now, shard=shard)
        except RulecError as exc:
            assert exc.code in ("E820", "E880", "E882"), exc
