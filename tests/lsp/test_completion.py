"""Completion in context, for both surfaces (in process; the server test covers the wire)."""

import pathlib

import pytest

from rulec.lsp.completion import complete
from rulec.lsp.document import Document

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = (ROOT / "rules" / "shop-double12.rules").read_text(encoding="utf-8")
YAML = (ROOT / "rules" / "shop-double12.yaml").read_text(encoding="utf-8")


def labels(source, name, old, new, cursor_after):
    """Labels offered in `source` with `old` replaced by `new`, the cursor after the first
    `cursor_after` in the edited text (names come from the unedited, clean file)."""
    clean = Document(f"file:///w/{name}")
    clean.update(source)
    edited = source.replace(old, new, 1)
    assert edited != source
    doc = Document(f"file:///w/{name}")
    doc.update(edited)
    i = edited.index(cursor_after) + len(cursor_after)
    line = edited.count("\n", 0, i) + 1
    col = i - (edited.rfind("\n", 0, i) + 1) + 1
    return [label for label, _ in complete(clean.index, doc.lines, line, col, doc.yaml)]


@pytest.mark.parametrize(
    "old,new,cursor,expected",
    [
        ("campaign week49 batch {", "campaign week49 ", "campaign week49 ", ["batch", "green"]),
        (
            "  promo double12\n  configured_at 2023-12-10",
            "  promo \n  configured_at 2023-12-10",
            "  promo ",
            ["double12"],
        ),
        ("  target 同城 {", "  target  {", "  target ", ["高价值会员", "同城", "爱上新"]),
        ("  robot on\n", "  robot \n", "  robot ", ["on", "off"]),
        (
            "  when_nobody_online message_pool",
            "  when_nobody_online ",
            "  when_nobody_online ",
            ["main_account", "message_pool"],
        ),
        (
            "  mode conversion high",
            "  mode conversion ",
            "  mode conversion ",
            ["low", "medium", "high"],
        ),
        (
            "  grants green_channel, cart_coupon, super_discount",
            "  grants ",
            "  grants ",
            ["green_channel"],
        ),
        ("attribute city: string", "attribute city: ", "attribute city: ", ["int", "set"]),
        ("  coupon CART-D12 kind cs_channel", "  coupon CART-D12 ", "  coupon CART-D12 ", ["kind"]),
        ("  sticky hold 24h window 72h", "  sticky ", "  sticky ", ["hold", "window"]),
        ("  intent 冲泡咨询\n", "  intent \n", "  intent ", ["退款", "催发货", "冲泡咨询"]),
        ("  exclusive_direct on\n", "  ex\n", "  ex", ["when_nobody_online", "exclusive_direct"]),
    ],
)
def test_rules_completion(old, new, cursor, expected):
    got = labels(RULES, "shop.rules", old, new, cursor)
    assert set(expected) <= set(got), got


@pytest.mark.parametrize(
    "old,new,cursor,expected",
    [
        ("    kind: green\n", "    kind: \n", "    kind: ", ["batch", "recall"]),
        (
            '      - {crowd: 同城, copy: "江浙同城次日达"}\n',
            "      - crowd: \n",
            "      - crowd: ",
            ["同城", "新客"],
        ),
        (
            "  when_nobody_online: message_pool",
            "  when_nobody_online: ",
            "  when_nobody_online: ",
            ["proxy_account"],
        ),
        ("  tool_level: advanced\n", "  \n", "facts:\n  ", ["tool_level", "grants"]),
        ("    robot: true\n", "    robot: \n", "    robot: ", ["true", "false"]),
        ("  tags: set\n", "  tags: \n", "  tags: ", ["set", "string"]),
        (
            "    agents: [老王, 小周]\n",
            "    agents: [老王, \n",
            "    agents: [老王, ",
            ["小美", "阿强"],
        ),
    ],
)
def test_yaml_completion(old, new, cursor, expected):
    got = labels(YAML, "shop.yaml", old, new, cursor)
    assert set(expected) <= set(got), got


def test_top_level_of_an_empty_line():
    assert labels(YAML, "shop.yaml", "shop: 山野茶铺\n", "\nshop: 山野茶铺\n", "")[:3] == [
        "shop",
        "timezone",
        "routing",
    ]
