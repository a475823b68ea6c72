"""State stores for the router and ledgers for the planner, behind one URL scheme.

`open_store(url, shop)`: `memory:` (default), `sqlite:///abs/path.db` or `sqlite:rel.db`
(options `?sync=normal|off|full&batch=N`), `redis://host:port/db` (RedisStore(url, shop) in
rulec/routing/stores/redis_store.py). State is kept per shop.
"""

from __future__ import annotations

from rulec.errors import StoreError, diag
from rulec.routing.stores.base import OFFLINE, ONLINE, SUSPENDED, Store  # noqa: F401


def use_store(store: Store | str | None, shop: str) -> tuple[Store, bool]:
    """(the store, whether the caller opened it and so closes it): `store` is a Store, or a
    URL (or None: memory:) that open_store opens for `shop`."""
    if isinstance(store, Store):
        return store, False
    return open_store(store, shop), True


def open_store(url: str | None, shop: str) -> Store:
    """The router state store named by `url`, for `shop`; StoreError when it cannot be used."""
    url = url or "memory:"
    if not isinstance(url, str):
        raise StoreError([diag("S900", f"store URL must be a string, got {type(url).__name__}")])
    if url == "memory:" or url == "memory://":
        from rulec.routing.stores.memory import MemoryStore

        return MemoryStore(shop)
    if url.startswith("sqlite:"):
        path, _, query = url[len("sqlite:") :].partition("?")
        sync, batch = "normal", 1  # SqliteStore's defaults
        for item in filter(None, query.split("&")):
            k, _, v = item.partition("=")
            if k == "sync":
                sync = v
            elif k == "batch" and v.isdigit():
                batch = int(v)
            else:
                raise StoreError(
                    [
                        diag(
                            "S900",
                            f"unknown sqlite store option {item!r} (sync=normal|off|full, batch=N)",
                        )
                    ]
                )
        if path.startswith("//"):
            path = "/" + path.lstrip("/")  # sqlite:///abs/path -> /abs/path
        if not path:
            raise StoreError([diag("S900", f"store URL {url!r} names no file")])
        from rulec.routing.stores.sqlite_store import SqliteStore

        return SqliteStore(shop, path, sync=sync, batch=batch)
    if url.startswith(
        ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
    ):
        try:
            from rulec.routing.stores.redis_store import RedisStore
        except ImportError as exc:
            raise StoreError([diag("S906", f"redis store is not available: {exc}")]) from None
        return RedisStore(url, shop)
    raise StoreError(
        [
            diag(
                "S900",
                f"unknown store URL {url!r}: use memory:, "
                "sqlite:///path/file.db or redis://host:port/db",
            )
        ]
    )
