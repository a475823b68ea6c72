"""Promo privilege rules shared by `rulec check` and the planner: O5–O10 content, thresholds, deadlines, O8 activities."""

from __future__ import annotations

import datetime as dt

import attrs

from rulec.common import calendar as cal

TARGETED = ("batch", "green", "new_arrival", "restock")  # O1: content from targets
PROMO_KINDS = cal.PROMO_KINDS  # send time computed from the promo's last day
CHANNEL = {"batch": "regular", "green": "green"}  # every other kind is "exempt" (O3, O8)
GRANT = {"green": "green_channel", "cart_coupon": "cart_coupon", "super_discount": "super_discount"}
RELATIONSHIPS = 10_000  # O7, O9: "> 10,000"
MAX_SEGMENTS = 4  # O7
CS_CHANNEL = "cs_channel"  # 店铺券–渠道券–客服号 (O6)


def channel_of(kind: str) -> str:
    return CHANNEL.get(kind, "exempt")


@attrs.frozen
class Problem:
    """One finding about a campaign: `where` names the field to point at."""

    code: str
    message: str
    where: str = "kind"
    severity: str = "error"


def _over(value, name, clause):
    shown = "unknown" if value is None else f"{value:,}"
    if isinstance(value, int) and not isinstance(value, bool) and value > RELATIONSHIPS:
        return None
    return f"{name} is {shown}, must be more than {RELATIONSHIPS:,} (> {RELATIONSHIPS}) ({clause})"


def eligibility(kind: str, facts: dict) -> list:
    """O7/O9: the platform grant and the shop thresholds a privilege kind needs."""
    out = []
    grants = facts.get("grants") or []
    need = GRANT.get(kind)
    if need and need not in grants:
        out.append(
            Problem(
                "O640", f"{kind} needs the platform grant `{need}` in facts.grants (O9)", "facts"
            )
        )
    if kind == "super_discount":
        level = facts.get("tool_level")
        if level != "advanced":
            out.append(
                Problem(
                    "O641",
                    f"super_discount needs tool_level `advanced` this month, "
                    f"facts say {level!r} (O9)",
                    "facts",
                )
            )
        msg = _over(facts.get("relationships_last_month_end"), "relationships_last_month_end", "O9")
        if msg:
            out.append(Problem("O642", "super_discount: " + msg, "facts"))
    if kind == "recall":
        msg = _over(
            facts.get("advanced_relationships_this_month"),
            "advanced_relationships_this_month",
            "O7",
        )
        if msg:
            out.append(Problem("O643", "recall: " + msg, "facts"))
    return out


def content(kind: str, copy, coupon, segments: list, n_targets: int) -> list:
    """O6/O7 required content (targets of O1 are checked by the resolve pass). `coupon` and each segment's coupon are (id, kind) or None;
    `segments` is a list of (copy, coupon)."""
    out = []
    if kind in PROMO_KINDS and n_targets:
        out.append(
            Problem(
                "O606",
                f"{kind} picks its own audience; its targets are ignored",
                "targets",
                "warning",
            )
        )
    if kind == "cart_coupon":
        if coupon is None:
            out.append(
                Problem(
                    "O620",
                    "cart_coupon needs an exclusive coupon: unconfigured, it is not sent (O6)",
                    "kind",
                )
            )
        elif coupon[1] != CS_CHANNEL:
            out.append(
                Problem(
                    "O621",
                    f"cart_coupon's coupon {coupon[0]!r} must be a channel "
                    f"coupon of kind `{CS_CHANNEL}` (店铺券–渠道券–客服号) (O6)",
                    "coupon",
                )
            )
    if kind == "recall":
        if not copy:
            out.append(Problem("O630", "recall needs a copy (O7)", "kind"))
        if coupon is None:
            out.append(Problem("O631", "recall needs a coupon (O7)", "kind"))
        if len(segments) > MAX_SEGMENTS:
            out.append(
                Problem(
                    "O633",
                    f"recall has {len(segments)} segments, at most {MAX_SEGMENTS} are allowed (O7)",
                    "segments",
                )
            )
        # each coupon's own field: the campaign's, or segment i's (`segment i`)
        coupons = [("coupon", coupon)] + [(f"segment {i}", s[1]) for i, s in enumerate(segments)]
        for where, c in coupons:
            if c is not None and c[1] != CS_CHANNEL:
                out.append(
                    Problem(
                        "O632",
                        f"recall coupon {c[0]!r} is not a `{CS_CHANNEL}` "
                        "channel coupon (the article requires 客服号 coupons)",
                        where,
                        "warning",
                    )
                )
    if kind not in ("recall",) and segments:
        out.append(
            Problem(
                "O634",
                f"only recall campaigns have segments; {kind}'s are ignored",
                "segments",
                "warning",
            )
        )
    return out


def deadline(kind: str, send_at: dt.datetime, tz) -> dt.datetime | None:
    """O10: the configuration deadline of a kind that has one, else None."""
    if kind == "green" or kind in PROMO_KINDS:
        return cal.config_deadline(kind, send_at, tz)
    return None


def late(kind: str, configured: dt.datetime, send_at: dt.datetime, tz) -> str | None:
    """O5/O10: a message naming the deadline when `configured` is after it, else None."""
    limit = deadline(kind, send_at, tz)
    if limit is None or cal.meets_deadline(kind, configured, limit):
        return None
    if kind == "green":
        return (
            f"created {cal.show(configured, tz)}, not before its deadline "
            f"{cal.show(limit, tz)} (00:00 of its date) (O5, O10)"
        )
    return f"configured {cal.show(configured, tz)}, after its deadline {cal.show(limit, tz)} (O10)"


ACT_KEYS = (
    "id",
    "kind",
    "created_at",
    "first_effective_at",
    "edited_from_existing",
    "crowd_restricted",
    "complete",
    "in_stock",
)


def activity_ok(act: dict, send_at: dt.datetime, tz) -> bool:
    """O8: created before 17:00 of the send day, first effective 12:00–20:00 that day, not an
    edited old promotion, no crowd restriction, complete and in stock. `act` times are
    datetimes (see the planner's activity parsing)."""
    day = cal.local_date(send_at, tz)
    if act["edited_from_existing"] or act["crowd_restricted"]:
        return False
    if not (act["complete"] and act["in_stock"]):
        return False
    if not act["created_at"] < cal.at_local(day, 17, 0, tz):
        return False
    eff = act["first_effective_at"]
    return cal.at_local(day, 12, 0, tz) <= eff <= cal.at_local(day, 20, 0, tz)
