"""A campaign prepared for one planning run: times parsed, O5–O10 re-checked, send JSON pre-rendered."""

from __future__ import annotations

import datetime as dt
import io
import json

from rulec.common import calendar as cal
from rulec.outreach import privileges as priv
from rulec.outreach.ledger.base import SKIPPED
from rulec.outreach.offers import OFFERS

_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def json_text(v) -> str:
    """JSON, UTF-8 text kept, but every character `str.splitlines` breaks on escaped."""
    text = json.dumps(v, ensure_ascii=False)
    return text.translate(_LINE_BREAKS) if not text.isascii() else text


def items_json(cache: dict, items: list) -> str:
    """json_text of a send's cart items, cached by the items (carts repeat the same items);
    the cache is emptied at 100,000 entries, so its memory stays bounded."""
    key = tuple(items)
    text = cache.get(key)
    if text is None:
        if len(cache) >= 100_000:
            cache.clear()
        text = cache[key] = json_text(items)
    return text


def binary_out(out) -> bool:
    """`out` takes bytes (a binary stream: sends are written to it as UTF-8), not text."""
    return isinstance(out, (io.RawIOBase, io.BufferedIOBase))


def json_str(text: str) -> str:
    """JSON of a string; plain printable text without quotes or backslashes needs no escaping."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json_text(text)


def _ts(t: dt.datetime) -> int:
    return int(t.timestamp() // 1)


class Variant:
    """One content of a campaign (copy, coupon) and its send JSON pre-rendered around the
    consumer: `head` before the consumer id, `items_tail` after it up to the items, and
    `plain_tail` the whole rest of a send without items (completed by set_activities)."""

    __slots__ = ("copy", "coupon", "head", "items_tail", "plain_tail")

    def __init__(self, copy, coupon, head: str, items_tail: str):
        self.copy, self.coupon, self.head, self.items_tail = copy, coupon, head, items_tail
        self.plain_tail = ""


class Campaign:
    """A table campaign prepared for planning: times parsed, content variants pre-rendered."""

    def __init__(self, c: dict, index: int, body: dict, tz):
        self.raw, self.index, self.name, self.kind = c, index, c["name"], c["kind"]
        self.channel = priv.channel_of(self.kind)
        self.offer = OFFERS.get(self.kind)  # None: a targeted kind, reached through its crowds
        cal.check_representable(cal.parse_time(c["send_at"]))  # O14: no overflow mid-run
        self.send_at = cal.parse_time(c["send_at"]).astimezone(tz)
        self.at = _ts(self.send_at)
        self.at_iso = cal.iso(self.send_at)
        self.key = (self.at, index)  # O4: send time, then declaration order
        promo = body["promos"].get(c["promo"]) if c.get("promo") else None
        presale = promo["presale_start"] if promo else None
        for day in (presale, promo and promo["last_day"]):
            if day:
                cal.check_representable(cal.parse_date(day))
        last_day = promo["last_day"] if promo else cal.local_date(self.send_at, tz).isoformat()
        self.window_start = cal.promo_window_start(presale, last_day, tz).timestamp()  # O11
        self.cart_start = cal.cart_window_start(presale, self.send_at, tz).timestamp()  # O6
        self.day = (
            cal.parse_date(c["date"]) if c.get("date") else cal.local_date(self.send_at, tz)
        ).toordinal()
        base = (c.get("copy"), (c.get("coupon") or {}).get("id"))
        rows = (
            c["segments"]
            if self.kind == "recall"
            else (c["targets"] if self.kind in priv.TARGETED else [])
        )
        # (crowd, variant): the first listed crowd the consumer is in wins (O1, O7 segments)
        self.choices = [
            (
                t["crowd"],
                self._variant(
                    t.get("copy") or base[0], (t.get("coupon") or {}).get("id") or base[1]
                ),
            )
            for t in rows
        ]
        self.base = self._variant(*base)
        self.needs_crowds = bool(self.choices)
        when = (
            c.get("created_at") or c.get("configured_at")
            if self.kind == "green"
            else c.get("configured_at") or c.get("created_at")
        )
        self.configured = cal.parse_time(when) if when else None  # O5, O10
        if self.configured:
            cal.check_representable(self.configured)
        self.activities: list[str] = []
        self.state = None  # ledger status for this run
        self.sends: dict[str, int] = {}  # channel -> sends
        self.skips: dict[str, int] = {}  # reason -> consumers skipped

    def _variant(self, copy, coupon) -> Variant:
        """The content (copy, coupon) with its send JSON pre-rendered (see Variant)."""
        head = f'{{"campaign":{json_text(self.name)},"consumer":'
        tail = (
            f',"channel":"{self.channel}","at":"{self.at_iso}","copy":{json_text(copy)},'
            f'"coupon":{json_text(coupon)},"items":'
        )
        return Variant(copy, coupon, head, tail)

    def set_activities(self, ids: list):
        """O8: the activities valid at this run; completes the pre-rendered JSON tails."""
        self.activities = ids if self.kind == "super_discount" else []
        self.acts_json = ',"activities":' + json_text(self.activities) + "}\n"
        for v in [self.base] + [v for _crowd, v in self.choices]:
            v.plain_tail = v.items_tail + "[]" + self.acts_json

    def problems(self, facts: dict, tz) -> tuple | None:
        """(status, reason) when the campaign cannot be sent at all (O6–O10), else None."""
        c = self.raw
        coupon = (c["coupon"]["id"], c["coupon"]["kind"]) if c.get("coupon") else None
        segs = [
            (s.get("copy"), (s["coupon"]["id"], s["coupon"]["kind"]) if s.get("coupon") else None)
            for s in c.get("segments") or []
        ]
        found = priv.eligibility(self.kind, facts)
        if found:
            return SKIPPED, "not_eligible"
        found = [
            p
            for p in priv.content(self.kind, c.get("copy"), coupon, segs, 0)
            if p.severity == "error"
        ]
        if found:
            return SKIPPED, "not_configured"
        if self.configured and priv.late(self.kind, self.configured, self.send_at, tz):
            return SKIPPED, "deadline_passed"
        if self.kind == "green" and cal.local_date(self.send_at, tz).toordinal() != self.day:
            return SKIPPED, "not_eligible"
        return None
