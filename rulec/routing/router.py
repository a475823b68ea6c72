"""The routing runtime (分流): R1–R10 over a compiled table and a state store.

`Router(table, store="memory:", seed=0)`; `feed(event)` for agent / reply / conversion
events; `route(chat, trace=False)` returns the decision dict of the contract and
`route_many(chats)` those of a run of chats (one group commit on stores that group). Every
chat takes one path, whatever the store: a snapshot of what the decision needs, the
decision (R1–R9, matching with `table.matcher.match_outcome`, R6 data cached per outcome
id), the trace observer (R10; by default one that does nothing), and one commit (decided
again on the fresh state when a shared store refuses it). That path is a Decider: the
Cython `_decide` when built, else (or with RULEC_PURE=1) its pure-Python twin `decide`.
docs/routing.md gives the details.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from rulec.common import vocab as v
from rulec.common.twin import load_twin
from rulec.errors import InputError, StoreError, diag
from rulec.routing import modes
from rulec.routing.events import (
    check_chat,
    check_chat_key,
    check_event,
    check_pool_chat,
    check_state,
)
from rulec.routing.records import Candidates, Choice
from rulec.routing.stores import use_store
from rulec.routing.stores.base import ONLINE, STATUS_CODES, Store
from rulec.routing.trace import NO_TRACE, Chat, NoTrace, Trace, Tracer

if TYPE_CHECKING:
    from rulec.routing.decide import Commit, Decider
    from rulec.routing.events import State
    from rulec.table.format import Table

Decision = dict[str, Any]  # a decision dict of the contract (buyer, time, target, step, ...)
# (rates, weights, running sums) of a conversion group (R9): conversion_weights
ConvTable = tuple[tuple[Any, ...], list[float], list[float]]

TWIN = load_twin("rulec.routing._decide", "rulec.routing.decide", "decision path")
_decide = TWIN.extension
extension_error = TWIN.error
# which decision path is live: the Cython one when built, unless RULEC_PURE=1
implementation = TWIN.implementation


def decider(impl: str | None = None) -> type[Decider]:
    """The Decider class of `impl` ("cython", "python", None: the live one)."""
    cls: type[Decider] = TWIN.module(impl).Decider
    return cls


CACHE_MAX = 65536
COMMIT_TRIES = 16  # decisions refused by a shared store (redis) before giving up
GROUP_TRIES = 2  # group commits refused before the group is routed chat by chat
MIN_GROUP = 4  # a refused group shrinks the next ones (x1/4, down to this), a committed one
# lets them grow back (x2)


def _rates_of(members: list[int]) -> Callable[[Sequence[float | None]], tuple[Any, ...]]:
    """The conversion rates of `members`, as a tuple (itemgetter gives one from 2 on)."""
    if len(members) < 2:
        m = tuple(members)
        return lambda conv: tuple(conv[a] for a in m)
    return itemgetter(*members)


class Router:
    """Routes chats of one shop's table; state lives in `store` (a URL or a Store). `impl`
    picks the decision path: "cython", "python" or None for the live one (`implementation`)."""

    def __init__(
        self,
        table: Table,
        store: Store | str | None = "memory:",
        seed: int | None = 0,
        impl: str | None = None,
    ) -> None:
        self.table = table
        body = table.body
        r = body["routing"]
        self.nobody = r["when_nobody_online"]
        self.robot_first = r["robot_first"]
        self.exclusive_direct = r["exclusive_direct"]
        self.busy = r["busy_threshold"]
        self.hold = r["sticky_hold"]
        self.window = r["sticky_window"]
        self.drain = r.get("drain_pool", False)
        agents = body["agents"]
        self.ids = [a["id"] for a in agents]
        self.index = {a: i for i, a in enumerate(self.ids)}
        self.level = [a["level"] for a in agents]
        self.targets = ["agent:" + a for a in self.ids]
        self.all_agents = list(range(len(agents)))
        self.all_cum = modes.cumulative(self.all_agents, self.level)
        groups = body["groups"]
        self.g_name = [g["name"] for g in groups]
        self.g_agents = [sorted({self.index[a] for a in g["agents"]}) for g in groups]
        self.g_cum = [modes.cumulative(m, self.level) for m in self.g_agents]
        self.g_robot = [g["robot"] for g in groups]
        self.g_mode: list[int] = [
            modes.CONVERSION
            if g["mode"] == v.CONVERSION and len(self.g_agents[i]) > modes.SMALL_GROUP
            else modes.EFFICIENCY
            for i, g in enumerate(groups)
        ]  # C5
        self.g_k = [modes.STRENGTH_K.get(g["strength"], 0.0) for g in groups]
        self._g_rates = [_rates_of(m) for m in self.g_agents]
        self._conv_tables: list[ConvTable | None] = [None] * len(groups)
        self.g_robot_target = ["group_robot:" + g["name"] for g in groups]
        self.agent_groups: list[list[int]] = [[] for _ in agents]
        for gi, members in enumerate(self.g_agents):
            for a in members:
                self.agent_groups[a].append(gi)
        self._choices()
        self.seed = seed
        self.rng = random.Random(seed if seed is not None else 0)
        self.store, self._owns_store = use_store(store, table.shop)
        if self.store.shop != table.shop:
            raise StoreError(
                [
                    diag(
                        "S902",
                        f"store is for shop {self.store.shop!r}, table is for {table.shop!r}",
                    )
                ]
            )
        self.store.attach(self.ids)
        self._snapshot = self.store.snapshot
        self._commit = self.store.commit
        self._cands: dict[int, Candidates] = {}  # outcome id -> Candidates (see _cand_info)
        self._tracer = Tracer(self)
        self._decider = decider(impl)(self)
        self._route = self._decider.route

    def _choices(self) -> None:
        """Every Choice a decision can make, built once (records.Choice)."""
        n, names, targets = range(len(self.ids)), self.g_name, self.targets
        self._nobody = Choice(-1, self.nobody, v.STEP_NOBODY_ONLINE)
        # a chat that finds nobody online waits in the message pool (drain_pool)
        self._to_pool = self._nobody if self.drain and self.nobody == v.MESSAGE_POOL else None
        self._robot_first = Choice(-1, v.ROBOT, v.STEP_ROBOT_FIRST)
        self._offline_robot = Choice(-1, v.ROBOT, v.STEP_STICKY_OFFLINE_ROBOT)
        self._sticky_c = [Choice(a, targets[a], v.STEP_STICKY) for a in n]
        self._exclusive_c = [Choice(a, targets[a], v.STEP_EXCLUSIVE) for a in n]
        self._fallback_c = [Choice(a, targets[a], v.STEP_FALLBACK_ANY) for a in n]
        self._group_robot_c = [
            Choice(-1, self.g_robot_target[g], v.STEP_GROUP_ROBOT, g, names[g])
            for g in range(len(names))
        ]
        self._group_c: list[dict[int, Choice]]
        self._sticky_group_c: list[dict[int, Choice]]
        self._group_c, self._sticky_group_c = (
            [
                {a: Choice(a, targets[a], step, g, names[g]) for a in m}
                for g, m in enumerate(self.g_agents)
            ]
            for step in (v.STEP_GROUP, v.STEP_STICKY_GROUP)
        )

    # -- setup ---------------------------------------------------------------------------
    def load_state(self, doc: Any) -> None:
        """Apply a `--state` document (contract form); InputError when it is malformed."""
        state, diags = check_state(doc, self.index)
        if state is None:  # exactly when there are diagnostics
            raise InputError(diags)
        self.apply_state(state)

    def apply_state(self, state: State) -> None:
        """Apply a state already checked by events.check_state / read_state."""
        for i, rec in state["agents"].items():
            st = rec.get("status")
            self.store.put_agent(
                i,
                None if st is None else STATUS_CODES[st],
                rec.get("pending"),
                rec.get("conversion"),
                clear_conversion="conversion" in rec,
            )
        for buyer, (i, t) in state["contacts"].items():
            self.store.put_contact(buyer, i, t)

    def restart(self, seed: int | None = 0) -> None:
        """Start again from an empty memory store with the PRNG seeded with `seed`, keeping
        everything precomputed from the table (rulec test runs each test so: building a
        router for a large table costs more than routing a few chats). ValueError on a store
        that cannot be cleared (only memory: can)."""
        self.store.clear()
        self.seed = seed
        self.rng = random.Random(seed if seed is not None else 0)
        self._decider.set_rng(self.rng)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    @property
    def group(self) -> int:
        """Chats worth handing to route_many at once: the store's commit group (1: any)."""
        return self.store.group

    # -- events --------------------------------------------------------------------------
    def feed(self, event: dict[str, Any], trace: bool = False) -> list[Decision]:
        """Apply an agent / reply / conversion event (a chat event is routed). Returns the
        decisions it causes: none, except chats drained from the message pool (drain_pool)
        and, for a chat event, its own decision."""
        t = check_event(event, self.index)
        kind = event["type"]
        if kind == "chat":
            return [self.route(event, trace)]
        i = self.index[event["agent"]]
        if kind == "agent":
            self.store.set_status(i, STATUS_CODES[event["status"]])
        elif kind == "reply":
            self.store.reply(i)
        else:
            self.store.set_conversion(i, float(event["rate"]))
            return []
        if self.drain:
            return self._drain(event["time"], t, trace)
        return []

    # -- routing -------------------------------------------------------------------------
    def route(self, chat: Chat, trace: bool = False) -> Decision:
        """The decision for one chat dict (buyer, time, product, order, intent, crowds, attrs,
        message, exclusive_agent); with trace=True it carries "trace": [strings] (R10)."""
        return self._route(chat, Trace(self._tracer) if trace else NO_TRACE, self._commit)

    def route_many(
        self, chats: Sequence[Chat], trace: bool = False, group: int | None = None
    ) -> list[Decision]:
        """The decisions for `chats` (a list of chat dicts), in order, exactly as route()
        one by one gives them (E1). A store that commits groups (`store.group` > 1: Redis)
        gets them as groups of up to that many (or `group`) decisions, each in one call, all
        or nothing: a refused group (another process wrote the shop) is decided again from
        the same PRNG state on the fresh state, then chat by chat; while others write, groups
        shrink, and grow back after. Every chat is checked whole, as the CLI checks an events line,
        before any is decided (route() checks what it reads: buyer, time, the exclusive agent
        when R3 is reached, the matching fields through the matcher when R5 is; E840)."""
        for c in chats:
            check_chat(c, self.index)
        out: list[Decision] = []
        i = 0
        limit = size = max(1, self.store.group if group is None else group)
        while i < len(chats):
            part = chats[i : i + size]
            i += len(part)
            if self.drain or len(part) < 2 or self.store.group < 2 and group is None:
                out += self._one_by_one(part, trace)
                continue
            done, ok = self._group(part, trace)
            out += done
            # another process is writing this shop: smaller groups are refused less often
            size = min(limit, size * 2) if ok else max(MIN_GROUP, size // 4)
        return out

    def _one_by_one(self, chats: Sequence[Chat], trace: bool) -> list[Decision]:
        commit = self._commit
        return [self._route(c, Trace(self._tracer) if trace else NO_TRACE, commit) for c in chats]

    def _group(self, chats: Sequence[Chat], trace: bool) -> tuple[list[Decision], bool]:
        """(decisions, whether they went in as one group commit)."""
        store, rng_state = self.store, self.rng.getstate()
        for _ in range(GROUP_TRIES):
            store.begin_group()
            out = [
                self._route(c, Trace(self._tracer) if trace else NO_TRACE, store.stage)
                for c in chats
            ]
            if store.commit_group():
                return out, True
            self.rng.setstate(rng_state)  # the fresh state is in: decide the group again
        return self._one_by_one(chats, trace), False

    def _queue(self, chat: Chat, buyer: str, t: float, obs: NoTrace | Trace) -> None:
        """A chat that went to the message pool (drain_pool) waits there."""
        check_pool_chat(chat)
        self.store.pool_push(buyer, t, json.dumps(chat, ensure_ascii=False))
        obs.queued()

    def _decide_again(
        self, chat: Chat, buyer: str, t: float, obs: NoTrace | Trace, commit: Commit
    ) -> tuple[Choice, int]:
        """A shared store refused the commit and took in the fresh state: decide on it,
        again while refused (at most COMMIT_TRIES in all, then S913)."""
        for _ in range(COMMIT_TRIES - 1):
            obs.refused()
            snap = self._snapshot(buyer)
            c = self._decider.decide(chat, t, snap)
            obs.decided(chat, t, snap, c)
            done = commit(c.agent, buyer, t)
            if done:
                return c, done
        raise StoreError(
            [diag("S913", "the shared state store kept changing; no decision could be committed")]
        )

    def candidates(self, chat: Chat) -> Candidates:
        """R5 of `chat` with its R6 data (cached per match outcome)."""
        oid = self.table.matcher.match_outcome(chat)
        return self._cands.get(oid) or self._cand_info(chat, oid)

    def _cand_info(self, chat: Chat, oid: int) -> Candidates:
        """Candidates (records.Candidates) of `chat`'s R5 outcome `oid`, computed and cached."""
        cands = self.table.matcher.match_indices(chat)
        humans = [g for g in cands if not self.g_robot[g]]
        first: dict[int, int] = {}
        for g in humans:
            for a in self.g_agents[g]:
                first.setdefault(a, g)
        members = sorted(first)
        robots = [g for g in cands if self.g_robot[g]]
        cum = modes.cumulative(members, self.level)
        info = Candidates(
            members,
            cum,
            {a: self._group_c[g][a] for a, g in first.items()},
            robots[0] if robots else None,
            humans,
            [g for g in humans if self.g_mode[g] == modes.CONVERSION],
            cum[-1] if cum else 0,
            cands,
        )
        if len(self._cands) >= CACHE_MAX:
            self._cands.clear()
        self._cands[oid] = info
        return info

    def conversion_weights(self, g: int, conv: Sequence[float | None]) -> ConvTable:
        """(rates, weights, running sums) of conversion group g (R9, C1–C4), cached until
        one of its members' rates changes (the same tuple while they do not)."""
        key = self._g_rates[g](conv)
        cached = self._conv_tables[g]
        if cached is None or cached[0] != key:
            cached = self._conv_tables[g] = (
                key,
                *modes.conversion_table(self.g_agents[g], self.level, conv, self.g_k[g]),
            )
        return cached

    # -- message pool (drain_pool) ------------------------------------------------------
    def _can_serve(self) -> bool:
        status, pending, _ = self.store.agent_state()
        busy = self.busy
        return any(s == ONLINE and p <= busy for s, p in zip(status, pending))

    def _queued_chat(self, chat_json: str) -> Chat:
        """The chat a message-pool entry holds; S922 when the entry is not one."""
        try:
            chat: Chat = json.loads(chat_json)
            check_chat_key(chat)
            return chat
        except (ValueError, TypeError, RecursionError, InputError):
            raise StoreError(
                [
                    diag(
                        "S922",
                        f"state store {self.store.url}: a queued chat in the message pool is "
                        f"damaged: {str(chat_json)[:80]!r}",
                    )
                ]
            ) from None

    def _drain(self, ts: str, t: float, trace: bool) -> list[Decision]:
        """Assign queued message-pool chats, oldest first, while a non-busy agent is available.
        Each is routed again from R2 at the time of the event that freed capacity."""
        out: list[Decision] = []
        while self.store.pool_len() and self._can_serve():
            item = self.store.pool_pop()
            if item is None:  # emptied meanwhile, or the store lost its server (degraded)
                break
            buyer, _queued, chat_json = item
            chat = self._queued_chat(chat_json)
            queued = chat["time"]
            obs = (
                Trace(self._tracer, f"pool_drain: queued at {queued}, routed again at {ts}")
                if trace
                else NO_TRACE
            )
            out.append(self._route(chat, obs, self._commit, (buyer, ts, t, queued)))
        return out
