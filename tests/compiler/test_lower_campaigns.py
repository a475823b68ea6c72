"""Lowering campaigns (docs/table-format.md, CAMPAIGN): a written `send_at` is stored as the
instant it names, in one ISO-8601 form; only the promo kinds (O6–O8) get a computed one."""

import json
import pathlib

import rulec


def campaign(**fields) -> dict:
    rules = {
        "shop": "s",
        "timezone": "Asia/Shanghai",
        "attributes": {"member_level": "int"},
        "crowds": {"vip": "member_level >= 3"},
        "agents": {"a1": {}},
        "groups": {"G": {"agents": ["a1"]}},
        "promos": {"d12": {"last_day": "2023-12-12"}},
        "campaigns": [{"name": "c", "targets": [{"crowd": "vip", "copy": "hi"}], **fields}],
    }
    result = rulec.compile_source(json.dumps(rules), file="s.yaml")
    assert result.ok, [(d.code, d.message) for d in result.errors]
    [c] = result.body["campaigns"]
    return c


def test_a_written_send_at_is_stored_in_one_iso_form():
    """O11 (messages carry the scheduled time): `Z` and a space are read as the instant they
    name and stored as Python's ISO form with an explicit offset."""
    c = campaign(kind="batch", send_at="2023-12-04T02:00Z")
    assert c["send_at"] == "2023-12-04T02:00:00+00:00"
    c = campaign(kind="batch", send_at=" 2023-12-04 10:00:00+08:00 ")
    assert c["send_at"] == "2023-12-04T10:00:00+08:00"


def test_a_batch_campaign_naming_a_promo_keeps_its_own_send_at():
    """Only cart_coupon, recall and super_discount run at a time computed from the promo's
    last day (O6–O8); a batch campaign that names a promo still sends when it says."""
    c = campaign(kind="batch", send_at="2023-12-04T10:00:00+08:00", promo="d12")
    assert (c["promo"], c["send_at"]) == ("d12", "2023-12-04T10:00:00+08:00")


def test_promo_campaigns_run_in_the_shops_zone():
    """The shop's `timezone` is stored, and O6–O8 send times are computed in it: the example
    shop moved to Berlin sends its cart coupon at 20:00 Berlin time on the eve of the last day."""
    root = pathlib.Path(__file__).resolve().parents[2]
    text = (root / "rules/shop-double12.yaml").read_text(encoding="utf-8")
    moved = text.replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin")
    assert moved != text
    body = rulec.compile_source(moved, file="shop.yaml").body
    assert body["timezone"] == "Europe/Berlin"
    sends = {c["kind"]: c["send_at"] for c in body["campaigns"]}
    assert sends["cart_coupon"] == "2023-12-11T20:00:00+01:00"


def test_outside_labels_of_groups_and_campaigns_are_listed_once():
    """`labels` (docs/table-format.md; W504): crowd names the rules use without defining them,
    from groups first and then campaign targets, each once; defined crowds are not labels."""
    rules = {
        "shop": "s",
        "attributes": {"member_level": "int"},
        "crowds": {"vip": "member_level >= 3"},
        "intents": {"refund": "member_level == 1"},
        "agents": {"a1": {}},
        "groups": {
            "G": {"agents": ["a1"], "crowd": ["ext_a", "vip"], "intent": ["ext_i", "refund"]},
            "H": {"agents": ["a1"], "crowd": ["ext_a", "ext_b"]},
        },
        "campaigns": [
            {
                "name": "c",
                "kind": "batch",
                "send_at": "2023-12-04T10:00:00+08:00",
                "targets": [{"crowd": "ext_c", "copy": "x"}, {"crowd": "ext_a", "copy": "y"}],
            }
        ],
    }
    result = rulec.compile_source(json.dumps(rules), file="s.yaml")
    assert result.ok, [(d.code, d.message) for d in result.errors]
    assert result.body["labels"] == {"crowd": ["ext_a", "ext_b", "ext_c"], "intent": ["ext_i"]}
