"""Metric definitions M1–M4 (semantics.md) on hand-made logs: the edges of the 3-minute rule,
the 08:00–23:00 window, robot-handled sessions and buyers who never write after transfer."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from rulec.sim import metrics

TZ = ZoneInfo("Asia/Shanghai")


def at(hhmm: str, sec: int = 0) -> float:
    h, m = map(int, hhmm.split(":"))
    return dt.datetime(2026, 11, 11, h, m, sec, tzinfo=TZ).timestamp()


def session(buyer, start, rounds, agent="a", robot=False):
    """A human session transferred at `start`; rounds are (message time, reply delay s or None)."""
    log = [
        {
            "type": "route",
            "time": start,
            "buyer": buyer,
            "target": f"agent:{agent}",
            "group": "G",
            "step": "group",
        }
    ]
    if robot:
        log.append({"type": "handled_by_robot", "time": start, "buyer": buyer})
    for m, delay in rounds:
        log.append({"type": "message", "time": m, "buyer": buyer})
        if delay is not None:
            log.append({"type": "reply", "time": m + delay, "agent": agent, "buyer": buyer})
    return log


def rate(*sessions):
    log = sorted((r for s in sessions for r in s), key=lambda r: r["time"])
    return metrics.reply_rate(log, TZ)


def test_m1_three_minutes_exactly_counts_and_a_second_more_does_not():
    ok = session("u1", at("10:00"), [(at("10:00", 5), 180)])
    late = session("u2", at("10:00"), [(at("10:00", 5), 181)])
    assert rate(ok)["rate"] == 1.0
    assert rate(late)["rate"] == 0.0
    assert (rate(ok, late)["rate"], rate(ok, late)["sessions"]) == (0.5, 2)
    assert rate(ok, late)["by_hour"][10] == 0.5


def test_m1_every_round_must_be_within_three_minutes():
    s = session("u1", at("10:00"), [(at("10:00", 10), 60), (at("10:05"), 179), (at("10:10"), 200)])
    assert rate(s)["rate"] == 0.0
    unanswered = session("u2", at("10:00"), [(at("10:00", 10), None)])
    assert rate(unanswered)["rate"] == 0.0


def test_m1_window_is_0800_to_2300():
    early = session("u1", at("07:59"), [(at("07:59", 30), 600)])
    first = session("u2", at("08:00"), [(at("08:00", 30), 10)])
    last = session("u3", at("22:59"), [(at("22:59", 30), 10)])
    late = session("u4", at("23:00"), [(at("23:00", 30), 600)])
    r = rate(early, first, last, late)
    assert (r["rate"], r["sessions"]) == (1.0, 2)
    assert r["by_hour"][7] is None and r["by_hour"][23] is None


def test_m1_excludes_robot_handled_sessions_and_silent_buyers():
    robot = session("u1", at("10:00"), [(at("10:00", 5), 900)], robot=True)
    silent = session("u2", at("10:00"), [])
    good = session("u3", at("10:00"), [(at("10:00", 5), 30)])
    to_pool = [
        {
            "type": "route",
            "time": at("10:00"),
            "buyer": "u4",
            "target": "message_pool",
            "group": None,
            "step": "nobody_online",
        }
    ]
    r = rate(robot, silent, good, to_pool)
    assert (r["rate"], r["sessions"]) == (1.0, 1)


def test_m1_a_reply_by_another_agent_does_not_answer_the_round():
    s = session("u1", at("10:00"), [(at("10:00", 5), None)])
    s.append({"type": "reply", "time": at("10:01"), "agent": "other", "buyer": "u1"})
    assert rate(s)["rate"] == 0.0


def test_m2_load_gini_and_top30():
    log = [
        {
            "type": "route",
            "time": i,
            "buyer": f"u{i}",
            "target": f"agent:{a}",
            "group": "G",
            "step": "group",
        }
        for i, a in enumerate("aaaaaabbbc")
    ]
    rates = {"a": 0.1, "b": 0.5, "c": 0.3}
    m = metrics.load(log, ["a", "b", "c", "d"], rates)
    assert m["per_agent"] == {"a": 6, "b": 3, "c": 1, "d": 0}
    assert (m["max"], m["min"]) == (6, 0)
    assert m["gini"] == pytest.approx(metrics.gini([6, 3, 1, 0]))
    assert metrics.gini([5, 5, 5]) == 0.0 and metrics.gini([0, 0, 9]) == pytest.approx(2 / 3)
    assert m["top30_share"] == pytest.approx(3 / 10)  # the top 30% of 4 agents by rate: b
    assert metrics.conversions(log, rates) == pytest.approx(6 * 0.1 + 3 * 0.5 + 0.3)


def test_m4_affiliate_counts(tmp_path, cli):
    recs = [
        {"type": "visit", "user": "x", "via": "link"},
        {"type": "visit", "user": "x", "via": "link"},
        {"type": "visit", "user": "y", "via": "search"},
        {"type": "click", "user": "x"},
        {"type": "claim", "user": "x"},
        {"type": "click", "user": "z"},
        {"type": "claim", "user": "w"},
    ]
    assert metrics.affiliate(recs) == {"引流人数": 1, "点击人数": 1}
    log = tmp_path / "aff.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    r = cli("metrics", "affiliate", log, "--format", "json")
    assert r.code == 0 and json.loads(r.out) == {"引流人数": 1, "点击人数": 1}
    log.write_text('{"type": "visit"}\n', encoding="utf-8")
    r = cli("metrics", "affiliate", log)
    assert r.code == 1 and "M106" in r.err
