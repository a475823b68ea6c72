"""Times in the shop's zone (O6–O8 schedules, O10 deadlines, O11 windows), progress bar, ledger URLs."""

import datetime as dt
import io
import sys

import pytest

from rulec.common import calendar as cal
from rulec.errors import StoreError
from rulec.outreach.ledger import open_ledger

SH = cal.zone("Asia/Shanghai")


@pytest.mark.parametrize(
    "kind,expect",
    [
        ("cart_coupon", "2023-12-11T20:00:00+08:00"),
        ("recall", "2023-12-12T14:00:00+08:00"),
        ("super_discount", "2023-12-12T20:00:00+08:00"),
    ],
)
def test_o6_o8_scheduled_send(kind, expect):
    assert cal.iso(cal.scheduled_send(kind, "2023-12-12", SH)) == expect


@pytest.mark.parametrize(
    "kind,deadline",
    [
        ("cart_coupon", "2023-12-10 21:59"),
        ("recall", "2023-12-11 21:59"),
        ("super_discount", "2023-12-11 21:59"),
    ],
)
def test_o10_deadline_is_2159_the_day_before_the_send(kind, deadline):
    send = cal.scheduled_send(kind, "2023-12-12", SH)
    limit = cal.config_deadline(kind, send, SH)
    assert cal.show(limit, SH) == deadline
    assert cal.meets_deadline(kind, limit, limit)
    assert not cal.meets_deadline(kind, limit + dt.timedelta(seconds=1), limit)


def test_o5_green_deadline_is_strictly_before_midnight():
    limit = cal.config_deadline("green", cal.parse_time("2023-12-12T10:00:00+08:00"), SH)
    assert cal.show(limit, SH) == "2023-12-12 00:00"
    assert not cal.meets_deadline("green", limit, limit)
    assert cal.meets_deadline("green", limit - dt.timedelta(seconds=1), limit)


def test_o11_windows_in_the_shop_zone():
    utc = cal.zone("UTC")
    assert (
        cal.iso(cal.promo_window_start("2023-12-01", "2023-12-12", utc))
        == "2023-12-01T00:00:00+00:00"
    )
    assert cal.iso(cal.promo_window_start(None, "2023-12-12", SH)) == "2023-12-12T00:00:00+08:00"
    send = cal.scheduled_send("cart_coupon", "2023-11-11", SH)
    assert cal.iso(cal.cart_window_start(None, send, SH)) == "2023-10-26T20:00:00+08:00"


@pytest.mark.parametrize("text", ["2023-12-12T10:00:00", "2023-12-12", "noon", 5, "x" * 100])
def test_parse_time_needs_an_offset(text):
    with pytest.raises(ValueError):
        cal.parse_time(text)


def test_unknown_zone():
    with pytest.raises(ValueError):
        cal.zone("Mars/Olympus")


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal(tmp_path):
    """The bar is the CLI's (issue 9): `rulec plan` draws it on a terminal from the planner's
    on_progress reports; the library itself writes nothing to stderr."""
    import json

    from outreach_helpers import NOW, RULES, table, write_audience

    from rulec.cli import plan_cmd
    from rulec.outreach.planner import Planner

    aud = tmp_path / "a.jsonl"
    write_audience(aud, 50)
    shop = tmp_path / "shop.yaml"
    shop.write_text(json.dumps(RULES), encoding="utf-8")
    err = _Tty()
    args = [str(shop), "--audience", str(aud), "--ledger", str(tmp_path / "l.db"), "--now", NOW]
    assert plan_cmd.run([*args, "--batch", "10"], io.StringIO(), err) == 0
    assert "planning [" in err.getvalue() and "100.0%" in err.getvalue()
    assert err.getvalue().endswith("\n")
    seen = []
    with Planner(table(), tmp_path / "l2.db", batch_size=10) as p:
        p.plan(aud, NOW, out=io.StringIO(), on_progress=lambda *a: seen.append(a))
    assert len(seen) == 6 and seen[-1] == (aud.stat().st_size, aud.stat().st_size, 50)


def test_redis_url_without_the_module(monkeypatch):
    """An installation without the Redis ledger (a None entry in sys.modules makes its import
    fail) reports a coded error for a redis:// ledger, before any connection is tried."""
    monkeypatch.setitem(sys.modules, "rulec.outreach.ledger.redis_ledger", None)
    with pytest.raises(StoreError) as exc:
        open_ledger("redis://127.0.0.1:6379/0", "s")
    assert exc.value.code == "S906" and "redis ledger is not available" in str(exc.value)
