"""The C scanner of an audience line's common shape (issue 15, rulec/outreach/_scan.pyx).

A line the scanner takes gives exactly what json.loads gives (same values, same types, JSON
escapes decoded where it takes them: attribute string values, crowd labels, cart items); any
other line is None, so that the planner hands it to the full decoder and checks, which give
the exact error (E801 not JSON, E806 a wrong type, E884 NaN / Infinity / 1e400, O12s) or the
exact value. The scanner has no pure twin: the pure planner (plan_run.Run) does not use it.
"""

from __future__ import annotations

import json
import math
import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from outreach_helpers import bench_planner_module

REQUIRED = os.environ.get("RULEC_REQUIRE_EXTENSIONS") == "1"
try:
    from rulec.outreach import _scan
except ImportError as exc:  # not built: the planner's fast lane is off too
    if REQUIRED:
        raise
    pytest.skip(f"the Cython line scanner is not built ({exc})", allow_module_level=True)

MAX_ATTRS, MAX_LABELS, MAX_CART, MAX_BUYS = 32, 16, 16, 16  # _scan.pxd


def same(a, b) -> bool:
    """a == b with the same types all the way down, -0.0 told from 0.0 (NaN never the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


def check_agrees(data: bytes):
    """scan(data) is None, or exactly json.loads(data); json.loads refusing means None."""
    got = _scan.scan(data)
    try:
        want = json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are both
        assert got is None, (data, got)
        return
    assert got is None or same(got, want), (data, got, want)


# ---- lines of the common shape, written with random whitespace and key order ----


class Raw(str):
    """JSON text written into a line as it is (a number spelled a given way)."""


class Esc(str):
    """A string the scanner takes escaped (an attribute value, a crowd label, a cart item)."""


SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def escaped(s: str, rnd: random.Random) -> str:
    """s as a JSON string with escapes chosen at random: what json must escape always, any
    other character maybe (a short form, or a backslash-u in either case, astral ones as a
    surrogate pair)."""
    out = []
    for c in s:
        roll = rnd.random()
        if c not in '"\\' and c >= " " and roll < 0.5:
            out.append(c)
        elif c in SHORT and roll < 0.8:
            out.append(SHORT[c])
        else:
            o = ord(c)
            units = [o] if o <= 0xFFFF else [0xD800 + (o - 0x10000 >> 10), 0xDC00 + (o & 0x3FF)]
            out += [(rnd.choice(["\\u%04x", "\\u%04X"])) % u for u in units]
    return '"' + "".join(out) + '"'


def dump(value, rnd: random.Random, ensure_ascii: bool, esc: bool = False) -> str:
    """value as JSON: random JSON whitespace between tokens, object keys in random order; Esc
    strings by json.dumps(ensure_ascii) or, with `esc`, by `escaped`, other strings without
    escapes (json.dumps(ensure_ascii=False) of what needs none)."""

    def ws():
        return "".join(rnd.choice(" \t\r\n") for _ in range(rnd.choice((0, 0, 0, 1, 2))))

    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        inner = [
            f"{ws()}{dump(k, rnd, ensure_ascii, esc)}{ws()}:{ws()}"
            f"{dump(v, rnd, ensure_ascii, esc)}{ws()}"
            for k, v in items
        ]
        return "{" + (",".join(inner) or ws()) + "}"
    if isinstance(value, list):
        inner = [f"{ws()}{dump(v, rnd, ensure_ascii, esc)}{ws()}" for v in value]
        return "[" + (",".join(inner) or ws()) + "]"
    if isinstance(value, Esc):
        return escaped(value, rnd) if esc else json.dumps(value, ensure_ascii=ensure_ascii)
    return json.dumps(value, ensure_ascii=False)


# printable ASCII json.dumps writes as it is (ensure_ascii also escapes DEL)
PLAIN = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\')
WIDE = st.one_of(
    PLAIN,
    st.just("\x7f"),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    st.characters(min_codepoint=0x80, exclude_categories=("Cs",)),  # up to U+10FFFF
)
# and what json always escapes: quote, backslash, control characters (and "/", which it may)
ANY = st.one_of(WIDE, st.sampled_from('"\\/\b\f\n\r\t'), st.characters(max_codepoint=0x1F))
CONSUMER = st.text(PLAIN, min_size=1, max_size=20)
DIGITS = st.text("0123456789", min_size=1, max_size=8)
# -?(0|[1-9][0-9]{0,14})(\.[0-9]{1,8})?([eE][+-]?[0-9]{1,8})?, finite (st.from_regex is slow)
NUMBER_TEXT = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", "-"]),
        st.one_of(st.just(0), st.integers(1, 10**15 - 1)).map(str),
        st.one_of(st.just(""), DIGITS.map(".".__add__)),
        st.one_of(
            st.just(""),
            st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), DIGITS).map("".join),
        ),
    ),
).filter(lambda t: not math.isinf(float(t)))


@st.composite
def common_lines(draw) -> bytes:
    """An audience line of the common shape: keys and times without anything json.dumps
    escapes (ASCII only when ensure_ascii is on), attribute values, crowd labels and cart items
    of any text written by json.dumps (ensure_ascii either way) or with random escapes,
    numbers as float() and int() would write them or spelled per the JSON grammar (exponents,
    -0, -0.0)."""
    ascii_only = draw(st.booleans())
    text = st.text(PLAIN if ascii_only else WIDE, max_size=10)
    value = st.text(draw(st.sampled_from([PLAIN, WIDE, ANY])), max_size=10).map(Esc)
    scalar = st.one_of(
        st.integers(-(10**15) + 1, 10**15 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        NUMBER_TEXT.map(Raw),
        st.sampled_from([Raw("-0"), Raw("-0.0"), Raw("0e0"), Raw("1E+2"), Raw("5e-324")]),
        value,
        st.booleans(),
        st.none(),
    )
    cart_add = st.fixed_dictionaries({"time": text, "item": value})
    rec = draw(
        st.fixed_dictionaries(
            {"consumer": CONSUMER},
            optional={
                "attrs": st.dictionaries(text, scalar, max_size=6),
                "crowds": st.lists(value, max_size=4),
                "exclusive": st.booleans(),
                "interested": st.booleans(),
                "cart_adds": st.lists(cart_add, max_size=3),
                "purchases": st.lists(text, max_size=3),
            },
        )
    )
    rnd = draw(st.randoms(use_true_random=False))
    lead = draw(st.sampled_from(["", " ", "\t\r\n "]))
    tail = draw(st.sampled_from(["", "\n", "\r\n", " \t\n"]))
    esc = draw(st.booleans())
    return (lead + dump(rec, rnd, ascii_only, esc) + tail).encode("utf-8")


@given(common_lines())
def test_common_shape_scans_to_what_json_gives(data):
    got = _scan.scan(data)
    assert got is not None, data
    assert same(got, json.loads(data)), (data, got)


JUNK = b'"\\{}[],: \t\n\x00\x1f\x7f\x80\xbf\xc0\xc1\xe0\xed\xf0\xf4\xf5\xffe.-+019tfnaxu'


@given(
    common_lines(),
    st.lists(st.tuples(st.integers(0), st.integers(0, 2), st.integers(0)), min_size=1, max_size=3),
)
def test_mutated_lines_scan_to_none_or_what_json_gives(data, edits):
    """Random byte edits (replace, insert, delete) of good lines, biased to JSON's special
    bytes and UTF-8's edge bytes."""
    buf = bytearray(data)
    for where, op, pick in edits:
        k = where % (len(buf) + 1)
        byte = JUNK[pick % len(JUNK)] if pick % 4 else pick % 256
        if op == 0 and k < len(buf):
            buf[k] = byte
        elif op == 1:
            buf.insert(k, byte)
        elif k < len(buf):
            del buf[k]
    check_agrees(bytes(buf))


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = ["consumer", "attrs", "crowds", "exclusive", "interested", "cart_adds", "purchases"]


@given(
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), JSON, max_size=5),
    st.booleans(),
)
def test_arbitrary_objects_scan_to_none_or_what_json_gives(rec, ensure_ascii):
    """Any JSON object under the line's keys (NaN and Infinity included, which json writes)."""
    check_agrees(json.dumps(rec, ensure_ascii=ensure_ascii).encode("utf-8"))


# ---- every rule, one case each ----

GOOD = {
    "consumer": "u1",
    "attrs": {"spend": 12, "level": 2.5, "city": "杭州", "vip": True, "old": False, "x": None},
    "crowds": ["love_new"],
    "exclusive": True,
    "interested": False,
    "cart_adds": [{"time": "2023-12-01T10:00:00+08:00", "item": "sku-1"}],
    "purchases": ["2023-12-05T12:00:00+08:00"],
}
GOOD_TEXT = json.dumps(GOOD, ensure_ascii=False)


def with_field(key: str, text: str) -> bytes:
    """The GOOD line with `key`'s value written as the JSON text `text` (raw)."""
    rec = dict(GOOD, **{key: Raw(text)})
    return dump(rec, random.Random(0), False).encode("utf-8")


def attr(text: str) -> bytes:
    """A line whose one attribute's value is the raw JSON text `text`."""
    return b'{"consumer": "u1", "attrs": {"a": ' + text.encode("utf-8") + b"}}"


def items(n: int, one: str) -> str:
    return "[" + ",".join([one] * n) + "]"


def many_attrs(n: int) -> str:
    return "{" + ",".join(f'"k{i}": {i}' for i in range(n)) + "}"


REFUSED = {
    # escapes outside attribute values, crowds and cart items (the full decoder reads them)
    "escape in consumer": b'{"consumer": "u\\"1"}',
    "unicode escape in consumer": b'{"consumer": "\\u0041"}',
    "escape in an attrs key": b'{"consumer": "u1", "attrs": {"\\u0061": 1}}',
    "escape in a top-level key": b'{"consum\\u0065r": "u1"}',
    "escape in a cart add key": with_field("cart_adds", '[{"tim\\u0065": "t", "item": "i"}]'),
    "escape in a cart time": with_field("cart_adds", '[{"time": "\\u0074", "item": "i"}]'),
    "escape in a purchase": with_field("purchases", '["\\t"]'),
    "unicode escape in a purchase": with_field("purchases", '["2023\\u002d12-05T12:00:00Z"]'),
    # escapes the scanner leaves to the full decoder, where it takes escapes (O12s: json.loads
    # keeps a lone surrogate, other decoders refuse it)
    "lone high surrogate": attr('"\\ud800"'),
    "lone high surrogate at the end": attr('"a\\uDBFF"'),
    "high surrogate and a letter": attr('"\\ud83dx"'),
    "high surrogate and a short escape": attr('"\\ud83d\\n"'),
    "two high surrogates": with_field("crowds", '["\\ud83d\\ud83d"]'),
    "lone low surrogate": with_field("crowds", '["\\udc00"]'),
    "reversed pair": with_field("cart_adds", '[{"time": "t", "item": "\\ude00\\ud83d"}]'),
    "high surrogate, low half truncated": attr('"\\ud83d\\ude0"'),
    "backslash x": attr('"\\x41"'),
    "backslash U": attr('"\\U0041"'),
    "backslash a": with_field("crowds", '["\\a"]'),
    "backslash-u of 2 digits": attr('"\\u12"'),
    "backslash-u of 3 digits at the end": b'{"consumer": "u1", "attrs": {"a": "\\u123',
    "backslash-u, not hex": attr('"\\u12G4"'),
    "backslash-u with a sign": attr('"\\u+123"'),
    "backslash before the quote": attr('"a\\"'),
    "backslash at the end": b'{"consumer": "u1", "crowds": ["a\\',
    "raw control byte beside an escape": attr('"\\n\x01"'),
    "bad UTF-8 beside an escape": b'{"consumer": "u1", "attrs": {"a": "\\n\xc0\xaf"}}',
    # duplicates
    "consumer twice": b'{"consumer": "u1", "consumer": "u2"}',
    "attrs twice": b'{"consumer": "u1", "attrs": {}, "attrs": {}}',
    "exclusive twice": b'{"consumer": "u1", "exclusive": true, "exclusive": true}',
    "an attrs key twice": attr('1, "a": 2'),
    "time twice in a cart add": with_field("cart_adds", '[{"time": "t", "time": "t"}]'),
    # control bytes in strings
    "tab in a value": attr('"a\tb"'),
    "NUL in a key": b'{"consumer": "u1", "attrs": {"a\x00": 1}}',
    "0x1f in a crowd": with_field("crowds", '["a\x1f"]'),
    "DEL in consumer": b'{"consumer": "u\x7f"}',
    # UTF-8 of every bad kind
    "lone continuation byte": b'{"consumer": "u1", "attrs": {"a": "\x80"}}',
    "overlong 2 bytes": b'{"consumer": "u1", "attrs": {"a": "\xc0\xaf"}}',
    "overlong 3 bytes": b'{"consumer": "u1", "attrs": {"a": "\xe0\x80\xaf"}}',
    "overlong 4 bytes": b'{"consumer": "u1", "attrs": {"a": "\xf0\x80\x80\xaf"}}',
    "surrogate U+D800": b'{"consumer": "u1", "attrs": {"a": "\xed\xa0\x80"}}',
    "above U+10FFFF": b'{"consumer": "u1", "attrs": {"a": "\xf4\x90\x80\x80"}}',
    "F5 lead": b'{"consumer": "u1", "attrs": {"a": "\xf5\x80\x80\x80"}}',
    "truncated before the quote": b'{"consumer": "u1", "attrs": {"a": "\xe6\x9d"}}',
    "truncated at the end": b'{"consumer": "u1", "crowds": ["\xe6\x9d',
    "bad continuation": b'{"consumer": "u1", "crowds": ["\xe6AA"]}',
    "bad UTF-8 in a key": b'{"consumer": "u1", "attrs": {"\xff": 1}}',
    # numbers
    "NaN": attr("NaN"),
    "Infinity": attr("Infinity"),
    "-Infinity": attr("-Infinity"),
    "16-digit int": attr("1234567890123456"),
    "16-digit negative int": attr("-1000000000000000"),
    "1e400": attr("1e400"),
    "-1e400": attr("-1e400"),
    "1.8e308": attr("1.8e308"),
    "leading zero": attr("01"),
    "plus sign": attr("+1"),
    "no integer part": attr(".5"),
    "no fraction digits": attr("1."),
    "no exponent digits": attr("1e"),
    "exponent sign only": attr("1e+"),
    "minus only": attr("-"),
    "hex": attr("0x10"),
    "float text of 65 bytes": attr("0." + "1" * 63),
    # attrs of the wrong shape
    "nested object": attr('{"b": 1}'),
    "nested array": attr("[1]"),
    "attrs null": with_field("attrs", "null"),
    "attrs an array": with_field("attrs", "[]"),
    "attrs a string": with_field("attrs", '"x"'),
    "attrs value missing": attr(""),
    # the other fields' types
    "crowds null": with_field("crowds", "null"),
    "crowds of numbers": with_field("crowds", "[1]"),
    "crowds a string": with_field("crowds", '"a"'),
    "exclusive null": with_field("exclusive", "null"),
    "exclusive 1": with_field("exclusive", "1"),
    "exclusive a string": with_field("exclusive", '"true"'),
    "interested null": with_field("interested", "null"),
    "cart_adds null": with_field("cart_adds", "null"),
    "empty cart add": with_field("cart_adds", "[{}]"),
    "cart add without item": with_field("cart_adds", '[{"time": "t"}]'),
    "cart add with a third key": with_field("cart_adds", '[{"time": "t", "item": "i", "x": "y"}]'),
    "cart add time a number": with_field("cart_adds", '[{"time": 1, "item": "i"}]'),
    "cart add item null": with_field("cart_adds", '[{"time": "t", "item": null}]'),
    "cart add a string": with_field("cart_adds", '["x"]'),
    "purchases null": with_field("purchases", "null"),
    "purchases of numbers": with_field("purchases", "[1]"),
    "purchases of nulls": with_field("purchases", "[null]"),
    "purchases a string": with_field("purchases", '"x"'),
    # more than MAX_* items
    "MAX_ATTRS + 1": with_field("attrs", many_attrs(MAX_ATTRS + 1)),
    "MAX_LABELS + 1": with_field("crowds", items(MAX_LABELS + 1, '"c"')),
    "MAX_CART + 1": with_field("cart_adds", items(MAX_CART + 1, '{"time": "t", "item": "i"}')),
    "MAX_BUYS + 1": with_field("purchases", items(MAX_BUYS + 1, '"p"')),
    # keys
    "unknown key": b'{"consumer": "u1", "extra": 1}',
    "key in another case": b'{"Consumer": "u1"}',
    "key with a space": b'{"consumer ": "u1"}',
    # the line around the object
    "trailing garbage": GOOD_TEXT.encode() + b"x",
    "trailing comma after the object": GOOD_TEXT.encode() + b",",
    "two objects": b'{"consumer": "u1"}{"consumer": "u2"}',
    "two objects on a line": b'{"consumer": "u1"}\n{"consumer": "u2"}\n',
    "unclosed object": b'{"consumer": "u1"',
    "trailing comma in the object": b'{"consumer": "u1",}',
    "trailing comma in an array": with_field("crowds", '["a",]'),
    "missing colon": b'{"consumer" "u1"}',
    "NUL after the newline": b'{"consumer": "u1"}\n\x00',
    "UTF-8 byte-order mark": b'\xef\xbb\xbf{"consumer": "u1"}',
    "vertical tab is not JSON whitespace": b'\x0b{"consumer": "u1"}',
    "NBSP is not JSON whitespace": b'{"consumer":\xc2\xa0"u1"}',
    "not an object": b'["u1"]',
    "a string": b'"u1"',
    "empty": b"",
    "blank": b" \n",
    # consumer
    "no consumer": b'{"attrs": {"a": 1}}',
    "empty object": b"{}",
    "non-ASCII consumer": '{"consumer": "杭州"}'.encode(),
    "empty consumer": b'{"consumer": ""}',
    "consumer of 1025 bytes": b'{"consumer": "' + b"u" * 1025 + b'"}',
    "consumer a number": b'{"consumer": 1}',
    "consumer null": b'{"consumer": null}',
}


@pytest.mark.parametrize("data", list(REFUSED.values()), ids=list(REFUSED))
def test_not_the_common_shape_is_none(data):
    assert _scan.scan(data) is None
    assert _scan.count_common([data]) == 0
    check_agrees(data)  # and json.loads refuses it or reads it (the full path decides)


ACCEPTED = {
    "the example line": GOOD_TEXT.encode("utf-8"),
    "CRLF": GOOD_TEXT.encode("utf-8") + b"\r\n",
    "whitespace everywhere": b' \t{ "consumer" :\r\n"u1" , "crowds" : [ "a" , "b" ] } \n',
    "empty containers": b'{"consumer":"u1","attrs":{},"crowds":[],"cart_adds":[],"purchases":[]}',
    "-0 is the int 0": attr("-0"),
    "-0.0 is a negative zero": attr("-0.0"),
    "15-digit ints": attr('999999999999999, "b": -999999999999999'),
    "exponents": attr('1E5, "b": 2.5e-3, "c": 0e0, "d": -1E+2'),
    "16 integer digits in a float": attr('1000000000000000.0, "b": -12345678901234567e2'),
    "underflow to 0.0": attr("1e-400"),
    "5e-324": attr("5e-324"),
    "largest double": attr("1.7976931348623157e308"),
    "float text of 64 bytes": attr("0." + "1" * 62),
    "DEL in an attrs string": attr('"\x7f"'),
    "4-byte UTF-8": attr('"\U0010ffff\U0001f600"'),
    # escapes in attribute values, crowds and cart items
    "every short escape": attr('"\\" \\\\ \\/ \\b \\f \\n \\r \\t"'),
    "backslash-u of ASCII, either case": attr('"\\u0041\\u004a\\u004A"'),
    "backslash-u of NUL and DEL": attr('"\\u0000\\u001f\\u007f"'),
    "backslash-u of 2 and 3 UTF-8 bytes": attr('"\\u00e9\\u07FF\\u0800\\uFFFF\\ue000"'),
    "CJK by backslash-u": attr('"\\u676d\\u5dde"'),
    "surrogate pairs": attr('"\\ud83d\\ude00\\uD800\\uDC00\\udbff\\udfff"'),
    "escapes among raw UTF-8": attr('"杭\\u5dde\\n州\U0001f600\\ud83d\\ude00é"'),
    "escaped crowds": with_field("crowds", '["\\u4e0a\\u6d77", "a\\/b", "\\"q\\""]'),
    "escaped cart item": with_field("cart_adds", '[{"item": "\\u8d27\\u54c1\\n", "time": "t"}]'),
    "escaped string of 300 bytes": attr('"' + "\\u676d" * 50 + '"'),
    "escaped string of 2000 bytes": attr('"' + "\\u676d\\n" * 250 + '"'),
    "ensure_ascii line": json.dumps(
        dict(GOOD, crowds=["上海", 'q"'], cart_adds=[{"time": "t", "item": "货品\x7f"}])
    ).encode(),
    "consumer of 1024 bytes": b'{"consumer": "' + b"u" * 1024 + b'"}',
    "consumer of printable ASCII": b'{"consumer": " ~!#$%&\'()*+,-./09:;<=>?@AZ[]^_`az{|}"}',
    "MAX_ATTRS": with_field("attrs", many_attrs(MAX_ATTRS)),
    "MAX_LABELS": with_field("crowds", items(MAX_LABELS, '"c"')),
    "MAX_CART": with_field("cart_adds", items(MAX_CART, '{"item": "i", "time": "t"}')),
    "MAX_BUYS": with_field("purchases", items(MAX_BUYS, '"p"')),
}


@pytest.mark.parametrize("data", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_edges_of_the_common_shape_scan(data):
    got = _scan.scan(data)
    assert got is not None, data
    assert same(got, json.loads(data)), (got, json.loads(data))
    assert _scan.count_common([data]) == 1


def test_int_and_float_kinds():
    """Integer literals are ints (exact), others floats as float() reads them (V_INT, V_FLOAT)."""
    got = _scan.scan(attr('-0, "b": -0.0, "c": 1e2, "d": 123456789012345, "e": 0.1'))
    assert got is not None
    assert got["attrs"] == {"a": 0, "b": -0.0, "c": 100.0, "d": 123456789012345, "e": 0.1}
    assert [type(v) for v in got["attrs"].values()] == [int, float, float, int, float]
    assert math.copysign(1.0, got["attrs"]["b"]) == -1.0


def test_bench_workload_all_scans(tmp_path):
    """The benchmark's audience (benchmarks/bench_planner.py) is all of the common shape."""
    path = tmp_path / "a.jsonl"
    bench_planner_module().write_audience(path, 2000)
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2000
    assert _scan.count_common(lines) == 2000
    for line in lines:
        assert same(_scan.scan(line), json.loads(line)), line


@pytest.mark.parametrize("k", range(41))
def test_a_byte_at_every_offset_of_a_long_string(k):
    """Strings are read 16 bytes at a time where the CPU allows: the byte that ends a plain
    run is found at every offset, in the first block, a later one and the bytes after them."""
    run = "a" * k

    def both(value: str, consumer: str = "u1") -> bytes:
        return json.dumps(
            {"consumer": consumer, "attrs": {run: value}}, ensure_ascii=False
        ).encode()

    for bad in ("\x00", "\x1f", "\\x", "\\u12", "\\udc00", "\\ud83d\\u0041"):
        # raw control bytes (json.dumps would escape them) and escapes left to the full path
        assert _scan.scan(both("x").replace(b'"x"', f'"{run}{bad}b"'.encode())) is None
    for esc in ("\\\\b", "\\u676d", "\\ud83d\\ude00", "\\n"):  # escapes it takes
        good = both("x").replace(b'"x"', f'"{run}{esc}{run}"'.encode())
        assert same(_scan.scan(good), json.loads(good)), good
    assert _scan.scan(b'{"consumer": "' + run.encode() + b'\x80"}') is None
    for good in (both(run + "\x7f" + run), both(run + "é" + run), both(run + "杭州"), both(run)):
        assert same(_scan.scan(good), json.loads(good)), good
    for consumer in (run + "\x7f", run + "é", run + "\x01"):
        assert _scan.scan(both("x", consumer).replace(b"\\u0001", b"\x01")) is None
    if k:
        assert same(_scan.scan(both("x", run)), json.loads(both("x", run)))
    assert _scan.scan(b'{"consumer": "u1", "crowds": ["' + run.encode()) is None  # unterminated
