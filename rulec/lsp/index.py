"""The named things of one document and where each is declared and used (for hover, go to
definition, references, rename and the outline), built from the compiler's model."""

from __future__ import annotations

import re

import attrs

from rulec.compiler import model as m

# What a name names; `product` ids and `order` states are used but never declared.
KINDS = ("shop", "attribute", "crowd", "intent", "agent", "group", "promo", "campaign", "product")
DIMENSIONS = (("agents", "agent"), ("crowd", "crowd"), ("product", "product"), ("intent", "intent"))


@attrs.frozen
class Occurrence:
    """A name written at (line, col)..(line, end_col) (1-based, code points)."""

    kind: str
    name: str
    line: int
    col: int
    end_col: int
    is_def: bool
    owner: str = ""  # where a use sits: "group 售前组", "campaign week49", "crowd vip"
    node: object = None  # the declaration (model object) of a definition

    def contains(self, line: int, col: int) -> bool:
        return self.line == line and self.col <= col <= self.end_col


class Index:
    """Every declaration and use of a name in one parsed document."""

    def __init__(self, shop: m.Shop, lines):
        self.shop = shop
        self._lines = lines
        self.items: list[Occurrence] = []
        self._build(shop)

    # -- queries -------------------------------------------------------------------------
    def at(self, line: int, col: int) -> Occurrence | None:
        for occ in self.items:
            if occ.contains(line, col):
                return occ
        return None

    def all_of(self, kind: str, name: str) -> list:
        return [o for o in self.items if o.kind == kind and o.name == name]

    def definitions(self, kind: str, name: str) -> list:
        return [o for o in self.all_of(kind, name) if o.is_def]

    def uses(self, kind: str, name: str) -> list:
        return [o for o in self.all_of(kind, name) if not o.is_def]

    def names(self, kind: str) -> list:
        """Declared names of a kind, in declaration order, without repeats."""
        return list(dict.fromkeys(o.name for o in self.items if o.kind == kind and o.is_def))

    # -- building ------------------------------------------------------------------------
    def _add(self, kind, name, span, is_def, owner="", node=None, before=False):
        """Record `name` written at `span`'s start (after an opening quote), or, with `before`,
        the last time it is written on that line before the span (attribute names, whose
        model span is the type's)."""
        if span is None or name is None:
            return
        name = str(name)
        text = self._lines.line(span.line)
        col = span.col
        if before:
            at = text.rfind(name, 0, max(col - 1, 0))
            if at < 0:
                return
            col = at + 1
        elif text[col - 1 : col] in ("'", '"') and not text.startswith(name, col - 1):
            col += 1
        self.items.append(
            Occurrence(kind, name, span.line, col, col + len(name), is_def, owner, node)
        )

    def _build(self, shop):
        self._add("shop", shop.name, shop.span, True, node=shop)
        for a in shop.attributes:
            self._add("attribute", a.name, a.span, True, node=a, before=True)
        for kind, defs in (("crowd", shop.crowds), ("intent", shop.intents)):
            for p in defs:
                self._add(kind, p.name, p.span, True, node=p)
                for attr in _attrs(p.expr):
                    self._add("attribute", attr.name, attr.span, False, f"{kind} {p.name}")
        for a in shop.agents:
            self._add("agent", a.id, a.span, True, node=a)
        for g in shop.groups:
            self._add("group", g.name, g.span, True, node=g)
            for field, kind in DIMENSIONS:
                for ref in getattr(g, field):
                    self._add(kind, ref.name, ref.span, False, f"group {g.name}")
        for p in shop.promos:
            self._add("promo", p.name, p.span, True, node=p)
        for c in shop.campaigns:
            self._add("campaign", c.name, self._campaign_name(c), True, node=c)
            if c.promo is not None:
                self._add("promo", c.promo.name, c.promo.span, False, f"campaign {c.name}")
            for t in c.targets + c.segments:
                self._add("crowd", t.crowd.name, t.crowd.span, False, f"campaign {c.name}")
        self.items.sort(key=lambda o: (o.line, o.col))

    def _campaign_name(self, c):
        """The span of a campaign's name: the model's in .rules; in YAML the model keeps the
        whole mapping, so the `name:` key inside it is looked for."""
        s = c.span
        if s is None or self._lines.line(s.line)[s.col - 1 :].startswith(str(c.name)):
            return s
        pattern = re.compile(r"(?:^|[\s{,-])name:\s*(['\"]?)" + re.escape(str(c.name)))
        for n in range(s.line, (s.end_line or s.line) + 1):
            mt = pattern.search(self._lines.line(n))
            if mt:
                return type(s)(s.file, n, mt.end() - len(str(c.name)) + 1)
        return None


def _attrs(expr):
    """The attribute references of a predicate, without recursion (predicates nest deep)."""
    out, stack = [], [expr]
    while stack:
        x = stack.pop()
        if isinstance(x, m.Attr):
            out.append(x)
        elif isinstance(x, m.BoolOp):
            stack.extend(x.items)
        elif isinstance(x, m.Not):
            stack.append(x.item)
        elif isinstance(x, m.Compare):
            stack.extend((x.left, x.right))
        elif isinstance(x, (m.InList, m.Contains)):
            stack.append(x.attr)
    return out
