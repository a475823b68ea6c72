"""The examples in rules/ compile and mean what their comments say (R5, R6, C5, O5-O10)."""

import datetime as dt

import pytest
from lang_helpers import EXAMPLES

from rulec.compiler.pipeline import compile_path

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize("name", ["article000.rules", "shop-double12.rules", "shop-double12.yaml"])
def test_example_compiles_without_errors_or_warnings(name):
    result = compile_path(EXAMPLES / name)
    assert result.ok and result.diagnostics == [], result.diagnostics


@pytest.mark.parametrize(
    "chat,groups",
    [
        ({"product": "a", "order": "unpaid"}, ["A"]),
        ({"product": "a", "order": "after_sale"}, ["A", "B", "C"]),
        ({"product": "c", "order": "after_sale"}, ["D"]),
        ({"product": "a", "order": "shipped"}, ["B"]),
    ],
)
def test_article000_is_the_r5_worked_example(chat, groups):
    """R5: crowd > product > intent > order; a dimension without hits is skipped."""
    table = compile_path(EXAMPLES / "article000.rules").table
    assert table.match(chat) == groups


def test_double12_routing_reads_as_its_comments_say():
    """R5: the member crowd is matched before products; pre-sales has six agents so
    conversion mode takes effect (C5); refund messages reach after-sales by intent."""
    table = compile_path(EXAMPLES / "shop-double12.rules").table
    vip = {
        "attrs": {"member_level": 4, "total_spent": 5000},
        "product": "sku-龙井-250g",
        "order": "unpaid",
    }
    assert table.match(vip) == ["会员专席"]
    assert table.match({"product": "sku-龙井-250g", "order": "unpaid"}) == ["售前组"]
    assert table.match({"message": "我要退款", "order": "after_sale"}) == ["售后组"]
    assert table.match({"message": "水温多少度合适"}) == ["冲泡助手"]
    presale = next(
        g for g in compile_path(EXAMPLES / "shop-double12.rules").shop.groups if g.name == "售前组"
    )
    assert presale.mode == "conversion" and len(presale.agents) > 5


def test_double12_campaigns_meet_their_deadlines_and_thresholds():
    """O5/O10: configured in time; O7/O9: facts give the grants and thresholds."""
    result = compile_path(
        EXAMPLES / "shop-double12.rules", now=dt.datetime(2023, 12, 1, tzinfo=CST)
    )
    assert result.ok and result.diagnostics == []
    sends = {c["name"]: c["send_at"] for c in result.body["campaigns"]}
    assert sends == {
        "week49": "2023-12-04T10:00:00+08:00",
        "d12-green": "2023-12-12T10:00:00+08:00",
        "d12-cart": "2023-12-11T20:00:00+08:00",
        "d12-recall": "2023-12-12T14:00:00+08:00",
        "d12-super": "2023-12-12T20:00:00+08:00",
    }
