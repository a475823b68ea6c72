"""The .rules language: every construct parses into the model both frontends share."""

import pytest
from lang_helpers import EXAMPLES, leaks, plain

from rulec.compiler import model as m
from rulec.compiler.frontend_rules import parse_rules
from rulec.compiler.frontend_yaml import parse_yaml

CONTRACT = """\
# The contract's YAML example, in the .rules language.
shop demo
timezone Asia/Shanghai
routing {
  when_nobody_online message_pool
  robot_first off
  exclusive_direct off
  busy_threshold 4
  sticky hold 24h window 72h
}
attribute member_level: int
attribute total_spent: number
attribute city: string
crowd vip = member_level >= 3 and total_spent > 1000
crowd local = city in ["杭州", "上海"]
intent refund = message contains_any ["退款", "退货"]
agent 小美 level 5
agent bob level 2
group 售前A {
  agents 小美, bob
  crowd vip
  product a, "sku-100"
  intent refund
  order no_active_order, unpaid
  mode efficiency
  robot off
}
promo double12 presale_start 2023-12-01 last_day 2023-12-12
facts {
  tool_level advanced
  relationships_last_month_end 12000
  advanced_relationships_this_month 15000
  grants green_channel, cart_coupon, super_discount
}
outreach { cap_window 7d; max_delay 24h }
campaign week48 batch {
  send_at 2023-11-27T10:00:00+08:00
  target vip { copy "VIP 专享"; coupon VIP10 }
  target local { copy "同城包邮" }
}
campaign d12-recall recall {
  promo double12
  configured_at 2023-12-11T10:00:00+08:00
  copy "还没下单?"
  coupon CS1 kind cs_channel
  segment vip { copy "VIP 回来看看"; coupon CS2 kind cs_channel }
}
campaign d12-green green {
  date 2023-12-12
  created_at 2023-12-10T12:00:00+08:00
  send_at 2023-12-12T10:00:00+08:00
  target vip { copy "大促当天专享" }
}
campaign d12-cart cart_coupon {
  promo double12
  configured_at 2023-12-10T09:00:00+08:00
  copy "购物车里的宝贝降价了"
  coupon CC1 kind cs_channel
}
campaign d12-super super_discount {
  promo double12
  configured_at 2023-12-11T09:00:00+08:00
  copy "今晚最后冲刺"
}
"""

CONTRACT_YAML = """\
shop: demo
timezone: Asia/Shanghai
routing:
  when_nobody_online: message_pool
  robot_first: false
  exclusive_direct: false
  busy_threshold: 4
  sticky: {hold: 24h, window: 72h}
attributes:
  member_level: int
  total_spent: number
  city: string
crowds:
  vip: "member_level >= 3 and total_spent > 1000"
  local: 'city in ["杭州", "上海"]'
intents:
  refund: 'message contains_any ["退款", "退货"]'
agents:
  小美: {level: 5}
  bob: {level: 2}
groups:
  售前A:
    agents: [小美, bob]
    crowd: [vip]
    product: [a, "sku-100"]
    intent: [refund]
    order: [no_active_order, unpaid]
    mode: efficiency
    robot: false
promos:
  double12: {presale_start: "2023-12-01", last_day: "2023-12-12"}
facts:
  tool_level: advanced
  relationships_last_month_end: 12000
  advanced_relationships_this_month: 15000
  grants: [green_channel, cart_coupon, super_discount]
outreach:
  cap_window: 7d
  max_delay: 24h
campaigns:
  - name: week48
    kind: batch
    send_at: "2023-11-27T10:00:00+08:00"
    targets:
      - {crowd: vip, copy: "VIP 专享", coupon: VIP10}
      - {crowd: local, copy: "同城包邮"}
  - name: d12-recall
    kind: recall
    promo: double12
    configured_at: "2023-12-11T10:00:00+08:00"
    copy: "还没下单?"
    coupon: {id: CS1, kind: cs_channel}
    segments:
      - {crowd: vip, copy: "VIP 回来看看", coupon: {id: CS2, kind: cs_channel}}
  - name: d12-green
    kind: green
    date: "2023-12-12"
    created_at: "2023-12-10T12:00:00+08:00"
    send_at: "2023-12-12T10:00:00+08:00"
    targets: [{crowd: vip, copy: "大促当天专享"}]
  - name: d12-cart
    kind: cart_coupon
    promo: double12
    configured_at: "2023-12-10T09:00:00+08:00"
    copy: "购物车里的宝贝降价了"
    coupon: {id: CC1, kind: cs_channel}
  - name: d12-super
    kind: super_discount
    promo: double12
    configured_at: "2023-12-11T09:00:00+08:00"
    copy: "今晚最后冲刺"
"""


def parse(text):
    return parse_rules(text, "t.rules")


def test_contract_example_is_the_same_model_in_both_surfaces():
    assert plain(parse(CONTRACT)) == plain(parse_yaml(CONTRACT_YAML, "t.yaml"))


def test_settings_become_values_with_seconds():
    shop = parse(CONTRACT)
    r = {k: v.value for k, v in shop.routing.items()}
    assert r == {
        "when_nobody_online": "message_pool",
        "robot_first": False,
        "exclusive_direct": False,
        "busy_threshold": 4,
        "sticky_hold": 86400,
        "sticky_window": 259200,
    }
    assert set(r) <= set(m.ROUTING_DEFAULTS)
    assert {k: v.value for k, v in shop.outreach.items()} == {
        "cap_window": 604800,
        "max_delay": 86400,
    }
    assert shop.timezone.value == "Asia/Shanghai"


@pytest.mark.parametrize(
    "text,seconds", [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("1d12h", 129600)]
)
def test_durations_take_a_unit(text, seconds):
    shop = parse(f"shop s\nrouting {{ sticky window {text} }}\noutreach {{ max_delay {text} }}")
    assert shop.routing["sticky_window"].value == seconds
    assert shop.outreach["max_delay"].value == seconds


def test_drain_pool_and_switch_spellings():
    shop = parse("shop s\nrouting { drain_pool on; robot_first true; exclusive_direct false }")
    assert [shop.routing[k].value for k in ("drain_pool", "robot_first", "exclusive_direct")] == [
        True,
        True,
        False,
    ]


def test_sticky_parts_in_any_order_or_alone():
    shop = parse("shop s\nrouting { sticky window 48h hold 2h }")
    assert (shop.routing["sticky_hold"].value, shop.routing["sticky_window"].value) == (
        7200,
        172800,
    )
    assert "sticky_window" not in parse("shop s\nrouting { sticky hold 1h }").routing


def test_attributes_crowds_and_intents_are_native_predicates():
    shop = parse(CONTRACT)
    assert [(a.name, a.type) for a in shop.attributes] == [
        ("member_level", "int"),
        ("total_spent", "number"),
        ("city", "string"),
    ]
    vip = shop.crowds[0]
    assert vip.name == "vip" and vip.text == "member_level >= 3 and total_spent > 1000"
    assert isinstance(vip.expr, m.BoolOp) and vip.expr.op == "and"
    refund = shop.intents[0].expr
    assert isinstance(refund, m.Contains) and refund.any
    assert [i.value for i in refund.value.items] == ["退款", "退货"]


def test_predicate_text_keeps_parentheses_as_written():
    shop = parse("shop s\ncrowd c = (a > 1 or b)  # note\nagent x")
    assert shop.crowds[0].text == "(a > 1 or b)"
    assert shop.crowds[0].expr.op == "or"


def test_multiline_predicate():
    shop = parse("shop s\ncrowd c = a > 1\n  and b < 2\n  and not c\nagent x")
    assert len(shop.crowds[0].expr.items) == 3 and shop.agents[0].id == "x"


def test_agents_levels_default_three():
    shop = parse("shop s\nagent 小美 level 5\nagent bob")
    assert [(a.id, a.level) for a in shop.agents] == [("小美", 5), ("bob", 3)]
    assert shop.agents[0].level_span.col == 16 and shop.agents[1].level_span is None


def test_group_with_every_field():
    g = parse(CONTRACT).groups[0]
    assert g.name == "售前A"
    assert [r.name for r in g.agents] == ["小美", "bob"]
    assert [r.name for r in g.product] == ["a", "sku-100"]
    assert [r.name for r in g.order] == ["no_active_order", "unpaid"]
    assert (g.mode, g.strength, g.robot) == ("efficiency", None, False)


def test_conversion_mode_and_robot():
    g = parse("shop s\ngroup g { agents a; mode conversion high; robot on }").groups[0]
    assert (g.mode, g.strength, g.robot) == ("conversion", "high", True)
    assert (g.mode_span.line, g.mode_span.col, g.mode_span.end_col) == (2, 26, 41)


def test_enum_words_are_carried_for_the_passes_to_check():
    """Unknown modes, kinds, types and states are not syntax errors: the passes say
    'did you mean' (V401)."""
    shop = parse(
        "shop s\nattribute a: integer\ngroup g { order unpayed; mode fast }\n"
        "routing { when_nobody_online pool }\ncampaign c blast { }"
    )
    assert shop.attributes[0].type == "integer"
    assert shop.groups[0].order[0].name == "unpayed" and shop.groups[0].mode == "fast"
    assert shop.routing["when_nobody_online"].value == "pool"
    assert shop.campaigns[0].kind.value == "blast"


def test_product_ids_with_hyphens_digits_and_quotes():
    g = parse('shop s\ngroup g { product sku-100, 620011223344, "a b", sku-龙井-250g }').groups[0]
    assert [r.name for r in g.product] == ["sku-100", "620011223344", "a b", "sku-龙井-250g"]


def test_keywords_are_names_where_a_name_is_expected():
    shop = parse("shop group\nagent agent\ngroup mode { agents agent; crowd robot }")
    assert shop.name == "group" and shop.agents[0].id == "agent"
    assert shop.groups[0].name == "mode" and shop.groups[0].crowd[0].name == "robot"


def test_chinese_identifiers_everywhere():
    shop = parse(
        "shop 山野茶铺\nattribute 等级: int\ncrowd 老客 = 等级 >= 2\n"
        'intent 退款 = message contains "退"\nagent 小美\n'
        "group 售后组 { agents 小美; crowd 老客; intent 退款 }\n"
        "promo 双十二 last_day 2023-12-12\n"
        'campaign 召回 recall { promo 双十二; copy "回来看看"; coupon 券1 kind cs_channel }'
    )
    assert shop.name == "山野茶铺"
    assert shop.crowds[0].expr.left.name == "等级"
    assert shop.groups[0].intent[0].name == "退款"
    c = shop.campaigns[0]
    assert (c.name, c.promo.name, c.coupon.id) == ("召回", "双十二", "券1")


def test_promo_and_times_are_kept_as_written():
    shop = parse(CONTRACT)
    p = shop.promos[0]
    assert (p.presale_start.value, p.last_day.value) == ("2023-12-01", "2023-12-12")
    c = shop.campaigns[0]
    assert c.send_at.value == "2023-11-27T10:00:00+08:00"
    shop = parse('shop s\ncampaign c batch { send_at 2023-1-2T3:04Z; date "12/12" }')
    assert shop.campaigns[0].send_at.value == "2023-1-2T3:04Z"  # validated by the passes
    assert shop.campaigns[0].date.value == "12/12"


def test_campaign_fields():
    recall = parse(CONTRACT).campaigns[1]
    assert recall.kind.value == "recall" and recall.promo.name == "double12"
    assert recall.copy.value == "还没下单?"
    assert (recall.coupon.id, recall.coupon.kind) == ("CS1", "cs_channel")
    seg = recall.segments[0]
    assert (seg.crowd.name, seg.copy, seg.coupon.id) == ("vip", "VIP 回来看看", "CS2")
    week = parse(CONTRACT).campaigns[0]
    assert [(t.crowd.name, t.copy) for t in week.targets] == [
        ("vip", "VIP 专享"),
        ("local", "同城包邮"),
    ]
    assert week.targets[0].coupon.kind is None and week.targets[1].coupon is None
    green = parse(CONTRACT).campaigns[2]
    assert (green.date.value, green.created_at.value) == ("2023-12-12", "2023-12-10T12:00:00+08:00")


def test_target_without_body():
    t = parse("shop s\ncampaign c batch { target vip }").campaigns[0].targets[0]
    assert (t.crowd.name, t.copy, t.coupon) == ("vip", None, None)


def test_facts():
    f = parse(CONTRACT).facts
    assert {k: v.value for k, v in f.items()} == {
        "tool_level": "advanced",
        "relationships_last_month_end": 12000,
        "advanced_relationships_this_month": 15000,
        "grants": ["green_channel", "cart_coupon", "super_discount"],
    }
    assert parse("shop s\nfacts { grants }").facts["grants"].value == []


def test_semicolons_and_one_line_blocks():
    a = parse("shop s; agent a; group g { agents a; product p; }; routing { robot_first on; }")
    b = parse("shop s\nagent a\ngroup g {\n agents a\n product p\n}\nrouting {\n robot_first on\n}")
    assert plain(a) == plain(b)


def test_comments_and_string_escapes():
    shop = parse('# head\nshop s # trailing\ncrowd c = m contains "#不是注释\\n\\"\\u4e2d"\n')
    assert shop.crowds[0].expr.value.value == '#不是注释\n"中'


def test_spans_point_at_the_source():
    shop = parse(CONTRACT)
    assert (shop.span.line, shop.span.col) == (2, 6)
    g = shop.groups[0]
    assert (g.span.line, g.span.col) == (19, 7)
    assert (g.product[1].span.line, g.product[1].span.col) == (22, 14)
    assert shop.routing["sticky_window"].span.col == 26
    assert all(s.file == "t.rules" for s in (shop.span, g.span, shop.crowds[0].span))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in EXAMPLES.glob("*.rules") if not p.stem.endswith("_test")),
    ids=lambda p: p.name,
)
def test_no_lark_tree_or_token_leaks_into_the_model(path):
    shop = parse_rules(path.read_text(encoding="utf-8"), str(path))
    assert leaks(shop) == []
    assert leaks(parse(CONTRACT)) == []


def test_leak_walker_finds_tokens():
    from lark import Token

    shop = parse("shop s\nagent a")
    shop.agents[0].id = Token("ID", "a")
    assert leaks(shop) == ["shop.agents[0].id: lark.lexer.Token"]


def test_predicate_start_symbol_still_works():
    from rulec.compiler.frontend_predicate import parse_predicate

    e = parse_predicate('not (a in [1, 2]) or b contains "x"')
    assert isinstance(e, m.BoolOp) and isinstance(e.items[0], m.Not)
