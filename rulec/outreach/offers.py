"""Who a promo privilege campaign reaches (O6–O8): one offer function per campaign kind.

Each takes (campaign, audience record, purchase times, cart adds) of an exclusive consumer and
returns (skip reason, items): a reason ("not_in_audience", "purchased", ...) when the consumer
does not qualify, else None and the send's items (the cart coupon's carted items, else None).
Targeted kinds (batch, green, new arrival, restock) have none: their crowds decide (O1)."""

from __future__ import annotations

_NOT_CARTED = ("not_in_audience", None)
_PURCHASED = ("purchased", None)
_NOT_INTERESTED = ("not_interested", None)
_NO_ACTIVITY = ("no_valid_activity", None)
_OK = (None, None)


def cart_coupon(c, rec, buys, cart) -> tuple:
    """O6: the items carted in the window (since the presale start, else 15 days back)."""
    if not cart:
        return _NOT_CARTED
    lo, at = c.cart_start, c.at
    if len(cart) == 1:  # the common case, without a list comprehension and a dict
        t, item = cart[0]
        return (None, [item]) if lo <= t <= at else _NOT_CARTED
    items = list(dict.fromkeys([i for t, i in cart if lo <= t <= at]))
    return (None, items) if items else _NOT_CARTED


def _purchased(c, buys) -> bool:
    """O7, O8, O11: a purchase inside the promo window."""
    if buys:
        lo, at = c.window_start, c.at
        for t in buys:
            if lo <= t <= at:
                return True
    return False


def recall(c, rec, buys, cart) -> tuple:
    """O7: exclusive consumers with no purchase in the promo window."""
    return _PURCHASED if _purchased(c, buys) else _OK


def super_discount(c, rec, buys, cart) -> tuple:
    """O8: interested, no purchase in the window, and a valid activity to announce."""
    if rec.get("interested") is not True:
        return _NOT_INTERESTED
    if _purchased(c, buys):
        return _PURCHASED
    return _OK if c.activities else _NO_ACTIVITY


OFFERS = {"cart_coupon": cart_coupon, "recall": recall, "super_discount": super_discount}
