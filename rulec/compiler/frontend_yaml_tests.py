"""The YAML frontend's `tests:` section -> model.TestCase (the same model as `.rules` tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from rulec.compiler import model as m
from rulec.compiler.frontend_yaml import T_BOOL, T_FLOAT, T_INT, T_NULL

if TYPE_CHECKING:
    from rulec.compiler.frontend_yaml import YamlReader

TEST_KEYS = ("name", "seed", "now", "agents", "contacts", "chats", "activities", "consumers")
AGENT_KEYS = ("status", "pending", "conversion")
CHAT_KEYS = (
    "buyer",
    "time",
    "product",
    "order",
    "intent",
    "crowds",
    "message",
    "exclusive_agent",
    "attrs",
    "expect",
)
ROUTE_EXPECT_KEYS = ("target", "step", "group", "candidates")
CONSUMER_KEYS = (
    "consumer",
    "attrs",
    "crowds",
    "exclusive",
    "interested",
    "cart_adds",
    "purchases",
    "expect",
)


class TestsReader:
    """Reads `tests:` with a YamlReader's helpers (positions, P10x diagnostics)."""

    def __init__(self, reader: YamlReader) -> None:
        self.r = reader

    def tests(self, node: yaml.Node) -> list[m.TestCase]:
        out = []
        for item in self.r.seq(node, "tests"):
            t = self.test(item)
            if t is not None:
                out.append(t)
        return out

    # -- values --------------------------------------------------------------------------
    def plain(self, node: yaml.Node, what: str) -> Any:
        """A record value: a number, string, bool, or a list of them (U110 otherwise)."""
        r = self.r
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(x, f"an item of {what}") for x in node.value]
        if not isinstance(node, yaml.ScalarNode):
            r.error("U110", f"{what} should be a number, string, true/false or a list", node)
            return None
        if node.tag == T_NULL and not node.style:
            r.error("U110", f"{what} is null: leave the key out instead", node)
            return None
        if not node.style and node.tag == T_INT:
            return int(node.value.replace("_", ""), 0)
        if not node.style and node.tag == T_FLOAT:
            return float(node.value.replace("_", ""))
        if not node.style and node.tag == T_BOOL:
            return node.value.lower() in ("true", "yes", "on", "y")
        return node.value

    def record(self, node: yaml.Node, what: str) -> m.Value:
        fields = {k: self.plain(v, f"{what}.{k}") for k, _, v in self.r.mapping(node, what)}
        return m.Value(fields, self.r.span(node))

    def ref(self, node: yaml.Node, what: str) -> m.NameRef | None:
        v = self.r.scalar(node, what)
        return None if v is None else m.NameRef(v, self.r.span(node))

    def number(self, node: yaml.Node, what: str) -> m.Value | None:
        if isinstance(node, yaml.ScalarNode) and node.tag in (T_INT, T_FLOAT):
            return m.Value(self.plain(node, what), self.r.span(node))
        self.r.error("P105", f"{what} should be a number", node)
        return None

    # -- a test --------------------------------------------------------------------------
    def test(self, node: yaml.Node) -> m.TestCase | None:
        r = self.r
        items = r.mapping(node, "a test", TEST_KEYS)
        fields = {k: v for k, _, v in items}
        if not r.is_mapping(node):
            return None
        if "name" not in fields:
            r.error("P108", "a test needs `name`", node)
            return None
        name = r.scalar(fields["name"], "test name") or ""
        t = m.TestCase(name, r.span(fields["name"]))
        for key, _, v in items:
            if key == "seed":
                t.seed = r.integer(v, "seed")
            elif key == "now":
                t.now = r.text(v, "now")
            elif key == "agents":
                agents = [self.agent(k, kn, av) for k, kn, av in r.mapping(v, "agents")]
                t.agents = [a for a in agents if a is not None]
            elif key == "contacts":
                t.contacts = [
                    c for k, kn, cv in r.mapping(v, "contacts") if (c := self.contact(kn, cv))
                ]
            elif key == "chats":
                t.chats = [ch for x in r.seq(v, "chats") if (ch := self.chat(x)) is not None]
            elif key == "activities":
                t.activities = [a for x in r.seq(v, "activities") if (a := self.activity(x))]
            elif key == "consumers":
                t.consumers = [co for x in r.seq(v, "consumers") if (co := self.consumer(x))]
        return t

    def agent(self, key: str, knode: yaml.Node, node: yaml.Node) -> m.TestAgent | None:
        r = self.r
        fields = {k: v for k, _, v in r.mapping(node, f"agent {key}", AGENT_KEYS)}
        if "status" not in fields:
            r.error("P108", f"agent {key} needs `status`", node)
            return None
        status = r.text(fields["status"], "status")
        # pending and conversion are read (and their errors reported) whatever the status
        pending = r.integer(fields["pending"], "pending") if "pending" in fields else None
        conversion = (
            self.number(fields["conversion"], "conversion") if "conversion" in fields else None
        )
        if status is None:
            return None
        return m.TestAgent(
            m.NameRef(key, r.span(knode)), status, pending, conversion, r.span(knode)
        )

    def contact(self, knode: yaml.Node, node: yaml.Node) -> m.TestContact | None:
        r = self.r
        fields = {k: v for k, _, v in r.mapping(node, f"contact {knode.value}", ("agent", "time"))}
        if set(fields) != {"agent", "time"}:
            r.error("P108", f"contact {knode.value} needs `agent` and `time`", node)
            return None
        agent, time = self.ref(fields["agent"], "agent"), r.text(fields["time"], "time")
        if agent is None or time is None:
            return None
        return m.TestContact(m.NameRef(knode.value, r.span(knode)), agent, time, r.span(knode))

    def chat(self, node: yaml.Node) -> m.TestChat | None:
        r = self.r
        items = r.mapping(node, "a chat", CHAT_KEYS)
        fields = {k: v for k, _, v in items}
        if not r.is_mapping(node):
            return None
        if "buyer" not in fields:
            r.error("P108", "a chat needs `buyer`", node)
            return None
        chat = m.TestChat(self.ref(fields["buyer"], "buyer") or m.NameRef(""), span=r.span(node))
        for key, _, v in items:
            if key in ("time", "product", "order", "intent", "message", "exclusive_agent"):
                setattr(chat, key, r.text(v, key))
            elif key == "crowds":
                chat.crowds = r.names(v, "crowds")
            elif key == "attrs":
                chat.attrs = self.record(v, "attrs")
            elif key == "expect":
                self.route_expect(chat, v)
        return chat

    def route_expect(self, chat: m.TestChat, node: yaml.Node) -> None:
        r = self.r
        for key, _, v in r.mapping(node, "expect", ROUTE_EXPECT_KEYS):
            if key == "candidates":
                chat.candidates = r.names(v, "candidates")
            elif key == "group" and isinstance(v, yaml.ScalarNode) and v.tag == T_NULL:
                chat.group = m.Value(None, r.span(v))
            else:
                setattr(chat, key, r.text(v, key))

    def activity(self, node: yaml.Node) -> m.TestActivity | None:
        rec = self.record(node, "an activity")
        ident = rec.value.pop("id", None)
        if not isinstance(ident, str):
            self.r.error("P108", "an activity needs `id` (a string)", node)
            return None
        return m.TestActivity(m.NameRef(ident, rec.span), rec, rec.span)

    def consumer(self, node: yaml.Node) -> m.TestConsumer | None:
        r = self.r
        items = r.mapping(node, "a consumer", CONSUMER_KEYS)
        fields = {k: v for k, _, v in items}
        if not r.is_mapping(node):
            return None
        if "consumer" not in fields:
            r.error("P108", "a consumer needs `consumer` (its id)", node)
            return None
        c = m.TestConsumer(
            self.ref(fields["consumer"], "consumer") or m.NameRef(""), span=r.span(node)
        )
        for key, _, v in items:
            if key == "attrs":
                c.attrs = self.record(v, "attrs")
            elif key == "crowds":
                c.crowds = r.names(v, "crowds")
            elif key in ("exclusive", "interested"):
                setattr(c, key, r.boolean(v, key))
            elif key == "cart_adds":
                c.cart_adds = [p for x in r.seq(v, "cart_adds") if (p := self.cart(x))]
            elif key == "purchases":
                c.purchases = [t for x in r.seq(v, "purchases") if (t := r.text(x, "a purchase"))]
            elif key == "expect":
                c.expects = self.send_expects(v)
        return c

    def cart(self, node: yaml.Node) -> tuple[m.NameRef, m.Value] | None:
        fields = {k: v for k, _, v in self.r.mapping(node, "a cart add", ("item", "time"))}
        if set(fields) != {"item", "time"}:
            self.r.error("P108", "a cart add needs `item` and `time`", node)
            return None
        item, time = self.ref(fields["item"], "item"), self.r.text(fields["time"], "time")
        return (item, time) if item and time else None

    def send_expects(self, node: yaml.Node) -> list[m.SendExpect]:
        """`expect:` of a consumer: a list of `{send: C[, copy, coupon]}` and
        `{no_send: C[, because: REASON]}`; `{no_send: null}` is "no send at all"."""
        out = []
        for x in self.r.seq(node, "expect"):
            e = self.send_expect(x)
            if e is not None:
                out.append(e)
        return out

    def send_expect(self, node: yaml.Node) -> m.SendExpect | None:
        r = self.r
        keys = ("send", "no_send", "copy", "coupon", "because")
        fields = {k: v for k, _, v in r.mapping(node, "an expected send", keys)}
        if not r.is_mapping(node):
            return None
        sent = "send" in fields
        if sent == ("no_send" in fields):
            r.error(
                "P105", "an expectation has one of `send: CAMPAIGN` or `no_send: CAMPAIGN`", node
            )
            return None
        wrong = [k for k in (("because",) if sent else ("copy", "coupon")) if k in fields]
        if wrong:
            r.error(
                "P106", f"`{wrong[0]}` does not go with `{'send' if sent else 'no_send'}`", node
            )
            return None
        c = fields["send" if sent else "no_send"]
        none = not sent and isinstance(c, yaml.ScalarNode) and c.tag == T_NULL and not c.style
        exp = m.SendExpect(None if none else self.ref(c, "campaign"), sent, span=r.span(node))
        if not none and exp.campaign is None:
            return None
        if "copy" in fields:
            exp.copy = r.scalar(fields["copy"], "copy")
        if "coupon" in fields:
            exp.coupon = r.coupon(fields["coupon"], "coupon")
        if "because" in fields:
            exp.reason = r.text(fields["because"], "because")
        return exp
