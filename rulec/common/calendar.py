"""Times in the shop's zone: parsing ISO-8601 with offsets, promo schedules (O6–O8), windows (O11) and deadlines (O10)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# (kind) -> (day offset from the promo's last day, hour) of the scheduled send
PROMO_SCHEDULE = {
    "cart_coupon": (-1, 20),  # O6: 20:00 on the eve of the last day
    "recall": (0, 14),  # O7: 14:00 on the last day
    "super_discount": (0, 20),  # O8: 20:00 on the promo (last) day
}
PROMO_KINDS = tuple(PROMO_SCHEDULE)
CART_LOOKBACK = dt.timedelta(days=15)  # O6: carted in the last 15 days (else since presale)


# The instants rulec plans with (O14): far enough inside datetime's years 1..9999 that a
# shop's zone, a promo window, the cart look-back (15 days) and deadlines never leave them.
EARLIEST = dt.datetime(1, 2, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(9999, 11, 30, tzinfo=dt.timezone.utc)


def check_representable(t) -> None:
    """ValueError unless the time (or date) lies in [EARLIEST, LATEST]: shared by `rulec
    check`, the compiler's time checks and the planner, so that a time one of them accepts
    never overflows another (OverflowError) mid-run."""
    if isinstance(t, dt.datetime):
        ok = t.utcoffset() is not None and EARLIEST <= t <= LATEST
    elif isinstance(t, dt.date):
        ok = EARLIEST.date() <= t <= LATEST.date()
    else:
        raise ValueError(f"{t!r} is not a time")
    if not ok:
        raise ValueError(
            f"{t.isoformat()} lies outside the times rulec can plan with "
            f"({EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}, UTC)"
        )


def zone(name: str) -> dt.tzinfo:
    """The tzinfo for an IANA zone name; ValueError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_time(text) -> dt.datetime:
    """An ISO-8601 date-time with an offset (or `Z`); ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"time must be a string, got {type(text).__name__}")
    s = text.strip()
    if len(s) > 64:
        raise ValueError("time is too long")
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 date-time") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"time {text!r} has no UTC offset (write e.g. +08:00)")
    return t


def parse_date(text) -> dt.date:
    """A calendar date `YYYY-MM-DD`; ValueError otherwise."""
    if isinstance(text, dt.date) and not isinstance(text, dt.datetime):
        return text
    if not isinstance(text, str) or len(text.strip()) != 10:
        raise ValueError(f"date {text!r} is not YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"date {text!r} is not YYYY-MM-DD") from None


def at_local(day: dt.date, hour: int, minute: int, tz: dt.tzinfo) -> dt.datetime:
    """Wall-clock `hour:minute` of `day` in zone `tz`."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def local_date(t: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The shop-local calendar day of an instant."""
    return t.astimezone(tz).date()


def iso(t: dt.datetime) -> str:
    return t.isoformat()


def show(t: dt.datetime, tz: dt.tzinfo) -> str:
    """`YYYY-MM-DD HH:MM` in the shop's zone (seconds only when not zero), for messages."""
    t = t.astimezone(tz)
    return t.strftime("%Y-%m-%d %H:%M:%S" if t.second or t.microsecond else "%Y-%m-%d %H:%M")


def scheduled_send(kind: str, last_day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The send time of a promo privilege campaign (cart_coupon, recall, super_discount)."""
    days, hour = PROMO_SCHEDULE[kind]
    return at_local(parse_date(last_day) + dt.timedelta(days=days), hour, 0, tz)


def config_deadline(kind: str, send_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """O10: the latest configuration time of a campaign.

    green: before 00:00 of its date (pass a time on that date as `send_at`; creation must be
    strictly earlier); cart_coupon / recall / super_discount: at or before 21:59:00 of the day
    before the send's own date (for the cart coupon, two days before the promo's last day)."""
    local_day = send_at.astimezone(tz).date()
    if kind == "green":
        return at_local(local_day, 0, 0, tz)
    return at_local(local_day - dt.timedelta(days=1), 21, 59, tz)


def meets_deadline(kind: str, configured: dt.datetime, deadline: dt.datetime) -> bool:
    """O5/O10: green must be created strictly before midnight; the others by 21:59:00 inclusive."""
    return configured < deadline if kind == "green" else configured <= deadline


def promo_window_start(presale_start, last_day, tz: dt.tzinfo) -> dt.datetime:
    """O11: the promo window opens at 00:00 of `presale_start`, else 00:00 of `last_day`."""
    day = parse_date(presale_start) if presale_start else parse_date(last_day)
    return at_local(day, 0, 0, tz)


def cart_window_start(presale_start, send_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """O6: cart adds count since the presale start when the promo has one, else 15 days back."""
    if presale_start:
        return at_local(parse_date(presale_start), 0, 0, tz)
    return send_at - CART_LOOKBACK
