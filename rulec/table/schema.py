"""Schema check of a table body, so untrusted table bytes can never crash the runtime."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from rulec.common.vocab import (
    ATTR_TYPES,
    CAMPAIGN_FIELDS,
    DIMS,
    KINDS,
    MODES,
    NOBODY_TARGETS,
    STRENGTHS,
)

MAX_EXPR_DEPTH = 64
MAX_ITEMS = 1_000_000
# The matcher keeps one group row per tree value (rulec/matching/_rows.pxi): its non-zero
# 64-group words, 12 bytes each, or all W = groups / 64 of them when more than a quarter are
# non-zero. So a value held by k groups costs at most 12 x min(4k, W) bytes.
MAX_ROW_BITS = 1 << 30
OPS = ("==", "!=", "<", "<=", ">", ">=")
# A decoded table body is untrusted JSON: any shape until this module has checked it.
Json = Any


class Bad(Exception):
    pass


def _is(v: Json, t: type, what: str) -> Json:
    if t is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif t is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    else:
        ok = isinstance(v, t)
    if not ok:
        raise Bad(f"{what} should be {getattr(t, '__name__', t)}, got {type(v).__name__}")
    return v


def _opt(v: Json, t: type, what: str) -> Json:
    return v if v is None else _is(v, t, what)


def _strs(v: Json, what: str) -> Json:
    _is(v, list, what)
    if len(v) > MAX_ITEMS:
        raise Bad(f"{what} is too long")
    for i, s in enumerate(v):
        _is(s, str, f"{what}[{i}]")
    return v


def _keys(d: Json, what: str, required: Iterable[str], optional: Iterable[str] = ()) -> None:
    _is(d, dict, what)
    missing = [k for k in required if k not in d]
    if missing:
        raise Bad(f"{what} lacks {missing[0]!r}")
    extra = set(d) - set(required) - set(optional)
    if extra:
        raise Bad(f"{what} has unknown key {sorted(extra)[0]!r}")


def _lit(v: Json, what: str) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise Bad(f"{what} holds a number out of range")
    if isinstance(v, (bool, int, float, str)):
        return
    raise Bad(f"{what} is not a literal")


def check_expr(e: Json, what: str = "expr", depth: int = 0) -> None:
    if depth > MAX_EXPR_DEPTH:
        raise Bad(f"{what} is nested deeper than {MAX_EXPR_DEPTH}")
    _is(e, list, what)
    if not e or not isinstance(e[0], str):
        raise Bad(f"{what} has no operator")
    op, n = e[0], len(e)
    if op == "const" and n == 2:
        _is(e[1], bool, what)
    elif op in ("and", "or") and n == 2:
        _is(e[1], list, what)
        if len(e[1]) < 1:
            raise Bad(f"{what}: {op} needs operands")
        for i, x in enumerate(e[1]):
            check_expr(x, f"{what}.{op}[{i}]", depth + 1)
    elif op == "not" and n == 2:
        check_expr(e[1], f"{what}.not", depth + 1)
    elif op == "cmp" and n == 4:
        if e[1] not in OPS:
            raise Bad(f"{what}: unknown comparison {e[1]!r}")
        _is(e[2], str, what)
        _lit(e[3], what)
    elif op in ("in", "not_in") and n == 3:
        _is(e[1], str, what)
        _is(e[2], list, what)
        for x in e[2]:
            _lit(x, what)
    elif op == "contains" and n == 3:
        _is(e[1], str, what)
        _is(e[2], str, what)
    elif op == "contains_any" and n == 3:
        _is(e[1], str, what)
        _strs(e[2], what)
    else:
        raise Bad(f"{what}: unknown form {op!r}/{n}")


def _check_preds(preds: Json, what: str) -> None:
    _is(preds, list, what)
    for i, p in enumerate(preds):
        _keys(p, f"{what}[{i}]", ("name", "expr"))
        _is(p["name"], str, f"{what}[{i}].name")
        check_expr(p["expr"], f"{what}[{i}].expr")


def _coupon(c: Json, what: str) -> None:
    if c is None:
        return
    _keys(c, what, ("id", "kind"))
    _is(c["id"], str, what)
    _opt(c["kind"], str, what)


def _check_campaign(c: Json, what: str) -> None:
    _keys(c, what, CAMPAIGN_FIELDS)
    _is(c["name"], str, what)
    if c["kind"] not in KINDS:
        raise Bad(f"{what}: unknown kind {c['kind']!r}")
    _is(c["send_at"], str, what)
    for k in ("promo", "date", "configured_at", "created_at", "copy"):
        _opt(c[k], str, f"{what}.{k}")
    _coupon(c["coupon"], f"{what}.coupon")
    for part in ("targets", "segments"):
        _is(c[part], list, f"{what}.{part}")
        for i, t in enumerate(c[part]):
            w = f"{what}.{part}[{i}]"
            _keys(t, w, ("crowd", "copy", "coupon"))
            _is(t["crowd"], str, w)
            _opt(t["copy"], str, w)
            _coupon(t["coupon"], w + ".coupon")


def _check(body: Json) -> None:
    _keys(
        body,
        "body",
        (
            "shop",
            "timezone",
            "routing",
            "outreach",
            "attributes",
            "crowds",
            "intents",
            "labels",
            "agents",
            "groups",
            "tree",
            "promos",
            "facts",
            "campaigns",
        ),
    )
    _is(body["shop"], str, "shop")
    _is(body["timezone"], str, "timezone")
    r = body["routing"]
    _keys(
        r,
        "routing",
        (
            "when_nobody_online",
            "robot_first",
            "exclusive_direct",
            "busy_threshold",
            "sticky_hold",
            "sticky_window",
            "drain_pool",
        ),
    )
    if r["when_nobody_online"] not in NOBODY_TARGETS:
        raise Bad("routing.when_nobody_online is not a known target")
    for k in ("robot_first", "exclusive_direct", "drain_pool"):
        _is(r[k], bool, f"routing.{k}")
    for k in ("busy_threshold", "sticky_hold", "sticky_window"):
        if _is(r[k], int, f"routing.{k}") < 0:
            raise Bad(f"routing.{k} is negative")
    o = body["outreach"]
    _keys(o, "outreach", ("cap_window", "max_delay"))
    for k in ("cap_window", "max_delay"):
        if _is(o[k], int, f"outreach.{k}") < 0:
            raise Bad(f"outreach.{k} is negative")
    _is(body["attributes"], dict, "attributes")
    for k, t in body["attributes"].items():
        if t not in ATTR_TYPES:
            raise Bad(f"attribute {k!r} has unknown type {t!r}")
    _check_preds(body["crowds"], "crowds")
    _check_preds(body["intents"], "intents")
    _keys(body["labels"], "labels", ("crowd", "intent"))
    _strs(body["labels"]["crowd"], "labels.crowd")
    _strs(body["labels"]["intent"], "labels.intent")
    _is(body["agents"], list, "agents")
    ids = set()
    for i, a in enumerate(body["agents"]):
        _keys(a, f"agents[{i}]", ("id", "level"))
        ids.add(_is(a["id"], str, f"agents[{i}].id"))
        if not 1 <= _is(a["level"], int, f"agents[{i}].level") <= 5:
            raise Bad(f"agents[{i}].level out of 1..5")
    groups = _is(body["groups"], list, "groups")
    for i, g in enumerate(groups):
        w = f"groups[{i}]"
        _keys(
            g,
            w,
            ("name", "agents", "crowd", "product", "intent", "order", "mode", "strength", "robot"),
        )
        _is(g["name"], str, w)
        for a in _strs(g["agents"], w + ".agents"):
            if a not in ids:
                raise Bad(f"{w} names unknown agent {a!r}")
        for d in DIMS:
            _strs(g[d], f"{w}.{d}")
        if g["mode"] not in MODES:
            raise Bad(f"{w}.mode is unknown")
        if g["mode"] == "conversion" and g["strength"] not in STRENGTHS:
            raise Bad(f"{w}.strength is unknown")
        _is(g["robot"], bool, w + ".robot")
    t = body["tree"]
    _keys(t, "tree", ("dims", "bound", "index"))
    if t["dims"] != list(DIMS):
        raise Bad("tree.dims is not crowd, product, intent, order")
    _keys(t["bound"], "tree.bound", DIMS)
    _keys(t["index"], "tree.index", DIMS)
    n = len(groups)
    for d in DIMS:
        _check_ids(t["bound"][d], n, f"tree.bound.{d}")
        _is(t["index"][d], dict, f"tree.index.{d}")
        for _v, ids_ in t["index"][d].items():
            _check_ids(ids_, n, f"tree.index.{d}")
    _is(body["promos"], dict, "promos")
    for k, p in body["promos"].items():
        _keys(p, f"promos.{k}", ("presale_start", "last_day"))
        _opt(p["presale_start"], str, f"promos.{k}")
        _is(p["last_day"], str, f"promos.{k}")
    f = body["facts"]
    _keys(
        f,
        "facts",
        (
            "tool_level",
            "relationships_last_month_end",
            "advanced_relationships_this_month",
            "grants",
        ),
    )
    _opt(f["tool_level"], str, "facts.tool_level")
    _opt(f["relationships_last_month_end"], int, "facts")
    _opt(f["advanced_relationships_this_month"], int, "facts")
    _strs(f["grants"], "facts.grants")
    _is(body["campaigns"], list, "campaigns")
    for i, c in enumerate(body["campaigns"]):
        _check_campaign(c, f"campaigns[{i}]")


def _check_ids(ids: Json, n: int, what: str) -> None:
    _is(ids, list, what)
    prev = -1
    for x in ids:
        if not isinstance(x, int) or isinstance(x, bool) or not prev < x < n:
            raise Bad(f"{what} holds a bad group index")
        prev = x


def size_problem(body: Json) -> str | None:
    """Why a body would make the matcher too large, or None (a malformed body is
    check_body's to report)."""
    try:
        t = body["tree"]["index"]
        words = (len(body["groups"]) + 63) // 64
        rows = (min(4 * len(ids), words) for d in DIMS for ids in t[d].values())
        bits = 96 * (sum(rows) + 6 * words)  # + the row of every group, 5 scratch rows
    except (KeyError, TypeError, AttributeError):
        return None
    if bits > MAX_ROW_BITS:
        return (
            f"its decision tree needs {bits:,} bits of group bitsets "
            f"(96 per row word; at most {MAX_ROW_BITS:,})"
        )
    return None


def check_body(body: Json) -> str | None:
    """None when `body` is a well-formed table body, else what is wrong with it."""
    try:
        _check(body)
    except Bad as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None
