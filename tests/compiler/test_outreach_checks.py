"""The outreach checks of `rulec check` (O5–O10, O6xx codes): each finding is reported once, at
the field it is about (the fact, the coupon, the fifth segment, the first target, the written
send time, the configuration time), with the deadline it names; `--now` (O10 look-ahead)
reports a deadline passed (O651) or within a day (O652) for what is not configured yet."""

import datetime as dt

import pytest

import rulec

# One shop with one finding of each kind (line numbers below count from `shop: s`).
FINDINGS = """\
shop: s
timezone: Asia/Shanghai
promos:
  d12: {presale_start: "2023-12-01", last_day: "2023-12-12"}
facts:
  tool_level: basic
  relationships_last_month_end: 12000
  advanced_relationships_this_month: 5000
  grants: [green_channel]
crowds: {big: "true"}
campaigns:
  - name: r
    kind: recall
    promo: d12
    send_at: "2023-12-12T15:00:00+08:00"
    configured_at: "2023-12-11T23:00:00+08:00"
    copy: c
    coupon: {id: R1, kind: platform}
    targets: [{crowd: big}]
    segments:
      - {crowd: big, copy: "0", coupon: {id: S1, kind: platform}}
      - {crowd: big, copy: "1"}
      - {crowd: big, copy: "2"}
      - {crowd: big, copy: "3"}
      - {crowd: big, copy: "4"}
      - {crowd: big, copy: "5"}
  - name: c
    kind: cart_coupon
    promo: d12
    created_at: "2023-12-11T00:00:00+08:00"
  - name: g
    kind: green
    date: "2023-12-12"
    send_at: "2023-12-13T10:00:00+08:00"
    created_at: "2023-12-12T00:00:00+08:00"
    configured_at: "2023-12-01T00:00:00+08:00"
    copy: hi
    targets: [{crowd: big}]
  - name: sd
    kind: super_discount
    promo: d12
    send_at: "2023-12-12T20:00:00+08:00"
    configured_at: "2023-12-11T21:59:00+08:00"
    created_at: "2023-12-12T00:00:00+08:00"
"""

WANT = [
    ("O641", 6, 15, "sd: super_discount needs tool_level `advanced` this month, facts say 'basic'"),
    ("O643", 8, 38, "r: recall: advanced_relationships_this_month is 5,000, must be more than"),
    ("O640", 9, 11, "c: cart_coupon needs the platform grant `cart_coupon` in facts.grants (O9)"),
    ("O640", 9, 11, "sd: super_discount needs the platform grant `super_discount` in facts.gr"),
    (
        "O604",
        15,
        14,
        "r: recall always runs at 2023-12-12 14:00 (O6–O8); the send_at 2023-12-12 15:00",
    ),
    ("O650", 16, 20, "r: configured 2023-12-11 23:00, after its deadline 2023-12-11 21:59 (O10)"),
    ("O632", 18, 13, "r: recall coupon 'R1' is not a `cs_channel` channel coupon"),
    ("O606", 19, 15, "r: recall picks its own audience; its targets are ignored"),
    ("O632", 21, 41, "r: recall coupon 'S1' is not a `cs_channel` channel coupon"),  # segment's
    ("O633", 25, 9, "r: recall has 6 segments, at most 4 are allowed (O7)"),
    ("O620", 28, 11, "c: cart_coupon needs an exclusive coupon: unconfigured, it is not sent (O6)"),
    ("O650", 30, 17, "c: configured 2023-12-11 00:00, after its deadline 2023-12-10 21:59 (O10)"),
    ("O611", 34, 14, "g: send time 2023-12-13 10:00 is not on its date 2023-12-12 (O5)"),
    (
        "O650",
        35,
        17,
        "g: created 2023-12-12 00:00, not before its deadline 2023-12-12 00:00 (00:00",
    ),
]
SEVERITY = {"O604": "warning", "O606": "warning", "O632": "warning"}


def found(source, now=None):
    result = rulec.compile_source(source, file="s.yaml", now=now)
    return [
        (d.code, d.span.line, d.span.col, d.severity, d.message)
        for d in result.diagnostics
        if d.code[0] == "O"
    ]


def test_each_outreach_finding_once_at_its_field():
    got = found(FINDINGS)
    assert [g[:3] for g in got] == [w[:3] for w in WANT], got
    for g, (code, _, _, text) in zip(got, WANT):
        assert g[4].startswith(f"campaign {text}"), g
        assert g[3] == SEVERITY.get(code, "error"), g


def test_a_written_send_at_equal_to_the_computed_one_is_not_o604():
    """O7: a recall runs at 14:00 of the promo's last day; writing exactly that is no finding."""
    src = FINDINGS.replace("2023-12-12T15:00:00+08:00", "2023-12-12T14:00:00+08:00")
    assert "O604" not in [g[0] for g in found(src)]


def test_a_green_send_on_its_date_is_not_o611():
    src = FINDINGS.replace("2023-12-13T10:00:00+08:00", "2023-12-12T10:00:00+08:00")
    assert "O611" not in [g[0] for g in found(src)]


# `--now`: campaigns with and without a configuration time (O10; settled reading: a campaign
# without one is treated as configured at `now`).
PENDING = """\
shop: s
promos:
  d12: {last_day: "2023-12-12"}
facts:
  advanced_relationships_this_month: 20000
  grants: [green_channel]
crowds: {vip: "true"}
campaigns:
  - {name: r1, kind: recall, promo: d12, copy: c, coupon: {id: R1, kind: cs_channel}}
  - name: r2
    kind: recall
    promo: d12
    copy: c
    coupon: {id: R1, kind: cs_channel}
    configured_at: "2023-12-11T20:00:00+08:00"
  - name: r3
    kind: recall
    promo: d12
    copy: c
    coupon: {id: R1, kind: cs_channel}
    configured_at: "2023-12-11T08:00:00+08:00"
  - name: g1
    kind: green
    date: "2023-12-12"
    send_at: "2023-12-12T10:00:00+08:00"
    copy: c
    targets: [{crowd: vip}]
  - name: b
    kind: batch
    send_at: "2023-12-12T10:00:00+08:00"
    copy: c
    targets: [{crowd: vip}]
"""
SOON = "its configuration deadline {} is within a day (now {}; {}) (O10)"
PASSED = "not {} yet, and its deadline {} has passed (now {}) (O10)"
R_LIMIT, G_LIMIT = "2023-12-11 21:59", "2023-12-12 00:00"


def soon_r1(now):  # the recall at line 9, never configured
    return ("O652", 9, 22, "r1", SOON.format(R_LIMIT, now, "not configured yet"))


def soon_r2(now):  # the recall at line 11, configured after its deadline
    return ("O652", 11, 11, "r2", SOON.format(R_LIMIT, now, "configured 2023-12-11 20:00"))


def soon_g1(now):  # the green campaign at line 23, never created
    return ("O652", 23, 11, "g1", SOON.format(G_LIMIT, now, "not created yet"))


@pytest.mark.parametrize(
    "now,want",
    [
        (None, []),
        ("not a time", []),  # the CLI refuses it; the pass reads no `now`
        ("2023-12-10T21:58:59+08:00", []),  # 24 h and one second before the deadline
        (
            "2023-12-10T21:59:00+08:00",
            [
                soon_r1("2023-12-10 21:59"),
                soon_r2("2023-12-10 21:59"),
                (
                    "O652",
                    17,
                    11,
                    "r3",
                    SOON.format(R_LIMIT, "2023-12-10 21:59", "configured 2023-12-11 08:00"),
                ),
            ],
        ),
        (
            "2023-12-11T09:00:00+08:00",
            [soon_r1("2023-12-11 09:00"), soon_r2("2023-12-11 09:00"), soon_g1("2023-12-11 09:00")],
        ),
        (
            "2023-12-11T08:00:00+08:00",  # r3 configured at this very time: not pending
            [soon_r1("2023-12-11 08:00"), soon_r2("2023-12-11 08:00"), soon_g1("2023-12-11 08:00")],
        ),
        (
            "2023-12-11T21:59:00+08:00",  # on the deadline: not passed yet (settled reading)
            [soon_r1("2023-12-11 21:59"), soon_g1("2023-12-11 21:59")],
        ),
        (
            "2023-12-12T01:00:00+08:00",
            [
                ("O651", 9, 22, "r1", PASSED.format("configured", R_LIMIT, "2023-12-12 01:00")),
                ("O651", 23, 11, "g1", PASSED.format("created", G_LIMIT, "2023-12-12 01:00")),
            ],
        ),
        (
            dt.datetime(2023, 12, 11, 1, 0, tzinfo=dt.timezone.utc),  # a datetime, any zone
            [soon_r1("2023-12-11 09:00"), soon_r2("2023-12-11 09:00"), soon_g1("2023-12-11 09:00")],
        ),
    ],
    ids=str,
)
def test_now_reports_deadlines_passed_or_within_a_day(now, want):
    got = found(PENDING, now)
    assert got == [
        (code, ln, col, "error" if code == "O651" else "warning", f"campaign {name}: {text}")
        for code, ln, col, name, text in want
    ]


def test_o633_points_at_the_first_segment_past_the_limit():
    """O7: at most 4 segments; with 5 the finding is at the fifth (line 25), the one too many."""
    src = FINDINGS.replace('      - {crowd: big, copy: "5"}\n', "")
    [o633] = [g for g in found(src) if g[0] == "O633"]
    assert o633[1:3] == (25, 9) and "recall has 5 segments" in o633[4]


def test_o5_green_deadline_is_midnight_of_its_date_in_a_zone_far_east():
    """O5/O10 in the shop's zone, UTC+14: created half an hour after 00:00 of its date is
    late (the deadline is that midnight there, not a day later as in UTC)."""
    src = """\
shop: s
timezone: Pacific/Kiritimati
facts: {grants: [green_channel]}
crowds: {vip: "true"}
campaigns:
  - name: g
    kind: green
    date: "2024-01-10"
    send_at: "2024-01-10T10:00:00+14:00"
    created_at: "2024-01-10T00:30:00+14:00"
    copy: c
    targets: [{crowd: vip}]
"""
    [(code, _, _, _, message)] = found(src)
    assert code == "O650" and "not before its deadline 2024-01-10 00:00" in message
