"""model.Shop -> YAML in the contract's form and key order (`rulec fmt --to yaml`)."""
from __future__ import annotations

import re

from rulec.compiler import model as m
from rulec.compiler.printer_rules import duration, expr

_PLAIN = re.compile(r"[^\W\d][\w\-./+]*")
_SPECIAL = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _yaml_printable(ch: str) -> bool:
    o = ord(ch)
    return (0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD
            or 0x10000 <= o <= 0x10FFFF) and ch not in "\u2028\u2029\ufeff"


def dq(text) -> str:
    """A YAML double-quoted scalar (escapes everything a YAML reader would not take raw)."""
    out = []
    for ch in str(text):
        if ch in _ESC:
            out.append(_ESC[ch])
        elif _yaml_printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def scalar(text) -> str:
    """A string as a plain scalar when YAML reads it back as the same string, else quoted."""
    s = str(text)
    if _PLAIN.fullmatch(s) and s.lower() not in _SPECIAL:
        return s
    return dq(s)


def predicate(text: str) -> str:
    """A predicate: double quotes, or single quotes when it holds double quotes (contract)."""
    if '"' in text and "'" not in text and all(_yaml_printable(c) for c in text):
        return f"'{text}'"
    return dq(text)


def flow_list(items) -> str:
    return "[" + ", ".join(scalar(i) for i in items) + "]"


def coupon(c: m.Coupon) -> str:
    if c.kind is None:
        return scalar(c.id)
    return f"{{id: {scalar(c.id)}, kind: {scalar(c.kind)}}}"


def target(t: m.Target) -> str:
    parts = [f"crowd: {scalar(t.crowd.name)}"]
    if t.copy is not None:
        parts.append(f"copy: {dq(t.copy)}")
    if t.coupon is not None:
        parts.append(f"coupon: {coupon(t.coupon)}")
    return "{" + ", ".join(parts) + "}"


def _bool(v) -> str:
    return "true" if v else "false"


def routing(r: dict) -> list:
    out = []
    for key in ("when_nobody_online", "robot_first", "exclusive_direct", "busy_threshold"):
        if key in r:
            v = r[key].value
            text = scalar(v) if key == "when_nobody_online" else (
                _bool(v) if key in ("robot_first", "exclusive_direct") else str(int(v)))
            out.append(f"  {key}: {text}")
    sticky = [f"{k}: {duration(r['sticky_' + k].value)}" for k in ("hold", "window")
              if "sticky_" + k in r]
    if sticky:
        out.append("  sticky: {" + ", ".join(sticky) + "}")
    if "drain_pool" in r:
        out.append(f"  drain_pool: {_bool(r['drain_pool'].value)}")
    return out


def group(g: m.Group) -> list:
    out = [f"  {scalar(g.name)}:"]
    for key in ("agents", "crowd", "product", "intent", "order"):
        refs = getattr(g, key)
        if refs:
            out.append(f"    {key}: {flow_list(r.name for r in refs)}")
    if g.strength is not None:
        out.append(f"    mode: {{{scalar(g.mode)}: {scalar(g.strength)}}}")
    elif g.mode != "efficiency":
        out.append(f"    mode: {scalar(g.mode)}")
    if g.robot:
        out.append("    robot: true")
    if len(out) == 1:
        out[0] += " {}"
    return out


def facts(f: dict) -> list:
    out = []
    for key in m.FACT_KEYS:
        if key in f:
            v = f[key].value
            text = (flow_list(v) if key == "grants" else
                    scalar(v) if key == "tool_level" else str(int(v)))
            out.append(f"  {key}: {text}")
    return out


def campaign(c: m.Campaign) -> list:
    out = [f"  - name: {scalar(c.name)}", f"    kind: {scalar(c.kind.value)}"]
    for key in ("send_at", "promo", "date", "configured_at", "created_at", "copy", "coupon"):
        v = getattr(c, key)
        if v is None:
            continue
        if key == "promo":
            out.append(f"    promo: {scalar(v.name)}")
        elif key == "coupon":
            out.append(f"    coupon: {coupon(v)}")
        else:
            out.append(f"    {key}: {dq(v.value)}")
    for key in ("targets", "segments"):
        items = getattr(c, key)
        if items:
            out.append(f"    {key}:")
            out += [f"      - {target(t)}" for t in items]
    return out


def print_yaml(shop: m.Shop) -> str:
    """The shop as YAML in the contract's key order; parse_yaml reads back the same model."""
    lines = [f"shop: {scalar(shop.name)}"]
    if shop.timezone is not None:
        lines.append(f"timezone: {scalar(shop.timezone.value)}")
    if shop.routing:
        lines += ["routing:"] + routing(shop.routing)
    if shop.attributes:
        lines += ["attributes:"] + [f"  {scalar(a.name)}: {scalar(a.type)}"
                                    for a in shop.attributes]
    for key, defs in (("crowds", shop.crowds), ("intents", shop.intents)):
        if defs:
            lines += [f"{key}:"] + [f"  {scalar(d.name)}: {predicate(expr(d.expr))}"
                                    for d in defs]
    if shop.agents:
        lines += ["agents:"] + [f"  {scalar(a.id)}: " + (f"{{level: {a.level}}}"
                                                         if a.level != 3 else "{}")
                                for a in shop.agents]
    if shop.groups:
        lines.append("groups:")
        for g in shop.groups:
            lines += group(g)
    if shop.promos:
        lines.append("promos:")
        for p in shop.promos:
            parts = [f"{k}: {dq(getattr(p, k).value)}" for k in ("presale_start", "last_day")
                     if getattr(p, k) is not None]
            lines.append(f"  {scalar(p.name)}: {{{', '.join(parts)}}}")
    if shop.facts:
        lines += ["facts:"] + facts(shop.facts)
    if shop.outreach:
        lines += ["outreach:"] + [f"  {k}: {duration(shop.outreach[k].value)}"
                                  for k in ("cap_window", "max_delay") if k in shop.outreach]
    if shop.campaigns:
        lines.append("campaigns:")
        for c in shop.campaigns:
            lines += campaign(c)
    return "\n".join(lines) + "\n"
