"""model.Shop -> YAML in the contract's form and key order (`rulec fmt --to yaml`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Set

from rulec.compiler import model as m
from rulec.compiler.printer_rules import Comments, Key, Lines, duration, expr

_PLAIN = re.compile(r"[^\W\d][\w\-./+]*")
_SPECIAL = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _yaml_printable(ch: str) -> bool:
    o = ord(ch)
    return (
        0x20 <= o <= 0x7E
        or 0xA0 <= o <= 0xD7FF
        or 0xE000 <= o <= 0xFFFD
        or 0x10000 <= o <= 0x10FFFF
    ) and ch not in "\u2028\u2029\ufeff"


def dq(text: object) -> str:
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


def scalar(text: object) -> str:
    """A string as a plain scalar when YAML reads it back as the same string, else quoted."""
    s = str(text)
    if _PLAIN.fullmatch(s) and s.lower() not in _SPECIAL:
        return s
    return dq(s)


SIMPLE_KEY_MAX = 1000  # YAML readers take a simple key of at most 1,024 characters


def map_key(text: object, indent: str = "  ") -> str:
    """A mapping key and its `:`; a long name (a quoted name over the YAML simple-key limit)
    as an explicit `? key` line, so that every name .rules accepts prints and reads back."""
    k = scalar(text)
    if len(k) <= SIMPLE_KEY_MAX:
        return f"{indent}{k}:"
    return f"{indent}? {k}\n{indent}:"


def predicate(text: str) -> str:
    """A predicate: double quotes, or single quotes when it holds double quotes (contract)."""
    if '"' in text and "'" not in text and all(_yaml_printable(c) for c in text):
        return f"'{text}'"
    return dq(text)


def flow_list(items: Iterable[object]) -> str:
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


def _bool(v: object) -> str:
    return "true" if v else "false"


def routing(r: dict[str, m.Value]) -> list[str]:
    out = []
    for key in ("when_nobody_online", "robot_first", "exclusive_direct", "busy_threshold"):
        if key in r:
            v = r[key].value
            text = (
                scalar(v)
                if key == "when_nobody_online"
                else (_bool(v) if key in ("robot_first", "exclusive_direct") else str(int(v)))
            )
            out.append(f"  {key}: {text}")
    sticky = [
        f"{k}: {duration(r['sticky_' + k].value)}" for k in ("hold", "window") if "sticky_" + k in r
    ]
    if sticky:
        out.append("  sticky: {" + ", ".join(sticky) + "}")
    if "drain_pool" in r:
        out.append(f"  drain_pool: {_bool(r['drain_pool'].value)}")
    return out


def group(g: m.Group) -> list[str]:
    out = [map_key(g.name)]
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


def facts(f: dict[str, m.Value]) -> list[str]:
    out = []
    for key in m.FACT_KEYS:
        if key in f:
            v = f[key].value
            text = (
                flow_list(v)
                if key == "grants"
                else scalar(v)
                if key == "tool_level"
                else str(int(v))
            )
            out.append(f"  {key}: {text}")
    return out


def campaign(c: m.Campaign) -> list[str]:
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


def entries(shop: m.Shop) -> Lines:
    """The YAML as (item key, lines), keyed like printer_rules.sections keys its items."""
    out: Lines = [] if shop.tests_only else [(("shop",), [f"shop: {scalar(shop.name)}"])]
    if shop.timezone is not None:
        out.append((("timezone",), [f"timezone: {scalar(shop.timezone.value)}"]))
    if shop.routing:
        out.append((("routing",), ["routing:"] + routing(shop.routing)))

    def section(header: str, kind: str, items: list[list[str]]) -> None:
        if items:
            out.append((("header", header), [f"{header}:"]))
            out.extend(((kind, i), lines) for i, lines in enumerate(items))

    section(
        "attributes",
        "attribute",
        [[f"{map_key(a.name)} {scalar(a.type)}"] for a in shop.attributes],
    )
    for header, kind, defs in (
        ("crowds", "crowd", shop.crowds),
        ("intents", "intent", shop.intents),
    ):
        section(header, kind, [[f"{map_key(d.name)} {predicate(expr(d.expr))}"] for d in defs])
    section(
        "agents",
        "agent",
        [
            [f"{map_key(a.id)} " + (f"{{level: {a.level}}}" if a.level != 3 else "{}")]
            for a in shop.agents
        ],
    )
    section("groups", "group", [group(g) for g in shop.groups])
    section(
        "promos",
        "promo",
        [
            [
                f"{map_key(p.name)} {{"
                + ", ".join(
                    f"{k}: {dq(getattr(p, k).value)}"
                    for k in ("presale_start", "last_day")
                    if getattr(p, k) is not None
                )
                + "}"
            ]
            for p in shop.promos
        ],
    )
    if shop.facts:
        out.append((("facts",), ["facts:"] + facts(shop.facts)))
    if shop.outreach:
        out.append(
            (
                ("outreach",),
                ["outreach:"]
                + [
                    f"  {k}: {duration(shop.outreach[k].value)}"
                    for k in ("cap_window", "max_delay")
                    if k in shop.outreach
                ],
            )
        )
    section("campaigns", "campaign", [campaign(c) for c in shop.campaigns])
    from rulec.compiler.printer_tests import yaml_lines

    section("tests", "test", [yaml_lines(t) for t in shop.tests])
    return out


def print_yaml(shop: m.Shop, comments: Comments | None = None) -> str:
    """The shop as YAML in the contract's key order; parse_yaml reads back the same model.

    `comments` (printer_rules.attach_comments over yaml_statements) are put back."""
    comments = comments or {}
    lines: list[str] = []
    printed: set[Key] = {("end",), ("head",)}
    lines += comments.get(("head",), {"before": []})["before"]
    if lines:
        lines.append("")
    for key, item in entries(shop):
        printed.add(key)
        slot = comments.get(key, {"before": [], "after": None})
        indent = item[0][: len(item[0]) - len(item[0].lstrip(" "))]
        lines += [indent + c for c in slot["before"]]
        if slot["after"] is not None and len(item) == 1:
            item = [f"{item[0]}  {slot['after']}"]
        elif slot["after"] is not None:
            lines.append(indent + slot["after"])
        lines += item
    lines += [
        c
        for key, slot in comments.items()
        if key not in printed
        for c in slot["before"] + ([slot["after"]] if slot["after"] else [])
    ]
    lines += comments.get(("end",), {"before": []})["before"]
    return "\n".join(lines) + "\n"


# -- comments of a YAML source -----------------------------------------------------------------
_SECTIONS = {
    "attributes": "attribute",
    "crowds": "crowd",
    "intents": "intent",
    "agents": "agent",
    "groups": "group",
    "promos": "promo",
}


def yaml_statements(text: str) -> tuple[list[tuple[Key, int, int]], set[int]]:
    """(statements, lines inside multi-line scalars) of a well-formed YAML rules source:
    statements are (key, first line, last line), keyed as `entries` keys its items."""
    import yaml

    from rulec.compiler.frontend_yaml import LOADER

    out: list[tuple[Key, int, int]] = []
    inside: set[int] = set()
    try:  # the same loader as the frontend, so what compiled also composes here
        root = yaml.compose(text, Loader=LOADER)
    except (yaml.YAMLError, RecursionError):
        return out, inside  # no comments kept rather than no output
    if not isinstance(root, yaml.MappingNode):
        return out, inside
    stack = [root]
    while stack:  # lines of block or folded scalars hold no comments
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode) and node.end_mark.line > node.start_mark.line:
            inside.update(range(node.start_mark.line + 2, node.end_mark.line + 2))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(c for kv in node.value for c in kv)

    def last_line(node: yaml.Node) -> int:
        """The last line holding the node's text (a block collection's end mark lies at the
        next token, after any comments that follow it)."""
        if isinstance(node, yaml.ScalarNode) or (
            isinstance(node, yaml.CollectionNode) and node.flow_style
        ):
            end = node.end_mark
            return end.line + (1 if end.column > 0 else 0)
        kids = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [c for kv in node.value for c in kv]
        )
        return max((last_line(c) for c in kids), default=node.start_mark.line + 1)

    for k, v in root.value:
        if not isinstance(k, yaml.ScalarNode):
            continue
        key = k.value
        if key in ("shop", "timezone", "routing", "facts", "outreach"):
            out.append(((key,), k.start_mark.line + 1, last_line(v)))
        elif key in _SECTIONS and isinstance(v, yaml.MappingNode):
            out += [
                ((_SECTIONS[key], i), ik.start_mark.line + 1, last_line(iv))
                for i, (ik, iv) in enumerate(v.value)
            ]
        elif key in ("campaigns", "tests") and isinstance(v, yaml.SequenceNode):
            out += [
                ((key[:-1], i), item.start_mark.line + 1, last_line(item))
                for i, item in enumerate(v.value)
            ]
    out.sort(key=lambda s: s[1])
    return out, inside


def scan_yaml_comments(text: str, inside: Set[int] = frozenset()) -> list[tuple[int, str, bool]]:
    """(line, comment, own_line) for every YAML comment: `#` at a line's start or after a
    space, outside quotes, on a line that is not inside a multi-line scalar."""
    found = []
    for no, line in enumerate(text.splitlines(), 1):
        if no in inside:
            continue
        quote_ch, i = None, 0
        while i < len(line):
            ch = line[i]
            if quote_ch == '"' and ch == "\\":
                i += 1
            elif quote_ch and ch == quote_ch:
                quote_ch = None
            elif not quote_ch and ch in "\"'" and (i == 0 or line[i - 1] in " \t[{,:-"):
                quote_ch = ch
            elif not quote_ch and ch == "#" and (i == 0 or line[i - 1] in " \t"):
                found.append((no, line[i:].rstrip(), not line[:i].strip()))
                break
            i += 1
    return found
