"""YAML (and JSON) frontend: the contract's YAML form -> model, keeping positions, refusing duplicate keys."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NoReturn

import yaml

from rulec.common.vocab import CAMPAIGN_FIELDS
from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import parse_predicate
from rulec.errors import Diagnostic, RulecError, Span, diag, did_you_mean

MAX_DEPTH = 32
# libyaml when PyYAML was built with it (10x faster); the pure-Python loader otherwise.
MAX_INT_DIGITS = 18  # as in .rules: a whole number in rules never needs more
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
T_INT, T_FLOAT, T_BOOL, T_NULL = (
    "tag:yaml.org,2002:" + t for t in ("int", "float", "bool", "null")
)
# A composed YAML node; PlainReader (frontend_json) passes plain JSON values instead.
Node = Any
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

TOP_KEYS = (
    "shop",
    "timezone",
    "routing",
    "attributes",
    "crowds",
    "intents",
    "agents",
    "groups",
    "promos",
    "facts",
    "outreach",
    "campaigns",
    "tests",
)
ROUTING_KEYS = (
    "when_nobody_online",
    "robot_first",
    "exclusive_direct",
    "busy_threshold",
    "sticky",
    "drain_pool",
)
GROUP_KEYS = ("agents", "crowd", "product", "intent", "order", "mode", "robot")
STICKY_KEYS = ("hold", "window")
OUTREACH_KEYS = ("cap_window", "max_delay")
AGENT_KEYS = ("level",)
PROMO_KEYS = ("presale_start", "last_day")
COUPON_KEYS = ("id", "kind")
TARGET_KEYS = ("crowd", "copy", "coupon")
CAMPAIGN_KEYS = CAMPAIGN_FIELDS


class _Stop(Exception):
    pass


def parse_duration(text: str) -> int | None:
    """Seconds for `90s`, `30m`, `24h`, `7d`, `1d12h`; None when not a duration with a unit."""
    mt = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not mt or not text.strip() or not any(mt.groups()):
        return None
    if any(g and len(g) > 12 for g in mt.groups()):
        return m.MAX_DURATION + 1  # out of range whatever it says; never a 5,000-digit int
    d, h, mi, s = (int(g or 0) for g in mt.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


class YamlReader:
    """Walks composed YAML nodes into the model, collecting diagnostics."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diags: list[Diagnostic] = []

    # -- helpers ------------------------------------------------------------------------
    def span(self, node: Node) -> Span | None:  # None in the plain JSON reader (no positions)
        a, b = node.start_mark, node.end_mark
        return Span(self.file, a.line + 1, a.column + 1, b.line + 1, b.column + 1)

    def error(self, code: str, message: str, node: Node, hints: Iterable[str] = ()) -> None:
        self.diags.append(
            diag(
                code, message, self.span(node) if node is not None else None, "error", tuple(hints)
            )
        )

    def mapping(
        self, node: Node, what: str, keys: Iterable[str] | None = None
    ) -> list[tuple[str, Any, Node]]:
        """(key, key_node, value_node) triples; duplicate keys are errors (P103)."""
        if isinstance(node, yaml.ScalarNode) and node.tag == T_NULL:
            return []
        if not isinstance(node, yaml.MappingNode):
            self.error("P105", f"{what} should be a mapping", node)
            return []
        seen: dict[str, Node] = {}
        out: list[tuple[str, Any, Node]] = []
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                self.error("P105", f"a key in {what} should be a plain name", k)
                continue
            key = k.value
            if key in seen:
                self.error(
                    "P103",
                    f"duplicate key `{key}` in {what} (first at line "
                    f"{seen[key].start_mark.line + 1})",
                    k,
                )
                continue
            seen[key] = k
            if keys is not None and key not in keys:
                self.error("P106", f"unknown key `{key}` in {what}", k, did_you_mean(key, keys))
                continue
            out.append((key, k, v))
        return out

    def seq(self, node: Node, what: str) -> list[Node]:
        if isinstance(node, yaml.ScalarNode) and node.tag == T_NULL:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error("P105", f"{what} should be a list", node)
            return []
        items: list[Node] = node.value
        return items

    def is_mapping(self, node: Node) -> bool:
        return isinstance(node, yaml.MappingNode)

    def raw(self, node: Node) -> Any:
        """A scalar node's text as written."""
        return node.value

    def scalar(self, node: Node, what: str) -> str | None:
        if (
            not isinstance(node, yaml.ScalarNode)
            or node.tag == T_NULL
            and node.value in ("", "~", "null")
        ):
            self.error("P105", f"{what} should be a single value", node)
            return None
        value: str = node.value
        return value

    def text(self, node: Node, what: str) -> m.Value | None:
        v = self.scalar(node, what)
        return None if v is None else m.Value(v, self.span(node))

    def boolean(self, node: Node, what: str) -> m.Value | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == T_BOOL:
            return m.Value(node.value.lower() in ("true", "yes", "on", "y"), self.span(node))
        self.error("P105", f"{what} should be true or false", node)
        return None

    def integer(self, node: Node, what: str) -> m.Value | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == T_INT:
            if len(node.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
                self.error("P107", f"{what}: number {node.value[:24]} is too large", node)
                return None
            try:
                return m.Value(int(node.value.replace("_", ""), 0), self.span(node))
            except ValueError:
                pass
        self.error("P105", f"{what} should be a whole number", node)
        return None

    def duration(self, node: Node, what: str) -> m.Value | None:
        if isinstance(node, yaml.ScalarNode):
            secs = parse_duration(node.value)
            if secs is not None:
                return m.Value(secs, self.span(node))
            if node.tag in (T_INT, T_FLOAT):
                self.error(
                    "V402", f"{what} needs a unit: write e.g. `{node.value}h` (s, m, h or d)", node
                )
                return None
        self.error("V402", f"{what} should be a duration like 90s, 30m, 24h or 7d", node)
        return None

    def names(self, node: Node, what: str) -> list[m.NameRef]:
        out = []
        for item in self.seq(node, what):
            v = self.scalar(item, f"an item of {what}")
            if v is not None:
                out.append(m.NameRef(v, self.span(item)))
        return out

    def predicate(self, node: Node, what: str) -> m.Expr | None:
        v = self.scalar(node, what)
        if v is None:
            return None
        a = node.start_mark
        col = a.column + 1 + (1 if node.style in ('"', "'") else 0)
        try:
            return parse_predicate(v, self.file, a.line + 1, col)
        except RulecError as exc:
            self.diags.extend(exc.diagnostics)
            return None

    # -- sections -----------------------------------------------------------------------
    def shop(self, root: Node) -> m.Shop:
        if not self.is_mapping(root):
            self.error("P105", "rules should be a mapping with at least `shop:`", root)
            raise _Stop
        items = self.mapping(root, "the rules", TOP_KEYS)
        keys = {k: v for k, _, v in items}
        from rulec.compiler.frontend_rules import is_test_file, rules_file_of

        if is_test_file(self.file):  # tests only, for the rules beside the file
            shop = m.Shop(name="", file=self.file, tests_only=True)
            for key, knode, _v in items:
                if key != "tests":
                    self.error(
                        "U106",
                        f"a test file holds only `tests:`, not `{key}:`",
                        knode,
                        (f"move it to {rules_file_of(self.file)}",),
                    )
            if "tests" in keys:
                self.sec_tests(shop, keys["tests"])
            return shop
        if "shop" not in keys:
            self.diags.append(diag("P108", "missing required key `shop`", Span(self.file, 1, 1)))
            raise _Stop
        name = self.scalar(keys["shop"], "shop")
        shop = m.Shop(name=name or "", file=self.file, span=self.span(keys["shop"]))
        for key, knode, v in items:
            if key == "tests":
                self.sec_tests(shop, v, knode)
            else:
                getattr(self, f"sec_{key}")(shop, v)
        return shop

    def sec_shop(self, shop: m.Shop, node: Node) -> None:
        pass

    def sec_timezone(self, shop: m.Shop, node: Node) -> None:
        shop.timezone = self.text(node, "timezone")

    def sec_routing(self, shop: m.Shop, node: Node) -> None:
        for key, _, v in self.mapping(node, "routing", ROUTING_KEYS):
            if key == "when_nobody_online":
                val = self.text(v, key)
            elif key == "busy_threshold":
                val = self.integer(v, key)
            elif key == "sticky":
                for sk, _, sv in self.mapping(v, "routing.sticky", STICKY_KEYS):
                    dv = self.duration(sv, f"sticky.{sk}")
                    if dv is not None:
                        shop.routing[f"sticky_{sk}"] = dv
                continue
            else:
                val = self.boolean(v, key)
            if val is not None:
                shop.routing[key] = val

    def sec_outreach(self, shop: m.Shop, node: Node) -> None:
        for key, _, v in self.mapping(node, "outreach", OUTREACH_KEYS):
            val = self.duration(v, key)
            if val is not None:
                shop.outreach[key] = val

    def sec_attributes(self, shop: m.Shop, node: Node) -> None:
        for key, _k, v in self.mapping(node, "attributes"):
            t = self.scalar(v, f"the type of attribute {key}")
            if t is not None:
                shop.attributes.append(m.AttributeDecl(key, t, self.span(v)))

    def _predicates(self, node: Node, what: str) -> list[m.PredicateDef]:
        out = []
        for key, k, v in self.mapping(node, what):
            expr = self.predicate(v, f"the predicate of {key}")
            if expr is not None:
                out.append(m.PredicateDef(key, expr, self.span(k), self.raw(v)))
        return out

    def sec_crowds(self, shop: m.Shop, node: Node) -> None:
        shop.crowds = self._predicates(node, "crowds")

    def sec_intents(self, shop: m.Shop, node: Node) -> None:
        shop.intents = self._predicates(node, "intents")

    def sec_agents(self, shop: m.Shop, node: Node) -> None:
        for key, k, v in self.mapping(node, "agents"):
            agent = m.Agent(key, span=self.span(k))
            for _ak, _, av in self.mapping(v, f"agent {key}", AGENT_KEYS):
                lv = self.integer(av, f"the level of agent {key}")
                if lv is not None:
                    agent.level, agent.level_span = lv.value, lv.span
            shop.agents.append(agent)

    def sec_groups(self, shop: m.Shop, node: Node) -> None:
        for key, k, v in self.mapping(node, "groups"):
            g = m.Group(key, span=self.span(k))
            for gk, _gkn, gv in self.mapping(v, f"group {key}", GROUP_KEYS):
                if gk in ("agents", "crowd", "product", "intent", "order"):
                    setattr(g, gk, self.names(gv, f"{gk} of group {key}"))
                elif gk == "robot":
                    b = self.boolean(gv, f"robot of group {key}")
                    g.robot = b.value if b else False
                else:
                    self._mode(g, gv)
            shop.groups.append(g)

    def _mode(self, g: m.Group, node: Node) -> None:
        g.mode_span = self.span(node)
        if self.is_mapping(node):
            items = self.mapping(node, f"mode of group {g.name}")
            if len(items) != 1:
                self.error(
                    "P105", "mode should be `efficiency` or `{conversion: low|medium|high}`", node
                )
                return
            key, _, v = items[0]
            g.mode = key
            g.strength = self.scalar(v, "conversion strength")
        else:
            g.mode = self.scalar(node, f"mode of group {g.name}") or "efficiency"

    def sec_promos(self, shop: m.Shop, node: Node) -> None:
        for key, k, v in self.mapping(node, "promos"):
            p = m.Promo(key, span=self.span(k))
            for pk, _, pv in self.mapping(v, f"promo {key}", PROMO_KEYS):
                setattr(p, pk, self.text(pv, f"{pk} of promo {key}"))
            shop.promos.append(p)

    def sec_facts(self, shop: m.Shop, node: Node) -> None:
        for key, _, v in self.mapping(node, "facts", m.FACT_KEYS):
            if key == "tool_level":
                val = self.text(v, key)
            elif key == "grants":
                refs = self.names(v, "grants")
                val = m.Value([r.name for r in refs], self.span(v))
            else:
                val = self.integer(v, key)
            if val is not None:
                shop.facts[key] = val

    def sec_campaigns(self, shop: m.Shop, node: Node) -> None:
        for item in self.seq(node, "campaigns"):
            c = self.campaign(item)
            if c is not None:
                shop.campaigns.append(c)

    def sec_tests(self, shop: m.Shop, node: Node, key_node: Node = None) -> None:
        from rulec.compiler.frontend_yaml_tests import TestsReader

        shop.tests = TestsReader(self).tests(node)
        if key_node is not None and key_node.start_mark.column == 0:
            if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
                # a block list ends at the next top-level key: its lines hold only tests
                end = node.end_mark.line + (1 if node.end_mark.column > 0 else 0)
                shop.tests_lines.append((key_node.start_mark.line + 1, end))

    def coupon(self, node: Node, what: str) -> m.Coupon | None:
        if self.is_mapping(node):
            fields = {k: v for k, _, v in self.mapping(node, what, COUPON_KEYS)}
            if "id" not in fields:
                self.error("P108", f"{what} needs an `id`", node)
                return None
            cid = self.scalar(fields["id"], f"{what} id")
            kind = self.scalar(fields["kind"], f"{what} kind") if "kind" in fields else None
            return m.Coupon(cid or "", kind, self.span(node))
        v = self.scalar(node, what)
        return None if v is None else m.Coupon(v, None, self.span(node))

    def target(self, node: Node, what: str) -> m.Target | None:
        fields = {k: v for k, _, v in self.mapping(node, what, TARGET_KEYS)}
        if "crowd" not in fields:
            self.error("P108", f"{what} needs a `crowd`", node)
            return None
        crowd = self.scalar(fields["crowd"], f"{what} crowd")
        t = m.Target(m.NameRef(crowd or "", self.span(fields["crowd"])), span=self.span(node))
        if "copy" in fields:
            t.copy = self.scalar(fields["copy"], f"{what} copy")
        if "coupon" in fields:
            t.coupon = self.coupon(fields["coupon"], f"{what} coupon")
        return t

    def campaign(self, node: Node) -> m.Campaign | None:
        items = self.mapping(node, "a campaign", CAMPAIGN_KEYS)
        if not self.is_mapping(node):
            return None
        fields = {k: v for k, _, v in items}
        if "name" not in fields or "kind" not in fields:
            missing = "name" if "name" not in fields else "kind"
            self.error("P108", f"a campaign needs `{missing}`", node)
            return None
        name = self.scalar(fields["name"], "campaign name") or ""
        kind = self.text(fields["kind"], "campaign kind")
        if kind is None:  # reported: the campaign is read on for its other errors only
            kind = m.Value("", self.span(fields["kind"]))
        c = m.Campaign(name, kind, span=self.span(node))
        for key, _, v in items:
            if key in ("send_at", "date", "configured_at", "created_at", "copy"):
                setattr(c, key, self.text(v, f"{key} of campaign {name}"))
            elif key == "promo":
                p = self.scalar(v, "promo")
                c.promo = m.NameRef(p, self.span(v)) if p is not None else None
            elif key == "coupon":
                c.coupon = self.coupon(v, f"coupon of campaign {name}")
            elif key in ("targets", "segments"):
                ts = [self.target(t, f"a {key[:-1]} of campaign {name}") for t in self.seq(v, key)]
                setattr(c, key, [t for t in ts if t is not None])
        return c


def _shape_problem(root: yaml.Node, file: str) -> Diagnostic | None:
    """A diagnostic when the document nests deeper than MAX_DEPTH or uses an alias.

    Aliases are refused: they allow exponentially large documents from tiny files. libyaml
    composes an alias as the same node object seen twice, which this walk notices."""
    stack, seen = [(root, 1)], set()
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH:
            mk = node.start_mark
            return diag(
                "P104",
                f"YAML is nested deeper than {MAX_DEPTH} levels",
                Span(file, mk.line + 1, mk.column + 1),
            )
        if isinstance(node, yaml.ScalarNode):
            continue
        if id(node) in seen:
            mk = node.start_mark
            return diag(
                "P109",
                "YAML anchors and aliases are not supported",
                Span(file, mk.line + 1, mk.column + 1),
            )
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((c, d + 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((c, d + 1) for kv in node.value for c in kv)
    return None


def _too_deep(text: str, file: str) -> Diagnostic | None:
    """P104 at the first collection nested deeper than MAX_DEPTH, found on the event stream of
    PyYAML's pure parser: it is iterative and streams, so no loader's own limit comes first
    (libyaml's scanner looks ahead through a whole flow collection and fails at 1,000)."""
    depth = 0
    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mk = ev.start_mark
                    at = Span(file, mk.line + 1, mk.column + 1) if mk else Span(file, 1, 1)
                    return diag("P104", f"YAML is nested deeper than {MAX_DEPTH} levels", at)
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except (yaml.YAMLError, RecursionError):
        return None
    return None


def _raise_syntax(exc: yaml.YAMLError | RecursionError, file: str) -> NoReturn:
    if isinstance(exc, yaml.MarkedYAMLError):
        mk = exc.problem_mark or exc.context_mark
        where = Span(file, mk.line + 1, mk.column + 1) if mk else Span(file, 1, 1)
        raise RulecError(
            [diag("P100", f"YAML syntax error: {exc.problem or exc}", where)]
        ) from None
    raise RulecError([diag("P100", f"YAML error: {exc}", Span(file, 1, 1))]) from None


def parse_yaml(text: str, file: str = "<rules>") -> m.Shop:
    """Parse YAML rules into a Shop; raises RulecError with every diagnostic found."""
    reader = YamlReader(file)
    try:
        root = yaml.compose(text, Loader=LOADER)
    except (yaml.YAMLError, RecursionError) as exc:
        # Loaders differ on deep documents (libyaml >= 0.2.6 stops at 1,000 levels with its
        # own scanner error, the pure loader recurses): rulec's own bound decides first.
        deep = _too_deep(text, file)
        if deep is not None:
            raise RulecError([deep]) from None
        _raise_syntax(exc, file)
    if root is None:
        raise RulecError([diag("P101", "the rules file is empty", Span(file, 1, 1))])
    problem = _shape_problem(root, file)
    if problem is not None:
        raise RulecError([problem])
    try:
        shop = reader.shop(root)
    except _Stop:
        shop = None
    if reader.diags:
        raise RulecError(reader.diags)
    assert shop is not None  # _Stop is raised only after an error was recorded
    return shop
