"""The `.rules` frontend's part for `test` statements: parse-tree methods building model.TestCase."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from lark import Token, v_args
from lark.tree import Meta

from rulec.compiler import model as m
from rulec.compiler.frontend_predicate import PredicateBuilder
from rulec.errors import Span

# What a rule of a block gives its block: (key, value, span of the item).
Item = tuple[str, Any, Span | None]
C = TypeVar("C", m.Target, m.SendExpect)

# The statements a test may repeat; every other item is written at most once (P103).
_REPEATED = {"agent", "contact", "chat", "activity", "consumer", "cart", "purchase", "expect"}


@v_args(meta=True)
class TestsBuilder(PredicateBuilder):
    """The base of RulesBuilder (rulec/compiler/frontend_rules.py): one method per test rule
    of rules.lark. Uses RulesBuilder's error, _items, _int and names."""

    if TYPE_CHECKING:  # defined by RulesBuilder, the one subclass

        def error(
            self, code: str, message: str, span: Span | None, hints: Iterable[str] = ()
        ) -> None: ...

        def _items(
            self, what: str, items: Iterable[Item], seen: dict[str, Span | None] | None = None
        ) -> list[tuple[str, Any]]: ...

        def _int(self, tok: Token) -> m.Value: ...

        def names(self, meta: Meta, items: list[Any]) -> list[m.NameRef]: ...

    def _singles(self, what: str, items: list[Item]) -> tuple[dict[str, Any], list[Item]]:
        """Items keyed once each (P103 on a repeat), and the repeated ones in order."""
        once = [it for it in items if it[0] not in _REPEATED]
        return dict(self._items(what, once)), [it for it in items if it[0] in _REPEATED]

    # -- values --------------------------------------------------------------------------
    def test_names(self, meta: Meta, items: list[Any]) -> list[m.NameRef]:
        return self.names(meta, items)

    def record_field(self, meta: Meta, items: list[Any]) -> Item:
        key, value = items
        name = str(self.string(meta, [key]).value) if key.type == "STRING" else str(key)
        plain: Any
        if isinstance(value, m.ListLit):
            plain = [x.value for x in value.items]
        else:
            plain = value.value
        return (name, plain, self._span(meta))

    def record(self, meta: Meta, items: list[Any]) -> m.Value:
        return m.Value(dict(self._items("a record", items)), self._span(meta))

    def _value(self, key: str, meta: Meta, w: Any) -> Item:
        return (key, m.Value(w.value, w.span), self._span(meta))

    # -- state ---------------------------------------------------------------------------
    def test_seed(self, meta: Meta, items: list[Any]) -> Item:
        return ("seed", self._int(items[0]), self._span(meta))

    def test_now(self, meta: Meta, items: list[Any]) -> Item:
        return self._value("now", meta, items[0])

    def agent_extra(self, meta: Meta, items: list[Any]) -> Item:
        key, tok = items
        value = self.number(meta, [tok])
        if key not in ("pending", "conversion"):
            self.error(
                "P100",
                f"unexpected `{key}` after an agent's status",
                self.pos.of(key),
                ("expected `pending N` or `conversion RATE`",),
            )
        elif key == "pending" and not isinstance(value.value, int):
            self.error("P107", "pending is a whole number of chats", value.span)
        return (str(key), m.Value(value.value, value.span), self._span(meta))

    def test_agent(self, meta: Meta, items: list[Any]) -> Item:
        name, status = items[0], items[1]
        agent = m.TestAgent(
            m.NameRef(name.value, name.span), m.Value(status.value, status.span), span=name.span
        )
        for key, value in self._items(f"agent {name.value}", items[2:]):
            if key in ("pending", "conversion"):  # anything else was reported (P100)
                setattr(agent, key, value)
        return ("agent", agent, self._span(meta))

    def test_contact(self, meta: Meta, items: list[Any]) -> Item:
        buyer, agent, time = items
        contact = m.TestContact(
            m.NameRef(buyer.value, buyer.span),
            m.NameRef(agent.value, agent.span),
            m.Value(time.value, time.span),
            self._span(meta),
        )
        return ("contact", contact, self._span(meta))

    # -- routing chats ---------------------------------------------------------------------
    def chat_product(self, meta: Meta, items: list[Any]) -> Item:
        return self._value("product", meta, items[0])

    def chat_order(self, meta: Meta, items: list[Any]) -> Item:
        return self._value("order", meta, items[0])

    def chat_intent(self, meta: Meta, items: list[Any]) -> Item:
        return self._value("intent", meta, items[0])

    def chat_exclusive(self, meta: Meta, items: list[Any]) -> Item:
        return self._value("exclusive_agent", meta, items[0])

    def chat_crowds(self, meta: Meta, items: list[Any]) -> Item:
        return ("crowds", items[0], self._span(meta))

    def chat_message(self, meta: Meta, items: list[Any]) -> Item:
        lit = self.string(meta, items)
        return ("message", m.Value(lit.value, lit.span), self._span(meta))

    def test_attrs(self, meta: Meta, items: list[Any]) -> Item:
        return ("attrs", items[0], self._span(meta))

    def expect_target(self, meta: Meta, items: list[Any]) -> Item:
        text = items[0].value + (f":{items[1].value}" if len(items) > 1 else "")
        return ("target", m.Value(text, self._span(meta)), self._span(meta))

    def expect_step(self, meta: Meta, items: list[Any]) -> Item:
        return self._value("step", meta, items[0])

    def expect_group(self, meta: Meta, items: list[Any]) -> Item:
        w = items[0]
        value = None if getattr(w, "type", None) == "NONE" else w.value
        return (
            "group",
            m.Value(value, self.pos.of(w) if value is None else w.span),
            self._span(meta),
        )

    def expect_candidates(self, meta: Meta, items: list[Any]) -> Item:
        return ("candidates", items[0] if items else [], self._span(meta))

    def test_chat(self, meta: Meta, items: list[Any]) -> Item:
        buyer = items[0]
        chat = m.TestChat(m.NameRef(buyer.value, buyer.span), span=self._span(meta))
        rest = items[1:]
        if rest and not isinstance(rest[0], tuple):
            chat.time, rest = m.Value(rest[0].value, rest[0].span), rest[1:]
        for key, value in self._items(f"chat {buyer.value}", rest):
            setattr(chat, key, value)
        return ("chat", chat, self._span(meta))

    # -- outreach --------------------------------------------------------------------------
    def test_activity(self, meta: Meta, items: list[Any]) -> Item:
        name, record = items
        act = m.TestActivity(m.NameRef(name.value, name.span), record, self._span(meta))
        return ("activity", act, self._span(meta))

    def consumer_flag(self, meta: Meta, items: list[Any]) -> Item:
        return (str(items[0]), items[1], self._span(meta))

    def consumer_cart(self, meta: Meta, items: list[Any]) -> Item:
        item, time = items
        pair = (m.NameRef(item.value, item.span), m.Value(time.value, time.span))
        return ("cart", pair, self._span(meta))

    def consumer_purchase(self, meta: Meta, items: list[Any]) -> Item:
        return ("purchase", m.Value(items[0].value, items[0].span), self._span(meta))

    def _content(self, obj: C, what: str, items: list[Any]) -> C:
        """`NAME { copy "..."; coupon ID }`: the copy and coupon of a target, a segment or an
        expected send, set on `obj`."""
        body = items[1] if len(items) > 1 else []
        for key, value in self._items(f"{what} {items[0].value}", body):
            if key == "copy":
                obj.copy = value.value
            else:
                obj.coupon = value
        return obj

    def expect_send(self, meta: Meta, items: list[Any]) -> Item:
        c = items[0]
        exp = m.SendExpect(m.NameRef(c.value, c.span), span=self._span(meta))
        return ("expect", self._content(exp, "expect send", items), self._span(meta))

    def expect_no_send(self, meta: Meta, items: list[Any]) -> Item:
        exp = m.SendExpect(None, sent=False, span=self._span(meta))
        if items:
            exp.campaign = m.NameRef(items[0].value, items[0].span)
        if len(items) > 1:
            exp.reason = m.Value(items[1].value, items[1].span)
        return ("expect", exp, self._span(meta))

    def test_consumer(self, meta: Meta, items: list[Any]) -> Item:
        name = items[0]
        c = m.TestConsumer(m.NameRef(name.value, name.span), span=self._span(meta))
        singles, repeated = self._singles(f"consumer {name.value}", items[1:])
        for key, value in singles.items():
            setattr(c, key, value)
        lists: dict[str, list[Any]] = {
            "cart": c.cart_adds,
            "purchase": c.purchases,
            "expect": c.expects,
        }
        for key, value, _span in repeated:
            lists[key].append(value)
        return ("consumer", c, self._span(meta))

    # -- the test --------------------------------------------------------------------------
    def test(self, meta: Meta, items: list[Any]) -> Item:
        name = items[0]
        t = m.TestCase(name.value, name.span)
        singles, repeated = self._singles(f"test {name.value}", items[1:])
        for key, value in singles.items():
            setattr(t, key, value)
        lists: dict[str, list[Any]] = {
            "agent": t.agents,
            "contact": t.contacts,
            "chat": t.chats,
            "activity": t.activities,
            "consumer": t.consumers,
        }
        for key, value, _span in repeated:
            lists[key].append(value)
        return ("test", t, self._span(meta))
