"""Group commit for routers on the Redis store: `route_many(router, chats)` decides a run of
chats on the process's copy of the state and commits them in ONE Redis call.

The call is all or nothing: it applies the group only if the shop's state is still the one
the decisions were taken on (version and every buyer's contact, in order). Otherwise nothing
is written, the fresh state comes back in the same call and the group is decided again
(TRIES times), then chat by chat with `router.route` (one validated call each), each time
from the same PRNG state, so the decisions are exactly those of routing the chats one by
one (E1) - with 1/`group` round trips per decision when nobody else writes. While another
process writes the shop, groups shrink (a refused group costs a redo) and grow back after.
Traces (R10) are built as route() builds them; drain_pool shops, other stores and a degraded
store take the one-by-one path.
"""

from __future__ import annotations

from rulec.routing.events import _time_cache, epoch
from rulec.routing.stores.redis_store import RedisStore

GROUP = 64
MIN_GROUP = 4  # a refused group shrinks the next ones (x1/4, down to this), a committed one
# lets them grow back (x2)
TRIES = 2  # group attempts before routing the group chat by chat


def route_many(router, chats, trace=False, group: int = GROUP) -> list:
    """The decisions for `chats` (a list of chat dicts), in order, as `router.route` gives."""
    store = router.store
    if router.drain or not isinstance(store, RedisStore) or store.degraded:
        return [router.route(c, trace) for c in chats]
    out, i, size, group = [], 0, max(1, group), max(1, group)
    while i < len(chats):
        part = chats[i : i + size]
        done, ok = _group(router, store, part, trace)
        out += done
        i += len(part)
        # another process is writing this shop: smaller groups are refused less often
        size = min(group, size * 2) if ok else max(MIN_GROUP, size // 4)
    return out


def _group(router, store, chats, trace):
    """(decisions, whether they went in as one group)."""
    parsed = []
    try:
        for chat in chats:
            ts = chat["time"]
            t = _time_cache.get(ts)
            parsed.append((chat, chat["buyer"], ts, epoch(ts) if t is None else t))
    except (KeyError, TypeError, ValueError):
        parsed = None  # route() reports the bad chat with its diagnostic
    if parsed is None or len(parsed) < 2:
        return [router.route(c, trace) for c in chats], True
    rng_state = router.rng.getstate()
    decide, names = router._decide, router.g_name
    for _ in range(TRIES):
        store.stage_begin()
        out = []
        for chat, buyer, ts, t in parsed:
            tr = [] if trace else None
            a, target, step, g = decide(chat, buyer, t, tr)
            store.stage(a, buyer, t)
            d = {
                "buyer": buyer,
                "time": ts,
                "target": target,
                "step": step,
                "group": None if g is None else names[g],
            }
            if tr is not None:
                d["trace"] = tr
            out.append(d)
        if store.stage_commit():
            return out, True
        router.rng.setstate(rng_state)  # the fresh state is in: decide the group again
        if store.degraded:
            break
    return [router.route(c, trace) for c in chats], False
