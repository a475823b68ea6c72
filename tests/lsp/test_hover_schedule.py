"""Hover on a campaign (in process; test_lsp_server.py covers the wire): its send time and
configuration deadline as `rulec check` computes them (O5–O8, O10), nothing for what the rules
leave unknown."""

import pathlib

import pytest

from rulec.lsp.document import Document
from rulec.lsp.hover import hover_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = (ROOT / "rules" / "shop-double12.rules").read_text(encoding="utf-8")


def hover(source, name):
    doc = Document("file:///w/s.rules")
    doc.update(source)
    i = source.index(f"campaign {name}") + len("campaign ")
    line = source.count("\n", 0, i) + 1
    col = i - (source.rfind("\n", 0, i) + 1) + 1
    return hover_text(doc.index, doc.index.at(line, col), name)


def schedule_lines(text):
    return [s for s in text.splitlines() if s.startswith(("- sends at", "- must be"))]


@pytest.mark.parametrize(
    "name,want",
    [
        ("week49", ["- sends at 2023-12-04 10:00"]),  # a batch has no deadline
        (
            "d12-green",
            ["- sends at 2023-12-12 10:00", "- must be created before 2023-12-12 00:00 (O10)"],
        ),
        (
            "d12-cart",
            ["- sends at 2023-12-11 20:00", "- must be configured by 2023-12-10 21:59 (O10)"],
        ),
        (
            "d12-recall",
            ["- sends at 2023-12-12 14:00", "- must be configured by 2023-12-11 21:59 (O10)"],
        ),
        (
            "d12-super",
            ["- sends at 2023-12-12 20:00", "- must be configured by 2023-12-11 21:59 (O10)"],
        ),
    ],
)
def test_hover_gives_the_send_time_and_the_deadline(name, want):
    assert schedule_lines(hover(RULES, name)) == want


def test_a_green_deadline_follows_its_date_not_its_send_time():
    """O5: created before 00:00 of its date, even when the send time is on another day."""
    src = RULES.replace(
        "  send_at 2023-12-12T10:00:00+08:00\n  date 2023-12-12", "  date 2023-12-12"
    )
    assert schedule_lines(hover(src, "d12-green")) == [
        "- must be created before 2023-12-12 00:00 (O10)"
    ]
    src = RULES.replace("  date 2023-12-12\n", "")  # no date: the send time's day
    assert schedule_lines(hover(src, "d12-green")) == [
        "- sends at 2023-12-12 10:00",
        "- must be created before 2023-12-12 00:00 (O10)",
    ]


def test_hover_times_are_in_the_shops_zone():
    src = RULES.replace("timezone Asia/Shanghai", "timezone Europe/London")
    assert schedule_lines(hover(src, "d12-recall")) == [
        "- sends at 2023-12-12 14:00",
        "- must be configured by 2023-12-11 21:59 (O10)",
    ]
    assert schedule_lines(hover(src, "week49")) == ["- sends at 2023-12-04 02:00"]


def test_nothing_is_shown_for_what_the_rules_leave_unknown():
    unknown_zone = RULES.replace("timezone Asia/Shanghai", "timezone Mars/Olympus")
    assert schedule_lines(hover(unknown_zone, "d12-recall")) == []
    unknown_promo = RULES.replace(
        "  promo double12\n  configured_at 2023-12-11T10",
        "  promo d13\n  configured_at 2023-12-11T10",
    )
    assert schedule_lines(hover(unknown_promo, "d12-recall")) == []
    unknown_kind = RULES.replace("campaign week49 batch {", "campaign week49 bulk {")
    assert schedule_lines(hover(unknown_kind, "week49")) == []


def test_a_green_deadline_is_midnight_of_its_date_in_a_zone_far_east():
    src = RULES.replace("timezone Asia/Shanghai", "timezone Pacific/Kiritimati")
    assert "- must be created before 2023-12-12 00:00 (O10)" in hover(src, "d12-green")


def test_only_a_green_campaign_reads_its_date():
    src = RULES.replace(
        "  promo double12\n  configured_at 2023-12-11T10",
        "  promo double12\n  date 2023-12-20\n  configured_at 2023-12-11T10",
    )
    assert schedule_lines(hover(src, "d12-recall")) == [
        "- sends at 2023-12-12 14:00",
        "- must be configured by 2023-12-11 21:59 (O10)",
    ]
