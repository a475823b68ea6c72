"""Pass: type-check crowd and intent predicates against the declared attributes."""

from __future__ import annotations

from collections.abc import Iterable

from rulec.compiler import model as m
from rulec.errors import Diagnostic, Span, diag, did_you_mean

CLASS = {"int": "number", "number": "number", "string": "string", "bool": "bool", "set": "set"}
ORDERING = ("<", "<=", ">", ">=")


def lit_class(v: m.Scalar) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


class Checker:
    """Walks one predicate; `types` maps attribute -> class, or is None when undeclared."""

    def __init__(
        self, types: dict[str, str] | None, where: str, is_intent: bool, diags: list[Diagnostic]
    ) -> None:
        self.types, self.where, self.is_intent, self.d = types, where, is_intent, diags

    def err(self, code: str, message: str, span: Span | None, hints: Iterable[str] = ()) -> None:
        self.d.append(diag(code, f"{self.where}: {message}", span, "error", tuple(hints)))

    def attr_class(self, a: m.Attr) -> str | None:
        """The attribute's class, None when untyped; reports unknown attributes."""
        if a.name == "message":
            if not self.is_intent:
                self.err(
                    "N203",
                    "`message` (the chat's first message) is only available to intents",
                    a.span,
                )
                return None
            return "string"
        if self.types is None:
            return None
        if a.name not in self.types:
            names = list(self.types) + (["message"] if self.is_intent else [])
            self.err(
                "N203",
                f"unknown attribute `{a.name}`",
                a.span,
                did_you_mean(a.name, names) or ("declare it under `attributes`",),
            )
            return None
        return CLASS[self.types[a.name]] if self.types[a.name] in CLASS else None

    def check(self, e: m.Expr) -> None:
        if isinstance(e, m.BoolOp):
            for x in e.items:
                self.check(x)
        elif isinstance(e, m.Not):
            self.check(e.item)
        elif isinstance(e, m.Const):
            pass
        elif isinstance(e, m.Attr):
            c = self.attr_class(e)
            if c not in (None, "bool"):
                self.err(
                    "T306", f"`{e.name}` is a {c}, not a condition: compare it with a value", e.span
                )
        elif isinstance(e, m.Literal):
            self.err("T306", f"the literal {e.value!r} is not a condition", e.span)
        elif isinstance(e, m.Compare):
            self.compare(e)
        elif isinstance(e, m.InList):
            self.in_list(e)
        elif isinstance(e, m.Contains):
            self.contains(e)

    def compare(self, e: m.Compare) -> None:
        left, right = e.left, e.right
        if isinstance(left, m.Attr) and isinstance(right, m.Attr):
            self.err(
                "T305",
                "compare an attribute with a literal value, not with another attribute",
                e.span,
            )
            return
        if isinstance(left, m.Literal) and isinstance(right, m.Literal):
            a, b = lit_class(left.value), lit_class(right.value)
            if a != b:
                self.err("T300", f"cannot compare a {a} with a {b}", e.span)
            elif a == "bool" and e.op in ORDERING:
                self.err("T301", "bools have no order: use == or !=", e.span)
            return
        # One side is an attribute, the other a literal (both-literal and both-attribute
        # comparisons returned above).
        attr, lit = (left, right) if isinstance(left, m.Attr) else (right, left)
        assert isinstance(attr, m.Attr) and isinstance(lit, m.Literal)
        ac, lc = self.attr_class(attr), lit_class(lit.value)
        if ac is None:
            if lc == "bool" and e.op in ORDERING:
                self.err("T301", "bools have no order: use == or !=", e.span)
            return
        if ac == "set":
            self.err("T300", f"`{attr.name}` is a set: use `contains` or `contains_any`", e.span)
        elif ac != lc:
            self.err(
                "T300",
                f"`{attr.name}` is a {ac} but is compared with a {lc} ({lit.value!r})",
                e.span,
            )
        elif ac == "bool" and e.op in ORDERING:
            self.err("T301", "bools have no order: use == or !=", e.span)

    def in_list(self, e: m.InList) -> None:
        if not isinstance(e.attr, m.Attr):
            self.err("T305", "the left side of `in` must be an attribute", e.span)
            return
        ac = self.attr_class(e.attr)
        classes = {lit_class(x.value) for x in e.values.items}
        if ac == "set":
            self.err("T302", f"`{e.attr.name}` is a set: use `contains_any`", e.span)
        elif ac is not None and classes - {ac}:
            bad = next(x for x in e.values.items if lit_class(x.value) != ac)
            self.err(
                "T302",
                f"`{e.attr.name}` is a {ac}, but the list holds "
                f"{lit_class(bad.value)} {bad.value!r}",
                bad.span or e.span,
            )
        elif ac is None and len(classes) > 1:
            self.err("T302", "the values of an `in` list must all be of one type", e.values.span)

    def contains(self, e: m.Contains) -> None:
        if not isinstance(e.attr, m.Attr):
            self.err("T305", "the left side of `contains` must be an attribute", e.span)
            return
        op = "contains_any" if e.any else "contains"
        if e.any:
            if not isinstance(e.value, m.ListLit):
                self.err("T303", "`contains_any` takes a list of strings", e.span)
                return
            items = e.value.items
        else:
            if not isinstance(e.value, m.Literal):
                self.err("T303", "`contains` takes one string", e.span)
                return
            items = [e.value]
        for x in items:
            if lit_class(x.value) != "string":
                self.err("T303", f"`{op}` takes strings, not {x.value!r}", x.span or e.span)
        ac = self.attr_class(e.attr)
        if ac not in (None, "string", "set"):
            self.err("T303", f"`{e.attr.name}` is a {ac}: `{op}` needs a string or a set", e.span)


def run(shop: m.Shop) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    types = {a.name: a.type for a in shop.attributes} if shop.attributes else None
    for p in shop.crowds:
        Checker(types, f"crowd {p.name}", False, diags).check(p.expr)
    for p in shop.intents:
        Checker(types, f"intent {p.name}", True, diags).check(p.expr)
    return diags
