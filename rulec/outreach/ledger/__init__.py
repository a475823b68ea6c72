"""Planner ledgers (O12, O13): `open_ledger(url, shop)` for a file path, sqlite:///…, memory: or redis://…."""

from __future__ import annotations

import os

from rulec.errors import StoreError, diag
from rulec.outreach.ledger.base import Ledger

__all__ = ["Ledger", "open_ledger"]


def open_ledger(url, shop: str, volatile: bool = False) -> Ledger:
    """The ledger named by `url` for `shop`; a Ledger instance is returned as is. `volatile`
    accepts a Redis server that does not persist writes (O14)."""
    if isinstance(url, Ledger):
        if url.shop != shop:
            raise StoreError([diag("S902", f"ledger belongs to shop {url.shop!r}, not {shop!r}")])
        return url
    if not isinstance(url, (str, os.PathLike)):
        raise StoreError(
            [
                diag(
                    "S945",
                    f"ledger must be a path, a URL or a Ledger, not {type(url).__name__}",
                )
            ]
        )
    url = os.fspath(url)
    if url.startswith(
        ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
    ):
        try:
            from rulec.outreach.ledger.redis_ledger import RedisLedger
        except ImportError as exc:
            raise StoreError([diag("S906", f"the redis ledger is not available: {exc}")]) from None
        return RedisLedger(url, shop, volatile=volatile)
    from rulec.outreach.ledger.sqlite_ledger import SqliteLedger

    if url in ("memory:", ":memory:"):
        return SqliteLedger(":memory:", shop)
    if url.startswith("sqlite://"):
        url = url[len("sqlite://") :]
        if url.startswith("/") and url[1:2] == "/":  # sqlite:///abs/path
            url = url[1:]
    if not url:
        raise StoreError([diag("S901", "empty ledger path")])
    return SqliteLedger(url, shop)
