"""Times in the shop's zone: parsing ISO-8601 with offsets, promo schedules (O6–O8) and deadlines (O10)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# (kind) -> (day offset from the promo's last day, hour) of the scheduled send
PROMO_SCHEDULE = {
    "cart_coupon": (-1, 20),  # O6: 20:00 on the eve of the last day
    "recall": (0, 14),  # O7: 14:00 on the last day
    "super_discount": (0, 20),  # O8: 20:00 on the promo (last) day
}


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
    t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"time {text!r} has no UTC offset (write e.g. +08:00)")
    return t


def parse_date(text) -> dt.date:
    """A calendar date `YYYY-MM-DD`; ValueError otherwise."""
    if isinstance(text, dt.date) and not isinstance(text, dt.datetime):
        return text
    if not isinstance(text, str) or len(text.strip()) != 10:
        raise ValueError(f"date {text!r} is not YYYY-MM-DD")
    return dt.date.fromisoformat(text.strip())


def at_local(day: dt.date, hour: int, minute: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def iso(t: dt.datetime) -> str:
    return t.isoformat()


def scheduled_send(kind: str, last_day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The send time of a promo privilege campaign (cart_coupon, recall, super_discount)."""
    days, hour = PROMO_SCHEDULE[kind]
    return at_local(last_day + dt.timedelta(days=days), hour, 0, tz)


def config_deadline(kind: str, send_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """O10: the latest configuration time of a campaign.

    green: before 00:00 of its date (the caller passes that midnight as `send_at`'s day);
    cart_coupon / recall / super_discount: 21:59:00 of the day before the send's own date."""
    local_day = send_at.astimezone(tz).date()
    if kind == "green":
        return at_local(local_day, 0, 0, tz)
    return at_local(local_day - dt.timedelta(days=1), 21, 59, tz)
