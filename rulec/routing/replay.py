"""Replay contract events through a Router, yielding the decisions they cause, in order.

The one loop every feature that replays events shares (`rulec route`; serve, diff and
simulate reuse it)::

    from rulec.routing.replay import replay

    for decision in replay(router, events, trace=True):
        print(decision)

`events` is any iterable of contract event dicts (semantics.md, "Events"; contract.md:
`agent`, `reply`, `conversion`, `chat`) in time order. It is consumed lazily, so a file
can be streamed; decisions come out as soon as they are committed. A run of consecutive
chats goes to `Router.route_many` in pieces of `router.group` chats (the store's commit
group: one Redis call per piece; 1 on stores that gain nothing from grouping); every other
event goes to `Router.feed`, whose decisions (chats drained from the message pool) are
yielded too. Decisions are exactly those of feeding the events one by one (E1). Bad events
raise InputError, store faults StoreError (rulec.errors), as Router.route and feed do;
the decisions yielded before the error were committed, and no later one was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rulec.routing.router import Router


def replay(router: Router, events: Iterable[Any], trace: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the decision dicts `events` cause on `router` (with R10 traces when `trace`)."""
    run: list[dict[str, Any]] = []
    for ev in events:
        if isinstance(ev, dict) and ev.get("type") == "chat":
            run.append(ev)
            if len(run) >= router.group:
                yield from router.route_many(run, trace)
                run = []
            continue
        if run:
            yield from router.route_many(run, trace)
            run = []
        yield from router.feed(ev, trace)
    if run:
        yield from router.route_many(run, trace)
