"""model.Shop -> canonical `.rules` text (`rulec fmt`); predicates with minimal parentheses."""

from __future__ import annotations

import re
from typing import Any, TypedDict

from rulec.compiler import model as m

ID_RE = re.compile(r"[^\W\d](?:[\w-]*\w)?")
NUMID_RE = re.compile(r"\d(?:[\w-]*\w)?")
TIMEISH_RE = re.compile(r"\d+-\d+-\d+(?:T[0-9:.]+(?:[Zz]|[+-][0-9:]+)?)?")
TZNAME_RE = re.compile(r"[A-Za-z_][\w+\-]*(?:\/[\w+\-]+)*")
NAME_RE = re.compile(r"(?!(?:and|or|not|in|contains|contains_any|true|false)\b)[^\W\d]\w*")

# Words the grammar uses as keywords: names spelled like them are quoted, for the reader's sake.
KEYWORDS = frozenset(
    """shop timezone routing outreach attribute crowd intent agent group promo
facts campaign when_nobody_online robot_first exclusive_direct busy_threshold sticky hold window
drain_pool cap_window max_delay level agents product order mode robot presale_start last_day
tool_level relationships_last_month_end advanced_relationships_this_month grants send_at date
configured_at created_at copy coupon kind target segment on off and or not in contains
contains_any true false test seed now contact chat crowds message exclusive_agent attrs expect
step candidates activity consumer exclusive interested cart purchase send no because none at
""".split()
)

PREC = {"or": 1, "and": 2}
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
# A statement or block item is known by a key: ("shop",), ("group", 3), ("group", 3, "agents", 0).
Key = tuple[Any, ...]
Lines = list[tuple[Key, list[str]]]  # one section: (item key, its lines)


class Slot(TypedDict):
    """The comments of one statement: the lines above it and the one at its end."""

    before: list[str]
    after: str | None


Comments = dict[Key, Slot]
_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote(text: str) -> str:
    """A double-quoted string literal that the grammar reads back as `text`."""
    out = []
    for ch in str(text):
        if ch in _ESC:
            out.append(_ESC[ch])
        elif not ch.isprintable() and ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def name(text: object) -> str:
    """A name (agent, group, crowd, product...): bare when it reads back as itself."""
    s = str(text)
    if (ID_RE.fullmatch(s) or NUMID_RE.fullmatch(s)) and s not in KEYWORDS:
        return s
    return quote(s)


def word(text: object) -> str:
    """An enum-like word (mode, type, kind...): bare when the grammar reads it as a name."""
    s = str(text)
    return s if ID_RE.fullmatch(s) and s not in KEYWORDS else quote(s)


def attr_name(text: object) -> str:
    s = str(text)
    return s if NAME_RE.fullmatch(s) else quote(s)


def timeish(text: object) -> str:
    s = str(text)
    return s if TIMEISH_RE.fullmatch(s) else quote(s)


def duration(seconds: int) -> str:
    """Seconds as an operator writes them: whole weeks and more in days (7d), else the
    largest unit that divides them (24h, 72h, 90m, 45s)."""
    seconds = int(seconds)
    if seconds and seconds % 86400 == 0 and seconds >= 7 * 86400:
        return f"{seconds // 86400}d"
    for unit, size in UNITS[1:]:
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return "0s"


def switch(value: object) -> str:
    return "on" if value else "off"


# -- predicates ------------------------------------------------------------------------------
def literal(lit: object) -> str:
    v = lit.value if isinstance(lit, m.Literal) else lit
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return quote(str(v))


def _operand(node: object) -> str:
    if isinstance(node, m.Attr):
        return node.name
    if isinstance(node, m.ListLit):
        return "[" + ", ".join(literal(i) for i in node.items) + "]"
    return literal(node)


def expr(node: object) -> str:
    """A predicate with as few parentheses as keep its tree: or < and < not < comparisons."""
    if isinstance(node, m.BoolOp):
        if len(node.items) == 1:
            return expr(node.items[0])
        parts = []
        for item in node.items:
            text = expr(item)
            if (
                isinstance(item, m.BoolOp)
                and len(item.items) > 1
                and (PREC[item.op] <= PREC[node.op])
            ):
                text = f"({text})"
            parts.append(text)
        return f" {node.op} ".join(parts)
    if isinstance(node, m.Not):
        inner = expr(node.item)
        if isinstance(node.item, m.BoolOp) and len(node.item.items) > 1:
            inner = f"({inner})"
        return f"not {inner}"
    if isinstance(node, m.Compare):
        return f"{_operand(node.left)} {node.op} {_operand(node.right)}"
    if isinstance(node, m.InList):
        op = "not in" if node.negated else "in"
        return f"{_operand(node.attr)} {op} {_operand(node.values)}"
    if isinstance(node, m.Contains):
        op = "contains_any" if node.any else "contains"
        return f"{_operand(node.attr)} {op} {_operand(node.value)}"
    if isinstance(node, m.Const):
        return "true" if node.value else "false"
    return _operand(node)


# -- the file --------------------------------------------------------------------------------
def _block(head: str, lines: list[str]) -> list[str]:
    return [f"{head} {{"] + [f"  {ln}" for ln in lines] + ["}"]


def routing_lines(r: dict[str, m.Value]) -> list[str]:
    out = []
    if "when_nobody_online" in r:
        out.append(f"when_nobody_online {word(r['when_nobody_online'].value)}")
    for key in ("robot_first", "exclusive_direct"):
        if key in r:
            out.append(f"{key} {switch(r[key].value)}")
    if "busy_threshold" in r:
        out.append(f"busy_threshold {int(r['busy_threshold'].value)}")
    sticky = [
        f"{k} {duration(r['sticky_' + k].value)}" for k in ("hold", "window") if "sticky_" + k in r
    ]
    if sticky:
        out.append("sticky " + " ".join(sticky))
    if "drain_pool" in r:
        out.append(f"drain_pool {switch(r['drain_pool'].value)}")
    return out


def group_lines(g: m.Group) -> list[str]:
    out = []
    for key in ("agents", "crowd", "product", "intent", "order"):
        refs = getattr(g, key)
        if refs:
            out.append(f"{key} " + ", ".join(name(r.name) for r in refs))
    if g.mode != "efficiency" or g.strength is not None:
        out.append(f"mode {word(g.mode)}" + (f" {word(g.strength)}" if g.strength else ""))
    if g.robot:
        out.append("robot on")
    return out


def facts_lines(f: dict[str, m.Value]) -> list[str]:
    out = []
    for key in m.FACT_KEYS:
        if key not in f:
            continue
        v = f[key].value
        if key == "tool_level":
            out.append(f"tool_level {word(v)}")
        elif key == "grants":
            out.append(("grants " + ", ".join(name(g) for g in v)).rstrip())
        else:
            out.append(f"{key} {int(v)}")
    return out


def coupon(c: m.Coupon) -> str:
    return f"coupon {name(c.id)}" + (f" kind {word(c.kind)}" if c.kind is not None else "")


def target(keyword: str, t: m.Target) -> str:
    body = ([f"copy {quote(t.copy)}"] if t.copy is not None else []) + (
        [coupon(t.coupon)] if t.coupon is not None else []
    )
    head = f"{keyword} {name(t.crowd.name)}"
    return f"{head} {{ {'; '.join(body)} }}" if body else head


def campaign_lines(c: m.Campaign) -> list[str]:
    out = []
    for key in ("send_at", "promo", "date", "configured_at", "created_at", "copy", "coupon"):
        v = getattr(c, key)
        if v is None:
            continue
        if key == "promo":
            out.append(f"promo {name(v.name)}")
        elif key == "copy":
            out.append(f"copy {quote(v.value)}")
        elif key == "coupon":
            out.append(coupon(v))
        else:
            out.append(f"{key} {timeish(v.value)}")
    out += [target("target", t) for t in c.targets]
    out += [target("segment", t) for t in c.segments]
    return out


def sections(shop: m.Shop) -> list[Lines]:
    """The file in canonical order: sections (blank lines between) of (item key, lines)."""
    # item keys: ("shop",), ("group", 3)... (comments are kept by key in `rulec fmt`)
    head: Lines = [] if shop.tests_only else [(("shop",), [f"shop {name(shop.name)}"])]
    if shop.timezone is not None:
        tz = str(shop.timezone.value)
        head.append((("timezone",), [f"timezone {tz if TZNAME_RE.fullmatch(tz) else quote(tz)}"]))
    out = [head]
    if shop.routing:
        out.append([(("routing",), _block("routing", routing_lines(shop.routing)))])
    out.append(
        [
            (("attribute", i), [f"attribute {attr_name(a.name)}: {word(a.type)}"])
            for i, a in enumerate(shop.attributes)
        ]
    )
    for kw, defs in (("crowd", shop.crowds), ("intent", shop.intents)):
        out.append(
            [((kw, i), [f"{kw} {name(d.name)} = {expr(d.expr)}"]) for i, d in enumerate(defs)]
        )
    out.append(
        [
            (("agent", i), [f"agent {name(a.id)}" + (f" level {a.level}" if a.level != 3 else "")])
            for i, a in enumerate(shop.agents)
        ]
    )
    out += [
        [(("group", i), _block(f"group {name(g.name)}", group_lines(g)))]
        for i, g in enumerate(shop.groups)
    ]
    out.append(
        [
            (
                ("promo", i),
                [
                    " ".join(
                        [f"promo {name(p.name)}"]
                        + [
                            f"{k} {timeish(getattr(p, k).value)}"
                            for k in ("presale_start", "last_day")
                            if getattr(p, k) is not None
                        ]
                    )
                ],
            )
            for i, p in enumerate(shop.promos)
        ]
    )
    if shop.facts:
        out.append([(("facts",), _block("facts", facts_lines(shop.facts)))])
    if shop.outreach:
        out.append(
            [
                (
                    ("outreach",),
                    _block(
                        "outreach",
                        [
                            f"{k} {duration(shop.outreach[k].value)}"
                            for k in ("cap_window", "max_delay")
                            if k in shop.outreach
                        ],
                    ),
                )
            ]
        )
    out += [
        [
            (
                ("campaign", i),
                _block(f"campaign {name(c.name)} {word(c.kind.value)}", campaign_lines(c)),
            )
        ]
        for i, c in enumerate(shop.campaigns)
    ]
    from rulec.compiler.printer_tests import test_lines

    out += [[(("test", i), test_lines(t))] for i, t in enumerate(shop.tests)]
    return [sec for sec in out if sec]


# -- comments (kept by `rulec fmt`; they are not part of the model) --------------------------
def scan_comments(text: str) -> list[tuple[int, str, bool]]:
    """(line, comment, own_line) for every `#` comment outside a string literal."""
    found = []
    for no, line in enumerate(text.splitlines(), 1):
        quote_ch, i = None, 0
        while i < len(line):
            ch = line[i]
            if quote_ch:
                if ch == "\\":
                    i += 1
                elif ch == quote_ch:
                    quote_ch = None
            elif ch in "\"'":
                quote_ch = ch
            elif ch == "#":
                found.append((no, line[i:].rstrip(), not line[:i].strip()))
                break
            i += 1
    return found


def attach_comments(
    text: str,
    statements: list[tuple[Key, int, int]],
    found: list[tuple[int, str, bool]] | None = None,
) -> Comments:
    """Comments keyed by the statement they belong to: {key: {"before": [...], "after": str}}.

    `statements` are (key, first line, last line) in file order; `found` the comments when
    not `.rules` ones (scan_comments of `text` by default). A comment on a one-line
    statement's line stays after it; any other comment goes before the statement it is in or
    precedes; comments above a blank line before the first statement are the file's header
    (key ("head",)); comments after the last statement go under the key ("end",). Entries
    for a block's items (keys one longer than their statement's, see
    frontend_rules._statements) take the comments inside the block the same way, so a
    comment on a group's `agents` line stays on it."""
    out: Comments = {}
    lines = text.splitlines()
    tops = [s for s in statements if len(s[0]) <= 2 or s[0][0] in ("head", "end")]
    items: dict[Key, list[tuple[Key, int, int]]] = {}
    for s in statements:
        if s not in tops:
            items.setdefault(s[0][:-2], []).append(s)
    first = tops[0][1] if tops else len(lines) + 1
    blank = [n for n in range(1, first) if not lines[n - 1].strip()]
    for line, comment, own in scan_comments(text) if found is None else found:
        if line < first and blank and line < blank[-1]:  # the file's header, kept on top
            out.setdefault(("head",), {"before": [], "after": None})["before"].append(comment)
            continue
        key, where = ("end",), "before"
        for skey, first_, last in tops:
            if first_ <= line <= last:
                key = skey
                where = "after" if (not own and first_ == last) else "before"
                if first_ < line < last:  # inside the block: the item it is on or before
                    key, where = _item_slot(items.get(skey, []), line, own, key, where)
                break
            if line < first_:
                key = skey
                break
        slot = out.setdefault(key, {"before": [], "after": None})
        if where == "after" and slot["after"] is None:
            slot["after"] = comment
        else:
            slot["before"].append(comment)
    return out


def _item_slot(
    items: list[tuple[Key, int, int]], line: int, own: bool, key: Key, where: str
) -> tuple[Key, str]:
    for ikey, first, last in items:
        if first <= line <= last:
            return ikey, "after" if (not own and first == last) else "before"
        if line < first:
            return ikey, "before"
    return key, where


def _with_item_comments(
    key: Key, item: list[str], comments: Comments, printed: set[Key]
) -> list[str]:
    """A block's lines with the comments of its items (keyed key + (word, n)) put back."""
    if len(item) < 3:
        return item
    out = [item[0]]
    seen: dict[str, int] = {}
    for i, ln in enumerate(item[1:-1], 1):
        w = ID_RE.match(ln, 2) if ln.startswith("  ") and not ln.startswith("   ") else None
        if w is None:
            out.append(ln)
            continue
        n = seen[w.group()] = seen.get(w.group(), -1) + 1
        ikey = key + (w.group(), n)
        printed.add(ikey)
        slot = comments.get(ikey, {"before": [], "after": None})
        out += [f"  {c}" for c in slot["before"]]
        one_line = not item[i + 1].startswith("   ")
        if slot["after"] is not None and one_line:
            ln = f"{ln}  {slot['after']}"
        elif slot["after"] is not None:
            out.append(f"  {slot['after']}")
        out.append(ln)
    return out + [item[-1]]


def print_rules(shop: m.Shop, comments: Comments | None = None) -> str:
    """The canonical `.rules` text of a shop (parse_rules(print_rules(s)) == s, spans aside).

    `comments` (from attach_comments) are put back beside the statements they belong to."""
    comments = comments or {}
    blocks, printed = [], {("end",), ("head",)}
    head = comments.get(("head",), {"before": []})["before"]
    if head:
        blocks.append("\n".join(head))
    for section in sections(shop):
        lines = []
        for key, item in section:
            printed.add(key)
            slot = comments.get(key, {"before": [], "after": None})
            lines += slot["before"]
            item = _with_item_comments(key, item, comments, printed)
            if slot["after"] is not None and len(item) == 1:
                item = [f"{item[0]}  {slot['after']}"]
            elif slot["after"] is not None:
                lines.append(slot["after"])
            lines += item
        blocks.append("\n".join(lines))
    end = [
        c
        for key, slot in comments.items()
        if key not in printed  # e.g. an empty block
        for c in slot["before"] + ([slot["after"]] if slot["after"] else [])
    ]
    end += comments.get(("end",), {"before": []})["before"]
    if end:
        blocks.append("\n".join(end))
    return "\n\n".join(blocks) + "\n"
